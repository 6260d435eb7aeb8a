"""A read-only copy of the live vectors for one catalog generation, searched exactly with numpy.

Chroma stays the store of record (ingestion writes there). Importing chromadb and opening its client costs
about a second, more than a whole extractive answer, so a question reads this copy instead: one matrix
product, exact cosine similarity. It is rebuilt from chroma when the catalog's generation changes, like the
BM25 cache beside it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)
_MATRIX = "vectors.npy"
_META = "vectors.json"  # written last: its presence commits the matrix


class VectorSnapshot:
    def __init__(self, ids: list[str], vectors: npt.NDArray[np.float32], *, embedder: str, generation: int) -> None:
        if len(ids) != vectors.shape[0]:
            raise ValueError(f"{len(ids)} ids for {vectors.shape[0]} vectors")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True) if len(ids) else np.ones((0, 1), np.float32)
        self.ids = ids
        self.vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32, copy=False)
        self.embedder = embedder
        self.generation = generation

    def query(self, vector: npt.NDArray[np.float32], n: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first."""
        if not self.ids or n <= 0:
            return []
        unit = vector / (np.linalg.norm(vector) or 1.0)
        scores = self.vectors @ unit.astype(np.float32)
        n = min(n, len(self.ids))
        top = np.argpartition(-scores, n - 1)[:n]
        ordered = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in ordered]

    def save(self, folder: Path) -> None:
        """Write the matrix, then the metadata that names its generation (each replaced atomically)."""
        folder.mkdir(parents=True, exist_ok=True)
        # Several questions (threads, or bot processes sharing a data folder) may save at once: each writes its
        # own partial files, so one writer's rename never takes away the file another is about to rename.
        writer = f"{os.getpid()}-{threading.get_ident()}"
        partial = folder / f"{_MATRIX}.{writer}.partial.npy"
        np.save(partial, self.vectors)
        os.replace(partial, folder / _MATRIX)
        meta = {"generation": self.generation, "embedder": self.embedder, "ids": self.ids}
        partial_meta = folder / f"{_META}.{writer}.partial"
        partial_meta.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(partial_meta, folder / _META)

    @classmethod
    def load(cls, folder: Path, *, generation: int, embedder: str) -> VectorSnapshot | None:
        """The saved snapshot if it belongs to this generation and embedder; None if absent, stale or damaged."""
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
            if meta.get("generation") != generation or meta.get("embedder") != embedder:
                return None
            vectors = np.load(folder / _MATRIX, mmap_mode="r")
            return cls(
                list(meta["ids"]), np.asarray(vectors, dtype=np.float32), embedder=embedder, generation=generation
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:  # damaged: chroma still has every vector
            log.warning("ignoring the vector snapshot in %s (%s); it will be rebuilt", folder, exc)
            return None
