"""Benchmark of the /stats chart: what importing matplotlib costs (paid once, by the first chart a process
draws, since curation.chart imports it lazily), and how long drawing one PNG takes for periods of 1 to 365 days.

Run: python bench/bench_chart.py [FILE]   (FILE: also write the 30-day sample chart there, as in the README)
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from curation.chart import chart_title, render_png, write_png
from curation.db.records import DayCounts, Stats

RUNS = 7
_IMPORT = (
    "import time; t, c = time.perf_counter(), time.process_time(); "
    "import matplotlib.figure, matplotlib.backends.backend_agg; "
    "print(time.perf_counter() - t, time.process_time() - c)"
)
# Whether the entry points load matplotlib before a chart is asked for (they must not).
_LAZY = "import sys, ragbot.cli, bot.client, curation.chart; print(float('matplotlib' in sys.modules))"


def _fresh_interpreter(code: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return [float(x) for x in out.split()]


def _stats(days: int, empty: bool = False) -> Stats:
    rng = random.Random(days)
    now = datetime.now(UTC)
    daily = () if empty else tuple(
        DayCounts(
            (now - timedelta(days=n)).date(), rng.randint(0, 40), rng.randint(0, 8), rng.randint(0, 4),
            rng.randint(0, 9), rng.randint(0, 12), rng.randint(0, 4),
        )
        for n in range(days, -1, -1)
    )  # fmt: skip
    questions = sum(d.questions for d in daily)
    return Stats(now - timedelta(days=days), None, questions, 0, 0, sum(d.up for d in daily),
                 sum(d.down for d in daily), None, None, (), (), daily=daily)  # fmt: skip


def _draw_ms(stats: Stats, title: str) -> tuple[float, float, int]:
    """Median wall and CPU milliseconds of one PNG, and its size. CPU time is what a shared machine's load
    does not stretch."""
    walls, cpus, size = [], [], 0
    for _ in range(RUNS):
        wall, cpu = time.perf_counter(), time.process_time()
        size = len(render_png(stats, title))
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus), size


def main() -> None:
    imports = [_fresh_interpreter(_IMPORT) for _ in range(3)]
    wall, cpu = (statistics.median(run[i] for run in imports) * 1000 for i in (0, 1))
    print(f"import matplotlib (figure + Agg), fresh interpreter, median of 3: {wall:.0f} ms wall, {cpu:.0f} ms CPU")
    loaded = _fresh_interpreter(_LAZY)[0] > 0
    print(f"matplotlib loaded by importing ragbot.cli, bot.client, curation.chart: {'yes' if loaded else 'no'}")
    started = time.perf_counter()
    render_png(_stats(7), chart_title(7))
    print(f"first chart in this process (import + font cache + draw): {(time.perf_counter() - started) * 1000:5.0f} ms")
    print(f"\ndraw one PNG, median of {RUNS}\n{'period':>14} {'wall ms':>8} {'CPU ms':>8} {'PNG bytes':>10}")
    for days, empty in ((1, False), (7, False), (30, False), (365, False), (7, True)):
        wall, cpu, size = _draw_ms(_stats(days, empty), chart_title(days))
        label = f"{days} days" + (" (empty)" if empty else "")
        print(f"{label:>14} {wall:8.0f} {cpu:8.0f} {size:10,}")
    if len(sys.argv) > 1:
        write_png(_stats(30), chart_title(30, "AI Policy"), Path(sys.argv[1]))


if __name__ == "__main__":
    main()
