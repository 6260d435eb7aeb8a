"""What a newcomer meets in the first hour: folders, configuration mistakes, --version and --help."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest
from helpers import run_ragbot

from rag.settings_env import setting_names, unknown_variable_warnings


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_configured_corpus_that_is_missing_is_an_error(env: dict[str, str], tmp_path: Path) -> None:
    result = run_ragbot(
        ["ask", "Who founded DeepSeek?"], env | {"RAGBOT_CORPUS_DIR": str(tmp_path / "nowhere")}, tmp_path
    )
    assert result.returncode == 2 and result.stdout == ""
    line = _one_error_line(result)
    assert "RAGBOT_CORPUS_DIR" in line and "does not exist" in line


def test_a_bad_data_folder_names_the_variable(env: dict[str, str], tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    result = run_ragbot(["search", "chips"], env | {"RAGBOT_DATA_DIR": str(a_file)}, tmp_path)
    assert result.returncode == 2
    assert _one_error_line(result) == f"error: RAGBOT_DATA_DIR: {a_file} is a file, not a folder"
    result = run_ragbot(["search", "chips"], env | {"RAGBOT_DATA_DIR": str(a_file / "data")}, tmp_path)
    assert result.returncode == 2
    line = _one_error_line(result)
    assert f"RAGBOT_DATA_DIR: cannot create the folder {a_file / 'data'}" in line and "FileNotFoundError" not in line


def test_invalid_json_names_the_variable(env: dict[str, str], tmp_path: Path) -> None:
    result = run_ragbot(["sources"], env | {"RAGBOT_LLM__FALLBACKS": "[{"}, tmp_path)
    assert result.returncode == 2
    line = _one_error_line(result)
    assert line.startswith("error: RAGBOT_LLM__FALLBACKS is not valid JSON") and "EnvSettingsSource" not in line


@pytest.mark.usefixtures("indexed_article")  # the article is indexed already: no command ingests first
def test_log_level_in_any_case_and_unknown_variables_warned(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RAGBOT_DATABASE__FAQ_THRESHOLD=0.8\n")
    result = run_ragbot(
        ["search", "H800 chips"], env | {"RAGBOT_LOG_LEVEL": "info", "RAGBOT_RETRIEVAL__KK": "9"}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (
        "warning: RAGBOT_RETRIEVAL__KK is not a ragbot setting and is ignored; did you mean RAGBOT_RETRIEVAL__K?"
        in (result.stderr)
    )
    assert "RAGBOT_DATABASE__FAQ_THRESHOLD is no longer read: it was renamed RAGBOT_FAQ__THRESHOLD" in result.stderr
    # The lower-case level was accepted and applied: retrieval explains its decision.
    [decision] = [line for line in result.stderr.splitlines() if line.startswith("INFO rag.retrieval")]
    assert "query 'H800 chips'" in decision and "kept 5 of" in decision and "; relevant;" in decision
    assert "best similarity 0." in decision and decision.endswith(" ms")


def test_unknown_names_get_the_close_setting() -> None:
    assert {
        "RAGBOT_RETRIEVAL__K",
        "RAGBOT_LLM__FALLBACKS",
        "RAGBOT_DATA_DIR",
        "RAGBOT_FAQ__THRESHOLD",
    } <= setting_names()
    assert unknown_variable_warnings({"RAGBOT_DISCORD__TOKEN", "RAGBOT_TEST_POSTGRES_URL"}) == []
    [line] = unknown_variable_warnings({"RAGBOT_LLM__PROVDER"})
    assert line.endswith("did you mean RAGBOT_LLM__PROVIDER?")
    [line] = unknown_variable_warnings({"RAGBOT_SOMETHING_ELSE_ENTIRELY"})
    assert line == "RAGBOT_SOMETHING_ELSE_ENTIRELY is not a ragbot setting and is ignored"


def test_version_and_flags_in_help(tmp_path: Path) -> None:
    version = run_ragbot(["--version"], {}, tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("ragbot ")
    shown = run_ragbot(["ask", "--help"], {}, tmp_path)
    assert "--json " in shown.stdout and "<bool>" not in shown.stdout


def test_keyword_only_warning_once_with_the_fix(env: dict[str, str], tmp_path: Path) -> None:
    offline = env | {"RAGBOT_EMBEDDING__MODEL_DIR": str(tmp_path / "no-model")}
    first = run_ragbot(["ask", "Who founded DeepSeek?"], offline, tmp_path)
    assert first.returncode == 0 and "Liang Wenfeng" in first.stdout
    [warning] = [line for line in first.stderr.splitlines() if "keyword search only" in line]
    assert "RAGBOT_EMBEDDING__MODEL_DIR" in warning and "RAGBOT_EMBEDDING__DOWNLOAD=false" in warning
    again = run_ragbot(["ask", "Who founded DeepSeek?"], offline, tmp_path)
    assert again.returncode == 0 and "Liang Wenfeng" in again.stdout
    assert "keyword search only" not in again.stderr  # said once for this data folder


@pytest.mark.usefixtures("indexed_article")  # the article's data folder; the tiny corpus gets one of its own
def test_small_things_a_newcomer_reads(env: dict[str, str], tmp_path: Path) -> None:
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "note.md").write_text("# A note\n\nThe H20 chip needed an export licence from April 2025.\n")
    tiny_env = env | {"RAGBOT_CORPUS_DIR": str(tiny), "RAGBOT_DATA_DIR": str(tmp_path / "tiny-data")}
    ingested = run_ragbot(["ingest"], tiny_env, tmp_path)
    assert "(1 chunk embedded)" in ingested.stderr, ingested.stderr
    listing = run_ragbot(["sources"], tiny_env, tmp_path)
    header, row = listing.stdout.splitlines()
    assert header == "id\ttitle\tkind\tpublished\tchunks\torigin" and row.startswith("note\tA note\t")
    assert row.endswith("\tcorpus")

    found = run_ragbot(["search", "H20 export licence"], tiny_env, tmp_path)
    assert "(score 0." in found.stdout and ", similarity 0." in found.stdout
    assert "score: the fused rank of semantic and keyword search" in found.stderr

    refused = run_ragbot(["ask", "how long should I boil an egg?"], env, tmp_path)
    assert "The closest sources I have:" in refused.stdout
    assert "<http" not in refused.stdout and " — https://" in refused.stdout  # no Discord-style <url>

    failed = run_ragbot(["ask", "why " * 400, "--json"], env, tmp_path)
    assert failed.returncode == 1
    error = json.loads(failed.stdout)
    assert error["exit_code"] == 1 and "the limit is 1,000" in error["error"]


def test_library_notices_stay_out_of_stderr(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import discord
    from helpers import make_pdf

    from rag.loaders import load_document
    from ragbot.startup import quiet_third_party

    quiet_third_party()
    pdf = tmp_path / "h800.pdf"
    # A wrong startxref offset: pypdf repairs it, reads the text, and would warn about it.
    pdf.write_bytes(make_pdf(["The H800 chip was built for China."]).replace(b"startxref\n", b"startxref\n1"))
    with caplog.at_level(logging.WARNING):
        document = load_document(pdf, tmp_path)
        discord.Client(intents=discord.Intents.default())  # warns that voice needs PyNaCl / davey
    assert "The H800 chip was built for China." in document.text
    assert [r.getMessage() for r in caplog.records] == []
