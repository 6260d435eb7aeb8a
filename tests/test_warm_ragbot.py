"""The test harness's warm `ragbot` (tests/warm_ragbot.py): a forked command behaves as the console script would,
on a developer's machine as in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import ragbot_command
from warm_ragbot import WarmRagbot


def test_a_forked_command_answers_and_exits_cleanly_outside_ci(
    indexed_article: Path, tmp_path: Path, model_dir: Path
) -> None:
    # Without CI set, onnxruntime starts a native thread when imported: a warm process that had imported it gave
    # children that aborted on exit (status -6) or hung there. Asked to load the model, it leaves it to them.
    base = {k: v for k, v in os.environ.items() if k != "CI"}
    settings = {
        "RAGBOT_DATA_DIR": str(tmp_path / "data"),
        "RAGBOT_CORPUS_DIR": str(indexed_article),
        "RAGBOT_EMBEDDING__MODEL_DIR": str(model_dir),
        "RAGBOT_EMBEDDING__THREADS": "1",
    }
    warm = WarmRagbot(sys.executable, env=base, models=[str(model_dir)])
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


def test_a_forked_command_ends_as_the_console_script_does(tmp_path: Path) -> None:
    """Same output and status as the console script run as a process of its own, for a command that fails with
    a message (1) and one that fails in its usage (2)."""
    warm = WarmRagbot(sys.executable)
    try:
        for argv in (["ask", "   "], ["no-such-command"]):
            forked = warm.run([ragbot_command(), *argv], _env(tmp_path / "forked"), tmp_path, 60)
            alone = subprocess.run(
                [ragbot_command(), *argv], env=_env(tmp_path / "alone"), cwd=tmp_path, capture_output=True, timeout=60
            )
            assert (forked.returncode, forked.stdout, forked.stderr) == (alone.returncode, alone.stdout, alone.stderr)
            assert forked.returncode in (1, 2) and forked.stderr
    finally:
        warm.close()
    assert warm.forked == 2


def _env(data: Path) -> dict[str, str]:
    return dict(os.environ) | {"RAGBOT_DATA_DIR": str(data), "RAGBOT_EMBEDDING__DOWNLOAD": "false"}
