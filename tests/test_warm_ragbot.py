"""The test harness's warm `ragbot` (tests/warm_ragbot.py): a forked command behaves as the console script would,
on a developer's machine as in CI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from helpers import ragbot_command
from warm_ragbot import WarmRagbot


def test_a_forked_command_answers_and_exits_cleanly_outside_ci(
    indexed_article: Path, tmp_path: Path, model_dir: Path
) -> None:
    # Without CI set, onnxruntime starts a native thread when imported: a warm process that had imported it gave
    # children that aborted on exit (status -6) or hung there.
    base = {k: v for k, v in os.environ.items() if k != "CI"}
    settings = {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(indexed_article),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
        "RAGBOT_EMBEDDING__THREADS": "1",
    }
    warm = WarmRagbot(sys.executable, env=base)
    try:
        asked = warm.run([ragbot_command(), "ask", "Who founded DeepSeek?", "--json"], base | settings, tmp_path, 120)
        listed = warm.run([ragbot_command(), "sources"], base | settings, tmp_path, 120)
    finally:
        warm.close()
    assert warm.forked == 2  # both ran in a forked child, not as the fallback subprocess
    assert asked.returncode == 0, asked.stderr.decode()
    assert json.loads(asked.stdout)["citations"], asked.stdout
    assert listed.returncode == 0, listed.stderr.decode()
    assert b"will-chinas-new-ai-model-deepseek" in listed.stdout
    assert b"terminate called" not in asked.stderr + listed.stderr
