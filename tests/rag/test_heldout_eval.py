"""The held-out evaluation: the question files, bootstrap intervals, the side-by-side report and the gate."""

from __future__ import annotations

from helpers import REPO

from rag.eval_compare import HELDOUT_GATE, Gate, bootstrap, check_gate, render_parts, summarise_part
from rag.evaluation import QuestionResult, summarise
from rag.golden import load_golden


def _r(qid: str, kind: str, hit: bool | None, rank: int | None, *, refused: bool = False) -> QuestionResult:
    facts = None if hit is None else bool(hit)
    return QuestionResult(qid, kind, qid, hit, rank, refused, facts, 0, 0, 0.1, (), "", facts)


RESULTS = [
    _r("a", "brief", True, 1),
    _r("b", "brief", True, 3),
    _r("c", "brief", False, None),
    _r("d", "conflict", True, 2),
    _r("e", "out_of_scope", None, None, refused=True),
]


def test_the_heldout_set_is_separate_and_covers_how_members_ask() -> None:
    dev = load_golden(REPO / "eval" / "dev.yaml")
    heldout = load_golden(REPO / "eval" / "heldout.yaml")
    assert len(heldout) >= 45
    assert not {q.id for q in dev} & {q.id for q in heldout}
    assert not {q.q for q in dev} & {q.q for q in heldout}
    kinds = {q.kind for q in heldout}
    assert kinds == {"article", "brief", "conflict", "split", "followup", "other_language", "out_of_scope"}
    assert all(q.must_cite_all for q in heldout if q.kind in ("conflict", "split"))


def test_bootstrap_is_deterministic_and_brackets_the_mean() -> None:
    values = [1.0] * 7 + [0.0] * 3
    first, again = bootstrap(values), bootstrap(values)
    assert first == again and first.value == 0.7 and first.n == 10
    assert first.low is not None and first.high is not None
    assert 0.3 <= first.low < 0.7 < first.high <= 1.0
    assert bootstrap([1.0, 1.0]).low == 1.0 and bootstrap([]).value is None


def test_each_metric_on_known_results() -> None:
    part = summarise_part("heldout", RESULTS, k=5)
    o = part.overall
    assert o["recall@1"].value == 0.25 and o["recall@5"].value == 0.75
    assert o["MRR"].value == (1 + 1 / 3 + 0 + 1 / 2) / 4
    assert o["conflict pairs"].value == 1.0 and o["refusal"].value == 1.0
    assert part.per_kind["brief"]["recall@5"].n == 3
    table = render_parts([part, summarise_part("dev", RESULTS[:2], k=5)], k=5)
    assert "heldout (5)" in table and "dev (2)" in table and "0.750 [" in table


def test_the_gate_names_each_missed_threshold() -> None:
    part = summarise_part("heldout", RESULTS, k=5)
    report = summarise(RESULTS, mode="scripted", k=5, seconds=1.0)
    assert check_gate(report, part, Gate()) == []
    failed = check_gate(report, part, Gate(recall_at_1=0.5, conflict_pairs=0.5, recall=0.9))
    assert failed == [
        "heldout: recall@1 0.250 is below the threshold 0.500",
        "heldout: recall@5 0.750 is below the threshold 0.900",
    ]
    assert HELDOUT_GATE.overridden(recall=0.5, refusal=None).recall == 0.5
    assert HELDOUT_GATE.overridden(recall=None).refusal == HELDOUT_GATE.refusal
