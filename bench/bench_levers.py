"""Ranking levers, one at a time: retrieval figures on the dev and held-out questions side by side.

Levers measured and then removed (dense weight, keyword-only query form, acronym expansion: README, "Measured")
ran at commit b9c1684. Each lever is a change of `RetrievalSettings` (or of chunking, which re-indexes) against
the current defaults.
Tune on dev; the held-out column is only reported (see README, "Measured"). Follow-ups are rewritten the way
`ragbot eval --scripted` rewrites them, so the figures match the CI gate's.

A cross-encoder is a lever too when a model folder is given: `--rerank DIR` adds "re-ranker top N" rows
(RAGBOT_RETRIEVAL__RERANK_MODEL_DIR and _RERANK_TOP), each against "current"; the ms/q column is the time per
question of the whole search, so the difference to "current" is what re-ranking costs.

Run: python bench/bench_levers.py [--only NAME ...] [--failures dev] [--rerank DIR [--rerank-top 10 20 40]]
     (RAGBOT_EMBEDDING__MODEL_DIR set)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.evaluation import retrieval_hit
from rag.golden import GoldenQuestion, load_golden
from rag.llm.scripted import ScriptedChatModel
from rag.retrieval import Retriever
from rag.service import RagService, build_service

REPO = Path(__file__).resolve().parents[1]
PARTS = {"dev": REPO / "eval" / "dev.yaml", "heldout": REPO / "eval" / "heldout.yaml"}

# name -> (retrieval overrides, chunking overrides). "current" is the shipped configuration.
LEVERS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "current": ({}, {}),
    "rrf_k=60": ({"rrf_k": 60}, {}),
    "rrf_k=5": ({"rrf_k": 5}, {}),
    "candidates 20": ({"candidates": 20}, {}),
    "candidates 80": ({"candidates": 80}, {}),
    "sentences w=0.5": ({"sentence_weight": 0.5}, {}),
    "sentences w=1": ({"sentence_weight": 1.0}, {}),
    "sentences w=2": ({"sentence_weight": 2.0}, {}),
    "max 2 per source": ({"max_per_source": 2}, {}),
    "max 4 per source": ({"max_per_source": 4}, {}),
    "sentence candidates 15": ({"sentence_candidates": 15}, {}),
    "sentence candidates 60": ({"sentence_candidates": 60}, {}),
    "chunks 120 tokens": ({}, {"max_tokens": 120, "overlap_tokens": 30}),
    "chunks 260 tokens": ({}, {"max_tokens": 260, "overlap_tokens": 50}),
    "chunks 360 tokens": ({}, {"max_tokens": 360, "overlap_tokens": 60}),
}


def _model_dir() -> Path:
    default = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2" / "onnx"
    return Path(os.environ.get("RAGBOT_EMBEDDING__MODEL_DIR") or default)


async def _score(service: RagService, questions: Sequence[GoldenQuestion], k: int) -> dict[str, Any]:
    """recall@1, recall@k, MRR over in-scope questions; conflict pairs over conflicts; misses by id."""
    r1 = rk = mrr = 0.0
    conflicts: list[bool] = []
    misses: list[str] = []
    scored = [q for q in questions if q.in_scope]
    for q in scored:
        result = await service.retrieve(q.q, q.history, k)  # as `ragbot eval` searches
        hit, rank, _ = retrieval_hit(result.passages, q.expect, all_sources=q.must_cite_all)
        r1 += bool(hit and rank == 1)
        rk += bool(hit)
        mrr += 1 / rank if rank else 0.0
        if q.kind == "conflict":
            conflicts.append(hit)
        if not (hit and rank == 1):
            misses.append(f"{q.id} (rank {rank}, hit {hit})")
    n = len(scored)
    return {
        "r1": r1 / n,
        "rk": rk / n,
        "mrr": mrr / n,
        "conflicts": sum(conflicts) / len(conflicts) if conflicts else float("nan"),
        "misses": misses,
    }


def _service(data_dir: Path, chunking: dict[str, Any]) -> RagService:
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        corpus_dir=REPO / "corpus",
        embedding={"model_dir": _model_dir()},
        chunking=chunking or {},
    )
    service = build_service(settings, chat=ScriptedChatModel())
    service.prepare_sync()
    return service


def rerank_levers(folder: Path | None, tops: Sequence[int]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """The re-ranker rows for a cross-encoder folder (none without one)."""
    if folder is None:
        return {}
    return {f"re-ranker top {top}": ({"rerank_model_dir": folder, "rerank_top": top}, {}) for top in tops}


async def main(
    only: list[str],
    failures: str | None,
    k: int,
    base: dict[str, Any],
    extra: dict[str, tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    parts = {name: load_golden(path) for name, path in PARTS.items()}
    asked = sum(q.in_scope for qs in parts.values() for q in qs)  # the questions _score searches
    services: dict[str, RagService] = {}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'lever':<26}" + "".join(f"{p + ' r@1/r@5/MRR/conf':>30}" for p in parts) + f"{'ms/q':>8}")
        for name, (retrieval, chunking) in {**LEVERS, **extra}.items():
            if only and name not in only:
                continue
            key = repr(sorted(chunking.items()))
            if key not in services:
                services[key] = _service(Path(tmp) / f"data-{len(services)}", chunking)
                for qs in parts.values():  # untimed: the first lever would otherwise pay for cold sentence caches
                    await _score(services[key], qs, k)
            service = services[key]
            defaults = {**service.retrieval.model_dump(), **base}
            service.retriever = Retriever(service.index, type(service.retrieval)(**{**defaults, **retrieval}))
            start = time.perf_counter()
            figures = {p: await _score(service, qs, k) for p, qs in parts.items()}
            cells = [f"{f['r1']:.3f}/{f['rk']:.3f}/{f['mrr']:.3f}/{f['conflicts']:.2f}" for f in figures.values()]
            per_question = (time.perf_counter() - start) * 1000 / asked
            print(f"{name:<26}" + "".join(f"{c:>30}" for c in cells) + f"{per_question:>8.0f}")
            if failures:  # only ever the dev part: held-out misses are not read while tuning
                print("   dev misses: " + "; ".join(figures["dev"]["misses"]))
        for service in services.values():
            await service.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="Lever names to run (default: all).")
    parser.add_argument("--failures", action="store_const", const="dev", help="List dev questions not at rank 1.")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--base", type=json.loads, default={}, help="JSON retrieval settings under every lever.")
    parser.add_argument("--rerank", type=Path, help="A cross-encoder folder (model.onnx + tokenizer.json).")
    parser.add_argument("--rerank-top", type=int, nargs="+", default=[10, 20, 40], help="Candidates re-scored.")
    args = parser.parse_args()
    extra = rerank_levers(args.rerank, args.rerank_top)
    asyncio.run(main(args.only, args.failures, args.k, args.base, extra))
