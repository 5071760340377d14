"""Figure 7: resident memory with 1,000,000 cached messages and the inbox open, against the bare window.

Runs :mod:`tests.bench.paint`'s children and reads ``VmRSS`` once the inbox has painted and settled.
"""

from __future__ import annotations

from tests.bench import dataset, paint
from tests.bench.common import Figure, Options, fmt, load_note, median

NAME = "memory"
FIGURE = 7
TITLE = "resident memory, 1,000,000 messages cached, inbox open"


def run(options: Options) -> Figure:
    runs = paint.measure(options)
    box = dataset.inbox(options.size)
    app = median([r["app"]["rss_inbox"] for r in runs])
    bare = median([r["bare"]["rss_inbox"] for r in runs])
    thread_app = median([r["app"]["rss_thread"] for r in runs])
    thread_bare = median([r["bare"]["rss_thread"] for r in runs])
    restored = median([r["restored"]["rss_inbox"] for r in runs])
    return Figure(
        number=FIGURE,
        name=NAME,
        title=TITLE if options.size == "full" else f"resident memory, {box.total:,} cached (small)",
        unit="MB",
        value=app,
        baseline=bare,
        goal="≤ +100 MB",
        met=app - bare <= 100,
        runs=len(runs),
        size=f"{options.size}: {box.conversations:,} conversations × {box.per_conversation} messages",
        baseline_title="the bare window of figure 5 (`QMainWindow` + `QListView`), same moment",
        rows=[
            ("difference (inbox open)", f"+{fmt(app - bare, 'MB')}", "", "goal ≤ +100 MB"),
            (
                "after opening a conversation",
                fmt(thread_app, "MB"),
                fmt(thread_bare, "MB"),
                f"+{fmt(thread_app - thread_bare, 'MB')}",
            ),
            (
                "restored at start (figure 5: filter, conversation open)",
                fmt(restored, "MB"),
                fmt(bare, "MB"),
                f"+{fmt(restored - bare, 'MB')}",
            ),
        ],
        notes=[
            f"`VmRSS` of the child {paint.SETTLE_S:g} s after the inbox's first paint; same processes as "
            "figure 5 (the child started with empty settings)",
            load_note(paint.loads(runs)),
        ],
    )
