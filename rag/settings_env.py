"""What the environment says about the settings: the names of all `RAGBOT_` variables, the unknown ones (with
the close name suggested), and which variable a parse failure came from. The Settings object itself is in
rag/config.py; this module only reads the same variables to explain them."""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from rag.config import ENV_PREFIX, Settings

# Variables of earlier versions, with the setting that replaced them.
RENAMED = {"RAGBOT_DATABASE__FAQ_THRESHOLD": "RAGBOT_FAQ__THRESHOLD"}
# The test suite's own variables share the prefix; they are not settings.
_RESERVED = re.compile(r"^RAGBOT_TEST_")
_FIELD = re.compile(r'field "(?P<field>[^"]+)"')


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):  # `X | None`
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _walk(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        full = prefix + name.upper()
        yield full
        nested = _model_of(field.annotation)
        if nested is not None and not str(field.annotation).startswith("list"):
            yield from _walk(nested, full + "__")


def setting_names() -> frozenset[str]:
    """Every environment variable a setting reads, e.g. RAGBOT_RETRIEVAL__K (sections included)."""
    return frozenset(_walk(Settings, ENV_PREFIX))


def ragbot_variables(environ: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    """The `RAGBOT_` variables of the environment and of the .env file (names upper-cased, as pydantic-settings
    matches them); the environment wins, as it does for the settings."""
    found: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        found |= {k.upper(): v or "" for k, v in dotenv_values(env_file).items() if k.upper().startswith(ENV_PREFIX)}
    found |= {k.upper(): v for k, v in environ.items() if k.upper().startswith(ENV_PREFIX)}
    return found


def unknown_variable_warnings(names: set[str] | frozenset[str]) -> list[str]:
    """One line per variable that no setting reads, naming the setting meant when one is close."""
    known = setting_names()
    lines = []
    for name in sorted(names):
        if name in known or _RESERVED.match(name):
            continue
        if name in RENAMED:
            lines.append(f"{name} is no longer read: it was renamed {RENAMED[name]}")
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        lines.append(f"{name} is not a ragbot setting and is ignored{hint}")
    return lines


def explain_parse_error(message: str, variables: Mapping[str, str]) -> str | None:
    """For pydantic-settings' 'error parsing value for field "llm"': the variable of that section whose value
    is not valid JSON, and why. None when no variable explains it."""
    match = _FIELD.search(message)
    if match is None:
        return None
    section = ENV_PREFIX + match["field"].upper()
    for name, value in sorted(variables.items()):
        if name != section and not name.startswith(section + "__"):
            continue
        text = value.strip()
        if not text.startswith(("[", "{")):
            continue
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return f"{name} is not valid JSON ({exc.msg} at character {exc.pos + 1}): got {text[:60]!r}"
    return None


def process_variables() -> dict[str, str]:
    """The RAGBOT_ variables this process sees (environment and the .env of the current folder)."""
    env_file = Settings.model_config.get("env_file")
    return ragbot_variables(os.environ, Path(str(env_file)) if env_file else None)
