"""Wire-format builders for messages: mentions, embeds, components and the message object itself.

Pure: no state lives here; ``discord_messages.MessageStore`` owns the stored messages.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from fakes.discord_protocol import JSON, snowflake_iso

# ---- mentions ------------------------------------------------------------------------------------
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


# ---- embeds and components -----------------------------------------------------------------------
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


# ---- the message object --------------------------------------------------------------------------
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
