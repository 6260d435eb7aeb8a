"""The `ragbot` console script, run as a user runs it: a subprocess with environment variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAI
from helpers import ARTICLE_ID, arun_ragbot, run_ragbot


def test_first_ask_ingests_and_answers_with_citations(env: dict[str, str], tmp_path: Path) -> None:
    result = run_ragbot(["ask", "Who founded DeepSeek?", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stderr  # the empty index was filled first
    answer = json.loads(result.stdout)
    assert set(answer) >= {"answer", "citations", "grounded", "refused", "mode"}
    assert answer["mode"] == "extractive" and answer["grounded"] and not answer["refused"]
    assert "Liang Wenfeng" in answer["answer"] and "[1]" in answer["answer"]
    first = answer["citations"][0]
    assert set(first) == {"n", "chunk_id", "title", "url", "published", "quote", "outdated", "primary_sources"}
    assert first["primary_sources"] == []  # the article is a page of its own, not a brief
    assert first["n"] == 1 and first["title"].startswith("Will China")
    assert all(part in answer["answer"] for part in first["quote"].split(" … "))  # the cited sentences, verbatim

    human = run_ragbot(["ask", "Who founded DeepSeek?"], env, tmp_path)
    assert human.returncode == 0 and "ingest" not in human.stderr  # second run: nothing to ingest
    assert "Extractive answer" in human.stdout and "Sources" in human.stdout and "[1] Will China" in human.stdout


@pytest.mark.usefixtures("indexed_article")  # the article is indexed already: no command ingests first
def test_out_of_scope_question_is_refused_with_closest_sources(env: dict[str, str], tmp_path: Path) -> None:
    result = run_ragbot(["ask", "how long should I boil an egg?", "--json"], env, tmp_path)
    answer = json.loads(result.stdout)
    assert answer["refused"] and not answer["grounded"] and answer["citations"] == []
    assert "don't cover" in answer["answer"] and answer["closest"][0]["title"].startswith("Will China")
    human = run_ragbot(["ask", "how long should I boil an egg?"], env, tmp_path)
    assert "don't cover" in human.stdout and "closest sources" in human.stdout


def test_a_refusals_closest_briefs_carry_their_primary_sources(
    model_dir: Path, tmp_path: Path, indexed_corpus: Path
) -> None:
    corpus = {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(indexed_corpus),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
    }
    result = run_ragbot(["ask", "how should I season a cast iron pan?", "--json"], corpus, tmp_path)
    answer = json.loads(result.stdout)
    assert answer["refused"] and answer["closest"]
    briefs = [s for s in answer["closest"] if s["id"].startswith("briefs/")]
    assert briefs and all(s["primary_sources"] for s in briefs)
    links = [p["url"] for s in briefs for p in s["primary_sources"] if p["url"]]
    assert links and all(link.startswith("https://") for link in links)

    human = run_ragbot(["ask", "how should I season a cast iron pan?"], corpus, tmp_path).stdout
    assert f"  - {briefs[0]['title']} (curated brief)" in human and "    primary sources:" in human
    assert all(f"<{link}>" in human for link in links)


@pytest.mark.usefixtures("indexed_article")  # the article is indexed already: no command ingests first
def test_search_json_contract(env: dict[str, str], tmp_path: Path) -> None:
    result = run_ragbot(["search", "H800 chips export", "--k", "3", "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)  # stdout is exactly one JSON array
    assert len(hits) == 3
    assert hits == sorted(hits, key=lambda h: -h["score"])
    for hit in hits:
        assert set(hit) == {"chunk_id", "text", "score", "section", "source"}
        assert set(hit["source"]) == {"id", "title", "url", "published", "primary_sources"}
        assert hit["source"]["id"] == ARTICLE_ID


@pytest.mark.parametrize("command", ["ask", "search"])
@pytest.mark.parametrize(
    ("question", "message"),
    [("   ", "question is empty"), ("why " * 400, "the limit is 1,000")],
)
def test_bad_questions_get_one_clear_line_before_any_ingest(
    env: dict[str, str], tmp_path: Path, command: str, question: str, message: str
) -> None:
    result = run_ragbot([command, question], env, tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr and not result.stdout
    assert list((tmp_path / "data").iterdir()) == []  # nothing was indexed for a question that could not be asked


def test_invalid_setting_names_the_variable(env: dict[str, str], tmp_path: Path) -> None:
    result = run_ragbot(["search", "chips"], env | {"RAGBOT_RETRIEVAL__K": "many"}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "RAGBOT_RETRIEVAL__K" in lines[0] and "'many'" in lines[0]
    result = run_ragbot(["sources"], env | {"RAGBOT_CHUNKING__OVERLAP_TOKENS": "500"}, tmp_path)
    assert result.returncode == 2 and "overlap_tokens must be smaller" in result.stderr


def test_ingest_sources_and_doctor(env: dict[str, str], tmp_path: Path, indexed_article: Path) -> None:
    """On an index of the article (a first ingest is test_first_ask_ingests_and_answers_with_citations')."""
    (indexed_article / "empty.md").write_text("")
    result = run_ragbot(["ingest"], env, tmp_path)
    assert result.returncode == 1  # one file failed; the rest is indexed
    assert "1 unchanged" in result.stderr and "1 failed" in result.stderr
    assert "empty.md: file is empty" in result.stderr
    listing = run_ragbot(["sources"], env, tmp_path)
    assert ARTICLE_ID in listing.stdout
    # Listing reads the catalog alone: without the embedding model it neither fails nor warns about search.
    offline = run_ragbot(["sources"], env | {"RAGBOT_EMBEDDING__MODEL_DIR": str(tmp_path / "nowhere")}, tmp_path)
    assert offline.returncode == 0 and offline.stdout == listing.stdout and offline.stderr == ""
    doctor = run_ragbot(["doctor"], env, tmp_path)
    assert doctor.returncode == 0, doctor.stdout
    assert "OK   embedding model: onnx:all-MiniLM-L6-v2, 384 dimensions" in doctor.stdout
    assert "OK   index: 1 source, " in doctor.stdout
    missing = run_ragbot(["doctor"], env | {"RAGBOT_EMBEDDING__MODEL_DIR": str(tmp_path / "nowhere")}, tmp_path)
    # Without a model ragbot still answers (keywords only): a warning, not a failure.
    assert missing.returncode == 0 and "WARN embedding model" in missing.stdout and "lacks model.onnx" in missing.stdout


def test_offline_machine_without_model_still_answers(env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    result = run_ragbot(["ask", "Who founded DeepSeek?"], env | {"RAGBOT_EMBEDDING__MODEL_DIR": str(empty)}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("keyword search only") == 1
    assert "Liang Wenfeng" in result.stdout


async def _arun(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """The CLI in a process of its own while this test's event loop keeps serving the fake model."""
    done = await arun_ragbot(args, env, cwd)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.usefixtures("indexed_article")  # the article is indexed already: no command ingests first
async def test_ask_json_with_a_model(env: dict[str, str], tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        llm = {
            "RAGBOT_LLM__PROVIDER": "custom",
            "RAGBOT_LLM__BASE_URL": fake.base_url,
            "RAGBOT_LLM__MODEL": "fake-chat",
        }
        fake.enqueue_reply(
            "Liang Wenfeng founded DeepSeek [1]. Some say otherwise [9].",
            usage={"prompt_tokens": 700, "completion_tokens": 15, "total_tokens": 715},
        )
        code, out, err = await _arun(["ask", "Who founded DeepSeek?", "--json"], env | llm, tmp_path)
        assert code == 0, err
        answer = json.loads(out)
        assert answer["mode"] == "generative" and answer["model"] == "custom:fake-chat"
        assert answer["usage"]["prompt_tokens"] == 700 and answer["usage"]["completion_tokens"] == 15
        assert answer["grounded"] and [c["n"] for c in answer["citations"]] == [1]
        assert answer["answer"] == "Liang Wenfeng founded DeepSeek [1]. Some say otherwise."

        code, out, _ = await _arun(["doctor"], env | llm, tmp_path)
        assert "OK   language model: custom at" in out and "model fake-chat is available" in out
        code, out, _ = await _arun(["doctor"], env | llm | {"RAGBOT_LLM__MODEL": "deepseek-chat"}, tmp_path)
        assert code == 1 and "model deepseek-chat is not listed (available: fake-chat, fake-embed)" in out

        fake.enqueue_error(402, message="Insufficient Balance")
        code, out, err = await _arun(["ask", "Who founded DeepSeek?"], env | llm, tmp_path)
        assert code == 1 and "insufficient balance (402)" in err and "Traceback" not in err


async def test_stats_and_faq_transfer_commands(env: dict[str, str], tmp_path: Path) -> None:
    from curation.db import Database, resolve_url
    from rag.types import Answer, Citation

    db = await Database.open(resolve_url(Path(env["RAGBOT_DATA_DIR"])))
    cited = Answer(
        "Liang Wenfeng founded it [1].",
        (Citation(1, "c1", "The article", "", "2025", "", "q"),),
        True,
        False,
        "generative",
    )
    refused = Answer("My sources don't cover that.", (), False, True, "generative")
    await db.log_answer(
        "a1a1a1a1a1a1", "Who founded DeepSeek?", cited, guild_id=7, channel_id=1, user_id=5, latency_ms=800
    )
    await db.log_answer("b2b2b2b2b2b2", "Best sourdough?", refused, guild_id=7, channel_id=1, user_id=5, latency_ms=90)
    await db.record_vote("a1a1a1a1a1a1", 5, False, 7)
    await db.add_faq(7, "Who founded DeepSeek?", "Liang Wenfeng [1].", author_id=5, citations=cited.citations)
    await db.close()

    code, out, err = await _arun(["stats", "--json", "--days", "1"], env, tmp_path)
    assert code == 0, err
    stats = json.loads(out)
    assert (stats["questions"], stats["refused"], stats["down"]) == (2, 1, 1)
    assert stats["top_refused"] == [["Best sourdough?", 1]] and stats["top_downvoted"] == [["Who founded DeepSeek?", 1]]
    code, human, _ = await _arun(["stats"], env, tmp_path)
    assert "2 questions" in human and "refused: 1 (50%)" in human and "1× Best sourdough?" in human

    exported = tmp_path / "faq.json"
    code, _, err = await _arun(["faq", "export", "--guild", "7", "-o", str(exported)], env, tmp_path)
    assert code == 0 and "exported 1 FAQ entry" in err
    code, _, err = await _arun(["faq", "import", str(exported), "--guild", "8"], env, tmp_path)
    assert code == 0 and "imported 1 FAQ entry into guild 8" in err
    code, out, _ = await _arun(["faq", "export", "--guild", "8"], env, tmp_path)
    [entry] = json.loads(out)
    assert entry["question"] == "Who founded DeepSeek?" and entry["citations"][0]["title"] == "The article"
    (tmp_path / "bad.json").write_text("{not json")
    code, _, err = await _arun(["faq", "import", str(tmp_path / "bad.json"), "--guild", "8"], env, tmp_path)
    assert code == 1 and "is not valid JSON" in err and "Traceback" not in err
