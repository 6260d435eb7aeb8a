"""Loading an ONNX model folder (rag.embeddings.onnx.open_onnx_model): one inference session per model file in a
process, shared by the embedders that open it, and a model replaced on disk is what the next one loads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rag.embeddings.onnx import OnnxEmbedder, open_onnx_model
from rag.errors import EmbedderUnavailable


def _folder_of(model_dir: Path, folder: Path) -> Path:
    """A model folder of the test's own, its files linked to the real model's (not copied: 90 MB)."""
    folder.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        os.link(model_dir / name, folder / name)
    return folder


def _replace(path: Path, content: bytes | Path) -> None:
    """`path` swapped for new content the way a download or a copy tool finishes: written aside, renamed over."""
    aside = path.with_suffix(".new")
    if isinstance(content, Path):
        os.link(content, aside)
    else:
        aside.write_bytes(content)
    os.replace(aside, path)


def test_embedders_of_one_folder_share_its_session_and_embed_alike(model_dir: Path, tmp_path: Path) -> None:
    folder = _folder_of(model_dir, tmp_path / "model")
    first_tokenizer, first_session = open_onnx_model(folder, threads=1)
    second_tokenizer, second_session = open_onnx_model(folder, threads=1)
    assert second_session is first_session  # built once: ~0.12 s of CPU and ~90 MB each time otherwise
    assert second_tokenizer is not first_tokenizer  # each caller sets its own padding and truncation
    assert open_onnx_model(folder, threads=2)[1] is not first_session  # another thread count is another session

    texts = ["Who founded DeepSeek?", "Export controls on H800 chips"]
    one, other = OnnxEmbedder(folder, threads=1), OnnxEmbedder(folder, threads=1)
    np.testing.assert_allclose(one.embed(texts), other.embed(texts), rtol=0, atol=1e-6)


def test_a_model_replaced_on_disk_is_loaded_anew(model_dir: Path, tmp_path: Path) -> None:
    folder = _folder_of(model_dir, tmp_path / "model")
    working = OnnxEmbedder(folder, threads=1)
    _replace(folder / "model.onnx", b"not a model")
    for _ in range(2):  # the failure is not kept either: each attempt reads the file
        with pytest.raises(EmbedderUnavailable, match=f"cannot load the embedding model in {folder}"):
            OnnxEmbedder(folder, threads=1)
    _replace(folder / "model.onnx", model_dir / "model.onnx")
    again = OnnxEmbedder(folder, threads=1)
    assert again.embed(["Who founded DeepSeek?"]).shape == (1, 384)
    assert working.embed(["Who founded DeepSeek?"]).shape == (1, 384)  # what was loaded before still works
