"""Per-server daily token budgets, as the core sees them: a small protocol asking what a server has spent.

The core never knows where spend is kept (curation/ sums the answer log's token counts); it asks once per
question, before any model call, and past the budget answers by quoting the sources instead."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

BUDGET_NOTE = "Today's model budget for this server is used up; this answer quotes the sources directly."


class TokenLedger(Protocol):
    async def tokens_since(self, guild_id: int, since: datetime) -> int:
        """Prompt + completion tokens the server's logged answers used from `since` on."""
        ...


def day_start(now: datetime | None = None) -> datetime:
    """Midnight UTC of today: budgets are per UTC day, the same for every server wherever its members are."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def spend_text(tokens: int, budget: int | None) -> str:
    """Today's spend against the budget, for moderators: "12,345 of 50,000 tokens (25%)"."""
    if budget is None:
        return f"{tokens:,} tokens (no daily budget set)"
    state = " — used up: answers quote the sources until midnight UTC" if tokens >= budget else ""
    return f"{tokens:,} of {budget:,} tokens ({tokens / budget:.0%}){state}"
