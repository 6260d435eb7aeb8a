"""Provider presets: a default base URL and what each kind of server needs. Every field is overridable.

Every preset streams `delta.reasoning_content` and `<think>` blocks as reasoning and asks for usage in the
stream (`stream_options.include_usage`); servers that do not know a field ignore it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Preset:
    base_url: str
    needs_key: bool = False
    needs_model: bool = False  # the server's model list is too long to pick from: the operator must choose
    thinking_toggle: bool = False  # accepts extra_body={"thinking": {"type": "disabled"}}


PRESETS: dict[str, Preset] = {
    "openai": Preset("https://api.openai.com/v1", needs_key=True, needs_model=True),
    # DeepSeek renamed its models in 2026; the model comes from settings or GET /models, never from code.
    "deepseek": Preset("https://api.deepseek.com", needs_key=True, thinking_toggle=True),
    "openrouter": Preset("https://openrouter.ai/api/v1", needs_key=True, needs_model=True),
    "ollama": Preset("http://localhost:11434/v1"),
    "vllm": Preset("http://localhost:8000/v1"),
    "llamacpp": Preset("http://localhost:8080/v1"),
    "lmstudio": Preset("http://localhost:1234/v1"),
    "custom": Preset(""),
}
