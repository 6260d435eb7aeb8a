"""The evaluation: the scripted model, golden-set loading, each metric on small known cases, thresholds, and the
full golden set through the real service over the real corpus (numbers printed, not asserted)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import yaml
from helpers import ARTICLE_ID, REPO, DevSetRun

from rag.citations import MARKER
from rag.config import Settings
from rag.embeddings import Embedder
from rag.evaluation import (
    EvalReport,
    QuestionResult,
    check_citations,
    check_thresholds,
    facts_missing,
    render_report,
    report_json,
    retrieval_hit,
    run_eval,
    summarise,
)
from rag.golden import Expected, GoldenQuestion, GoldenSetError, load_golden
from rag.llm import Delta, UsageReport
from rag.llm.scripted import ScriptedChatModel, careful_reply, rewrite_reply
from rag.prompting import NOT_COVERED, Turn, build_prompt, rewrite_messages
from rag.service import RagService, build_service
from rag.types import Answer, Chunk, Citation, Passage, SourceInfo

GOLDEN = REPO / "eval" / "dev.yaml"
FOUNDER_TEXT = "DeepSeek was founded by Liang Wenfeng"
FOUNDER = GoldenQuestion(
    "founder", "article", "Who founded DeepSeek?", (Expected(ARTICLE_ID, FOUNDER_TEXT),), ("Liang Wenfeng",)
)


def _p(i: int, text: str, source: str | None = None) -> Passage:
    info = SourceInfo(source or f"src-{i}", f"Title {i}", f"https://x/{i}")
    return Passage(Chunk(f"chunk-{i}", info, text, ("S",), 0, 1), 1.0)


PASSAGES = [
    _p(1, "Nvidia closed down about 17% on January 27, 2025. The Nasdaq fell 3.1% that day."),
    _p(2, "DeepSeek was founded by Liang Wenfeng in 2023. The company is based in Hangzhou, China."),
    _p(3, "The V3 report puts the final training run at 2.788M H800 GPU-hours."),
]


def _messages(question: str, history: tuple[Turn, ...] = ()) -> list[dict[str, str]]:
    prompt = build_prompt(
        question, PASSAGES, history, context_window=8000, max_answer_tokens=500, source_tokens=3000, history_tokens=500
    )
    return prompt.messages


async def _service(settings: Settings, embedder: Embedder, chat: ScriptedChatModel) -> RagService:
    service = build_service(settings, embedder=embedder, chat=chat)
    await service.prepare()
    return service


@pytest.fixture
async def article_service(
    make_settings: Callable[..., Settings], indexed_article: Path, embedder: Embedder
) -> AsyncIterator[RagService]:
    service = await _service(make_settings(), embedder, ScriptedChatModel())
    yield service
    await service.aclose()


# --- the scripted model ----------------------------------------------------------------------------------
def test_scripted_reply_quotes_the_best_sentence_with_its_source_number() -> None:
    assert careful_reply(_messages("Who founded DeepSeek?")) == "DeepSeek was founded by Liang Wenfeng in 2023. [2]"
    assert careful_reply(_messages("How many GPU-hours did the final V3 training run take?")).endswith("[3]")
    # Best-matching source first (two shared words against one), the other still good enough to cite.
    both = careful_reply(_messages("what happened to nvidia, and who founded deepseek?"))
    assert (
        both
        == "DeepSeek was founded by Liang Wenfeng in 2023. [2] Nvidia closed down about 17% on January 27, 2025. [1]"
    )


def test_scripted_reply_refuses_when_no_source_shares_a_word() -> None:
    assert careful_reply(_messages("best focaccia recipe?")) == NOT_COVERED


def test_scripted_reply_takes_a_followups_topic_from_the_conversation() -> None:
    history = (Turn("user", "Who founded DeepSeek?"), Turn("assistant", "Liang Wenfeng [1]."))
    assert careful_reply(_messages("and when was that?")) == NOT_COVERED
    assert (
        careful_reply(_messages("and when was that?", history)) == "DeepSeek was founded by Liang Wenfeng in 2023. [2]"
    )


async def test_scripted_model_streams_pieces_then_usage_and_serves_queued_replies_first() -> None:
    model = ScriptedChatModel(piece_chars=5)
    model.enqueue("Queued [1].")
    queued = [e async for e in model.stream(_messages("Who founded DeepSeek?"))]
    careful = [e async for e in model.stream(_messages("Who founded DeepSeek?"))]
    assert "".join(e.text for e in queued if isinstance(e, Delta)) == "Queued [1]."
    pieces = [e.text for e in careful if isinstance(e, Delta)]
    assert len(pieces) > 1 and all(len(p) <= 5 for p in pieces) and "".join(pieces).endswith("[2]")
    usage = careful[-1]
    assert isinstance(usage, UsageReport) and usage.usage.prompt_tokens > 100 and usage.usage.completion_tokens > 5
    assert model.name == "scripted" and await model.list_models() == ["scripted"]
    history = [Turn("user", "when did deepseek release r1?"), Turn("assistant", "January 20, 2025 [1].")]
    assert rewrite_reply(rewrite_messages("what license?", history)) == "when did deepseek release r1? what license?"
    assert await model.complete(rewrite_messages("what license?", []), max_tokens=80) == "what license?"
    await model.aclose()


# --- loading the golden set ------------------------------------------------------------------------------
def test_the_golden_set_loads() -> None:
    golden = load_golden(GOLDEN)
    assert len(golden) == 95 and len({q.id for q in golden}) == 95
    followups = [q for q in golden if q.kind == "followup"]
    assert followups and all(q.history and q.history[0].role == "user" for q in followups)
    assert all(q.must_cite_all for q in golden if q.kind == "conflict")


_ARTICLE_ENTRY = {"kind": "article", "q": "hi", "facts": ["x"], "expect": [{"source": "s", "text": "t"}]}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"id": "a1"} | _ARTICLE_ENTRY | {"q": ""}], "entry 1 (a1): `q` must be a non-empty string"),
        ([{"id": "b", "kind": "rumour", "q": "hi"}], "entry 1 (b): `kind` is 'rumour'"),
        ([{"id": "c"} | _ARTICLE_ENTRY | {"expect": []}], "entry 1 (c): an in-scope question (article) needs"),
        ([{"id": "d", "kind": "out_of_scope", "q": "hi", "fact": ["x"]}], "entry 1 (d): unknown field(s) fact"),
        ([{"id": "e", "kind": "out_of_scope", "q": "hi"}] * 2, "entry 2 (e): duplicate id 'e'"),
        ([{"id": "f"} | _ARTICLE_ENTRY | {"expect": [{"source": "s"}]}], "entry 1 (f): `text` must be"),
        ([{"id": "g"} | _ARTICLE_ENTRY | {"kind": "followup"}], "entry 1 (g): a followup question needs a `history`"),
        ([{"kind": "out_of_scope", "q": "hi"}], "entry 1: `id` must be a non-empty string"),
        (["just a string"], "entry 1: must be a mapping"),
    ],
)
def test_malformed_golden_entries_name_the_file_and_entry(tmp_path: Path, entries: list[object], message: str) -> None:
    path = tmp_path / "golden.yaml"
    path.write_text(yaml.safe_dump({"questions": entries}), encoding="utf-8")
    with pytest.raises(GoldenSetError) as caught:
        load_golden(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [("questions: [\n  - id: a\n    q: 'unclosed\n", "invalid YAML"), ("- id: a\n", "top-level `questions:` list")],
)
def test_unparseable_golden_files_are_named(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "golden.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(GoldenSetError) as caught:
        load_golden(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_a_missing_golden_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(GoldenSetError, match=r"nope\.yaml: cannot read"):
        load_golden(tmp_path / "nope.yaml")


# --- scoring pieces --------------------------------------------------------------------------------------
def test_retrieval_hit_ranks_and_all_sources() -> None:
    passages = [_p(1, "Other text.", "a"), _p(2, "Liang  Wenfeng\nfounded it.", "b"), _p(3, "The V3 report.", "c")]
    founder = [Expected("b", "liang wenfeng founded")]
    assert retrieval_hit(passages, founder) == (True, 2, [])
    assert retrieval_hit(passages, [Expected("a", "liang wenfeng founded")]) == (False, None, ["a"])  # wrong source
    both = [Expected("c", "V3 report"), Expected("b", "Wenfeng"), Expected("d", "absent")]
    assert retrieval_hit(passages, both) == (True, 2, ["d"])
    # A conflict needs the claim's source (the first) and one correcting source; "d" is an alternative.
    assert retrieval_hit(passages, both, all_sources=True) == (True, 2, ["d"])
    claim_missing = [Expected("d", "absent"), Expected("b", "Wenfeng"), Expected("c", "V3 report")]
    assert retrieval_hit(passages, claim_missing, all_sources=True) == (False, 2, ["d"])
    assert retrieval_hit(passages, both[:1], all_sources=True) == (True, 3, [])


def test_facts_are_matched_case_and_space_insensitively_across_markers() -> None:
    assert facts_missing("Liang   wenfeng founded [1] it on\nJuly 17, 2023.", ["Liang Wenfeng", "July 17, 2023"]) == []
    assert facts_missing("It cost $294K [1].", ["$294k", "5.576"]) == ["5.576"]


def test_citation_check_counts_unsupported_and_unknown_chunks() -> None:
    citations = tuple(Citation(n, f"chunk-{n}", "T", "", "", "", "q") for n in (1, 2))
    answer = Answer(
        "Liang Wenfeng founded DeepSeek [1]. The moon is cheese [1][2]. Fine [2].",
        citations,
        grounded=True,
        refused=False,
        mode="generative",
        flagged=("The moon is cheese.",),
    )
    total, valid, problems = check_citations(answer, {"chunk-1"})
    assert (total, valid) == (4, 1)
    assert sum("does not support" in p for p in problems) == 1  # [1] on the cheese claim
    assert sum("not in the index (chunk-2)" in p for p in problems) == 2


def _result(
    qid: str, kind: str, *, hit: bool | None, rank: int | None, refused: bool, facts: bool | None
) -> QuestionResult:
    return QuestionResult(qid, kind, "q", hit, rank, refused, facts, 2, 2, 0.1, ())


def _report(*results: QuestionResult) -> EvalReport:
    return summarise(list(results), mode="scripted", k=5, seconds=1.0)


def test_summary_metrics_and_thresholds() -> None:
    report = _report(
        _result("a", "article", hit=True, rank=2, refused=False, facts=True),
        _result("b", "brief", hit=False, rank=None, refused=True, facts=False),
        _result("o1", "out_of_scope", hit=None, rank=None, refused=True, facts=None),
        _result("c", "conflict", hit=False, rank=1, refused=False, facts=True),  # one side of it found first
        _result("o2", "out_of_scope", hit=None, rank=None, refused=False, facts=None),
    )
    assert (report.recall, report.mrr, report.fact_recall) == (1 / 3, 0.5, 2 / 3)
    assert (report.refusal_precision, report.refusal_recall, report.false_refusals) == (0.5, 0.5, ("b",))
    assert [s.kind for s in report.per_kind] == ["article", "brief", "conflict", "out_of_scope"]
    assert check_thresholds(report) == [
        "retrieval recall@5 0.333 is below the threshold 0.900",
        "out-of-scope refusal recall 0.500 is below the threshold 0.900",
    ]
    assert check_thresholds(report, recall=0.3, refusal=0.5) == []
    assert json.loads(json.dumps(report_json(report)))["refusal_recall"] == 0.5


# --- through the real service ----------------------------------------------------------------------------
async def test_known_numbers_on_a_tiny_golden_list(article_service: RagService) -> None:
    golden = [
        FOUNDER,
        GoldenQuestion("wrong-passage", "article", FOUNDER.q, (Expected(ARTICLE_ID, "in no source"),), ("zebra",)),
        GoldenQuestion("focaccia", "out_of_scope", "anyone got a solid focaccia recipe? mine always comes out dense"),
    ]
    ranked = (await article_service.search("Who founded DeepSeek?", 5)).passages
    rank = next(i for i, p in enumerate(ranked, 1) if FOUNDER_TEXT in " ".join(p.chunk.text.split()))
    report = await run_eval(article_service, golden, k=5)
    assert report.mode == "scripted" and report.questions == 3 and report.k == 5
    assert report.recall == 0.5 and report.mrr == pytest.approx(0.5 / rank)
    assert (report.refusal_precision, report.refusal_recall, report.false_refusals) == (1.0, 1.0, ())
    assert report.fact_recall == 0.5 and report.citation_validity == 1.0 and report.citations >= 1
    assert report.failures == [
        ("wrong-passage", f"retrieval: not in top 5 ({ARTICLE_ID})"),
        ("wrong-passage", "facts missing: zebra"),
    ]
    assert "recall@5 0.500" in render_report(report)


async def test_an_unsupported_citation_lowers_citation_validity(article_service: RagService) -> None:
    assert isinstance(article_service.chat, ScriptedChatModel)
    article_service.chat.enqueue("Liang Wenfeng founded DeepSeek [1]. Penguins invented jazz in 1802 [1].")
    report = await run_eval(article_service, [FOUNDER], k=5)
    assert report.citations == 2 and report.citation_validity == 0.5
    assert [f for _, f in report.failures] == ["citation [1] does not support: Penguins invented jazz in 1802."]
    assert check_thresholds(report) == ["citation validity 0.500 is below the threshold 1.000"]


def test_full_golden_set_with_the_scripted_model(dev_set_run: DevSetRun) -> None:
    golden = load_golden(GOLDEN)
    # Every expected phrase must exist in some indexed chunk of its source, or that question can never pass.
    chunks = dev_set_run.chunks
    for question in golden:
        for e in question.expect:
            assert any(
                c.source.id == e.source and " ".join(e.text.split()) in " ".join(c.text.split()) for c in chunks
            ), (question.id, e)
    report = dev_set_run.report
    print("\n" + render_report(report, max_failures=200))
    print("thresholds:", check_thresholds(report) or "all pass")
    assert report.questions == 95 and report.mode == "scripted"
    assert not [f for _, f in report.failures if f.startswith("error:")]
    assert [s.kind for s in report.per_kind] == ["article", "brief", "conflict", "followup", "out_of_scope"]
    for value in (report.recall, report.mrr, report.refusal_recall, report.citation_validity, report.fact_recall):
        assert value is not None and 0.0 <= value <= 1.0
    answered = [r for r in report.results if not r.refused]
    assert all(MARKER.search(r.answer) for r in answered)  # the scripted model always cites
