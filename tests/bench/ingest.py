"""Figure 1: cache ingest (rows/s) through the writer thread, against raw ``sqlite3`` ``executemany``.

App side: ``cache.writer.upsert_messages`` on a fresh cache that already holds the accounts and
conversations (as after C1), fed in batches of ``BATCH`` rows queued back to back, timed from the first
submit to the last future's result. Baseline: the same rows, already in stored form, inserted by one
``executemany`` in one transaction into a fresh file with the same schema (indexes, triggers) and an
explicit tombstone filter. Each run alternates the two on fresh files.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from tests.bench import dataset
from tests.bench.common import Figure, Options, fmt, median, scratch, timed_runs

NAME = "ingest"
FIGURE = 1
TITLE = "cache ingest of 1,000,000 messages over 10,000 conversations"
BATCH = 1_000
"""Rows per writer call (10 conversations' worth). Each call is atomic on its own; the writer commits the
calls queued back to back in shared transactions (group commit, ``sync.cache.writer``)."""

FILTERED_INSERT = (
    f"INSERT INTO messages ({dataset.MESSAGE_COLUMNS})"  # noqa: S608 - constant columns
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12"
    " WHERE NOT EXISTS (SELECT 1 FROM tombstones WHERE message_id = ?3)"
)


def raw_ingest(data: Path, box: dataset.Inbox, rows: Sequence[tuple]) -> tuple[float, int]:  # type: ignore[type-arg]
    """(seconds, rows stored) for the baseline."""
    path = dataset.create_empty_cache(data)
    conn = dataset.raw_connect(path)
    try:
        dataset.load_accounts_and_conversations(conn, box)
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(FILTERED_INSERT, rows)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        return elapsed, conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        conn.close()


def writer_ingest(data: Path, box: dataset.Inbox, batch: int = BATCH) -> tuple[float, int]:
    """(seconds, rows stored) through the app's writer."""
    from sync.cache import Cache

    items = box.items
    with Cache.open_file(dataset.cache_file(data)) as cache:
        cache.writer.upsert_accounts(box.accounts).result()
        cache.writer.upsert_conversations(box.conversation_items()).result()
        started = time.perf_counter()
        futures = [cache.writer.upsert_messages(items[i : i + batch]) for i in range(0, len(items), batch)]
        skipped = sum(f.result().skipped for f in futures)
        elapsed = time.perf_counter() - started
        assert skipped == 0, f"{skipped} rows skipped: the data set does not match the writer's rules"
        return elapsed, cache.reader.counts().messages


def run(options: Options) -> Figure:
    from sync.cache.writer import MAX_GROUP_REQUESTS, MAX_GROUP_ROWS, MAX_GROUP_SECONDS

    box = dataset.inbox(options.size)
    started = time.perf_counter()
    rows, _items = box.rows, box.items
    options.log(f"{NAME}: built {len(rows):,} rows in {time.perf_counter() - started:.1f} s")

    def one(i: int) -> dict[str, float]:
        result: dict[str, float] = {}
        # Alternate which goes first, so a noisy neighbour does not always hit the same side.
        order = ("raw", "app") if i % 2 == 0 else ("app", "raw")
        for side in order:
            with scratch(options, f"{NAME}-{side}") as data:
                seconds, stored = raw_ingest(data, box, rows) if side == "raw" else writer_ingest(data, box)
            assert stored == len(rows), f"{side}: {stored} rows stored of {len(rows)}"
            result[side] = len(rows) / seconds
        return result

    results = timed_runs(options, NAME, one)
    app = median([r["app"] for r in results])
    raw = median([r["raw"] for r in results])
    per_run = [r["app"] / r["raw"] for r in results]
    return Figure(
        number=FIGURE,
        name=NAME,
        title=TITLE if options.size == "full" else f"cache ingest of {len(rows):,} messages (small)",
        unit="rows/s",
        value=app,
        baseline=raw,
        goal="≥ 0.8×",
        met=app / raw >= 0.8,
        runs=len(results),
        size=f"{options.size}: {box.conversations:,} conversations × {box.per_conversation} messages",
        baseline_title="raw `sqlite3` `executemany` of the same stored rows in one transaction, same schema "
        "(indexes, tombstone triggers) plus a `WHERE NOT EXISTS` tombstone filter",
        rows=[("ratio per run (min–max)", f"{min(per_run):.2f}–{max(per_run):.2f}", "", "")],
        notes=[
            f"app side: `cache.writer.upsert_messages` in batches of {BATCH:,} rows ({BATCH // 100} "
            "conversations each), queued back to back; the writer thread commits what is queued in shared "
            f"`BEGIN IMMEDIATE` transactions (group commit: ≤ {MAX_GROUP_REQUESTS} calls, "
            f"{MAX_GROUP_ROWS:,} rows, {MAX_GROUP_SECONDS} s each); accounts and "
            "conversations stored first (untimed), as after C1",
            f"rows per run: {len(rows):,}; app median {fmt(app, 'rows/s')}, raw median {fmt(raw, 'rows/s')}",
        ],
    )
