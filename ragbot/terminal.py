"""What the `ragbot` command prints: answers, search results, statistics. Pure functions."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rag.labels import Label, label_answer
from rag.text import clean_text

if TYPE_CHECKING:
    from collections.abc import Iterable

    from curation.db import Stats
    from rag.types import Answer, Citation, PrimarySource, SearchResult, SourceInfo

CURATED = "curated brief"
UNCONFIRMED = "link not confirmed"


def primary_json(sources: Iterable[PrimarySource]) -> list[dict[str, Any]]:
    """A brief's primary sources as the JSON contract gives them (an addition: older readers ignore it)."""
    return [{"title": s.title, "url": s.url, "confirmed": s.confirmed} for s in sources]


def search_json(result: SearchResult) -> list[dict[str, Any]]:
    return [
        {
            "chunk_id": p.chunk.chunk_id,
            "text": p.chunk.text,
            "score": round(p.score, 6),
            "section": p.chunk.section,
            "source": {
                "id": p.chunk.source.id,
                "title": p.chunk.source.title,
                "url": p.chunk.source.url,
                "published": p.chunk.source.published,
                "primary_sources": primary_json(p.chunk.source.primary_sources),
            },
        }
        for p in result.passages
    ]


def answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "citations": [_citation_json(c) for c in answer.citations],
        "grounded": answer.grounded,
        "refused": answer.refused,
        "mode": answer.mode,
        "closest": [_source_json(s) for s in answer.closest],
        "model": answer.model or None,
        "usage": asdict(answer.usage) if answer.usage else None,
        "notes": list(answer.notes),
        "flagged": list(answer.flagged),
    }


def _source_json(s: SourceInfo) -> dict[str, Any]:
    """A refusal's closest source, checkable like a citation: a brief brings its primary sources."""
    return {"id": s.id, "title": s.title, "url": s.url, "primary_sources": primary_json(s.primary_sources)}


def _citation_json(c: Citation) -> dict[str, Any]:
    fields = {
        k: v for k, v in asdict(c).items() if k in ("n", "chunk_id", "title", "url", "published", "quote", "outdated")
    }
    return fields | {"primary_sources": primary_json(c.primary_sources)}


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def render_stats(report: Stats, days: int, *, spend: str = "") -> str:
    latency = (
        f"{report.median_latency_ms:.0f} ms median, {report.p95_latency_ms:.0f} ms p95"
        if report.median_latency_ms is not None and report.p95_latency_ms is not None
        else "n/a"
    )
    lines = [
        f"Last {days} days: {report.questions} question{'' if report.questions == 1 else 's'}",
        f"  refused: {report.refused} ({_percent(report.refusal_rate)})",
        f"  answered without a valid citation: {report.ungrounded} ({_percent(report.ungrounded_rate)})",
        f"  answered from the FAQ: {report.faq_hits} ({_percent(report.faq_rate)})",
        f"  open review cards (now): {report.open_review_cards}",
        f"  votes: {report.up} up, {report.down} down ({_percent(report.up_ratio)} up)",
        f"  latency: {latency}",
    ]
    if spend:
        lines.append(f"  model tokens today: {spend}")
    for title, rows in (("Most refused (gaps in the corpus)", report.top_refused), ("Most 👎", report.top_downvoted)):
        if rows:
            lines += ["", title + ":", *(f"  {count}× {question}" for question, count in rows)]
    return clean_text("\n".join(lines))  # the questions are what users typed


# How each label reads in a terminal; Label.NOTE shows each note's own text.
LABEL_TEXT = {
    Label.REFUSED: "The closest sources I have:",
    Label.FAQ: "Moderator-approved answer (FAQ).",
    Label.EXTRACTIVE: "Extractive answer (no language model configured): the sources' own sentences.",
    Label.UNGROUNDED: "Warning: this answer cites no source; do not rely on it.",
    Label.FLAGGED: "Check: these sentences are not clearly supported by the passages they cite:",
    Label.OUTDATED: "possibly outdated",
    Label.NOTE: "Note:",
}


def render_answer(answer: Answer) -> str:
    """The answer for a terminal. Model and source text are cleaned where they enter the program; cleaning
    again here keeps an index built by an older ragbot from printing escape sequences (clipboard writes,
    screen clears) too."""
    return clean_text(_render(answer))


def _render(answer: Answer) -> str:
    labels = label_answer(answer)
    if labels.refused:
        return _render_refusal(answer)
    lines: list[str] = []
    for label in labels.headline:
        lines += [LABEL_TEXT[label], ""]
    lines.append(answer.text)
    lines += [f"{LABEL_TEXT[Label.NOTE]} {note}" for note in labels.notes]
    if labels.flagged:
        lines.append(LABEL_TEXT[Label.FLAGGED])
        lines += [f"  - {claim}" for claim in labels.flagged]
    if answer.citations:
        lines += ["", "Sources", *_source_lines(answer, labels.outdated)]
    return "\n".join(lines)


def _render_refusal(answer: Answer) -> str:
    lines = [answer.text]
    if answer.closest:
        lines += ["", LABEL_TEXT[Label.REFUSED]]
        for s in answer.closest:
            lines.append(
                f"  - {s.title}" + (f" ({CURATED})" if s.kind == "brief" else "") + (f" — {s.url}" if s.url else "")
            )
            lines += _primary_lines(s.primary_sources, indent="    ")
    return "\n".join(lines)


def _source_lines(answer: Answer, outdated: frozenset[int]) -> list[str]:
    lines: list[str] = []
    for c in answer.citations:
        meta = ", ".join(x for x in (CURATED if c.curated else "", c.publisher, c.published) if x)
        warning = f" — {LABEL_TEXT[Label.OUTDATED]}" if c.n in outdated else ""
        lines.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else "") + warning)
        if c.url:
            lines.append(f"    {c.url}")
        if c.section:
            lines.append(f"    section: {c.section}")
        lines += primary_source_lines(c)
    return lines


def primary_source_lines(c: Citation) -> list[str]:
    """A curated brief's primary sources under its citation: where a reader checks what the brief says."""
    return _primary_lines(c.primary_sources, indent="    ")


def _primary_lines(sources: tuple[PrimarySource, ...], indent: str) -> list[str]:
    if not sources:
        return []
    return [f"{indent}primary sources:", *(f"{indent}  - {_primary_line(p)}" for p in sources)]


def _primary_line(source: PrimarySource) -> str:
    link = f" <{source.url}>" if source.url else ""
    return source.title + link + ("" if source.confirmed else f" ({UNCONFIRMED})")
