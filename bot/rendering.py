"""Turning an Answer into Discord messages and a sources embed, within Discord's limits. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord

from rag.answer_parts import REFUSAL
from rag.labels import Label, label_answer
from rag.text import SENTENCE_END
from rag.types import Answer, Citation, PrimarySource, SourceInfo

MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TOTAL_LIMIT = 6000
EMBED_FIELDS_LIMIT = 25
QUOTE_CHARS = 220
_FENCE = "```"
_MARKER_OR_WORD = re.compile(r"\[\d+\]|\S+")

REFUSAL_LABEL = "🤷 **My sources don't cover that.**"
FAQ_LABEL = "📌 **Moderator-approved answer**"
EXTRACTIVE_LABEL = "📄 *Extractive answer: no language model is configured, so these are the sources' own sentences.*"
UNGROUNDED_LABEL = "⚠️ *This answer cites no source: treat it with caution.*"
FLAGGED_LABEL = "⚠️ *Some sentences are not clearly supported by the passage they cite.*"
OUTDATED_LABEL = "⚠️ *possibly outdated*"
THINKING = "🤔 *thinking…*"
SEARCHING = "🔎 *searching the sources…*"


@dataclass(frozen=True, slots=True)
class Rendered:
    messages: tuple[str, ...]  # the first is the answer message itself; the rest follow it
    embed: discord.Embed | None


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces under `limit`: cut at paragraph breaks, then sentence ends, then spaces; never inside a word,
    a [n] marker or a code block (a code block longer than a message is re-fenced on each piece)."""
    pieces: list[str] = []
    current = ""
    for block in _blocks(text, limit):
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = block
    if current:
        pieces.append(current)
    return pieces or [""]


def _blocks(text: str, limit: int) -> list[str]:
    """Paragraphs and code blocks, each cut to fit `limit`."""
    out: list[str] = []
    for paragraph in _paragraphs(text):
        if len(paragraph) <= limit:
            out.append(paragraph)
        elif paragraph.startswith(_FENCE):
            out.extend(_split_code(paragraph, limit))
        else:
            out.extend(_split_prose(paragraph, limit))
    return out


def _paragraphs(text: str) -> list[str]:
    """Split at blank lines, keeping fenced code blocks whole."""
    parts: list[str] = []
    buffer: list[str] = []
    in_code = False
    for line in text.strip().split("\n"):
        if line.strip().startswith(_FENCE):
            if not in_code and buffer:
                parts.append("\n".join(buffer).strip())
                buffer = []
            in_code = not in_code
            buffer.append(line)
            if not in_code:
                parts.append("\n".join(buffer))
                buffer = []
            continue
        if not in_code and not line.strip():
            if buffer:
                parts.append("\n".join(buffer).strip())
            buffer = []
            continue
        buffer.append(line)
    if buffer:
        parts.append("\n".join(buffer) + ("\n" + _FENCE if in_code else ""))
    return [p for p in parts if p.strip()]


def _split_prose(paragraph: str, limit: int) -> list[str]:
    sentences = [s.strip() for s in SENTENCE_END.split(paragraph) if s.strip()]
    units: list[str] = []
    for sentence in sentences:
        units.extend([sentence] if len(sentence) <= limit else _split_words(sentence, limit))
    return _pack(units, limit, " ")


def _split_words(sentence: str, limit: int) -> list[str]:
    words = _MARKER_OR_WORD.findall(sentence)
    units: list[str] = []
    for word in words:
        units.extend(word[i : i + limit] for i in range(0, len(word), limit))  # only a monster "word" is cut
    return _pack(units, limit, " ")


def _split_code(block: str, limit: int) -> list[str]:
    lines = block.split("\n")
    opening = lines[0]
    body = [line for line in lines[1:] if line.strip() != _FENCE]
    room = limit - len(opening) - len(_FENCE) - 2
    chunks = _pack([line[i : i + room] for line in body for i in range(0, max(len(line), 1), room)], room, "\n")
    return [f"{opening}\n{chunk}\n{_FENCE}" for chunk in chunks]


def _pack(units: list[str], limit: int, joiner: str) -> list[str]:
    out: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current}{joiner}{unit}" if current else unit
        if len(candidate) <= limit:
            current = candidate
        else:
            out.append(current)
            current = unit
    if current:
        out.append(current)
    return out


# How each label reads in Discord; Label.NOTE shows each note's own text, in italics.
LABEL_TEXT = {
    Label.REFUSED: REFUSAL_LABEL,
    Label.FAQ: FAQ_LABEL,
    Label.EXTRACTIVE: EXTRACTIVE_LABEL,
    Label.UNGROUNDED: UNGROUNDED_LABEL,
    Label.FLAGGED: FLAGGED_LABEL,
    Label.OUTDATED: OUTDATED_LABEL,
    Label.NOTE: "",
}


def answer_text(answer: Answer) -> str:
    """The answer with its labels: what kind of answer it is, and any notes."""
    labels = label_answer(answer)
    if labels.refused:
        closest = "\n".join(_closest_line(s) for s in answer.closest)
        # The core says why it refused ("I only understand questions in English ..."); the usual reason reads as
        # the usual label.
        reason = answer.text.strip()
        head = REFUSAL_LABEL if reason in ("", REFUSAL) else f"🤷 **{discord.utils.escape_markdown(reason)}**"
        return head + (f"\nThe closest sources I have:\n{closest}" if closest else "")
    lines = [LABEL_TEXT[label] for label in labels.headline]
    lines.append(answer.text)
    if labels.flagged:
        lines.append(FLAGGED_LABEL)
    lines.extend(f"*{note}*" for note in labels.notes)
    return "\n\n".join(lines)


def _closest_line(source: SourceInfo) -> str:
    """A refusal's closest source, checkable like a citation: a brief says so and links its primary sources."""
    line = f"• {_link(source.title, source.url)}" + (f" — {CURATED}" if source.kind == "brief" else "")
    primary = _primary_line(source.primary_sources, _CLOSEST_PRIMARY)
    return line + (f"\n  {primary}" if primary else "")


def _link(title: str, url: str) -> str:
    safe = discord.utils.escape_markdown(title).replace("[", "\\[").replace("]", "\\]")
    return f"[{safe}](<{url}>)" if url else safe  # <url> keeps Discord from unfurling a preview


CURATED = "curated brief"
_CLOSEST_PRIMARY = 3  # primary sources linked per closest source of a refusal: the rest are counted
UNCONFIRMED = "*(link not confirmed)*"
# How far the sources embed shrinks before cutting whole sources: (quote characters, primary sources per brief).
_EMBED_LEVELS = ((QUOTE_CHARS, 4), (120, 4), (120, 2), (60, 2), (0, 2), (0, 1), (0, 0))


def _meta(citation: Citation) -> str:
    return " · ".join(x for x in (CURATED if citation.curated else "", citation.publisher, citation.published) if x)


def _primary_line(sources: tuple[PrimarySource, ...], limit: int | None = None) -> str:
    """A brief's primary sources on one line, linked; `limit` keeps the first few and counts the rest."""
    shown = sources if limit is None else sources[:limit]
    if not shown:
        return ""
    links = [_link(p.title, p.url) + ("" if p.confirmed else f" {UNCONFIRMED}") for p in shown]
    rest = len(sources) - len(shown)
    return "Primary sources: " + " · ".join(links) + (f" · and {rest} more" if rest else "")


def _source_line(citation: Citation, quote_chars: int, primary_max: int) -> str:
    meta = _meta(citation)
    quote = citation.quote if len(citation.quote) <= quote_chars else citation.quote[: quote_chars - 1].rstrip() + "…"
    line = f"**[{citation.n}]** {_link(citation.title, citation.url)}" + (f" — {meta}" if meta else "")
    if citation.outdated:
        line += f" · {OUTDATED_LABEL}"
    if primary_max and (primary := _primary_line(citation.primary_sources, primary_max)):
        line += f"\n{primary}"
    return line + (f"\n> {discord.utils.escape_markdown(quote)}" if quote else "")


def sources_embed(citations: tuple[Citation, ...], *, quote_chars: int = QUOTE_CHARS) -> discord.Embed | None:
    """Numbered sources in one embed description; quotes, then briefs' primary sources, shrink until it fits
    Discord's limits, and past that the last sources give way to a count (never a link cut in half)."""
    if not citations:
        return None
    levels = ((min(quote_chars, q), p) for q, p in _EMBED_LEVELS)
    for chars, primary_max in levels:
        lines = [_source_line(c, chars, primary_max) for c in citations]
        if len("\n".join(lines)) <= EMBED_DESCRIPTION_LIMIT:
            break
    description = _fit_lines(lines, EMBED_DESCRIPTION_LIMIT)
    embed = discord.Embed(title="Sources", description=description, colour=discord.Colour.blurple())
    embed.set_footer(text="Open a source to check the quoted passage.")
    return embed


def _fit_lines(lines: list[str], limit: int) -> str:
    """Whole lines that fit `limit`, then how many sources were left out."""
    for keep in range(len(lines), 0, -1):
        dropped = len(lines) - keep
        text = "\n".join(lines[:keep]) + (f"\n…and {dropped} more sources" if dropped else "")
        if len(text) <= limit:
            return text
    return lines[0][: limit - 1] + "…"  # one source longer than the whole embed: a title of thousands of characters


def full_quotes(citations: tuple[Citation, ...]) -> list[str]:
    """The Sources button: every citation with its whole quote, section and primary sources, as messages under
    2,000 chars."""
    blocks = []
    for c in citations:
        meta = " · ".join(x for x in (CURATED if c.curated else "", c.published) if x)
        head = f"**[{c.n}]** {_link(c.title, c.url)}" + (f" — {meta}" if meta else "")
        section = f"\n*{discord.utils.escape_markdown(c.section)}*" if c.section else ""
        primary = _primary_line(c.primary_sources)
        blocks.append(
            f"{head}{section}\n> {discord.utils.escape_markdown(c.quote)}" + (f"\n{primary}" if primary else "")
        )
    return split_text("\n\n".join(blocks)) if blocks else ["This answer has no sources."]


def render_answer(answer: Answer) -> Rendered:
    return Rendered(tuple(split_text(answer_text(answer))), sources_embed(answer.citations))


def draft_text(text: str) -> str:
    """A streaming draft shown while the model writes: the tail if it outgrew one message."""
    text = text.strip() or THINKING
    return text if len(text) <= MESSAGE_LIMIT - 2 else "…" + text[-(MESSAGE_LIMIT - 3) :]
