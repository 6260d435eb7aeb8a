"""Small pure text helpers shared by chunking and answering."""

from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) and whitespace before a capital,
# digit or quote, but not after an initial such as the "S." of "U.S."; a line break always ends a unit.
SENTENCE_END = re.compile(r"(?<![\s.][A-Z]\.)(?<=[.!?])[\"'”’)\]]*[ \t]+(?=[A-Z0-9\"'“‘(\[])|[ \t]*\n\s*")


def split_sentences(text: str) -> list[str]:
    """Sentences and standalone lines of `text`, stripped, empty ones dropped."""
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]
