"""What the `ragbot` command prints: answers, search results, statistics. Pure functions."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curation.db import Stats
    from rag.types import Answer, SearchResult


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
            },
        }
        for p in result.passages
    ]


def answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "citations": [
            {
                k: v
                for k, v in asdict(c).items()
                if k in ("n", "chunk_id", "title", "url", "published", "quote", "outdated")
            }
            for c in answer.citations
        ],
        "grounded": answer.grounded,
        "refused": answer.refused,
        "mode": answer.mode,
        "closest": [{"id": s.id, "title": s.title, "url": s.url} for s in answer.closest],
        "model": answer.model or None,
        "usage": asdict(answer.usage) if answer.usage else None,
        "notes": list(answer.notes),
        "flagged": list(answer.flagged),
    }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def render_stats(report: Stats, days: int) -> str:
    latency = (
        f"{report.median_latency_ms:.0f} ms median, {report.p95_latency_ms:.0f} ms p95"
        if report.median_latency_ms is not None and report.p95_latency_ms is not None
        else "n/a"
    )
    lines = [
        f"Last {days} days: {report.questions} question{'' if report.questions == 1 else 's'}",
        f"  refused: {report.refused} ({_percent(report.refusal_rate)})",
        f"  answered without a valid citation: {report.ungrounded} ({_percent(report.ungrounded_rate)})",
        f"  votes: {report.up} up, {report.down} down ({_percent(report.up_ratio)} up)",
        f"  latency: {latency}",
    ]
    for title, rows in (("Most refused (gaps in the corpus)", report.top_refused), ("Most 👎", report.top_downvoted)):
        if rows:
            lines += ["", title + ":", *(f"  {count}× {question}" for question, count in rows)]
    return "\n".join(lines)


def render_answer(answer: Answer) -> str:
    lines: list[str] = []
    if answer.refused:
        lines.append(answer.text)
        if answer.closest:
            lines += ["", "The closest sources I have:"]
            lines += [f"  - {s.title}" + (f" — {s.url}" if s.url else "") for s in answer.closest]
        return "\n".join(lines)
    if answer.mode == "faq":
        lines += ["Moderator-approved answer (FAQ).", ""]
    if answer.mode == "extractive":
        lines += ["Extractive answer (no language model configured): the sources' own sentences.", ""]
    if not answer.grounded:
        lines += ["Warning: this answer cites no source; do not rely on it.", ""]
    lines.append(answer.text)
    lines += [f"Note: {note}" for note in answer.notes]
    if answer.flagged:
        lines.append("Check: these sentences are not clearly supported by the passages they cite:")
        lines += [f"  - {claim}" for claim in answer.flagged]
    if not answer.citations:
        return "\n".join(lines)
    lines += ["", "Sources"]
    for c in answer.citations:
        meta = ", ".join(x for x in (c.publisher, c.published) if x)
        lines.append(
            f"[{c.n}] {c.title}" + (f" ({meta})" if meta else "") + (" — possibly outdated" if c.outdated else "")
        )
        if c.url:
            lines.append(f"    {c.url}")
        if c.section:
            lines.append(f"    section: {c.section}")
    return "\n".join(lines)
