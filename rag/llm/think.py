"""Separating `<think>...</think>` reasoning (R1 distills on llama.cpp/Ollama) from answer text, as it streams."""

from __future__ import annotations

import re

OPEN, CLOSE = "<think>", "</think>"
_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL)


def strip_think(text: str) -> str:
    """Remove reasoning blocks from a finished text (e.g. a past turn before it goes back to a model)."""
    return _THINK_BLOCK.sub("", text).strip()


class ThinkSplitter:
    """Feed streamed text; get (is_reasoning, text) pieces. Tags split across pieces are handled by holding
    back a possible tag prefix until the next piece decides it."""

    def __init__(self) -> None:
        self._inside = False
        self._pending = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        self._pending += text
        out: list[tuple[bool, str]] = []
        while self._pending:
            tag = CLOSE if self._inside else OPEN
            at = self._pending.find(tag)
            if at >= 0:
                if at:
                    out.append((self._inside, self._pending[:at]))
                self._pending = self._pending[at + len(tag) :]
                self._inside = not self._inside
                continue
            keep = _partial_suffix(self._pending, tag)
            emit = self._pending[: len(self._pending) - keep]
            if emit:
                out.append((self._inside, emit))
            self._pending = self._pending[len(emit) :]
            break
        return out

    def flush(self) -> list[tuple[bool, str]]:
        rest, self._pending = self._pending, ""
        return [(self._inside, rest)] if rest else []


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a beginning of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
