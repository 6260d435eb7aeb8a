"""The core's `Observer`, recorded as Prometheus metrics in a registry the app owns.

A private `CollectorRegistry`, not the library's global one: two bots (or two tests) in one process never count
into each other's metrics. Every label value comes from a fixed vocabulary (`LABEL_VALUES`); model names are
the one open set, so they are bounded too: the configured ones, then the first few seen, then "other".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from rag.config import Provider
from rag.observe import Entry, Outcome, RequestStatus

if TYPE_CHECKING:
    from bot.client import RagBotMixin
    from rag.config import LLMSettings
    from rag.types import Usage

OTHER = "other"
# Answer times run from an instant FAQ to a slow reasoning model: seconds on a roughly doubling scale.
ANSWER_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
RETRIEVAL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_MAX_MODELS = 16  # distinct model labels beyond the configured ones; more become "other"
_MODEL_NAME = re.compile(r"^[\w.:/@+-]{1,100}$")

LABEL_VALUES: dict[str, frozenset[str]] = {
    "outcome": frozenset(get_args(Outcome)),
    "entry": frozenset(get_args(Entry)),
    "status": frozenset(get_args(RequestStatus)),
    "provider": frozenset((*get_args(Provider), OTHER)),
    "vote": frozenset(("up", "down")),
}


class ModelLabels:
    """Model names as label values: the configured ones always, up to `limit` others, the rest "other"."""

    def __init__(self, configured: Iterable[str], limit: int = _MAX_MODELS) -> None:
        self.known = {name for name in configured if _MODEL_NAME.match(name)}
        self.limit = len(self.known) + limit

    def __call__(self, name: str) -> str:
        if name in self.known:
            return name
        if len(self.known) < self.limit and _MODEL_NAME.match(name):
            self.known.add(name)
            return name
        return OTHER


class Metrics:
    """Implements `rag.observe.Observer`; `watch(bot)` adds the gauges read from the bot at scrape time."""

    def __init__(self, *, models: Iterable[str] = (), providers: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.model_label = ModelLabels(models)
        self._counters()
        self._timings()
        self._gauges()
        self._zeroes({_provider(p) for p in providers})

    @classmethod
    def for_llm(cls, llm: LLMSettings) -> Metrics:
        """Metrics knowing the configured models and providers (their series exist from the start)."""
        endpoints = [e for e in (llm, *llm.fallbacks) if e.provider != "none"]
        return cls(
            models=[f"{e.provider}:{e.model}" for e in endpoints if e.model], providers=[e.provider for e in endpoints]
        )

    def _counters(self) -> None:
        r = self.registry
        self.questions = Counter(
            "ragbot_questions", "Questions, by how they ended and arrived", ["outcome", "entry"], registry=r
        )
        self.requests = Counter("ragbot_model_requests", "Requests to chat models", ["provider", "status"], registry=r)
        self.retries = Counter("ragbot_model_retries", "Failed model requests retried", ["provider"], registry=r)
        self.fallbacks = Counter("ragbot_model_fallbacks", "Answers a fallback model served", registry=r)
        self.prompt_tokens = Counter("ragbot_prompt_tokens", "Prompt tokens used", ["model"], registry=r)
        self.completion_tokens = Counter("ragbot_completion_tokens", "Completion tokens used", ["model"], registry=r)
        self.cache_hits = Counter(
            "ragbot_cache_hit_tokens", "Prompt tokens served from cache (DeepSeek)", ["model"], registry=r
        )
        self.cache_misses = Counter(
            "ragbot_cache_miss_tokens", "Prompt tokens not in cache (DeepSeek)", ["model"], registry=r
        )
        self.budget = Counter("ragbot_budget_exhausted", "Questions answered extractively: budget spent", registry=r)
        self.votes = Counter("ragbot_votes", "Votes on answers", ["vote"], registry=r)

    def _timings(self) -> None:
        r = self.registry
        self.answer_time = Histogram(
            "ragbot_answer_seconds", "Question to final answer", ["outcome"], buckets=ANSWER_BUCKETS, registry=r
        )
        self.first_token_time = Histogram(
            "ragbot_first_token_seconds", "Question to the first words shown", buckets=ANSWER_BUCKETS, registry=r
        )
        self.retrieval_time = Histogram(
            "ragbot_retrieval_seconds",
            "Search time (with a follow-up's rewrite)",
            buckets=RETRIEVAL_BUCKETS,
            registry=r,
        )

    def _gauges(self) -> None:
        r = self.registry
        self.queue_depth = Gauge("ragbot_queue_depth", "Answers waiting for a slot", registry=r)
        self.in_flight = Gauge("ragbot_answers_in_flight", "Answers being generated", registry=r)
        self.gateway_latency = Gauge("ragbot_gateway_latency_seconds", "Discord heartbeat round trip", registry=r)
        self.gateway_latency.set(math.nan)  # no gateway yet

    def _zeroes(self, providers: set[str]) -> None:
        """Every known series exists from the start at 0, so rates and dashboards work before the first event."""
        for outcome in LABEL_VALUES["outcome"]:
            self.answer_time.labels(outcome)
            for entry in LABEL_VALUES["entry"]:
                self.questions.labels(outcome, entry)
        for vote in LABEL_VALUES["vote"]:
            self.votes.labels(vote)
        for provider in providers:
            self.requests.labels(provider, "ok")
            self.retries.labels(provider)
        for model in self.model_label.known:
            for counter in (self.prompt_tokens, self.completion_tokens, self.cache_hits, self.cache_misses):
                counter.labels(model)

    def scrape(self) -> bytes:
        """The Prometheus text format of everything recorded."""
        return generate_latest(self.registry)

    def watch(self, bot: RagBotMixin) -> None:
        """Read the queue, the answers in flight and the gateway latency from `bot` whenever scraped."""
        self.queue_depth.set_function(lambda: float(bot.slots.waiting))
        self.in_flight.set_function(lambda: float(bot.slots.active))
        self.gateway_latency.set_function(_finite(lambda: float(bot.latency)))  # type: ignore[attr-defined]

    # --- Observer ------------------------------------------------------------------------------------------
    def model_request(self, provider: str, status: RequestStatus) -> None:
        self.requests.labels(_provider(provider), status).inc()

    def model_retry(self, provider: str) -> None:
        self.retries.labels(_provider(provider)).inc()

    def fallback_used(self) -> None:
        self.fallbacks.inc()

    def tokens(self, model: str, usage: Usage) -> None:
        label = self.model_label(model)
        self.prompt_tokens.labels(label).inc(usage.prompt_tokens)
        self.completion_tokens.labels(label).inc(usage.completion_tokens)
        if usage.cache_hit_tokens is not None:
            self.cache_hits.labels(label).inc(usage.cache_hit_tokens)
        if usage.cache_miss_tokens is not None:
            self.cache_misses.labels(label).inc(usage.cache_miss_tokens)

    def retrieval(self, seconds: float) -> None:
        self.retrieval_time.observe(seconds)

    def budget_exhausted(self) -> None:
        self.budget.inc()

    def first_token(self, seconds: float) -> None:
        self.first_token_time.observe(seconds)

    def question(self, outcome: Outcome, entry: Entry, seconds: float) -> None:
        self.questions.labels(outcome, entry).inc()
        if outcome != "busy":  # turned away at once: not an answer time
            self.answer_time.labels(outcome).observe(seconds)

    def vote(self, up: bool) -> None:
        self.votes.labels("up" if up else "down").inc()


def _provider(name: str) -> str:
    return name if name in LABEL_VALUES["provider"] else OTHER


def _finite(read: Callable[[], float]) -> Callable[[], float]:
    """discord.py reports nan or inf while there is no heartbeat yet; Prometheus gets nan (no value)."""

    def value() -> float:
        seconds = read()
        return seconds if math.isfinite(seconds) else math.nan

    return value
