"""Vectors kept on disk between processes, one small file per key: sentence embeddings that a terminal command
(a new process each time) would otherwise compute again on every run. Keys name their content (a chunk id is a
hash of the chunk's text; a text key is a hash of the text), so an entry never goes stale."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class VectorCache:
    def __init__(self, data_dir: Path, embedder: str, kind: str) -> None:
        self.folder = data_dir / "sentences" / re.sub(r"[^A-Za-z0-9._-]+", "_", embedder) / kind

    def get(self, keys: Iterable[str]) -> dict[str, npt.NDArray[np.float32]]:
        found: dict[str, npt.NDArray[np.float32]] = {}
        for key in keys:
            try:
                found[key] = np.load(self.folder / f"{key}.npy").astype(np.float32, copy=False)
            except (OSError, ValueError):  # absent, or damaged: computed again and rewritten
                continue
        return found

    def put(self, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for key, value in vectors.items():
                partial = self.folder / f"{key}.partial.npy"
                np.save(partial, value)
                os.replace(partial, self.folder / f"{key}.npy")
        except OSError as exc:  # a full or read-only disk costs speed, not answers
            log.debug("cannot keep vectors in %s: %s", self.folder, exc)
