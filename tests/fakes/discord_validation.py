"""Discord's limits on what a bot sends, and the error bodies and headers it answers with.

Pure: each check returns the ``Invalid Form Body`` tree (``FormErrors``) that Discord would send.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from fakes.discord_message_payloads import walk_components
from fakes.discord_protocol import FLAG_IS_COMPONENTS_V2, JSON


# ---- error bodies --------------------------------------------------------------------------------
def error_body(message: str, code: int = 0) -> JSON:
    return {"message": message, "code": code}


class FormErrors:
    """Collects errors into Discord's nested ``errors`` tree (``{"content": {"_errors": [...]}}``)."""

    def __init__(self) -> None:
        self.tree: JSON = {}

    def __bool__(self) -> bool:
        return bool(self.tree)

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: Sequence[str | int], value: Any, limit: int) -> None:
        if isinstance(value, str | list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def body(self) -> JSON:
        return {"code": 50035, "errors": self.tree, "message": "Invalid Form Body"}


def rate_limit_body(retry_after: float, global_: bool) -> JSON:
    body: JSON = {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_}
    if global_:
        body["code"] = 0
    return body


# ---- rate limits ---------------------------------------------------------------------------------
def rate_limit_headers(*, retry_after: float, bucket: str, global_: bool) -> dict[str, str]:
    """Headers of a 429 (the caller adds ``Via``, which discord.py requires to retry)."""
    headers = {
        "Retry-After": str(max(1, round(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Scope": "global" if global_ else "user",
    }
    if global_:
        headers["X-RateLimit-Global"] = "true"
    return headers


def ok_rate_limit_headers() -> dict[str, str]:
    """A plausible, never-exhausted bucket so discord.py's ``Ratelimit.update`` runs as in production."""
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
    }


# ---- message, modal and command bodies -----------------------------------------------------------
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
_EMBED_LIMITS = {"title": 256, "description": 4096}


def _embed_chars(embed: JSON) -> int:
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for field in embed.get("fields") or []:
        total += len(field.get("name") or "") + len(field.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def _validate_embeds(errors: FormErrors, embeds: Any, prefix: list[str | int]) -> None:
    if not isinstance(embeds, list):
        return
    errors.max_length([*prefix, "embeds"], embeds, MAX_EMBEDS)
    for i, embed in enumerate(embeds):
        at = [*prefix, "embeds", i]
        for key, limit in _EMBED_LIMITS.items():
            errors.max_length([*at, key], embed.get(key), limit)
        fields = embed.get("fields") or []
        errors.max_length([*at, "fields"], fields, 25)
        for j, field in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = field.get(key)
                if not value:
                    errors.add([*at, "fields", j, key], "BASE_TYPE_REQUIRED", "This field is required")
                errors.max_length([*at, "fields", j, key], value, limit)
        errors.max_length([*at, "footer", "text"], (embed.get("footer") or {}).get("text"), 2048)
        errors.max_length([*at, "author", "name"], (embed.get("author") or {}).get("name"), 256)
    if sum(_embed_chars(e) for e in embeds) > MAX_EMBED_TOTAL:
        errors.add(
            [*prefix, "embeds"], "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
        )


def _validate_item(errors: FormErrors, item: JSON, at: list[str | int]) -> None:
    ctype = item.get("type")
    if ctype == 2:  # button
        style = item.get("style")
        if style == 5:
            if not item.get("url"):
                errors.add([*at, "url"], "BASE_TYPE_REQUIRED", "This field is required")
        elif style != 6 and not item.get("custom_id"):
            errors.add([*at, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")
        errors.max_length([*at, "label"], item.get("label"), 80)
    elif ctype in (3, 5, 6, 7, 8):  # select menus
        errors.max_length([*at, "placeholder"], item.get("placeholder"), 150)
        if ctype == 3:
            options = item.get("options") or []
            if not 1 <= len(options) <= 25:
                errors.add([*at, "options"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length.")
    errors.max_length([*at, "custom_id"], item.get("custom_id"), 100)


def _check_custom_ids(errors: FormErrors, components: list[JSON], prefix: list[str | int]) -> None:
    seen: set[str] = set()
    for comp in walk_components(components):
        custom_id = comp.get("custom_id")
        if isinstance(custom_id, str):
            if custom_id in seen:
                errors.add(
                    [*prefix, "components"],
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            seen.add(custom_id)


def _validate_rows(errors: FormErrors, rows: list[JSON], prefix: list[str | int]) -> None:
    """Classic layout: up to 5 action rows of up to 5 buttons, or of one select."""
    if len(rows) > 5:
        errors.add([*prefix, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    for i, row in enumerate(rows):
        at = [*prefix, "components", i]
        if row.get("type") != 1:
            errors.add([*at, "type"], "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).')
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            errors.add([*at, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        if len(children) > 1 and any(c.get("type") != 2 for c in children):
            errors.add(
                [*at, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, child in enumerate(children):
            _validate_item(errors, child, [*at, "components", j])


def _validate_components(errors: FormErrors, components: Any, flags: int, prefix: list[str | int]) -> None:
    if not isinstance(components, list):
        return
    _check_custom_ids(errors, components, prefix)
    if flags & FLAG_IS_COMPONENTS_V2:
        # Layout components (containers, sections, ...) follow other rules; check items only.
        for i, comp in enumerate(walk_components(components)):
            if comp.get("type") in (2, 3, 5, 6, 7, 8):
                _validate_item(errors, comp, [*prefix, "components", i])
        return
    _validate_rows(errors, components, prefix)


def validate_message(payload: JSON, *, prefix: Sequence[str | int] = ()) -> FormErrors:
    """Discord's checks on a message create/edit body; ``prefix`` nests errors (``data`` in callbacks)."""
    errors = FormErrors()
    at = list(prefix)
    errors.max_length([*at, "content"], payload.get("content"), MAX_CONTENT)
    _validate_embeds(errors, payload.get("embeds"), at)
    _validate_components(errors, payload.get("components"), int(payload.get("flags") or 0), at)
    validate_allowed_mentions(errors, payload.get("allowed_mentions"), at)
    return errors


_MENTION_TYPES = ("roles", "users", "everyone")


def validate_allowed_mentions(errors: FormErrors, allowed: Any, prefix: list[str | int]) -> None:
    """The allowed mentions object's own rules: ``parse`` holds only the three mention types; a type parsed from
    the content cannot also be listed by id (``parse: ["roles"]`` with ``roles: [...]`` is refused as mutually
    exclusive); each id list holds at most 100 ids."""
    if allowed is None:
        return
    at = [*prefix, "allowed_mentions"]
    if not isinstance(allowed, dict):
        errors.add(at, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    parse = allowed.get("parse") or []
    for i, kind in enumerate(parse):
        if kind not in _MENTION_TYPES:
            errors.add([*at, "parse", i], "ENUM_TYPE_COERCE", f'Value "{kind}" is not a valid enum value.')
    for key in ("users", "roles"):
        ids = allowed.get(key)
        if ids is None:
            continue
        errors.max_length([*at, key], ids, 100)
        if key in parse:
            errors.add(
                at,
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{key}"] and {key}: [ids...] are mutually exclusive.',
            )


def is_empty_message(payload: JSON, *, has_files: bool) -> bool:
    """Discord answers 50006 "Cannot send an empty message" when nothing would be shown."""
    return not (
        (payload.get("content") or "").strip()
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("sticker_ids")
        or payload.get("poll")
        or payload.get("attachments")
        or has_files
    )


def validate_modal(data: JSON) -> FormErrors:
    errors = FormErrors()
    errors.max_length(["data", "title"], data.get("title"), 45)
    errors.max_length(["data", "custom_id"], data.get("custom_id"), 100)
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        errors.add(["data", "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    for comp in walk_components(components):
        if comp.get("type") == 4:  # text input
            errors.max_length(["data", "components"], comp.get("custom_id"), 100)
            errors.max_length(["data", "components"], comp.get("label"), 45)
            errors.max_length(["data", "components"], comp.get("value"), 4000)
    return errors


_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def validate_commands(commands: Any) -> FormErrors:
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add([], "BASE_TYPE_ARRAY", "Must be an array.")
        return errors
    errors.max_length([], commands, 100)
    seen: set[tuple[str, int]] = set()
    for i, cmd in enumerate(commands):
        name, ctype = cmd.get("name") or "", int(cmd.get("type", 1))
        if (name, ctype) in seen:
            errors.add(
                [i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Application command names must be unique: {name}"
            )
        seen.add((name, ctype))
        if ctype == 1:
            if not _COMMAND_NAME.match(name) or name != name.lower():
                errors.add([i, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            if not 1 <= len(cmd.get("description") or "") <= 100:
                errors.add([i, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            errors.max_length([i, "options"], cmd.get("options") or [], 25)
        elif not 1 <= len(name) <= 32:
            errors.add([i, "name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    return errors


# ---- the fake's no-mentions policy ---------------------------------------------------------------
def mention_violation(payload: JSON | None, pingable_roles: frozenset[int] = frozenset()) -> str | None:
    """Why a message create/edit payload could ping someone (the fake's no-mentions policy), or None.

    ``pingable_roles``: roles a test lets the bot name in ``allowed_mentions.roles`` (a helper role the bot is
    configured to call); every other list must still be empty."""
    if payload is None:
        return "no payload"
    allowed = payload.get("allowed_mentions")
    if not isinstance(allowed, dict):
        return "allowed_mentions is missing"
    if allowed.get("parse") != []:
        return f"allowed_mentions.parse is {allowed.get('parse')!r}, expected []"
    if allowed.get("users"):
        return f"allowed_mentions.users lists {allowed['users']!r}"
    roles = allowed.get("roles") or []
    if any(int(r) not in pingable_roles for r in roles):
        return f"allowed_mentions.roles lists {roles!r}, of which only {sorted(pingable_roles)} may be pinged"
    return None
