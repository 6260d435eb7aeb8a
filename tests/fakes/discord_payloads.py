"""Wire-format builders and Discord-like validation for the fake Discord server.

Everything here is pure: it builds or checks the JSON objects that Discord's REST API and gateway
exchange (API v10), shaped after what discord.py 2.x reads (``state.py``, ``guild.py``,
``message.py``, ``interactions.py``). No state lives here; ``discord_server.FakeDiscord`` owns it.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1420070400000

# ---- permission bits (https://discord.com/developers/docs/topics/permissions) ----------------
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 52) - 1

EVERYONE_DEFAULT_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
BOT_ROLE_DEFAULT_PERMISSIONS = EVERYONE_DEFAULT_PERMISSIONS | MANAGE_MESSAGES | MANAGE_THREADS | CREATE_PRIVATE_THREADS

# ---- gateway intents -------------------------------------------------------------------------
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_GUILD_MESSAGE_TYPING = 1 << 11
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Application flags Discord sets when a privileged intent is enabled in the developer portal.
_APP_FLAG_FOR_INTENT = {
    INTENT_GUILD_PRESENCES: 1 << 13,
    INTENT_GUILD_MEMBERS: 1 << 15,
    INTENT_MESSAGE_CONTENT: 1 << 19,
}

# Gateway events and the intent that must be requested to receive them (guild context only).
EVENT_INTENTS: dict[str, int] = {
    "THREAD_CREATE": INTENT_GUILDS,
    "THREAD_UPDATE": INTENT_GUILDS,
    "CHANNEL_CREATE": INTENT_GUILDS,
    "MESSAGE_CREATE": INTENT_GUILD_MESSAGES,
    "MESSAGE_UPDATE": INTENT_GUILD_MESSAGES,
    "MESSAGE_DELETE": INTENT_GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": INTENT_GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": INTENT_GUILD_MESSAGE_REACTIONS,
    "TYPING_START": INTENT_GUILD_MESSAGE_TYPING,
}

# ---- message flags ---------------------------------------------------------------------------
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_COMPONENTS_V2 = 1 << 15
# Only these flags can be set by a bot when it sends or edits a message.
SETTABLE_MESSAGE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


# ---- ids and time ----------------------------------------------------------------------------
class Snowflakes:
    """Current-time snowflakes: ``((ms - epoch) << 22) | counter``, strictly increasing.

    They must be *current*: discord.py derives an interaction's expiry and a message's age
    (``delete_message`` sub-rate limits) from the id's timestamp.
    """

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (next(self._counter) & 0x3FFFFF)
        self._last = max(self._last + 1, candidate)
        return self._last


def snowflake_iso(snowflake: int) -> str:
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


# ---- error bodies ----------------------------------------------------------------------------
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


# ---- world objects ---------------------------------------------------------------------------
def make_user(user_id: int, name: str, *, bot: bool = False) -> JSON:
    user: JSON = {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": None if bot else name.title(),
        "avatar": None,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
        "flags": 0,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
    }
    if bot:
        user["bot"] = True
    return user


def make_role(role_id: int, name: str, permissions: int, *, position: int = 0, bot_id: int | None = None) -> JSON:
    role: JSON = {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": bot_id is not None,
        "mentionable": False,
        "flags": 0,
    }
    if bot_id is not None:
        role["tags"] = {"bot_id": str(bot_id)}
    return role


def make_member(role_ids: Iterable[int], *, joined_at: str | None = None) -> JSON:
    """A guild member *without* its ``user`` key (callers add it where the wire format has it)."""
    return {
        "nick": None,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in role_ids],
        "joined_at": joined_at or iso_now(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
        "avatar_decoration_data": None,
    }


def make_text_channel(channel_id: int, guild_id: int, name: str, *, position: int, topic: str | None = None) -> JSON:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": topic,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def make_thread(
    thread_id: int,
    guild_id: int,
    parent_id: int,
    owner_id: int,
    name: str,
    *,
    auto_archive_duration: int = 1440,
    thread_type: int = 11,
    rate_limit_per_user: int | None = None,
) -> JSON:
    now = iso_now()
    return {
        "id": str(thread_id),
        "type": thread_type,
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "rate_limit_per_user": rate_limit_per_user or 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": now,
            "locked": False,
            "create_timestamp": now,
            **({"invitable": True} if thread_type == 12 else {}),
        },
    }


def thread_member(thread_id: int, user_id: int) -> JSON:
    return {"id": str(thread_id), "user_id": str(user_id), "join_timestamp": iso_now(), "flags": 0}


def make_application(app_id: int, bot_user: JSON, owner: JSON, *, privileged_intents: int, guild_count: int) -> JSON:
    flags = 0
    for intent, flag in _APP_FLAG_FOR_INTENT.items():
        if privileged_intents & intent:
            flags |= flag
    return {
        "id": str(app_id),
        "name": bot_user["username"],
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot": bot_user,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": owner,
        "team": None,
        "flags": flags,
        "tags": [],
        "redirect_uris": [],
        # Must be null: otherwise discord.py warns that interactions go to an HTTP endpoint.
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "approximate_guild_count": guild_count,
        "integration_types_config": {"0": {}},
    }


# ---- permissions -----------------------------------------------------------------------------
def compute_permissions(
    *,
    guild_id: int,
    owner_id: int,
    roles: dict[int, JSON],
    user_id: int,
    member_role_ids: Iterable[int],
    overwrites: Iterable[JSON] = (),
) -> int:
    """Discord's permission algorithm: base role permissions, then @everyone/role/member overwrites."""
    if user_id == owner_id:
        return ALL_PERMISSIONS
    member_roles = [r for r in member_role_ids if r in roles]
    perms = int(roles[guild_id]["permissions"]) if guild_id in roles else 0
    for role_id in member_roles:
        perms |= int(roles[role_id]["permissions"])
    if perms & ADMINISTRATOR:
        return ALL_PERMISSIONS
    by_id = {int(o["id"]): o for o in overwrites}
    if guild_id in by_id:
        perms = (perms & ~int(by_id[guild_id]["deny"])) | int(by_id[guild_id]["allow"])
    allow = deny = 0
    for role_id in member_roles:
        if role_id in by_id and by_id[role_id]["type"] == 0:
            allow |= int(by_id[role_id]["allow"])
            deny |= int(by_id[role_id]["deny"])
    perms = (perms & ~deny) | allow
    member_ow = by_id.get(user_id)
    if member_ow is not None and member_ow["type"] == 1:
        perms = (perms & ~int(member_ow["deny"])) | int(member_ow["allow"])
    return perms


# ---- messages --------------------------------------------------------------------------------
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def mentioned_ids(content: str | None) -> tuple[list[int], list[int], bool]:
    """(user ids, role ids, @everyone/@here) written in ``content``."""
    if not content:
        return [], [], False
    users = list(dict.fromkeys(int(m) for m in _USER_MENTION.findall(content)))
    roles = list(dict.fromkeys(int(m) for m in _ROLE_MENTION.findall(content)))
    return users, roles, ("@everyone" in content or "@here" in content)


def allowed_mention_filter(allowed: JSON | None) -> tuple[bool, set[int] | None, bool, set[int] | None, bool]:
    """Decode ``allowed_mentions`` into (all users?, user ids, all roles?, role ids, everyone?).

    Without ``allowed_mentions`` Discord parses every mention in the content.
    """
    if allowed is None:
        return True, None, True, None, True
    parse = allowed.get("parse") or []
    users = {int(u) for u in allowed.get("users") or []}
    roles = {int(r) for r in allowed.get("roles") or []}
    return "users" in parse, users, "roles" in parse, roles, "everyone" in parse


def mention_violation(payload: JSON | None) -> str | None:
    """Why a message create/edit payload could ping someone (the fake's no-mentions policy), or None."""
    if payload is None:
        return "no payload"
    allowed = payload.get("allowed_mentions")
    if not isinstance(allowed, dict):
        return "allowed_mentions is missing"
    if allowed.get("parse") != []:
        return f"allowed_mentions.parse is {allowed.get('parse')!r}, expected []"
    for key in ("users", "roles"):
        if allowed.get(key):
            return f"allowed_mentions.{key} lists {allowed[key]!r}"
    return None


def normalize_embeds(embeds: Iterable[JSON]) -> list[JSON]:
    """What Discord echoes back: embeds gain ``type: rich``; fields gain ``inline: false``."""
    out = []
    for embed in embeds:
        e = dict(embed)
        e.setdefault("type", "rich")
        if "fields" in e:
            e["fields"] = [{"inline": False, **f} for f in e["fields"]]
        out.append(e)
    return out


def number_components(components: list[JSON], counter: Iterator[int] | None = None) -> list[JSON]:
    """Discord assigns every component a numeric ``id`` (unique within the message) when absent."""
    counter = counter or itertools.count(1)
    out = []
    for comp in components:
        c = dict(comp)
        c.setdefault("id", next(counter))
        if isinstance(c.get("components"), list):
            c["components"] = number_components(c["components"], counter)
        if isinstance(c.get("component"), dict):
            c["component"] = number_components([c["component"]], counter)[0]
        if isinstance(c.get("accessory"), dict):
            c["accessory"] = number_components([c["accessory"]], counter)[0]
        out.append(c)
    return out


def walk_components(components: Iterable[JSON]) -> Iterator[JSON]:
    for comp in components:
        yield comp
        yield from walk_components(comp.get("components") or [])
        for key in ("component", "accessory"):
            if isinstance(comp.get(key), dict):
                yield from walk_components([comp[key]])


def make_message(
    *,
    message_id: int,
    channel_id: int,
    author: JSON,
    content: str = "",
    embeds: list[JSON] | None = None,
    components: list[JSON] | None = None,
    attachments: list[JSON] | None = None,
    flags: int = 0,
    mentions: list[JSON] | None = None,
    mention_roles: list[int] | None = None,
    mention_everyone: bool = False,
    message_type: int = 0,
    tts: bool = False,
    message_reference: JSON | None = None,
    referenced_message: JSON | None = None,
    webhook_id: int | None = None,
    application_id: int | None = None,
    interaction_metadata: JSON | None = None,
    nonce: str | int | None = None,
) -> JSON:
    """A message as the REST API returns it (gateway events add ``guild_id`` and ``member``)."""
    msg: JSON = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": message_type,
        "author": author,
        "content": content,
        "timestamp": snowflake_iso(message_id),
        "edited_timestamp": None,
        "tts": tts,
        "mention_everyone": mention_everyone,
        "mentions": mentions or [],
        "mention_roles": [str(r) for r in mention_roles or []],
        "attachments": attachments or [],
        "embeds": normalize_embeds(embeds or []),
        "components": number_components(components or []),
        "pinned": False,
        "flags": flags,
    }
    if nonce is not None:
        msg["nonce"] = nonce
    if message_reference is not None:
        msg["message_reference"] = message_reference
        msg["referenced_message"] = referenced_message
    if webhook_id is not None:
        msg["webhook_id"] = str(webhook_id)
    if application_id is not None:
        msg["application_id"] = str(application_id)
    if interaction_metadata is not None:
        msg["interaction_metadata"] = interaction_metadata
    return msg


# ---- validation ------------------------------------------------------------------------------
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


def _validate_components(errors: FormErrors, components: Any, flags: int, prefix: list[str | int]) -> None:
    if not isinstance(components, list):
        return
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
    if flags & FLAG_IS_COMPONENTS_V2:
        # Layout components (containers, sections, ...) follow other rules; check items only.
        for i, comp in enumerate(walk_components(components)):
            if comp.get("type") in (2, 3, 5, 6, 7, 8):
                _validate_item(errors, comp, [*prefix, "components", i])
        return
    if len(components) > 5:
        errors.add([*prefix, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    for i, row in enumerate(components):
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


def validate_message(payload: JSON, *, prefix: Sequence[str | int] = ()) -> FormErrors:
    """Discord's checks on a message create/edit body; ``prefix`` nests errors (``data`` in callbacks)."""
    errors = FormErrors()
    at = list(prefix)
    errors.max_length([*at, "content"], payload.get("content"), MAX_CONTENT)
    _validate_embeds(errors, payload.get("embeds"), at)
    _validate_components(errors, payload.get("components"), int(payload.get("flags") or 0), at)
    return errors


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
    if len(commands) > 100:
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


def echo_command(cmd: JSON, *, command_id: int, app_id: int, guild_id: int | None, version: int) -> JSON:
    """The command object Discord returns after a bulk overwrite."""
    out: JSON = {
        "id": str(command_id),
        "application_id": str(app_id),
        "version": str(version),
        "type": int(cmd.get("type", 1)),
        "name": cmd["name"],
        "description": cmd.get("description") or "",
        "options": cmd.get("options") or [],
        "default_member_permissions": cmd.get("default_member_permissions"),
        "nsfw": bool(cmd.get("nsfw", False)),
        "contexts": cmd.get("contexts"),
        "integration_types": cmd.get("integration_types") or [0],
        "name_localizations": cmd.get("name_localizations"),
        "description_localizations": cmd.get("description_localizations"),
    }
    if guild_id is not None:
        out["guild_id"] = str(guild_id)
    return out
