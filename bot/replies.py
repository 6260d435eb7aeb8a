"""Private replies to moderators' commands, and the one way their failures are reported."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.delivery import NO_MENTIONS
from rag.errors import UserFacingError

log = logging.getLogger(__name__)
UNEXPECTED = "Something went wrong. The error has been logged for the maintainers."


async def reply(
    interaction: discord.Interaction,
    content: str,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> None:
    """An ephemeral message: the response if none was sent yet, else a followup (after a defer)."""
    extra: dict[str, Any] = {"ephemeral": True, "allowed_mentions": NO_MENTIONS}
    if embed is not None:
        extra["embed"] = embed
    if view is not None:
        extra["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(content, **extra)
    else:
        await interaction.response.send_message(content, **extra)


async def reply_all(interaction: discord.Interaction, pieces: tuple[str, ...], embed: discord.Embed | None) -> None:
    """Several ephemeral messages; the embed goes on the last."""
    for i, piece in enumerate(pieces, 1):
        await reply(interaction, piece, embed=embed if i == len(pieces) else None)


async def report_error(interaction: discord.Interaction, error: BaseException, *, logged: bool = False) -> None:
    """A user-facing error is shown as it is; anything else is logged (unless the command tree, which logs
    every command's failure, already did) and the user gets an apology."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserFacingError):
        message = str(error)
    else:
        if not logged:
            log.error("a moderator action failed", exc_info=error)
        message = UNEXPECTED
    try:
        await reply(interaction, f"⚠️ {message}")
    except discord.HTTPException as exc:  # the interaction expired: the log is all that is left
        log.info("could not report an error to the user: %s", exc)
