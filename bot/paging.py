"""Previous / Next buttons under a private list. The custom id carries the list's kind and the page to show,
so a click needs nothing kept in memory and still works after a restart."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

import discord

from bot.delivery import NO_MENTIONS

log = logging.getLogger(__name__)
PER_PAGE = 10
GONE = "This list is no longer available. Run the command again."


@dataclass(frozen=True, slots=True)
class Page:
    kind: str  # which cog renders it: see Pager.page_kind
    content: str
    number: int  # 1-based
    pages: int


class Pager(Protocol):
    """A cog that renders pages of one kind of list (found by its page_kind when a button is clicked)."""

    page_kind: str

    async def turn_page(self, interaction: discord.Interaction, number: int) -> None: ...


def page_count(total: int, per_page: int = PER_PAGE) -> int:
    return max(1, math.ceil(total / per_page))


def clamp_page(number: int, pages: int) -> int:
    """A requested page within 1..pages: asking past the end shows the last page rather than nothing."""
    return min(max(number, 1), pages)


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"ragbot:page:(?P<kind>[a-z]+):(?P<page>\d+)"
):
    def __init__(self, kind: str, page: int, *, label: str = "", disabled: bool = False) -> None:
        self.kind = kind
        self.page = page
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                label=label or str(page),
                disabled=disabled,
                custom_id=f"ragbot:page:{kind}:{page}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PageButton:
        return cls(match["kind"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        for cog in getattr(interaction.client, "cogs", {}).values():
            if getattr(cog, "page_kind", None) == self.kind:
                await cog.turn_page(interaction, self.page)
                return
        await interaction.response.send_message(GONE, ephemeral=True, allowed_mentions=NO_MENTIONS)


def page_view(page: Page) -> discord.ui.View | None:
    """◀ Previous / Next ▶, disabled at the ends; none at all for a single page."""
    if page.pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(PageButton(page.kind, page.number - 1, label="◀ Previous", disabled=page.number <= 1))
    view.add_item(PageButton(page.kind, page.number + 1, label="Next ▶", disabled=page.number >= page.pages))
    return view


async def send_page(interaction: discord.Interaction, page: Page) -> None:
    """The first page, privately."""
    view = page_view(page)
    extra: dict[str, Any] = {"view": view} if view is not None else {}
    await interaction.response.send_message(page.content, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)


async def edit_page(interaction: discord.Interaction, page: Page) -> None:
    """Another page, in place of the one whose button was clicked."""
    view = page_view(page)
    await interaction.response.edit_message(content=page.content, view=view, allowed_mentions=NO_MENTIONS)
