"""`ragbot eval`: runs the golden set through the real service and measures retrieval, refusals, citations
and facts. Loading and scoring are separate so curators get exact failures, and reports render as pure data."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rag.citations import MARKER, cited_claims
from rag.errors import RagError
from rag.golden import KINDS, OUT_OF_SCOPE, Expected, GoldenQuestion

if TYPE_CHECKING:
    from rag.service import RagService
    from rag.types import Answer, Passage

log = logging.getLogger(__name__)


# --- results ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QuestionResult:
    id: str
    kind: str
    query: str  # what was searched (a follow-up's standalone query)
    hit: bool | None  # retrieval; None for out-of-scope questions
    rank: int | None  # rank of the first expected passage retrieved
    refused: bool
    facts_ok: bool | None  # None when the question has no facts
    citations: int  # [n] markers in the answer
    valid_citations: int
    seconds: float
    failures: tuple[str, ...]
    answer: str = ""
    extractive_facts_ok: bool | None = None  # the answer without a model states every fact (None: no facts)


@dataclass(frozen=True, slots=True)
class KindStats:
    kind: str
    questions: int
    recall: float | None
    mrr: float | None
    fact_recall: float | None
    refused: int


@dataclass(frozen=True, slots=True)
class EvalReport:
    mode: str
    k: int
    questions: int
    seconds: float
    recall: float | None
    mrr: float | None
    refusal_precision: float | None
    refusal_recall: float | None
    false_refusals: tuple[str, ...]  # ids of in-scope questions the service refused
    citation_validity: float | None
    citations: int
    fact_recall: float | None
    per_kind: tuple[KindStats, ...]
    results: tuple[QuestionResult, ...]

    @property
    def failures(self) -> list[tuple[str, str]]:
        return [(r.id, failure) for r in self.results for failure in r.failures]


# --- running ---------------------------------------------------------------------------------------------
async def run_eval(
    service: RagService, golden: Sequence[GoldenQuestion], *, k: int = 5, concurrency: int = 4
) -> EvalReport:
    """Ask every golden question through `service` (a few at a time: a remote model is slow, not busy)."""
    start = time.perf_counter()
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(question: GoldenQuestion) -> QuestionResult:
        async with gate:
            return await _evaluate(service, question, k)

    results = await asyncio.gather(*(one(q) for q in golden))
    mode = service.chat.name if service.chat is not None else "extractive"
    return summarise(results, mode=mode, k=k, seconds=time.perf_counter() - start)


async def _evaluate(service: RagService, question: GoldenQuestion, k: int) -> QuestionResult:
    start = time.perf_counter()
    query, hit, rank, extractive_ok = question.q, None, None, None
    failures: list[str] = []
    answer: Answer | None = None
    known: set[str] = set()
    try:
        if question.in_scope:
            query, hit, rank, extractive_ok = await _check_retrieval(service, question, k, failures)
        answer = await service.answer(question.q, question.history)
        ids = [c.chunk_id for c in answer.citations]
        known = set(await service.chunks(ids))
    except RagError as exc:  # one failed call must not end a run of a hundred questions
        log.warning("eval question %s failed: %s", question.id, exc)
        failures.append(f"error: {exc}")
    facts_ok, cited, valid, problems = score_answer(question, answer, known)
    refused, text = (answer.refused, answer.text) if answer is not None else (False, "")
    if service.chat is None:
        extractive_ok = facts_ok
    seconds = time.perf_counter() - start
    return QuestionResult(
        question.id,
        question.kind,
        query,
        hit,
        rank,
        refused,
        facts_ok,
        cited,
        valid,
        seconds,
        (*failures, *problems),
        text,
        extractive_ok,
    )


async def _check_retrieval(
    service: RagService, question: GoldenQuestion, k: int, failures: list[str]
) -> tuple[str, bool, int | None, bool | None]:
    """(query searched, hit, rank, extractive facts found): where the expected passages rank, and with a model
    whether the extractive answer would carry the facts (without one, the evaluated answer is extractive)."""
    result = await service.retrieve(question.q, question.history, k)
    hit, rank, missing = retrieval_hit(result.passages, question.expect, all_sources=question.must_cite_all)
    if not hit:
        failures.append(f"retrieval: not in top {k} ({', '.join(missing)})")
    extractive_ok: bool | None = None
    if question.facts and service.chat is not None:
        extractive = await asyncio.to_thread(service.extractive, question.q, result)
        extractive_ok = not extractive.refused and not facts_missing(extractive.text, question.facts)
    return result.query, hit, rank, extractive_ok


# --- scoring (pure) --------------------------------------------------------------------------------------
def normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def retrieval_hit(
    passages: Sequence[Passage], expect: Sequence[Expected], *, all_sources: bool = False
) -> tuple[bool, int | None, list[str]]:
    """(hit, rank of the first expected passage, expected sources not found). A passage matches when it comes
    from the expected source and contains the expected text. With `all_sources` (a conflict) both sides are
    needed: the first expected source (the claim) and at least one of the others (its corrections)."""
    found: dict[str, int] = {}
    for rank, passage in enumerate(passages, 1):
        text = normalise(passage.chunk.text)
        for e in expect:
            if passage.chunk.source.id == e.source and normalise(e.text) in text:
                found.setdefault(e.source, rank)
    wanted = list(dict.fromkeys(e.source for e in expect))
    missing = [s for s in wanted if s not in found]
    if all_sources:
        claim, corrections = wanted[0], wanted[1:]
        hit = claim in found and (not corrections or any(s in found for s in corrections))
    else:
        hit = bool(found)
    return hit, min(found.values(), default=None), missing


def facts_missing(answer: str, facts: Sequence[str]) -> list[str]:
    """The facts the answer does not state (case-insensitive, whitespace-normalised, markers ignored)."""
    text = normalise(MARKER.sub(" ", answer))
    return [f for f in facts if normalise(f) not in text]


def check_citations(answer: Answer, known_chunks: set[str]) -> tuple[int, int, list[str]]:
    """(markers, valid markers, problems). A marker is valid when it names one of the answer's citations,
    that citation's chunk is live in the index, and its sentence is not flagged as unsupported."""
    flagged = {f.casefold() for f in answer.flagged}
    total = valid = 0
    problems: list[str] = []
    for claim, numbers in cited_claims(answer.text):
        unsupported = claim.casefold() in flagged
        for n in numbers:
            total += 1
            citation = answer.citations[n - 1] if 1 <= n <= len(answer.citations) else None
            if citation is None:
                problems.append(f"citation [{n}] names no source")
            elif citation.chunk_id not in known_chunks:
                problems.append(f"citation [{n}] names a chunk not in the index ({citation.chunk_id})")
            elif unsupported:
                problems.append(f"citation [{n}] does not support: {claim[:120]}")
            else:
                valid += 1
    return total, valid, problems


def score_answer(
    question: GoldenQuestion, answer: Answer | None, known_chunks: set[str]
) -> tuple[bool | None, int, int, list[str]]:
    """(facts stated?, [n] markers, valid markers, failures) for one answer; None: the service failed."""
    if answer is None:
        return (False if question.facts else None), 0, 0, []
    failures: list[str] = []
    if answer.refused and question.in_scope:
        failures.append("refused an in-scope question")
    if not answer.refused and not question.in_scope:
        failures.append("answered an out-of-scope question")
    missing = [] if answer.refused else facts_missing(answer.text, question.facts)
    if missing:
        failures.append(f"facts missing: {', '.join(missing)}")
    cited, valid, problems = check_citations(answer, known_chunks)
    facts_ok = (not answer.refused and not missing) if question.facts else None
    return facts_ok, cited, valid, [*failures, *problems]


def _share(hits: float, total: int) -> float | None:
    return hits / total if total else None


def _stats(kind: str, results: Sequence[QuestionResult]) -> KindStats:
    scored = [r for r in results if r.hit is not None]
    with_facts = [r for r in results if r.facts_ok is not None]
    recall = _share(sum(bool(r.hit) for r in scored), len(scored))
    # MRR ranks the first expected passage even when a conflict misses a side: recall counts that.
    mrr = _share(sum(1 / r.rank for r in scored if r.rank), len(scored))
    facts = _share(sum(bool(r.facts_ok) for r in with_facts), len(with_facts))
    return KindStats(kind, len(results), recall, mrr, facts, sum(r.refused for r in results))


def summarise(results: Sequence[QuestionResult], *, mode: str, k: int, seconds: float) -> EvalReport:
    """Aggregate per-question results. Fact recall counts refused in-scope questions as misses."""
    overall = _stats("all", results)
    oos = [r for r in results if r.kind == OUT_OF_SCOPE]
    refused = [r for r in results if r.refused]
    refused_oos = sum(r.refused for r in oos)
    kinds = [kind for kind in KINDS if any(r.kind == kind for r in results)]
    return EvalReport(
        mode=mode,
        k=k,
        questions=len(results),
        seconds=seconds,
        recall=overall.recall,
        mrr=overall.mrr,
        refusal_precision=_share(refused_oos, len(refused)),
        refusal_recall=_share(refused_oos, len(oos)),
        false_refusals=tuple(r.id for r in refused if r.kind != OUT_OF_SCOPE),
        citation_validity=_share(sum(r.valid_citations for r in results), sum(r.citations for r in results)),
        citations=sum(r.citations for r in results),
        fact_recall=overall.fact_recall,
        per_kind=tuple(_stats(kind, [r for r in results if r.kind == kind]) for kind in kinds),
        results=tuple(results),
    )


# --- rendering and thresholds (pure) ---------------------------------------------------------------------
def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_report(report: EvalReport, *, max_failures: int = 50) -> str:
    """A plain-text report: headline metrics, a per-kind table, then the failures for the curators."""
    lines = [
        f"eval: {report.questions} questions, mode {report.mode}, k={report.k}, {report.seconds:.1f} s",
        f"recall@{report.k} {_fmt(report.recall)}   MRR {_fmt(report.mrr)}",
        f"refusals: precision {_fmt(report.refusal_precision)}   recall {_fmt(report.refusal_recall)}"
        f"   in-scope refused {len(report.false_refusals)}",
        f"citation validity {_fmt(report.citation_validity)} ({report.citations} citations)"
        f"   fact recall {_fmt(report.fact_recall)}",
        "",
        f"{'kind':<14}{'n':>4}{'recall@' + str(report.k):>10}{'MRR':>8}{'facts':>8}{'refused':>9}",
    ]
    for s in report.per_kind:
        lines.append(
            f"{s.kind:<14}{s.questions:>4}{_fmt(s.recall):>10}{_fmt(s.mrr):>8}{_fmt(s.fact_recall):>8}{s.refused:>9}"
        )
    failures = report.failures
    lines += ["", f"failures: {len(failures)}"]
    lines += [f"  {qid}: {what}" for qid, what in failures[:max_failures]]
    if len(failures) > max_failures:
        lines.append(f"  … and {len(failures) - max_failures} more (see --json)")
    return "\n".join(lines)


def report_json(report: EvalReport) -> dict[str, Any]:
    data = asdict(report)
    data["failures"] = [{"id": qid, "failure": what} for qid, what in report.failures]
    return data


def check_thresholds(
    report: EvalReport, recall: float = 0.9, refusal: float = 0.9, citation_validity: float = 1.0
) -> list[str]:
    """The thresholds the report misses, one readable line each (empty: all pass). `refusal` applies to the
    out-of-scope refusal recall; a metric with nothing to measure (n/a) does not fail."""
    checks = [
        (f"retrieval recall@{report.k}", report.recall, recall),
        ("out-of-scope refusal recall", report.refusal_recall, refusal),
        ("citation validity", report.citation_validity, citation_validity),
    ]
    return [
        f"{name} {value:.3f} is below the threshold {threshold:.3f}"
        for name, value, threshold in checks
        if value is not None and value < threshold
    ]
