"""Figure 5: process start to the first painted inbox, 10,000 conversations / 1,000,000 messages cached.

Runs :mod:`tests.bench.paint`'s children: the real app on the pre-populated cache against a bare
``QMainWindow`` with a ``QListView`` (fresh processes, offscreen, start = the parent's spawn time).
"""

from __future__ import annotations

from tests.bench import dataset, paint
from tests.bench.common import Figure, Options, fmt, median

NAME = "startup"
FIGURE = 5
TITLE = "start to first painted inbox, 10,000 conversations / 1,000,000 messages cached"


def run(options: Options) -> Figure:
    runs = paint.measure(options)
    box = dataset.inbox(options.size)
    app = median([r["app"]["start_ms"] for r in runs])
    bare = median([r["bare"]["start_ms"] for r in runs])
    stages = [
        ("imports done (from spawn)", "imports_ms"),
        ("window built and shown (from spawn)", "window_ms"),
    ]
    return Figure(
        number=FIGURE,
        name=NAME,
        title=TITLE
        if options.size == "full"
        else f"start to first painted inbox, {box.total:,} cached (small)",
        unit="ms",
        value=app,
        baseline=bare,
        goal="≤ 1.5×",
        met=app / bare <= 1.5,
        runs=len(runs),
        size=f"{options.size}: {box.conversations:,} conversations × {box.per_conversation} messages",
        baseline_title="a bare PySide6 `QMainWindow` with a `QListView` (100 fixed rows), same measurement",
        rows=[
            (
                what,
                fmt(median([r["app"][key] for r in runs]), "ms"),
                fmt(median([r["bare"][key] for r in runs]), "ms"),
                "",
            )
            for what, key in stages
        ],
        notes=[
            "fresh process per run and side (`QT_QPA_PLATFORM=offscreen`); start = the parent's "
            "`perf_counter()` just before spawning, end = the first paint event of the list's viewport "
            "(event filter), both `CLOCK_MONOTONIC`",
            "cache pre-populated once per size with raw `sqlite3` into the schema the app's migration "
            "created (`tests/bench/dataset.py`), kept in the work dir between invocations",
        ],
    )
