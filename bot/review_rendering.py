"""What a review card looks like in the review channel: pure functions from a `curation.review.Card` to an embed.

The card says what was asked, how often and how (refused, 👎, asked for a human), where (jump links), which
sources came closest, and whether it is still open or who closed it and how."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from curation.review import Card, Kind, Place

OPEN_COLOUR = discord.Colour.orange()
RESOLVED_COLOUR = discord.Colour.green()
DISMISSED_COLOUR = discord.Colour.light_grey()
MAX_LINKS = 5  # jump links shown; the rest are counted
_KIND_TEXT: dict[Kind, str] = {"refused": "🤷 refused", "downvote": "👎 voted down", "human": "🙋 asked for a human"}
_EMBED_FIELD_MAX = 1024  # Discord's limit on an embed field's value
_DESCRIPTION_MAX = 4096
OPEN_STATUS = "🟠 **Open**: write an FAQ entry, add a source, or dismiss it."
NOTHING_CLOSE = "*none: the corpus has nothing near this question*"


def source_link(title: str, url: str) -> str:
    """A source as the card lists it: a Markdown link whose address Discord does not unfurl."""
    safe = discord.utils.escape_markdown(title).replace("[", "\\[").replace("]", "\\]")
    return f"[{safe}](<{url}>)" if url else safe


def jump_url(guild_id: int, place: Place) -> str:
    """Discord's documented message link; a channel link when there is no message to jump to."""
    base = f"https://discord.com/channels/{guild_id}/{place.channel_id}"
    return f"{base}/{place.message_id}" if place.message_id is not None else base


def counts_text(counts: dict[Kind, int]) -> str:
    """ "🤷 refused ×2 · 👎 voted down ×1": only the kinds that happened."""
    return " · ".join(f"{_KIND_TEXT[kind]} ×{n}" for kind, n in counts.items() if n) or "—"


def places_text(card: Card) -> str:
    links = [f"[{i}]({jump_url(card.guild_id, place)})" for i, place in enumerate(card.places[:MAX_LINKS], 1)]
    more = card.total - len(links)
    return " · ".join(links) + (f" and {more} more" if more > 0 else "")


def closest_text(closest: tuple[str, ...]) -> str:
    if not closest:
        return NOTHING_CLOSE
    return _cap("\n".join(f"• {source}" for source in closest), _EMBED_FIELD_MAX)


def status_text(card: Card) -> str:
    if card.status == "open":
        return OPEN_STATUS
    who = f"<@{card.resolved_by}>" if card.resolved_by is not None else "a moderator"
    if card.status == "dismissed":
        return f"🗑️ **Dismissed** by {who}."
    return f"✅ **Resolved** by {who}: {card.resolution or 'resolved'}."


def render_card(card: Card) -> discord.Embed:
    colour = {"open": OPEN_COLOUR, "resolved": RESOLVED_COLOUR}.get(card.status, DISMISSED_COLOUR)
    embed = discord.Embed(
        title=f"Review card #{card.id}",
        description=_cap(f"> {discord.utils.escape_markdown(card.question)}", _DESCRIPTION_MAX),
        colour=colour,
        timestamp=card.opened_at,
    )
    embed.add_field(name="Signals", value=counts_text(card.counts), inline=False)
    embed.add_field(name="Asked", value=_cap(places_text(card), _EMBED_FIELD_MAX) or "—", inline=False)
    embed.add_field(name="Closest sources", value=closest_text(card.closest), inline=False)
    embed.add_field(name="Status", value=status_text(card), inline=False)
    embed.set_footer(text="Review queue · first asked")
    return embed


def embed_as_text(embed: discord.Embed) -> str:
    """A plain-text picture of an embed (the README's mock-up of a card is printed with it)."""
    lines = [f"┃ {embed.title}"] if embed.title else []
    lines += [f"┃ {line}" for line in (embed.description or "").splitlines()]
    for field in embed.fields:
        lines.append("┃")
        lines.append(f"┃ {field.name}")
        lines += [f"┃ {line}" for line in (field.value or "").splitlines()]
    if embed.footer.text:
        lines += ["┃", f"┃ {embed.footer.text}"]
    return "\n".join(lines)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
