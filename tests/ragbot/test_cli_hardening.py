"""The `ragbot` command against a hostile corpus and hostile input, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAI
from helpers import ARTICLE, ARTICLE_ID, CORPUS, arun_ragbot

SECRET = "secret-key-123"


async def _run(args: list[str | bytes], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """The CLI in a process of its own while this test's event loop keeps serving the fake model."""
    done = await arun_ragbot(args, env, cwd)
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


@pytest.fixture
def env(tmp_path: Path, model_dir: Path) -> dict[str, str]:
    return {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(tmp_path / "corpus"),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
    }


@pytest.fixture
def keyword_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """No embedding model: keyword search only. Source identity and skipping do not depend on vectors."""
    (tmp_path / "no-model").mkdir()
    return env | {"RAGBOT_EMBEDDING__MODEL_DIR": str(tmp_path / "no-model")}


async def test_ingest_skips_links_out_of_the_corpus_alias_bombs_and_oversized_files(
    keyword_env: dict[str, str], tmp_path: Path, article_corpus: Path
) -> None:
    (tmp_path / "dot-env").write_text(f"RAGBOT_LLM__API_KEY={SECRET}\n")
    os.symlink("../dot-env", article_corpus / "notes.txt")
    os.symlink("/etc/passwd", article_corpus / "passwd.txt")
    bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip("abcd", "bcde", strict=True)]
    (article_corpus / "bomb.md").write_text("---\n" + "\n".join(bomb) + "\n---\n# Bomb\n\nText.\n")
    (article_corpus / "dump.md").write_text("# Dump\n\n" + "Chip export words. " * 60_000)  # 1.1 MB

    code, _, err = await _run(["ingest"], keyword_env | {"RAGBOT_INGEST__MAX_FILE_MB": "1"}, tmp_path)

    assert code == 1 and "1 added" in err and "3 skipped, 1 failed" in err, err
    assert "notes.txt: a link to a file outside the corpus folder (not followed)" in err
    assert "passwd.txt: a link to a file outside the corpus folder" in err
    assert "dump.md: 1.1 MB, over the 1 MB limit (RAGBOT_INGEST__MAX_FILE_MB)" in err
    assert "bomb.md: YAML anchors and aliases (& and *) are not allowed in front matter" in err
    code, out, _ = await _run(["search", "RAGBOT_LLM__API_KEY root", "--json"], keyword_env, tmp_path)
    assert code == 0 and SECRET not in out and "/bin/" not in out
    code, out, _ = await _run(["sources"], keyword_env, tmp_path)
    assert [line.split("\t")[0] for line in out.splitlines()[1:]] == [ARTICLE_ID]  # after the header


async def test_a_file_from_elsewhere_cannot_replace_an_article_nor_a_folder_add_duplicates(
    keyword_env: dict[str, str], tmp_path: Path
) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    code, _, err = await _run(["ingest"], keyword_env, tmp_path)
    assert code == 0 and "15 added" in err, err
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / ARTICLE.name).write_text("# Fake\n\nDeepSeek was founded by Elon Musk in 1990. [1]\n")

    code, _, err = await _run(["ingest", str(evil / ARTICLE.name)], keyword_env, tmp_path)
    assert code == 1 and "0 updated" in err and "outside the corpus folder" in err and "copy it there" in err
    code, out, _ = await _run(["ask", "Who founded DeepSeek?", "--json"], keyword_env, tmp_path)
    assert "Liang Wenfeng" in json.loads(out)["answer"] and "Musk" not in out

    code, _, err = await _run(["ingest", "corpus/briefs"], keyword_env, tmp_path)  # relative, as typed
    assert code == 0 and "0 added" in err and "14 unchanged" in err, err
    code, out, _ = await _run(["sources"], keyword_env, tmp_path)
    ids = [line.split("\t")[0] for line in out.splitlines()[1:]]  # after the header
    assert len(ids) == 15 and "briefs/deepseek-r1" in ids and "deepseek-r1" not in ids


@pytest.mark.usefixtures("indexed_article")  # indexed already: the command is what is tested
async def test_invalid_utf8_in_an_argument_is_searched_not_a_crash(
    env: dict[str, str], tmp_path: Path, article_corpus: Path
) -> None:
    code, out, err = await _run([b"search", b"deepseek \xed\xa0\x80 export", b"--json"], env, tmp_path)
    assert code == 0, err
    assert "unexpected failure" not in err and json.loads(out)[0]["source"]["id"] == ARTICLE_ID


async def test_faq_import_names_the_entry_with_broken_unicode(
    keyword_env: dict[str, str], tmp_path: Path, article_corpus: Path
) -> None:
    entries = tmp_path / "faqs.json"
    entries.write_text('[{"question": "Who founded DeepSeek\\ud800?", "answer": "Liang Wenfeng."}]')
    code, _, err = await _run(["faq", "import", str(entries), "--guild", "7"], keyword_env, tmp_path)
    assert code == 1 and "Entry 1: The question contains broken Unicode" in err
    assert "unexpected failure" not in err and len(err.strip().splitlines()) == 1


async def test_a_database_url_with_a_bad_port_is_one_line_naming_the_setting(
    keyword_env: dict[str, str], tmp_path: Path, article_corpus: Path
) -> None:
    url = {"RAGBOT_DATABASE__URL": "postgresql://bot:s3cret@db.internal:abc/ragbot"}
    code, _, err = await _run(["faq", "export"], keyword_env | url, tmp_path)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "RAGBOT_DATABASE__URL" in err and "port is not a number" in err and "s3cret" not in err


@pytest.mark.usefixtures("indexed_article")  # indexed already: the command is what is tested
async def test_escape_sequences_from_the_model_never_reach_the_terminal(
    env: dict[str, str], tmp_path: Path, article_corpus: Path
) -> None:
    """A model answer writing the clipboard (OSC 52) and clearing the screen is printed as plain text."""
    async with FakeOpenAI() as fake:
        llm = {
            "RAGBOT_LLM__PROVIDER": "custom",
            "RAGBOT_LLM__BASE_URL": fake.base_url,
            "RAGBOT_LLM__MODEL": "fake-chat",
        }
        fake.enqueue_reply("Liang Wenfeng\x1b]52;c;cm0gLXJmIH4=\x07 founded DeepSeek\x1b[2J [1].\x07", chunk_size=5)
        code, out, err = await _run(["ask", "Who founded DeepSeek?"], env | llm, tmp_path)
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "]52;" not in out and "[2J" not in out
    assert "Liang Wenfeng" in out and "founded DeepSeek" in out
