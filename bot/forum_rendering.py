"""What the forum help desk says. Pure: text only; the cog decides when."""

from __future__ import annotations

import discord

ONLY_POSTER_SOLVED = "Only the member who opened this post can mark it solved."
ONLY_POSTER_HUMAN = "Only the member who opened this post can ask for a human."
SOLVED_THANKS = "✅ Marked as solved. Thanks for letting us know, and glad it helped!"
ALREADY_ASKED = "A helper has already been asked to look at this post."


def human_request(helper_role: int | None, title: str) -> str:
    """The message that calls a human. It names the helper role when one is configured; the caller sends it with
    allowed mentions that let that role, and nothing else, be pinged (the title is the member's own text)."""
    subject = discord.utils.escape_markdown(" ".join(title.split())) or "this post"
    if helper_role is None:
        return f"🙋 The member who opened this post would like a human to help with **{subject}**."
    return f"<@&{helper_role}> 🙋 The member who opened this post would like a human to help with **{subject}**."


def cap_note(cap: int) -> str:
    return (
        f"You've had {cap} answers from me in this forum today, the most I give one member in a day. "
        "A human helper can still answer here, and I'll be back for your questions after midnight UTC."
    )
