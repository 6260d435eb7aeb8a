"""What an answer is labelled with, decided once: the terminal and Discord renderers only format these."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from rag.budget import BUDGET_NOTE

if TYPE_CHECKING:
    from rag.types import Answer


class Label(Enum):
    REFUSED = "refused"  # the sources do not cover the question; the closest sources are named instead
    FAQ = "faq"  # a moderator-approved answer
    EXTRACTIVE = "extractive"  # no language model: the sources' own sentences
    UNGROUNDED = "ungrounded"  # no valid citation (never for FAQ answers: moderators vouch for those)
    FLAGGED = "flagged"  # some cited sentences are not clearly supported by their passage
    OUTDATED = "outdated"  # a cited source is old enough that policy facts may have changed
    NOTE = "note"  # a fallback model answered, the stream was cut, ...


# Shown above the answer text, in this order; the others follow it or mark a citation.
HEADLINE = (Label.FAQ, Label.EXTRACTIVE, Label.UNGROUNDED)


@dataclass(frozen=True, slots=True)
class Labels:
    shown: frozenset[Label]
    flagged: tuple[str, ...] = ()  # the sentences behind Label.FLAGGED
    outdated: frozenset[int] = frozenset()  # the citation numbers behind Label.OUTDATED
    notes: tuple[str, ...] = ()  # the texts behind Label.NOTE

    @property
    def refused(self) -> bool:
        return Label.REFUSED in self.shown

    @property
    def headline(self) -> tuple[Label, ...]:
        return tuple(label for label in HEADLINE if label in self.shown)


def label_answer(answer: Answer) -> Labels:
    """The labels a reader sees with `answer`. A refusal carries only its own label: there is no text to
    qualify, and its closest sources are not citations."""
    if answer.refused:
        return Labels(frozenset({Label.REFUSED}))
    outdated = frozenset(c.n for c in answer.citations if c.outdated)
    conditions = {
        Label.FAQ: answer.mode == "faq",
        # The headline says "no model configured"; a spent budget says why in its own note instead.
        Label.EXTRACTIVE: answer.mode == "extractive" and BUDGET_NOTE not in answer.notes,
        Label.UNGROUNDED: not answer.grounded and answer.mode != "faq",
        Label.FLAGGED: bool(answer.flagged),
        Label.OUTDATED: bool(outdated),
        Label.NOTE: bool(answer.notes),
    }
    shown = frozenset(label for label, applies in conditions.items() if applies)
    return Labels(shown, answer.flagged, outdated, answer.notes)
