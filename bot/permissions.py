"""Who may curate: checked in every handler, because a server admin can hand a command to anyone in
Server Settings → Integrations, whatever default permissions the command was registered with."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from rag.config import DiscordSettings

NOT_MODERATOR = (
    "Only moderators can do that: members with the Manage Messages permission or one of this server's moderator roles."
)
NOT_ADMINISTRATOR = "Only server administrators can do that."
GUILD_ONLY = "This command only works in a server."


def is_moderator(interaction: discord.Interaction, config: DiscordSettings) -> bool:
    """Manage Messages (or Administrator) in this channel, or one of the configured moderator roles."""
    if interaction.guild_id is None:
        return False
    permissions = interaction.permissions  # resolved by Discord for this member in this channel
    if permissions.manage_messages or permissions.administrator:
        return True
    member = interaction.user
    if not isinstance(member, discord.Member) or not config.moderator_role_ids:
        return False
    return any(member.get_role(role_id) is not None for role_id in config.moderator_role_ids)


def is_administrator(interaction: discord.Interaction) -> bool:
    return interaction.guild_id is not None and interaction.permissions.administrator
