"""The one Settings object. Only entry points build it; components receive their own section."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from rag.errors import ConfigError
from rag.paths import default_data_dir, packaged_corpus

ENV_PREFIX = "RAGBOT_"
DEFAULT_CHROMA_MODEL_DIR = Path.home() / ".cache" / "chroma" / "onnx_models" / "all-MiniLM-L6-v2" / "onnx"
_SECRET_FIELDS = {"api_key", "token", "url"}  # their values are never echoed in an error


def _clean_secret(value: Any) -> Any:
    """A pasted secret often carries a line break or spaces around it: strip them. One inside it cannot be meant
    (it would also reach an HTTP header as is): refuse it, without echoing the value."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(raw, str):
        return value
    raw = raw.strip()
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in raw):
        raise ValueError("contains a space, line break or control character inside it; paste the value again")
    return raw


Secret = Annotated[SecretStr, BeforeValidator(_clean_secret)]


class EmbeddingSettings(BaseModel):
    backend: Literal["onnx", "openai"] = "onnx"
    # Folder holding model.onnx + tokenizer.json; unset means chroma's own cache folder (downloaded if absent).
    model_dir: Path | None = None
    download: bool = True
    batch_size: int = Field(32, ge=1, le=1024)
    threads: int = Field(0, ge=0, le=64)  # 0 lets onnxruntime decide
    # OpenAI-compatible /v1/embeddings backend.
    base_url: str = "https://api.openai.com/v1"
    model: str = "text-embedding-3-small"
    api_key: Secret | None = None
    timeout: float = Field(30.0, gt=0)


class ChromaSettings(BaseModel):
    host: str | None = None  # set to use a chroma server (HttpClient) instead of the embedded store
    port: int = Field(8000, ge=1, le=65535)
    ssl: bool = False
    collection: str = Field("ragbot", min_length=3, max_length=63)


class ChunkingSettings(BaseModel):
    max_tokens: int = Field(180, ge=32, le=2000)  # tiktoken tokens per chunk (before the model-window check)
    overlap_tokens: int = Field(40, ge=0, le=500)

    @model_validator(mode="after")
    def _overlap_smaller(self) -> ChunkingSettings:
        if self.overlap_tokens >= self.max_tokens:
            raise ValueError("overlap_tokens must be smaller than max_tokens")
        return self


class IngestSettings(BaseModel):
    # Larger files are skipped (and named): a 20 MB text is hours of embedding on a CPU and almost surely a dump.
    max_file_mb: float = Field(4.0, gt=0, le=1024)  # also the cap on a downloaded page (URL sources)
    # URL sources (`ragbot ingest https://...`, `/sources add`). Private, loopback and link-local addresses are
    # refused (a curator's link must not reach the host's own services): true allows them all, a JSON list of
    # networks (["10.1.0.0/16"]) only those.
    allow_private_urls: bool | list[IPvAnyNetwork] = False
    url_timeout: float = Field(15.0, gt=0, le=300)  # seconds to connect, and for each read
    url_deadline: float = Field(60.0, gt=0, le=3600)  # seconds for a whole download
    max_redirects: int = Field(5, ge=0, le=20)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)


class RetrievalSettings(BaseModel):
    k: int = Field(5, ge=1, le=50)
    candidates: int = Field(40, ge=1, le=500)  # per retriever, before fusion
    rrf_k: int = Field(10, ge=1)
    # Rank the best fused candidates again by their single best sentence's similarity to the question (0: off):
    # a passage's one answering sentence is diluted in its whole-passage embedding.
    sentence_weight: float = Field(1.0, ge=0, le=10)
    sentence_candidates: int = Field(15, ge=1, le=200)
    max_per_source: int = Field(4, ge=1)
    duplicate_threshold: float = Field(0.8, gt=0, le=1)  # word-shingle Jaccard above which a passage is a copy
    # Calibrated on tests/rag/data/devset.yaml (see README, "Relevance threshold").
    min_similarity: float = Field(0.30, ge=-1, le=1)
    min_lexical_coverage: float = Field(0.45, ge=0, le=1)
    lexical_only_min_coverage: float = Field(0.35, ge=0, le=1)  # when no embedding model is available
    # A question naming a year/model/number the corpus never mentions needs this similarity to count.
    unknown_specific_similarity: float = Field(0.7, ge=-1, le=1)
    max_question_chars: int = Field(1000, ge=10)
    outdated_after_months: int | None = Field(12, ge=1)  # sources older than this are marked; None: never


Provider = Literal["none", "openai", "deepseek", "ollama", "vllm", "llamacpp", "lmstudio", "openrouter", "custom"]


class LLMEndpoint(BaseModel):
    """One chat model: a provider preset, every field overridable. Unset fields take the preset's defaults."""

    provider: Provider = "none"
    base_url: str | None = None
    model: str | None = None  # unset: the first model the server lists (local servers, DeepSeek)
    api_key: Secret | None = None


class LLMSettings(LLMEndpoint):
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(120.0, gt=0)  # longest wait for the next streamed piece
    max_retries: int = Field(3, ge=0, le=10)  # per model and question: at most max_retries + 1 requests
    max_wait: float = Field(20.0, ge=0, le=600)  # no retry starts later than this after a model's first request
    max_tokens: int = Field(800, ge=16, le=32768)  # answer length
    temperature: float = Field(0.2, ge=0, le=2)
    context_window: int = Field(32768, ge=1024)  # the model's context, in tokens (counted with tiktoken)
    source_tokens: int = Field(3000, ge=200)  # budget for the numbered sources
    history_tokens: int = Field(800, ge=0)  # budget for earlier turns (trimmed before sources)
    thinking: bool = True  # DeepSeek: False sends thinking={"type": "disabled"}
    rewrite_followups: bool = True  # turn a follow-up into a standalone search query with a short model call
    fallbacks: list[LLMEndpoint] = Field(default_factory=list)  # JSON list, tried in order when a model fails
    support_threshold: float = Field(0.35, ge=0, le=1)  # below it, a cited sentence is flagged as unsupported
    # Per server and UTC day: past this many logged tokens, answers quote the sources instead. Unset: no limit.
    daily_tokens_per_guild: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _budget_fits(self) -> LLMSettings:
        if self.source_tokens + self.history_tokens + self.max_tokens + 600 > self.context_window:
            raise ValueError(
                "source_tokens + history_tokens + max_tokens (+600 for instructions and question)"
                " must fit in context_window"
            )
        return self


class DiscordSettings(BaseModel):
    token: Secret | None = None
    shards: str | None = None  # "auto" or a number: AutoShardedBot, for bots in many servers
    # Several processes: each runs SHARD_IDS (a JSON list) of SHARD_COUNT shards; Discord sends a server's events
    # to shard (server id >> 22) % SHARD_COUNT only. Unset SHARD_IDS with a count: every shard in this process.
    shard_count: int | None = Field(None, ge=1, le=16384)
    shard_ids: list[int] = Field(default_factory=list)
    guild_ids: list[int] = Field(default_factory=list)  # sync slash commands to these guilds at once
    allowed_channels: list[int] = Field(default_factory=list)  # empty: every channel the bot can see
    allow_dms: bool = False
    threads: bool = True  # an answer to a mention opens a thread for follow-ups
    edit_interval: float = Field(1.0, ge=0.2, le=10)  # seconds between edits of a streaming answer
    cooldown_questions: int = Field(3, ge=1, le=100)  # per user: this many questions ...
    cooldown_seconds: float = Field(60.0, gt=0)  # ... per this many seconds (a token bucket)
    max_concurrent: int = Field(8, ge=1, le=256)  # answers generated at once; the rest queue
    max_queue: int = Field(100, ge=0)  # waiting answers beyond this are turned away with a notice
    history_messages: int = Field(10, ge=0, le=50)  # earlier messages of a reply chain or thread to include
    shutdown_grace: float = Field(20.0, ge=0)  # seconds in-flight answers get to finish on SIGTERM
    message_content: bool = True  # the privileged intent; thread follow-ups without a mention need it
    moderator_role_ids: list[int] = Field(default_factory=list)  # besides members with Manage Messages
    pin_faq_messages: bool = True  # pinning an answer as FAQ also pins the Discord message
    review_channel: int | None = None  # refused questions, 👎 votes and "Ask a human" become cards posted here
    # Forum help desk: new posts in these forum channels are answered in the post, without a mention.
    forum_channels: list[int] = Field(default_factory=list)
    forum_delay: float = Field(5.0, ge=0, le=300)  # seconds a new post is left to settle (quick additions)
    solved_tag: str = Field("Solved", min_length=1, max_length=20)  # forum tag names: Discord allows 20 characters
    needs_human_tag: str = Field("Needs human", min_length=1, max_length=20)
    helper_role: int | None = None  # the role "Ask a human" pings: the one mention the bot ever makes
    forum_daily_cap: int = Field(20, ge=1, le=10_000)  # forum answers per member per UTC day

    @model_validator(mode="after")
    def _valid_shards(self) -> DiscordSettings:
        if self.shards is not None and self.shards != "auto" and not (self.shards.isdigit() and int(self.shards) > 0):
            raise ValueError("shards must be 'auto' or a positive number")
        return self

    @field_validator("shard_ids")
    @classmethod
    def _ids_in_range(cls, ids: list[int], info: ValidationInfo) -> list[int]:
        count: int | None = info.data.get("shard_count")
        if not ids:
            return ids
        if count is None:
            raise ValueError("needs RAGBOT_DISCORD__SHARD_COUNT, the total number of shards across all processes")
        if len(set(ids)) != len(ids):
            raise ValueError("names a shard twice")
        wrong = [i for i in ids if not 0 <= i < count]
        if wrong:
            raise ValueError(f"shard {wrong[0]} does not exist: with {count} shards the ids run from 0 to {count - 1}")
        return sorted(ids)

    @property
    def sharding(self) -> tuple[int | None, list[int] | None] | None:
        """(shard count, this process's shard ids) for an AutoShardedBot, None for a plain bot. A None count asks
        Discord how many; None ids run every shard here."""
        if self.shard_count is not None:
            return self.shard_count, self.shard_ids or None
        if self.shards is None:
            return None
        return (None if self.shards == "auto" else int(self.shards)), None


class DatabaseSettings(BaseModel):
    # Unset: SQLite at <data_dir>/ragbot.sqlite3. postgresql+asyncpg://user:pass@host/db for several bot processes.
    url: Secret | None = None  # a secret: a PostgreSQL URL carries its password
    echo: bool = False  # log every SQL statement (debugging)


class MetricsSettings(BaseModel):
    """`ragbot run` serves /metrics, /healthz and /readyz here; off unless a port is set."""

    host: str = "127.0.0.1"  # only this machine by default: metrics are not for the open internet
    port: int | None = Field(None, ge=0, le=65535)  # 0: any free port (it is logged)


class FaqSettings(BaseModel):
    threshold: float = Field(0.75, ge=0, le=1)  # FAQ match score (0.7 cosine + 0.3 word overlap) to answer


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    corpus_dir: Path = Field(default_factory=packaged_corpus)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, with the answer id
    discord: DiscordSettings = DiscordSettings()
    database: DatabaseSettings = DatabaseSettings()
    faq: FaqSettings = FaqSettings()
    metrics: MetricsSettings = MetricsSettings()
    llm: LLMSettings = LLMSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chroma: ChromaSettings = ChromaSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def _variable_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc if not isinstance(part, int))


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the first bad variable and what is wrong with it."""
    err = exc.errors()[0]
    name = _variable_name(tuple(err["loc"])) if err["loc"] else "configuration"
    value = err.get("input")
    secret = bool(set(map(str, err["loc"])) & _SECRET_FIELDS)
    shown = f" (got {value!r})" if isinstance(value, str | int | float) and len(str(value)) < 80 and not secret else ""
    message = str(err["msg"]).removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{name}: {message}{shown}{more}"


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment and .env, turning validation failures into one ConfigError line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    except SettingsError as exc:
        from rag.settings_env import explain_parse_error, process_variables

        raise ConfigError(
            explain_parse_error(str(exc), process_variables()) or f"invalid configuration: {exc}"
        ) from None
