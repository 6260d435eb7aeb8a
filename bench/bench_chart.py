"""Benchmark of the /stats chart: what importing matplotlib costs (paid once, by the first chart a process
draws, since curation.chart imports it lazily), and how long drawing one PNG takes for periods of 1 to 365 days.

Run: python bench/bench_chart.py
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from curation.chart import chart_title, render_png
from curation.db.records import DayCounts, Stats

RUNS = 7
_IMPORT = (
    "import time; t = time.perf_counter(); import matplotlib.figure, matplotlib.backends.backend_agg; "
    "print(time.perf_counter() - t)"
)
# Whether the entry points load matplotlib before a chart is asked for (they must not).
_LAZY = "import sys, ragbot.cli, bot.client, curation.chart; print(float('matplotlib' in sys.modules))"


def _fresh_interpreter(code: str) -> float:
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


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


def _draw_ms(stats: Stats, title: str) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(RUNS):
        started = time.perf_counter()
        size = len(render_png(stats, title))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), size


def main() -> None:
    imports = sorted(_fresh_interpreter(_IMPORT) for _ in range(3))
    print(f"import matplotlib (figure + Agg), fresh interpreter: {imports[1] * 1000:7.0f} ms (median of 3)")
    loaded = _fresh_interpreter(_LAZY) > 0
    print(f"matplotlib loaded by importing ragbot.cli, bot.client, curation.chart: {'yes' if loaded else 'no'}")
    started = time.perf_counter()
    render_png(_stats(7), chart_title(7))
    print(f"first chart in this process (import + font cache + draw): {(time.perf_counter() - started) * 1000:5.0f} ms")
    print(f"\n{'period':>12} {'draw ms (median of ' + str(RUNS) + ')':>26} {'PNG bytes':>10}")
    for days, empty in ((1, False), (7, False), (30, False), (365, False), (7, True)):
        ms, size = _draw_ms(_stats(days, empty), chart_title(days))
        label = f"{days} days" + (" (empty)" if empty else "")
        print(f"{label:>12} {ms:26.0f} {size:10,}")


if __name__ == "__main__":
    main()
