"""`ragbot stats --plot FILE` as a user runs it: the chart /stats attaches, written to a file, and FAQ hits in the
text; a path that cannot be written is one clear line."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from helpers import run_ragbot

from curation.db import Database, resolve_url
from curation.faq import FaqMatcher
from curation.review import ReviewQueue, Sighting
from rag.types import Answer, Citation

GUILD = 7
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def _log_answers(data_dir: Path) -> None:
    db = await Database.open(resolve_url(data_dir))
    cited = Answer("Liang Wenfeng [1].", (Citation(1, "c1", "The article", "", "2025", "", "q"),), True, False, "faq")
    refused = Answer("My sources don't cover that.", (), False, True, "generative")
    try:
        await db.log_answer("a1", "Who founded DeepSeek?", cited, guild_id=GUILD, channel_id=1, user_id=5, latency_ms=9)
        await db.log_answer("b2", "Best sourdough?", refused, guild_id=GUILD, channel_id=1, user_id=5, latency_ms=90)
        await db.record_vote("a1", 5, True, GUILD)
        await ReviewQueue(db, FaqMatcher(None, 0.8)).record(Sighting("refused", GUILD, 1, None, "Best sourdough?", 5))
    finally:
        await db.close()


def test_stats_plot_writes_the_chart(env: dict[str, str], tmp_path: Path) -> None:
    empty_chart = tmp_path / "empty.png"
    result = run_ragbot(["stats", "--plot", str(empty_chart)], env, tmp_path)  # no questions yet
    assert result.returncode == 0, result.stderr
    assert _png_size(empty_chart.read_bytes()) == (800, 500)

    asyncio.run(_log_answers(Path(env["RAGBOT_DATA_DIR"])))
    chart = tmp_path / "stats.png"
    result = run_ragbot(["stats", "--days", "3", "--guild", str(GUILD), "--plot", str(chart)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Last 3 days: 2 questions" in result.stdout and "answered from the FAQ: 1 (50%)" in result.stdout
    assert "open review cards (now): 1" in result.stdout
    assert result.stderr.strip().endswith(f"wrote the chart to {chart}")
    png = chart.read_bytes()
    assert _png_size(png) == (800, 500) and len(png) > len(empty_chart.read_bytes())


def test_a_path_that_cannot_be_written_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    for path, reason in (
        (tmp_path / "no-such-folder" / "stats.png", "No such file or directory"),
        (tmp_path, "it is a folder; give a file name such as stats.png"),
    ):
        result = run_ragbot(["stats", "--plot", str(path)], env, tmp_path)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1].endswith(f"cannot write the chart to {path}: {reason}")
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "no-such-folder").exists()
