"""Small pure text helpers shared by chunking and answering."""

from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) and whitespace before a capital,
# digit or quote, but not after an initial such as the "S." of "U.S."; a line break always ends a unit.
SENTENCE_END = re.compile(r"(?<![\s.][A-Z]\.)(?<=[.!?])[\"'”’)\]]*[ \t]+(?=[A-Z0-9\"'“‘(\[])|[ \t]*\n\s*")


def split_sentences(text: str) -> list[str]:
    """Sentences and standalone lines of `text`, stripped, empty ones dropped."""
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


# Terminal escape sequences (CSI such as "\x1b[2J", OSC such as "\x1b]52;c;...\x07" which writes the clipboard,
# and two-character escapes) go whole: removing only the ESC would leave their parameters behind as noise.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, SOS, PM, APC up to their terminator
    r"|\x1b[ -/]*[0-~]?"  # any other escape
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the 8-bit CSI
)
# C0 controls except tab and newline, DEL and C1 controls. "\r" goes too: alone it lets a line overwrite itself.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lone UTF-16 surrogates: what Python makes of invalid UTF-8 in argv, or of "\ud800" in JSON. No encoder,
# database or tokenizer accepts them.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def has_lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def clean_text(text: str) -> str:
    """Text safe to store, embed, print and send: lone surrogates become U+FFFD, terminal escape sequences and
    control characters other than newline and tab are removed. Pure; applied where text enters the program
    (command-line arguments, model output, Discord messages, corpus files, imported files)."""
    text = _SURROGATE.sub(REPLACEMENT, text)
    if "\x1b" in text or "\x9b" in text:
        text = _ESCAPE_SEQUENCE.sub("", text)
    return _CONTROL.sub("", text)


# Sentences that address the reader (or a model) as instructions rather than state facts: role labels, "ignore
# previous instructions", second-person commands, mass mentions. A source may carry them by accident or by
# design; without a model, the extractive answer must not quote them in place of facts.
_INSTRUCTION = re.compile(
    r"^\W*(?:system|assistant|user|developer|instructions?)\s*[:>\]]"
    r"|\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|above|previous|prior)\b"
    r"|\byou\s+(?:must|should|shall|will\s+now|are\s+(?:now|to)|need\s+to|have\s+to)\b"
    r"|\b(?:answer|respond|reply|begin|start)\s+(?:only\s+)?(?:with|by\s+saying)\b"
    r"|@(?:everyone|here)\b",
    re.IGNORECASE,
)


def addresses_reader(sentence: str) -> bool:
    """Whether a sentence reads as an instruction to its reader rather than a statement of fact."""
    return _INSTRUCTION.search(sentence) is not None
