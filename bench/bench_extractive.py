"""Extractive answers (no model): fact recall on the dev and held-out questions side by side.

The answer is built from the same search the service runs; a question counts when the answer states every
expected fact. Tune on dev (`--failures` lists dev misses only); the held-out figure is only reported.

Run: python bench/bench_extractive.py [--failures] [--dev-only]   (RAGBOT_EMBEDDING__MODEL_DIR set)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bench_levers import PARTS, _service

from rag.evaluation import facts_missing
from rag.golden import load_golden


async def main(failures: bool, dev_only: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        service = _service(Path(tmp) / "data", {})
        service.chat = None  # follow-ups rewritten by the heuristic, as without a model
        for name, path in PARTS.items():
            if dev_only and name != "dev":  # while tuning: the held-out figure is measured once, at the end
                continue
            questions = [q for q in load_golden(path) if q.facts]
            ok = 0
            for q in questions:
                answer = await service.answer(q.q, q.history)
                missing = [] if answer.refused else facts_missing(answer.text, q.facts)
                ok += not answer.refused and not missing
                if failures and name == "dev" and (answer.refused or missing):  # held-out misses stay unread
                    print(f"  {q.id}: missing {missing or 'refused'} | {answer.text[:300]!r}")
            print(f"{name}: extractive fact recall {ok / len(questions):.3f} ({ok}/{len(questions)})")
        await service.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", action="store_true", help="List dev questions whose answer misses a fact.")
    parser.add_argument("--dev-only", action="store_true", help="Measure the dev questions only (while tuning).")
    args = parser.parse_args()
    asyncio.run(main(args.failures, args.dev_only))
