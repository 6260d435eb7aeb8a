"""With every kind of secret configured, a failing provider (401, 402, 429, 503, timeouts, broken streams) and an
unreachable database never make ragbot print or log one: the `ragbot` command as a subprocess at DEBUG, and the
service in this process with every log record captured. The fake echoes the key it receives in its error bodies."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAI
from helpers import arun_ragbot

from rag.config import Settings
from rag.embeddings import Embedder
from rag.errors import BackendError
from rag.redact import install_redaction
from rag.service import RagService, build_service

SECRETS = {
    "API key": "sk-primary-0a1b2c3d4e",
    "fallback key": "sk-fallback-5f6a7b8c9d",
    "database password": "db-pass-1e2f3a4b",
    "Discord token": "discord-token-5c6d7e8f",
}
QUESTION = "Who founded DeepSeek?"


def _refusals(fake: FakeOpenAI) -> None:
    """Each model refuses: a rejected key, an empty balance, a rate limit asking for an hour."""
    fake.enqueue_error(401, message="Incorrect API key provided: {api_key}")
    fake.enqueue_error(402, message="Insufficient balance for {api_key}")
    fake.enqueue_error(429, message="Rate limit reached for {api_key}", headers={"Retry-After": "3600"})


def _breakdowns(fake: FakeOpenAI) -> None:
    """The primary is overloaded, the first fallback times out, the second sends a bad chunk, then breaks midway."""
    for _ in range(2):
        fake.enqueue_error(503, message="Overloaded, key {api_key}")
    for _ in range(2):
        fake.enqueue_reply("too late [1].", first_token_delay=2.0)
    fake.enqueue_bad_chunk()
    fake.enqueue_drop("Liang Wenfeng founded DeepSeek [1]. He later")


# (name, script, the exit code, what the user sees)
SCENARIOS: list[tuple[str, Callable[[FakeOpenAI], None], int, tuple[str, ...]]] = [
    ("401, 402, 429", _refusals, 1, ("API key was rejected (401)", "(402)", "asked to wait 3600 s")),
    ("503, timeouts, a bad chunk, a broken stream", _breakdowns, 0, ("Liang Wenfeng founded DeepSeek", "cut off")),
]


def _llm(fake: FakeOpenAI) -> dict[str, object]:
    backups = [
        {"provider": "custom", "base_url": fake.base_url, "model": name, "api_key": SECRETS["fallback key"]}
        for name in ("backup-chat", "third-chat")
    ]
    return {
        "provider": "custom",
        "base_url": fake.base_url,
        "model": "fake-chat",
        "api_key": SECRETS["API key"],
        "fallbacks": backups,
        "max_retries": 1,
        "read_timeout": 0.5,
    }


def _env(base: dict[str, str], fake: FakeOpenAI) -> dict[str, str]:
    llm = {f"RAGBOT_LLM__{k.upper()}": v if isinstance(v, str) else json.dumps(v) for k, v in _llm(fake).items()}
    return (
        base
        | llm
        | {
            "RAGBOT_LOG_LEVEL": "DEBUG",
            "RAGBOT_DATABASE__URL": f"postgresql+asyncpg://ragbot:{SECRETS['database password']}@127.0.0.1:1/ragbot",
            "RAGBOT_DISCORD__TOKEN": SECRETS["Discord token"],
        }
    )


async def _ragbot(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = await arun_ragbot(args, env, cwd)
    return done.returncode, done.stdout.decode() + done.stderr.decode()


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


@pytest.mark.usefixtures("indexed_article")  # the article is indexed already (a private copy)
async def test_the_command_prints_no_secret(tmp_path: Path, model_dir: Path, article_corpus: Path) -> None:
    base = {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(article_corpus),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
    }
    async with FakeOpenAI(models=("fake-chat", "backup-chat", "third-chat")) as fake:
        env = _env(base, fake)
        outputs = []
        for name, script, expected_code, shown in SCENARIOS:
            script(fake)
            code, output = await _ragbot(["ask", QUESTION], env, tmp_path)
            assert (code, _leaks(output)) == (expected_code, []), f"{name}: {output[-2000:]}"
            assert all(line in output for line in shown) and "Traceback" not in output, name
            assert fake.script_remaining == 0, name
            outputs.append(output)
        assert "Incorrect API key provided: ***" in outputs[0]  # the echo was printed, masked
        code, output = await _ragbot(["stats"], env, tmp_path)
        assert code == 1 and "cannot open the database" in output and _leaks(output) == []
    keys_sent = {r.headers["authorization"] for r in fake.chat_requests}
    assert keys_sent == {f"Bearer {SECRETS['API key']}", f"Bearer {SECRETS['fallback key']}"}


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Every record of this process at DEBUG, through a root handler as the entry point sets one up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("indexed_article")  # the article is indexed already (a private copy)
async def test_the_service_logs_no_secret(
    make_settings: Callable[..., Settings], article_corpus: Path, embedder: Embedder, all_logs: io.StringIO
) -> None:
    async with FakeOpenAI(models=("fake-chat", "backup-chat", "third-chat")) as fake:
        settings = make_settings(
            llm=_llm(fake),
            database={"url": f"postgresql+asyncpg://ragbot:{SECRETS['database password']}@127.0.0.1:1/ragbot"},
            discord={"token": SECRETS["Discord token"]},
        )
        install_redaction(settings)  # as the entry point does
        try:
            seen = await _answers_through(build_service(settings, embedder=embedder), fake)
        finally:
            install_redaction(Settings(_env_file=None))  # no secrets: later tests' handlers are left as found
    logs = all_logs.getvalue()
    assert _leaks("\n".join(seen)) == [] and _leaks(logs) == []
    assert "Incorrect API key provided: ***" in logs  # the echo reached the logs, masked


async def _answers_through(service: RagService, fake: FakeOpenAI) -> list[str]:
    """What each scenario shows: the answer with its notes, or the BackendError the bot logs and the CLI prints."""
    await asyncio.to_thread(service.prepare_sync)
    seen: list[str] = []
    for name, script, expected_code, shown in SCENARIOS:
        script(fake)
        raised = False
        try:
            answer = await service.answer(QUESTION)
            text = f"{answer.text} {answer.notes} {answer.model}"
        except BackendError as exc:
            raised, text = True, str(exc)
        assert raised == (expected_code == 1) and all(line in text for line in shown), f"{name}: {text}"
        seen.append(text)
    await service.aclose()
    return seen
