"""The evaluation's question files (eval/dev.yaml, eval/heldout.yaml): their schema, loaded and checked with
an exact message for each mistake, before any indexing starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rag.errors import RagError
from rag.prompting import Turn

# split: the answer needs two sources (must_cite_all); other_language: a question not written in English.
KINDS = ("article", "brief", "conflict", "split", "followup", "other_language", "out_of_scope")
OUT_OF_SCOPE = "out_of_scope"
_KEYS = frozenset({"id", "kind", "q", "expect", "facts", "must_cite_all", "history", "standalone"})


class GoldenSetError(RagError):
    """The golden file is unreadable or an entry is malformed; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Expected:
    source: str  # source id: the file path under the corpus, without suffix
    text: str  # a verbatim phrase of that source


@dataclass(frozen=True, slots=True)
class GoldenQuestion:
    id: str
    kind: str
    q: str
    expect: tuple[Expected, ...] = ()
    facts: tuple[str, ...] = ()
    must_cite_all: bool = False  # conflicts: the claim's source (the first) and one correcting source are needed
    history: tuple[Turn, ...] = ()
    standalone: str = ""  # the curators' standalone form of a follow-up (for reading; the service rewrites)

    @property
    def in_scope(self) -> bool:
        return self.kind != OUT_OF_SCOPE


# --- loading ---------------------------------------------------------------------------------------------
def load_golden(path: str | Path) -> list[GoldenQuestion]:
    """Parse and validate the golden YAML (`questions:` list). Raises GoldenSetError naming file and entry."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise GoldenSetError(f"{path}: cannot read the golden set ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise GoldenSetError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from exc
    entries = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise GoldenSetError(f"{path}: expected a top-level `questions:` list with at least one entry")
    golden: list[GoldenQuestion] = []
    seen: set[str] = set()
    for number, raw in enumerate(entries, 1):
        label = f"entry {number}" + (f" ({raw['id']})" if isinstance(raw, dict) and raw.get("id") else "")
        try:
            question = _parse_entry(raw)
        except ValueError as exc:
            raise GoldenSetError(f"{path}: {label}: {exc}") from exc
        if question.id in seen:
            raise GoldenSetError(f"{path}: {label}: duplicate id {question.id!r}")
        seen.add(question.id)
        golden.append(question)
    return golden


def _text(raw: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{key}` must be a non-empty string")
    return value


def _parse_entry(raw: object) -> GoldenQuestion:
    if not isinstance(raw, dict):
        raise ValueError("must be a mapping with id, kind and q")
    if unknown := sorted(set(raw) - _KEYS):
        raise ValueError(f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_KEYS))})")
    kind = _text(raw, "kind")
    if kind not in KINDS:
        raise ValueError(f"`kind` is {kind!r}; expected one of {', '.join(KINDS)}")
    expect = tuple(Expected(_text(e, "source"), _text(e, "text")) for e in _mappings(raw, "expect"))
    facts = raw.get("facts") or []
    if not isinstance(facts, list) or not all(isinstance(f, str) and f.strip() for f in facts):
        raise ValueError("`facts` must be a list of non-empty strings")
    history = tuple(Turn(_text(t, "role"), _text(t, "content")) for t in _mappings(raw, "history"))
    if any(t.role not in ("user", "assistant") for t in history):
        raise ValueError("`history` roles must be user or assistant")
    if kind == OUT_OF_SCOPE and (expect or facts):
        raise ValueError("an out_of_scope question has no `expect` or `facts`")
    if kind != OUT_OF_SCOPE and not (expect and facts):
        raise ValueError(f"an in-scope question ({kind}) needs `expect` passages and `facts`")
    if kind == "followup" and not any(t.role == "user" for t in history):
        raise ValueError("a followup question needs a `history` with a user turn")
    if not isinstance(must_cite_all := raw.get("must_cite_all", False), bool):
        raise ValueError("`must_cite_all` must be true or false")
    qid, q, standalone = _text(raw, "id"), _text(raw, "q"), _text(raw, "standalone", required=False)
    return GoldenQuestion(qid, kind, q, expect, tuple(facts), must_cite_all, history, standalone)


def _mappings(raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = raw.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"`{key}` must be a list of mappings")
    return items
