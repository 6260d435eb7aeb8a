"""Discord's protocol constants and rules shared by the fake's parts (API v10).

Permission bits and the permission algorithm, gateway intents, message flags, and snowflake ids.
Pure: no state lives here.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1420070400000

# ---- permission bits (https://discord.com/developers/docs/topics/permissions) --------------------
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17  # also lets a message ping roles that are not mentionable
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

# ---- gateway intents -----------------------------------------------------------------------------
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_GUILD_MESSAGE_TYPING = 1 << 11
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Gateway events and the intent that must be requested to receive them (guild context only).
EVENT_INTENTS: dict[str, int] = {
    "THREAD_CREATE": INTENT_GUILDS,
    "THREAD_UPDATE": INTENT_GUILDS,
    "CHANNEL_CREATE": INTENT_GUILDS,
    "CHANNEL_UPDATE": INTENT_GUILDS,
    "MESSAGE_CREATE": INTENT_GUILD_MESSAGES,
    "MESSAGE_UPDATE": INTENT_GUILD_MESSAGES,
    "MESSAGE_DELETE": INTENT_GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": INTENT_GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": INTENT_GUILD_MESSAGE_REACTIONS,
    "TYPING_START": INTENT_GUILD_MESSAGE_TYPING,
}

# ---- message flags -------------------------------------------------------------------------------
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_COMPONENTS_V2 = 1 << 15
# Only these flags can be set by a bot when it sends or edits a message.
SETTABLE_MESSAGE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Channel types of threads: announcement, public and private.
THREAD_TYPES = (10, 11, 12)


# ---- ids and time --------------------------------------------------------------------------------
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


def shard_for(guild_id: int | None, shard_count: int) -> int:
    """The shard that receives a guild's events: (guild_id >> 22) % num_shards; DMs go to shard 0.
    (https://discord.com/developers/docs/events/gateway#sharding)"""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


def snowflake_iso(snowflake: int) -> str:
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def parse_snowflake(value: str) -> int:
    """Snowflake from a path segment or payload field; junk maps to an id that matches nothing."""
    return int(value) if value.isdigit() else -1


# ---- permissions ---------------------------------------------------------------------------------
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
