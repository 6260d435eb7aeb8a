"""The evaluation gate, as curators run it: `ragbot eval --check` over the held-out questions against the curated
corpus (the scripted model: no network), failing when a held-out figure misses its threshold. The dev set's own
thresholds are tested in tests/rag/test_corpus_features.py."""

from __future__ import annotations

from pathlib import Path

from helpers import EMBED_THREADS, REPO, run_ragbot


def test_the_curated_corpus_passes_the_heldout_gate(indexed_corpus: Path, model_dir: Path, tmp_path: Path) -> None:
    env = {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),  # the corpus indexed already, as `ragbot ingest` leaves it
        "RAGBOT_CORPUS_DIR": str(indexed_corpus),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
        "RAGBOT_EMBEDDING__THREADS": str(EMBED_THREADS),
    }
    heldout = str(REPO / "eval" / "heldout.yaml")
    result = run_ragbot(["eval", heldout, "--scripted", "--check"], env, tmp_path)
    assert result.returncode == 0, f"the held-out gate failed:\n{result.stdout}\n{result.stderr}"
    assert "heldout (61)" in result.stdout and "ingest" not in result.stderr
