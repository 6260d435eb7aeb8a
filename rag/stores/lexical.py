"""BM25 over the live chunks (bm25s), rebuilt when the catalog changes and cached in the data dir."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bm25s

if TYPE_CHECKING:
    from rag.types import Chunk

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


_SPECIFIC = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")
_NOT_SPECIFIC = re.compile(r"^(?:\d+(?:st|nd|rd|th)|eli5|b4|gr8|l8r|2day|4u)$")  # ordinals, chat slang


def specific_tokens(text: str) -> set[str]:
    """Tokens that name one exact thing: those with a digit ("2030", "g7", "gpt-7", "h800", "13873")."""
    plain = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower())  # 2,048 and 2048 are one number
    tokens = {re.sub(r"(?<=\d)s$", "", t.strip(".-")) for t in _SPECIFIC.findall(plain)}  # h800s -> h800
    return {t for t in tokens if any(ch.isdigit() for ch in t) and not _NOT_SPECIFIC.match(t)}


def corpus_specifics(text: str) -> set[str]:
    """What a question's specific tokens are checked against: whole tokens and their hyphenated parts
    ("deepseek-r1" makes "r1" known too)."""
    whole = specific_tokens(text)
    return whole | {part for t in whole for part in re.split(r"[-.]", t) if any(ch.isdigit() for ch in part)}


class LexicalIndex:
    """A BM25 index of chunk texts. Blocking; built once per catalog generation."""

    def __init__(
        self, ids: Sequence[str], retriever: Any, generation: int, specifics: frozenset[str] = frozenset()
    ) -> None:
        self.ids = list(ids)
        self._retriever = retriever
        self.generation = generation
        self.specifics = specifics  # every token with a digit in it (years, model names, order numbers)
        self._stem = _stemmer()

    @classmethod
    def build(cls, chunks: Sequence[Chunk], generation: int) -> LexicalIndex:
        retriever = bm25s.BM25()
        if chunks:
            tokens = bm25s.tokenize(
                [lexical_text(c) for c in chunks], stopwords="en", stemmer=_stemmer(), show_progress=False
            )
            retriever.index(tokens, show_progress=False)
        specifics = frozenset(t for c in chunks for t in corpus_specifics(lexical_text(c)))
        return cls([c.chunk_id for c in chunks], retriever if chunks else None, generation, specifics)

    @classmethod
    def load(cls, folder: Path, generation: int) -> LexicalIndex | None:
        """The cached index if it was built for this generation; None otherwise."""
        meta_path = folder / "ids.json"
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("generation") != generation or "specifics" not in meta:
                return None  # another generation, or written by a version that kept no specifics
            retriever = bm25s.BM25.load(str(folder)) if meta["ids"] else None
        except (OSError, ValueError, KeyError) as exc:
            log.debug("lexical cache unusable (%s); rebuilding", exc)
            return None
        return cls(meta["ids"], retriever, generation, frozenset(meta.get("specifics", ())))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._retriever is not None:
            self._retriever.save(str(folder))
        tmp = folder / "ids.json.tmp"
        meta = {"generation": self.generation, "ids": self.ids, "specifics": sorted(self.specifics)}
        tmp.write_text(json.dumps(meta))
        tmp.replace(folder / "ids.json")

    def _tokens(self, text: str) -> list[str]:
        tokens = bm25s.tokenize([text], stopwords="en", stemmer=self._stem, show_progress=False, return_ids=False)
        return [str(t) for t in tokens[0]]

    def query(self, text: str, n: int) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score), best first; only chunks sharing at least one term."""
        if self._retriever is None:
            return []
        vocab = self._retriever.vocab_dict
        known = [t for t in self._tokens(text) if t in vocab]
        if not known:
            return []
        # n_threads=0: in this thread. Given n_threads=1, bm25s starts a thread pool (a new thread) for every call: with
        # 50 questions at once, thread start-up was a third of the search time in the profile (README, "Load").
        docs, scores = self._retriever.retrieve([known], k=min(n, len(self.ids)), show_progress=False, n_threads=0)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def coverage(self, query: str, passage: str) -> float:
        """Share of the query's idf weight carried by terms that also occur in `passage` (0..1).
        Terms the corpus has never seen count fully against coverage: they are what is off-topic."""
        if self._retriever is None:
            return 0.0
        q_terms = set(self._tokens(query))
        if not q_terms:
            return 0.0
        p_terms = set(self._tokens(passage))
        vocab = self._retriever.vocab_dict
        indptr = self._retriever.scores["indptr"]
        n = len(self.ids)
        weights = {}
        for term in q_terms:
            tid = vocab.get(term)
            df = int(indptr[tid + 1] - indptr[tid]) if tid is not None and tid + 1 < len(indptr) else 0
            weights[term] = _idf(df, n)
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in p_terms) / total


def _idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def lexical_text(chunk: Chunk) -> str:
    """What BM25 indexes for a chunk, and what coverage is measured against: title, headings, text."""
    return " ".join((chunk.source.title, *chunk.heading_path, chunk.text))
