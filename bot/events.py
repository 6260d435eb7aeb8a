"""Signals one part of the bot raises for another through discord.py's own event dispatch
(`client.dispatch("review_signal", signal)` reaches every `on_review_signal` listener), so the part that notices
a gap (a refused answer, a 👎, an "Ask a human" press) never imports the part that handles it (the review queue)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

REVIEW_SIGNAL = "review_signal"  # the event name: listeners are `on_review_signal(signal: ReviewSignal)`

SignalKind = Literal["refused", "downvote", "human"]


@dataclass(frozen=True, slots=True)
class ReviewSignal:
    """Something the corpus or the answer missed, for moderators to look at."""

    kind: SignalKind
    guild_id: int
    channel_id: int  # where it was asked (a channel, a thread or a forum post)
    message_id: int | None  # the message to jump to (the answer, or the question when there is no answer)
    question: str
    asker_id: int
    answer_id: str | None = None  # the logged answer, when there is one
    closest: tuple[str, ...] = ()  # titles (with their address when known) of the closest sources found

    @property
    def jump_url(self) -> str:
        """Discord's documented message link format; a channel link when there is no message."""
        base = f"https://discord.com/channels/{self.guild_id}/{self.channel_id}"
        return f"{base}/{self.message_id}" if self.message_id is not None else base
