from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings, load_settings
from rag.errors import ConfigError


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGBOT_RETRIEVAL__K", "7")
    monkeypatch.setenv("RAGBOT_CHROMA__HOST", "chroma.internal")
    monkeypatch.setenv("RAGBOT_DATA_DIR", "/srv/ragbot")
    settings = load_settings(_env_file=None)
    assert settings.retrieval.k == 7 and settings.chroma.host == "chroma.internal"
    assert settings.data_dir == Path("/srv/ragbot")


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("RAGBOT_RETRIEVAL__MAX_PER_SOURCE=2\nRAGBOT_EMBEDDING__API_KEY=sk-secret-value\n")
    settings = Settings(_env_file=env_file)
    assert settings.retrieval.max_per_source == 2
    assert settings.embedding.api_key is not None
    assert settings.embedding.api_key.get_secret_value() == "sk-secret-value"
    assert "sk-secret-value" not in repr(settings) and "sk-secret-value" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RAGBOT_RETRIEVAL__K", "0", "RAGBOT_RETRIEVAL__K: Input should be greater than or equal to 1 (got '0')"),
        ("RAGBOT_EMBEDDING__BACKEND", "torch", "RAGBOT_EMBEDDING__BACKEND: Input should be 'onnx' or 'openai'"),
        ("RAGBOT_CHROMA__PORT", "http", "RAGBOT_CHROMA__PORT: Input should be a valid integer"),
        ("RAGBOT_LOG_LEVEL", "LOUD", "RAGBOT_LOG_LEVEL: Input should be"),
    ],
)
def test_invalid_values_give_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    message = str(info.value)
    assert message.startswith(expected) and "\n" not in message
