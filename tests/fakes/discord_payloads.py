"""Wire-format builders for Discord's world objects and gateway session payloads (API v10).

Users, roles, members, channels, threads, the application, guilds, READY/GUILD_CREATE and synced
commands, shaped after what discord.py 2.x reads (``state.py``, ``guild.py``, ``channel.py``).
Pure: no state lives here; ``discord_state.DiscordState`` owns it.
"""

from __future__ import annotations

from collections.abc import Iterable

from fakes.discord_protocol import (
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_PRESENCES,
    INTENT_MESSAGE_CONTENT,
    JSON,
    THREAD_TYPES,
    iso_now,
)

# Application flags Discord sets when a privileged intent is enabled in the developer portal.
_APP_FLAG_FOR_INTENT = {
    INTENT_GUILD_PRESENCES: 1 << 13,
    INTENT_GUILD_MEMBERS: 1 << 15,
    INTENT_MESSAGE_CONTENT: 1 << 19,
}


# ---- world objects -------------------------------------------------------------------------------
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


def make_role(
    role_id: int,
    name: str,
    permissions: int,
    *,
    position: int = 0,
    bot_id: int | None = None,
    mentionable: bool = False,
) -> JSON:
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
        "mentionable": mentionable,
        "flags": 0,
    }
    if bot_id is not None:
        role["tags"] = {"bot_id": str(bot_id)}
    return role


def make_member(role_ids: Iterable[int]) -> JSON:
    """A guild member *without* its ``user`` key (callers add it where the wire format has it)."""
    return {
        "nick": None,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in role_ids],
        "joined_at": iso_now(),
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


# ---- application commands ------------------------------------------------------------------------
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


# ---- gateway payloads ----------------------------------------------------------------------------
def guild_object(guild_id: int, name: str, owner_id: int, roles: Iterable[JSON], system_channel_id: int | None) -> JSON:
    """A guild as GET /guilds/{id} returns it."""
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": list(roles),
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None if system_channel_id is None else str(system_channel_id),
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "incidents_data": None,
    }


def guild_create(
    guild: JSON, *, joined_at: str, member_count: int, members: list[JSON], channels: Iterable[JSON]
) -> JSON:
    """GUILD_CREATE: the guild object plus everything discord.py's cache is built from."""
    channels = list(channels)
    return {
        **guild,
        "joined_at": joined_at,
        "large": member_count >= 250,
        "unavailable": False,
        "lazy": True,
        "member_count": member_count,
        "members": members,
        "channels": [c for c in channels if c["type"] not in THREAD_TYPES],
        "threads": [c for c in channels if c["type"] in THREAD_TYPES],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
    }


def ready_event(
    *, bot_user: JSON, guild_ids: Iterable[int], session_id: str, resume_url: str, app_id: int, app_flags: int
) -> JSON:
    """READY: guilds start unavailable; a GUILD_CREATE follows for each."""
    return {
        "v": 10,
        "user": {**bot_user, "verified": True, "mfa_enabled": False, "email": None},
        "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "application": {"id": str(app_id), "flags": app_flags},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": [],
        "user_settings": {},
        "_trace": ["fake-discord"],
    }
