"""`ragbot run` as a service: /metrics, /healthz and /readyz over HTTP, scraped after questions asked through the
loopback Discord to the loopback model server; the Grafana dashboard reads only metrics that exist."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fakes.discord_server import FakeDiscord
from fakes.openai_server import FakeOpenAI
from helpers import REPO, SettingsFactory, arun_ragbot
from prometheus_client.parser import text_string_to_metric_families

from rag.embeddings import Embedder
from rag.service import build_service
from ragbot.metrics import LABEL_VALUES, OTHER, Metrics
from ragbot.runner import run_bot

FOUNDER = "Who founded DeepSeek?"
ANSWER = "DeepSeek was founded by Liang Wenfeng [1]."
USAGE = {
    "prompt_tokens": 900,
    "completion_tokens": 200,
    "prompt_cache_hit_tokens": 600,
    "prompt_cache_miss_tokens": 300,
}
MODEL = "custom:fake-chat"
DASHBOARD = REPO / "deploy" / "grafana" / "ragbot.json"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Endpoints:
    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.base = f"http://127.0.0.1:{port}"

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path) as response:
            return response.status, await response.text()

    async def scrape(self) -> Samples:
        status, text = await self.get("/metrics")
        assert status == 200
        return parse(text)

    async def wait_for(self, check: Callable[[Samples], bool], timeout: float = 15) -> Samples:
        async with asyncio.timeout(timeout):
            while not check(samples := await self.scrape()):
                await asyncio.sleep(0.05)
        return samples

    async def wait_until_up(self, timeout: float = 60) -> None:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    if (await self.get("/healthz"))[0] == 200:
                        return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.02)


async def _slash_answer(fake: FakeDiscord) -> dict[str, Any]:
    ix = await fake.slash_command("ask", {"question": FOUNDER})
    await fake.wait_for_call(lambda c: c.method == "PATCH" and ix.token in c.path and "embeds" in (c.json or {}), 30)
    outcome = fake.interaction_outcome(ix)
    assert outcome.content is not None and outcome.content.startswith(ANSWER)
    assert outcome.message is not None
    return outcome.message


@pytest.mark.usefixtures("article_corpus")  # indexed as the bot starts: /readyz waits for it
async def test_run_serves_health_readiness_and_metrics(make_settings: SettingsFactory) -> None:
    port = _free_port()
    async with FakeDiscord() as fake, FakeOpenAI() as model, aiohttp.ClientSession() as session:
        with fake.patch_discord():
            llm = {"provider": "custom", "base_url": model.base_url, "model": "fake-chat", "max_retries": 1}
            settings = make_settings(
                llm=llm, metrics={"port": port}, discord={"token": "t", "guild_ids": [fake.guild_id]}
            )
            runner = asyncio.create_task(run_bot(settings))
            try:
                await _serve_and_scrape(fake, model, Endpoints(session, port))
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # a clean stop, even when a check failed
                await asyncio.wait_for(runner, 30)


async def _serve_and_scrape(fake: FakeDiscord, model: FakeOpenAI, endpoints: Endpoints) -> None:
    await endpoints.wait_until_up()  # served from the start, while the corpus is still being indexed
    status, body = await endpoints.get("/readyz")
    assert status == 503 and "gateway" in json.loads(body)["failed"]

    await fake.wait_until_connected(timeout=60)
    async with asyncio.timeout(30):
        while (ready := await endpoints.get("/readyz"))[0] != 200:
            await asyncio.sleep(0.05)
    assert json.loads(ready[1]) == {"ready": True}

    model.enqueue_reply(ANSWER, usage=USAGE)
    message = await _slash_answer(fake)
    model.enqueue_reply(ANSWER, usage=USAGE)
    await fake.send_message(fake.channel_id, FOUNDER, mentions_bot=True)
    up = next(c["custom_id"] for row in message["components"] for c in row["components"] if ":up:" in c["custom_id"])
    await fake.click_button(int(message["id"]), up)

    samples = await endpoints.wait_for(
        lambda s: (
            value(s, "ragbot_questions_total", outcome="answered", entry="mention") == 1
            and value(s, "ragbot_votes_total", vote="up") == 1
        )
    )
    _assert_two_answered_questions(samples)
    _assert_bounded_labels(samples)
    _assert_dashboard_reads_existing_metrics(samples)


def _assert_two_answered_questions(s: Samples) -> None:
    assert value(s, "ragbot_questions_total", outcome="answered", entry="slash") == 1
    assert value(s, "ragbot_questions_total", outcome="error", entry="slash") == 0
    assert value(s, "ragbot_answer_seconds_count", outcome="answered") == 2
    assert value(s, "ragbot_first_token_seconds_count") == 2
    assert value(s, "ragbot_retrieval_seconds_count") == 2
    assert value(s, "ragbot_model_requests_total", provider="custom", status="ok") == 2
    assert value(s, "ragbot_model_retries_total", provider="custom") == 0
    assert value(s, "ragbot_prompt_tokens_total", model=MODEL) == 1800
    assert value(s, "ragbot_completion_tokens_total", model=MODEL) == 400
    assert value(s, "ragbot_cache_hit_tokens_total", model=MODEL) == 1200
    assert value(s, "ragbot_cache_miss_tokens_total", model=MODEL) == 600
    assert value(s, "ragbot_votes_total", vote="down") == 0
    assert value(s, "ragbot_queue_depth") == 0 and value(s, "ragbot_answers_in_flight") == 0
    latency = value(s, "ragbot_gateway_latency_seconds")
    assert math.isnan(latency) or 0 <= latency < 5  # nan until the first heartbeat is acknowledged


def _assert_bounded_labels(s: Samples) -> None:
    """Only fixed vocabularies (and the configured model) as label values: never an id or a question."""
    allowed = LABEL_VALUES | {"model": frozenset({MODEL, OTHER})}
    for name, labels in s:
        for label, label_value in labels:
            if label == "le":  # a histogram bucket's bound
                continue
            assert label in allowed, f"{name} has an unexpected label {label}"
            assert label_value in allowed[label], f"{name}{{{label}={label_value!r}}}"


def _assert_dashboard_reads_existing_metrics(s: Samples) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\bragbot_[a-z_]+", expr)}
    scraped = {name for name, _ in s}
    assert len(exprs) >= 12 and used and used <= scraped, sorted(used - scraped)


async def test_retries_and_fallbacks_are_counted(
    make_settings: SettingsFactory, indexed_article: Path, embedder: Embedder
) -> None:
    async with FakeOpenAI() as model:
        endpoint = {"provider": "custom", "base_url": model.base_url, "model": "fake-chat"}
        llm = endpoint | {"max_retries": 1, "max_wait": 5, "fallbacks": [endpoint | {"model": "fake-backup"}]}
        metrics = Metrics(models=[MODEL])
        service = build_service(make_settings(llm=llm), embedder=embedder, observer=metrics)
        try:
            service.prepare_sync()
            model.models.append("fake-backup")
            model.enqueue_error(503, message="overloaded")
            model.enqueue_error(503, message="still overloaded")  # the primary's one retry fails too
            model.enqueue_reply(ANSWER)
            answer = await service.answer(FOUNDER)
        finally:
            await service.aclose()
    assert answer.text == ANSWER and answer.model == "custom:fake-backup"
    s = parse(metrics.scrape().decode())
    assert value(s, "ragbot_model_requests_total", provider="custom", status="server_error") == 2
    assert value(s, "ragbot_model_requests_total", provider="custom", status="ok") == 1
    assert value(s, "ragbot_model_retries_total", provider="custom") == 1
    assert value(s, "ragbot_model_fallbacks_total") == 1


def test_metrics_of_two_bots_never_mix() -> None:
    first, second = Metrics(), Metrics()
    first.vote(up=True)
    assert value(parse(first.scrape().decode()), "ragbot_votes_total", vote="up") == 1
    assert value(parse(second.scrape().decode()), "ragbot_votes_total", vote="up") == 0


def test_model_names_are_bounded() -> None:
    metrics = Metrics(models=[MODEL])
    from rag.types import Usage

    for n in range(40):
        metrics.tokens(f"custom:model-{n}", Usage(1, 1))
    metrics.tokens("a model name with spaces {and braces}", Usage(1, 1))
    models = {
        dict(labels).get("model")
        for name, labels in parse(metrics.scrape().decode())
        if name.startswith("ragbot_prompt")
    }
    assert MODEL in models and OTHER in models and len(models) == 1 + 16 + 1


@pytest.mark.usefixtures("indexed_article")  # indexed already, so `ask` prints no ingest report (not a log line)
async def test_json_log_lines_parse_share_an_answer_id_and_hide_secrets(
    tmp_path: Path, model_dir: Path, article_corpus: Path
) -> None:
    secret = "sk-test-0123456789abcdef"
    async with FakeOpenAI() as model:
        model.enqueue_error(500, message="upstream trouble for key {api_key}")  # a provider echoing the key
        model.enqueue_reply(ANSWER, usage=USAGE)
        env = {
            "RAGBOT_DATA_DIR": str(tmp_path / "data"),
            "RAGBOT_CORPUS_DIR": str(article_corpus),
            "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
            "RAGBOT_LLM__PROVIDER": "custom",
            "RAGBOT_LLM__BASE_URL": model.base_url,
            "RAGBOT_LLM__MODEL": "fake-chat",
            "RAGBOT_LLM__API_KEY": secret,
            "RAGBOT_LOG_FORMAT": "json",
            "RAGBOT_LOG_LEVEL": "INFO",
        }
        done = await arun_ragbot(["ask", FOUNDER, "--json"], env, tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["answer"] == ANSWER
    text = done.stderr.decode()
    assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    ids = {line["answer_id"] for line in lines if "answer_id" in line}
    tied = [line["message"] for line in lines if "answer_id" in line]
    assert len(ids) == 1 and re.fullmatch(r"[0-9a-f]{12}", ids.pop())
    assert any("retrying in" in m and "***" in m for m in tied)
    assert any("900 prompt + 200 completion tokens" in m for m in tied)


async def test_stats_command_shows_todays_spend_against_the_budget(tmp_path: Path) -> None:
    from curation.db import Database, resolve_url
    from rag.types import Answer, Usage

    data = tmp_path / "data"
    data.mkdir()
    db = await Database.open(resolve_url(data))
    for n, guild in enumerate((7, 7, 8)):
        answer = Answer(ANSWER, (), True, False, "generative", usage=Usage(900, 200))
        await db.log_answer(f"{n:012x}", FOUNDER, answer, guild_id=guild, channel_id=1, user_id=5, latency_ms=800)
    await db.close()
    env = {"RAGBOT_DATA_DIR": str(data), "RAGBOT_LLM__DAILY_TOKENS_PER_GUILD": "2000"}

    async def run(*args: str) -> str:
        done = await arun_ragbot(["stats", *args], env, tmp_path)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    assert "model tokens today: 2,200 of 2,000 tokens (110%) — used up" in await run("--guild", "7")
    assert "model tokens today: 1,100 of 2,000 tokens (55%)\n" in await run("--guild", "8")
    assert "model tokens today: 3,300 tokens in all servers" in await run()
    spend = json.loads(await run("--guild", "7", "--json"))
    assert (spend["tokens_today"], spend["daily_tokens_per_guild"]) == (2200, 2000)


async def test_a_metrics_port_in_use_is_one_clear_line() -> None:
    from rag.config import MetricsSettings
    from rag.errors import ConfigError
    from ragbot.monitoring import Readiness, serve_monitoring

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^RAGBOT_METRICS__PORT: cannot listen on 127.0.0.1:{port} \(.+\)$"):
            async with serve_monitoring(MetricsSettings(port=port), Metrics(), Readiness()):
                pass
