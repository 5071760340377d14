"""Figure 6: open a conversation (first 50 messages painted) with 1,000,000 messages cached.

Runs :mod:`tests.bench.paint`'s children: ``MainWindow.open_conversation`` on the newest conversation
until the first paint of the thread's viewport, against a raw ``sqlite3`` query of the same 50 rows
shown in a bare ``QListView`` until its first paint.
"""

from __future__ import annotations

from tests.bench import dataset, paint
from tests.bench.common import Figure, Options, median

NAME = "open"
FIGURE = 6
TITLE = "open a conversation (first 50 messages painted), 1,000,000 cached"


def run(options: Options) -> Figure:
    runs = paint.measure(options)
    box = dataset.inbox(options.size)
    app = median([r["app"]["open_ms"] for r in runs])
    bare = median([r["bare"]["open_ms"] for r in runs])
    return Figure(
        number=FIGURE,
        name=NAME,
        title=TITLE if options.size == "full" else f"open a conversation, {box.total:,} cached (small)",
        unit="ms",
        value=app,
        baseline=bare,
        goal="≤ 3×",
        met=app / bare <= 3,
        runs=len(runs),
        size=f"{options.size}: {box.conversations:,} conversations × {box.per_conversation} messages",
        baseline_title="raw `sqlite3` query of the same 50 rows (connection already open) plus painting "
        "their texts in a bare `QListView`",
        notes=[
            "measured in the same fresh processes as figure 5, after the inbox has painted and settled "
            f"{paint.SETTLE_S:g} s; from the call to `open_conversation` (baseline: the query) to the first "
            "paint event of the thread view's viewport",
        ],
    )
