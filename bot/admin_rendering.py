"""What moderators see: FAQ entries and pages of them, insight, the sources, a reindex report. Pure functions,
each result within Discord's limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import discord

from bot.rendering import MESSAGE_LIMIT, Rendered, sources_embed, split_text
from rag.url_sources import is_url_source

if TYPE_CHECKING:
    from curation.db.records import FaqRecord, Stats
    from curation.freshness import Freshness
    from rag.catalog import DocumentRecord
    from rag.ingest import IngestReport
    from rag.web_sources import SourceChange

LINE_CHARS = 120  # a question or title in a list; long ones are cut so a page always fits one message
URL_CHARS = 200
WEB_MARK = "🌐 from a URL"
MISSING_PERMISSIONS = 403
PIN_LIST_FULL = 30003  # Discord's error code when a channel has as many pins as it may
NO_FAQS = (
    "This server has no FAQ entries yet. Add one with `/faq add`, or open the menu of one of my answers and "
    "choose **Apps → Pin as FAQ**."
)


def _one_line(text: str, limit: int = LINE_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _short(text: str, limit: int = LINE_CHARS) -> str:
    """One line cut at `limit` characters, markdown escaped: a question's `*` must not restyle the list."""
    return discord.utils.escape_markdown(_one_line(text, limit))


def _fit(lines: list[str], limit: int = MESSAGE_LIMIT) -> str:
    """Lines joined; trailing ones dropped (with a note) until the text fits one message."""
    text = "\n".join(lines)
    dropped = 0
    while len(text) > limit and len(lines) > 1:
        lines = lines[:-1]
        dropped += 1
        text = "\n".join([*lines, f"*…{dropped} more not shown*"])
    return text[:limit]


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


REVIEW_DUE, SOURCE_CHANGED, SOURCE_REMOVED = "⏰", "✏️", "🗑️"
FLAG_KEY = (
    f"-# {REVIEW_DUE} past its review date · {SOURCE_CHANGED} a cited source changed since the entry was saved"
    f" (saving it with `/faq edit` marks it checked) · {SOURCE_REMOVED} a cited source is no longer indexed"
)
TITLE_CHARS = 60  # a flagged source's title: two may share a line with the rest
TITLES_SHOWN = 2  # per kind of flag; `/faq show` lists the entry's sources in full


# --- FAQ entries ----------------------------------------------------------------------------------------
def uses_text(entry: FaqRecord) -> str:
    if entry.use_count == 0 or entry.last_used_at is None:
        return "never used"
    times = "1 use" if entry.use_count == 1 else f"{entry.use_count:,} uses"
    return f"{times}, last <t:{int(entry.last_used_at.timestamp())}:R>"


def faq_line(entry: FaqRecord, freshness: Freshness | None = None, *, width: int = LINE_CHARS) -> str:
    """An entry in the list, its question cut at `width`; what to look at in it on a second line."""
    sources = len(entry.citations)
    extras = [f"{sources} source{'s' if sources != 1 else ''}"] if sources else []
    if entry.pinned_message_id is not None:
        extras.append("pinned")
    suffix = f" · *{', '.join(extras)}*" if extras else ""
    line = f"**#{entry.id}** {_short(entry.question, width)}{suffix} · {uses_text(entry)}"
    flags = flag_text(freshness, max(width // 2, 20)) if freshness is not None else ""
    return f"{line}\n  {flags}" if flags else line


def flag_text(freshness: Freshness, title_chars: int = TITLE_CHARS) -> str:
    """What to look at in an entry, one short phrase per problem; empty when there is none."""
    flags = []
    if freshness.review_due is not None:
        flags.append(f"{REVIEW_DUE} review was due {freshness.review_due.isoformat()}")
    for mark, what, titles in (
        (SOURCE_CHANGED, "changed", freshness.changed),
        (SOURCE_REMOVED, "removed", freshness.removed),
    ):
        if titles:
            named = ", ".join(_short(t, title_chars) for t in titles[:TITLES_SHOWN])
            more = f" and {len(titles) - TITLES_SHOWN} more" if len(titles) > TITLES_SHOWN else ""
            flags.append(f"{mark} source{'s' if len(titles) > 1 else ''} {what}: {named}{more}")
    return " · ".join(flags)


def render_faq_page(
    entries: Sequence[FaqRecord],
    number: int,
    pages: int,
    total: int,
    freshness: Mapping[int, Freshness] | None = None,
) -> str:
    """A page of entries with their uses; `freshness` (curation.freshness.check per entry id) adds flags.
    Questions and titles are cut shorter until the page fits one message, the explanations always shown."""
    if total == 0:
        return NO_FAQS
    freshness = freshness or {}
    head = f"📌 **FAQ entries** — {total} in all · page {number}/{pages}"
    footer = [FLAG_KEY] if any(f.stale for f in freshness.values()) else []
    footer.append("-# `/faq show id` shows an entry; `/faq edit id` and `/faq remove id` change it.")
    body = ["*No entries on this page.*"] if not entries else []
    for width in (LINE_CHARS, LINE_CHARS // 2, LINE_CHARS // 4):
        body = body if not entries else [faq_line(e, freshness.get(e.id), width=width) for e in entries]
        text = "\n".join([head, *body, *footer])
        if len(text) <= MESSAGE_LIMIT:
            return text
    end = "\n".join(footer)
    return _fit([head, *body], MESSAGE_LIMIT - len(end) - 1) + "\n" + end


def render_faq(entry: FaqRecord) -> Rendered:
    """One entry as its readers get it, with who wrote it; sources as the answer embed shows them."""
    stamp = int(entry.updated_at.timestamp())
    review = f" · review by {entry.review_by.isoformat()}" if entry.review_by else ""
    footer = f"-# Added by <@{entry.author_id}> · last changed <t:{stamp}:R> · {uses_text(entry)}{review}"
    # Question and answer are separate paragraphs, so a long entry is split between them, not inside one.
    text = f"**FAQ #{entry.id}** · **Q:** {entry.question}\n\n**A:** {entry.answer}\n\n{footer}"
    return Rendered(tuple(split_text(text)), sources_embed(entry.citations))


def saved_text(entry: FaqRecord, *, edited: bool = False) -> str:
    verb = "Updated" if edited else "Saved"
    return f"📌 {verb} FAQ entry **#{entry.id}**: {_short(entry.question)}"


def pin_failure_text(status: int, code: int) -> str:
    """Why the message could not be pinned; the entry itself is saved either way."""
    if code == PIN_LIST_FULL:
        reason = "this channel's pin list is full. Unpin an old message, then pin this one by hand"
    elif status == MISSING_PERMISSIONS:
        reason = "I don't have the Pin Messages permission in this channel"
    else:
        reason = f"Discord refused ({status})"
    return f"⚠️ The entry is saved, but I couldn't pin the message: {reason}."


# --- insight -----------------------------------------------------------------------------------------
def _top(title: str, rows: Sequence[tuple[str, int]], unit: str) -> list[str]:
    if not rows:
        return []
    return [f"**{title}**", *(f"{i}. {_short(q)} ({unit}{n})" for i, (q, n) in enumerate(rows, 1))]


def render_stats(stats: Stats, days: int, *, spend: str = "") -> str:
    """`spend`: today's model tokens against the server's budget (`rag.budget.spend_text`)."""
    since = int(stats.since.timestamp())
    period = "24 hours" if days == 1 else f"{days} days"
    answered = stats.questions - stats.refused
    lines = [
        f"📊 **The last {period}** (since <t:{since}:f>)",
        f"**Questions:** {stats.questions}",
        f"**Refused** (the sources don't cover them): {stats.refused} · {_percent(stats.refusal_rate)}",
        f"**Answered without a valid citation:** {stats.ungrounded} of {answered} answers"
        f" · {_percent(stats.ungrounded_rate)}",
        f"**Answered from the FAQ:** {stats.faq_hits} · {_percent(stats.faq_rate)} of questions",
        f"**Open review cards:** {stats.open_review_cards}",
        f"**Votes:** 👍 {stats.up} · 👎 {stats.down} · {_percent(stats.up_ratio)} 👍",
        f"**Latency:** median {_duration(stats.median_latency_ms)} · 95th percentile {_duration(stats.p95_latency_ms)}",
    ]
    if spend:
        lines.append(f"**Model tokens today:** {spend}")
    lines += _top("Most refused questions", stats.top_refused, "×")
    lines += _top("Most 👎 questions", stats.top_downvoted, "👎 ")
    if stats.top_refused or stats.top_downvoted:
        lines.append("-# Refused questions may need a new source; a pinned FAQ entry can answer a frequent one.")
    return _fit(lines)


# --- the corpus ----------------------------------------------------------------------------------------
def _source_line(doc: DocumentRecord, *, links: bool) -> str:
    title = _short(doc.source.title or doc.source.id)
    url = doc.source.url
    if links and url and len(url) <= URL_CHARS:
        title = f"[{_link_text(title)}](<{url}>)"
    date = doc.source.published or "undated"
    chunks = f"{doc.chunk_count} chunk{'s' if doc.chunk_count != 1 else ''}"
    origin = f" · {WEB_MARK}" if is_url_source(doc.source.id) else ""  # the others are files of the corpus
    return f"• {title} — {date} · {chunks}{origin}"


def _link_text(title: str) -> str:
    return title.replace("[", "(").replace("]", ")")


def render_sources_page(
    docs: Sequence[DocumentRecord], number: int, pages: int, total: int, *, from_urls: int = 0
) -> str:
    """Sources with links if the page fits one message with them, else titles alone. `from_urls`: how many of
    all `total` sources were added from a URL (the rest are files of the curated corpus)."""
    if total == 0:
        return "No sources are indexed. An administrator can run `/reindex`."
    origin = f" ({total - from_urls} corpus files, {from_urls} {WEB_MARK})" if from_urls else ""
    head = f"📚 **Indexed sources** — {total} in all{origin} · page {number}/{pages}"
    for links in (True, False):
        text = "\n".join([head, *(_source_line(d, links=links) for d in docs)])
        if len(text) <= MESSAGE_LIMIT:
            return text
    return _fit([head, *(_source_line(d, links=False) for d in docs)])


def render_reindex(report: IngestReport) -> str:
    lines = [f"🔄 **Reindexed:** {report.summary()}"]
    for title, items in (
        ("**Files that could not be indexed:**", report.failed),
        ("**Files left out (links out of the corpus, over the size limit):**", report.skipped),
    ):
        if items:
            lines.append(title)
            for path, reason in items:
                shown = _one_line(path, 150).replace("`", "'")  # a backtick would end the code span early
                lines.append(f"• `{shown}` — {_short(reason, 200)}")
    return _fit(lines)


def _address(url: str) -> str:
    """A curator's address as shown back: a link without preview, or cut in a code span when very long."""
    if len(url) <= URL_CHARS and not any(ch in url for ch in "<>` "):
        return f"<{url}>"
    return "`" + _one_line(url, 150).replace("`", "'") + "`"


def render_source_change(change: SourceChange) -> str:
    """The reply to `/sources add` and `/sources remove` (and a review card's "Add source"): one short message."""
    where = _address(change.target)
    title = _short(change.title) if change.title else where
    if change.title and len(change.target) <= URL_CHARS:
        title = f"[{_link_text(title)}]({where})"
    passages = f"{change.chunks} passage{'s' if change.chunks != 1 else ''}"
    reason = _short(change.detail.removesuffix("; nothing was changed"), 400)
    lines = {
        "added": f"🌐 **Added** {title} — {passages}. Questions about it are answered from it now.",
        "updated": f"🔄 **Updated** {title} — {passages}, re-read from the page.",
        "unchanged": f"✅ {where} is already a source and has not changed.",
        "removed": f"🗑️ **Removed** {where} ({passages}); it is no longer cited.",
        "failed": f"⚠️ Nothing was changed for {where}: {reason}",
    }
    return _fit([lines[change.outcome]])


NO_URL_SOURCES = "No web pages are sources yet: an administrator adds one with `/sources add url:`."


def render_refresh(changes: Sequence[SourceChange]) -> str:
    """The reply to `/sources refresh`: the counts, then one line per page that changed or failed."""
    if not changes:
        return NO_URL_SOURCES
    counts = ", ".join(f"{sum(c.outcome == o for c in changes)} {o}" for o in ("updated", "unchanged", "failed"))
    lines = [f"🔄 **Web pages checked:** {counts}"]
    for change in changes:
        if change.outcome == "updated":
            lines.append(f"• {_address(change.target)} — updated: {_short(change.detail, 200)}")
        elif change.outcome == "failed":
            reason = _short(change.detail.removesuffix("; the indexed copy is kept"), 200)
            lines.append(f"• {_address(change.target)} — ⚠️ {reason} (the indexed copy is kept)")
    return _fit(lines)
