"""Dev and held-out evaluation side by side, each figure with a bootstrap 95% confidence interval, and the
CI gate on the held-out part. A change of one question moves a figure by 1/n; the interval shows how much of a
difference is noise. Pure functions over `QuestionResult`s, so the report and the gate are unit-testable."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.evaluation import EvalReport, QuestionResult, render_report, report_json, run_eval
from rag.golden import OUT_OF_SCOPE, GoldenQuestion

if TYPE_CHECKING:
    from rag.service import RagService

log = logging.getLogger(__name__)

RESAMPLES = 1000
SEED = 20261201  # fixed: the same results always give the same intervals


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float | None  # None: nothing to measure (no question of that kind)
    low: float | None = None
    high: float | None = None
    n: int = 0


# Each metric: (name, which results it is measured on, the per-question score in [0, 1]).
_Metric = tuple[str, Callable[[QuestionResult], bool], Callable[[QuestionResult], float]]


def _in_scope(r: QuestionResult) -> bool:
    return r.hit is not None


def metrics(k: int) -> tuple[_Metric, ...]:
    return (
        ("recall@1", _in_scope, lambda r: float(bool(r.hit) and r.rank == 1)),
        (f"recall@{k}", _in_scope, lambda r: float(bool(r.hit))),
        # MRR ranks the first expected passage even when a conflict misses a side (recall counts that).
        ("MRR", _in_scope, lambda r: 1 / r.rank if r.rank else 0.0),
        ("conflict pairs", lambda r: r.kind == "conflict", lambda r: float(bool(r.hit))),
        ("refusal", lambda r: r.kind == OUT_OF_SCOPE, lambda r: float(r.refused)),
        ("in-scope answered", _in_scope, lambda r: float(not r.refused)),
        ("fact recall", lambda r: r.facts_ok is not None, lambda r: float(bool(r.facts_ok))),
        (
            "extractive facts",
            lambda r: r.extractive_facts_ok is not None,
            lambda r: float(bool(r.extractive_facts_ok)),
        ),
    )


def bootstrap(values: Sequence[float], *, resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    """The mean of `values` with a percentile bootstrap 95% interval (questions resampled with replacement)."""
    if not values:
        return Estimate(None)
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Estimate(float(data.mean()), float(low), float(high), len(data))


@dataclass(frozen=True, slots=True)
class PartReport:
    """One question file's figures: overall and per kind, each metric with its interval."""

    name: str
    questions: int
    overall: dict[str, Estimate]
    per_kind: dict[str, dict[str, Estimate]] = field(default_factory=dict)


def summarise_part(name: str, results: Sequence[QuestionResult], k: int) -> PartReport:
    def figures(subset: Sequence[QuestionResult]) -> dict[str, Estimate]:
        return {m: bootstrap([score(r) for r in subset if keep(r)]) for m, keep, score in metrics(k)}

    kinds = list(dict.fromkeys(r.kind for r in results))
    per_kind = {kind: figures([r for r in results if r.kind == kind]) for kind in kinds}
    return PartReport(name, len(results), figures(results), per_kind)


def _cell(e: Estimate) -> str:
    if e.value is None:
        return "n/a"
    return f"{e.value:.3f} [{e.low:.2f}-{e.high:.2f}]"


def render_parts(parts: Sequence[PartReport], k: int) -> str:
    """A table with one column per part: each metric as value [95% interval], then recall@k and MRR by kind."""
    width = 26
    names = [m for m, _, _ in metrics(k)]
    lines = [f"{'':<20}" + "".join(f"{p.name + f' ({p.questions})':>{width}}" for p in parts)]
    for name in names:
        lines.append(f"{name:<20}" + "".join(f"{_cell(p.overall[name]):>{width}}" for p in parts))
    lines += ["", f"by kind: recall@1 / recall@{k} / MRR / extractive facts (questions)"]
    kinds = list(dict.fromkeys(kind for p in parts for kind in p.per_kind))
    for kind in kinds:
        cells = []
        for p in parts:
            f = p.per_kind.get(kind)
            if f is None:
                cells.append(f"{'-':>{width}}")
                continue
            shown = [f["recall@1"], f[f"recall@{k}"], f["MRR"], f["extractive facts"]]
            n = max(e.n for e in f.values())
            cells.append(f"{'/'.join(_short(e) for e in shown) + f' ({n})':>{width}}")
        lines.append(f"{kind:<20}" + "".join(cells))
    return "\n".join(lines)


def _short(e: Estimate) -> str:
    return "-" if e.value is None else f"{e.value:.2f}"


def parts_json(parts: Sequence[PartReport]) -> list[dict[str, Any]]:
    def table(figures: dict[str, Estimate]) -> dict[str, Any]:
        return {m: {"value": e.value, "low": e.low, "high": e.high, "n": e.n} for m, e in figures.items()}

    return [
        {
            "name": p.name,
            "questions": p.questions,
            "overall": table(p.overall),
            "per_kind": {kind: table(f) for kind, f in p.per_kind.items()},
        }
        for p in parts
    ]


@dataclass(frozen=True, slots=True)
class Gate:
    """Thresholds `ragbot eval --check` holds the held-out part to. Set at the measured held-out level minus
    the half-width of its 95% interval (README, "Measured"): a real regression fails, noise does not."""

    recall_at_1: float = 0.0
    recall: float = 0.0  # recall@k
    mrr: float = 0.0
    conflict_pairs: float = 0.0
    refusal: float = 0.9
    extractive_facts: float = 0.0
    citation_validity: float = 1.0

    def overridden(self, **values: float | None) -> Gate:
        """This gate with the thresholds given on the command line (None: keep this gate's)."""
        return replace(self, **{name: value for name, value in values.items() if value is not None})


# Held-out, scripted model, full corpus (README, "Measured"): recall@1 0.722 [0.59-0.83], recall@5 0.889
# [0.80-0.96], MRR 0.835 [0.75-0.91], conflicts 0.857 [0.57-1.00], extractive facts 0.741 [0.61-0.85]. The
# goal (0.85 / 0.97 / 0.90 / 0.9) is out of reach with all-MiniLM-L6-v2; each gate is its interval's low end.
HELDOUT_GATE = Gate(recall_at_1=0.59, recall=0.80, mrr=0.75, conflict_pairs=0.57, refusal=0.9, extractive_facts=0.61)


def check_gate(report: EvalReport, part: PartReport, gate: Gate) -> list[str]:
    """The thresholds the part misses, one readable line each; a metric with nothing to measure passes."""
    wanted = {
        "recall@1": gate.recall_at_1,
        f"recall@{report.k}": gate.recall,
        "MRR": gate.mrr,
        "conflict pairs": gate.conflict_pairs,
        "refusal": gate.refusal,
        "extractive facts": gate.extractive_facts,
    }
    failed = [
        f"{part.name}: {name} {e.value:.3f} is below the threshold {threshold:.3f}"
        for name, threshold in wanted.items()
        if (e := part.overall[name]).value is not None and e.value < threshold
    ]
    validity = report.citation_validity
    if validity is not None and validity < gate.citation_validity:
        failed.append(
            f"{part.name}: citation validity {validity:.3f} is below the threshold {gate.citation_validity:.3f}"
        )
    return failed


# --- running several files -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every file's report and figures; the last file is the gated (held-out) part."""

    reports: tuple[EvalReport, ...]
    parts: tuple[PartReport, ...]
    k: int

    @property
    def gated(self) -> tuple[EvalReport, PartReport]:
        return self.reports[-1], self.parts[-1]


async def evaluate_files(service: RagService, files: dict[str, list[GoldenQuestion]], *, k: int) -> Evaluation:
    """Run each named question list through `service` (one after another: they share the model)."""
    reports = [await run_eval(service, questions, k=k) for questions in files.values()]
    parts = [summarise_part(name, r.results, k) for name, r in zip(files, reports, strict=True)]
    return Evaluation(tuple(reports), tuple(parts), k)


def render_evaluation(evaluation: Evaluation, *, max_failures: int = 50) -> str:
    """The side-by-side table, then each file's own report (headline figures and its failures)."""
    sections = [render_parts(evaluation.parts, evaluation.k)]
    for part, report in zip(evaluation.parts, evaluation.reports, strict=True):
        sections.append(f"--- {part.name}\n" + render_report(report, max_failures=max_failures))
    return "\n\n".join(sections)


def evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "parts": parts_json(evaluation.parts),
        "files": {p.name: report_json(r) for p, r in zip(evaluation.parts, evaluation.reports, strict=True)},
    }
