"""Secrets at load time (stripped, or refused without being echoed) and their redaction from text and log records."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from fakes.openai_server import FakeOpenAI

from rag.config import Settings, load_settings
from rag.errors import ConfigError
from rag.llm import Delta, build_chat_model
from rag.redact import SecretFilter, configured_secrets, redact

KEY = "secret-key-123"


def test_redact_masks_every_occurrence_longest_first() -> None:
    text = "key=abc123, again abc123, and abc123-extended"
    assert redact(text, ["abc123", "abc123-extended", ""]) == "key=***, again ***, and ***"
    assert redact("nothing here", []) == "nothing here"


def test_configured_secrets_cover_keys_token_and_the_database_password() -> None:
    settings = Settings(
        _env_file=None,
        llm={"provider": "custom", "api_key": "k-primary", "fallbacks": [{"provider": "custom", "api_key": "k-fb"}]},
        embedding={"api_key": "k-embed"},
        discord={"token": "tok-discord"},
        database={"url": "postgresql+asyncpg://bot:p%40ss-word@db.internal/ragbot"},
    )
    found = set(configured_secrets(settings))
    assert found == {"k-primary", "k-fb", "k-embed", "tok-discord", "p%40ss-word", "p@ss-word"}
    assert configured_secrets(Settings(_env_file=None)) == ()


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(SecretFilter([KEY, "tok-discord"]))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)


def test_the_filter_redacts_message_arguments_and_tracebacks(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.warning("upstream said: %s", f"Incorrect API key provided: {KEY}")
    logger.info(f"token {'tok-discord'} in the message itself")
    try:
        raise RuntimeError(f"Illegal header value b'Bearer {KEY}'")
    except RuntimeError:
        logger.exception("request failed for %r", {"authorization": f"Bearer {KEY}"})
    output = stream.getvalue()
    assert KEY not in output and "tok-discord" not in output
    assert "Incorrect API key provided: ***" in output and "token *** in the message" in output
    assert "RuntimeError: Illegal header value b'Bearer ***'" in output  # the traceback is kept, redacted
    assert "{'authorization': 'Bearer ***'}" in output


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n", "  ", "\t"])
def test_whitespace_around_a_secret_is_stripped(monkeypatch: pytest.MonkeyPatch, ending: str) -> None:
    monkeypatch.setenv("RAGBOT_LLM__API_KEY", KEY + ending)
    monkeypatch.setenv("RAGBOT_DISCORD__TOKEN", " tok-discord" + ending)
    settings = load_settings(_env_file=None)
    assert settings.llm.api_key is not None and settings.llm.api_key.get_secret_value() == KEY
    assert settings.discord.token is not None and settings.discord.token.get_secret_value() == "tok-discord"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RAGBOT_LLM__API_KEY", "secret\r\nkey-123"),
        ("RAGBOT_EMBEDDING__API_KEY", "secret key-123"),
        ("RAGBOT_DISCORD__TOKEN", "secret\x1bkey-123"),
        ("RAGBOT_DATABASE__URL", "postgresql://bot:secret\tkey-123@db/ragbot"),
    ],
)
def test_a_secret_with_inner_whitespace_is_refused_without_echo(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert message.startswith(f"{variable}: contains a space, line break or control character") and "\n" not in message
    assert "key-123" not in message and "secret" not in message


async def test_a_pasted_key_with_a_carriage_return_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeOpenAI() as fake:
        fake.enqueue_reply("Hello.")
        monkeypatch.setenv("RAGBOT_LLM__API_KEY", KEY + "\r")
        settings = load_settings(_env_file=None, llm={"provider": "custom", "base_url": fake.base_url})
        model = build_chat_model(settings.llm)
        assert model is not None
        text = "".join(
            [e.text async for e in model.stream([{"role": "user", "content": "Hi"}]) if isinstance(e, Delta)]
        )
        await model.aclose()
        assert text == "Hello." and fake.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"
