"""Figure 2: re-sync of every cached row, all unchanged, 1% tombstoned (rows/s), and resurrected rows.

Start state (built once per invocation, then copied for each side of each run): the whole inbox loaded
raw, then 1% of the messages (every 100th row, spread over all conversations) tombstoned through the
app's writer, which deletes their rows. Timed: offering all rows again — the app through
``cache.writer.upsert_messages`` in batches of ``ingest.BATCH``; the baseline as one raw ``executemany``
of an upsert with the writer's conflict rule (``ON CONFLICT (message_id, account_id) DO UPDATE ... WHERE``
some field differs) and the tombstone filter, in one transaction. Afterwards both files must hold no row
whose id has a tombstone ("resurrected").
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from sync.cache import ingest as cache_ingest
from sync.model import TombstoneReason
from tests.bench import dataset, ingest
from tests.bench.common import Figure, Options, fmt, median, ratio_text, scratch, timed_runs

NAME = "resync"
FIGURE = 2
TITLE = "re-sync of 1,000,000 unchanged rows, 1% tombstoned"
TOMBSTONED_EVERY = 100

_UPDATABLE = cache_ingest.MESSAGE_UPDATABLE
"""The writer's own list: the raw baseline updates exactly the columns the writer does."""
RAW_UPSERT = (
    f"INSERT INTO messages ({dataset.MESSAGE_COLUMNS})"  # noqa: S608 - constant columns
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12"
    " WHERE NOT EXISTS (SELECT 1 FROM tombstones WHERE message_id = ?3)"
    " ON CONFLICT (message_id, account_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _UPDATABLE)
    + " WHERE "
    + " OR ".join(f"messages.{c} IS NOT excluded.{c}" for c in _UPDATABLE)
)
RESURRECTED = "SELECT count(*) FROM messages m JOIN tombstones t ON t.message_id = m.message_id"


def build_start_state(data: Path, box: dataset.Inbox) -> tuple[Path, int]:
    """(cache file, tombstone count): everything cached, then 1% recalled through the writer."""
    from sync.cache import Cache

    path = dataset.create_empty_cache(data)
    conn = dataset.raw_connect(path)
    try:
        dataset.load_accounts_and_conversations(conn, box)
        dataset.insert_messages(conn, box.rows)
    finally:
        conn.close()
    dead = [row[2] for row in box.rows[::TOMBSTONED_EVERY]]
    with Cache.open_file(dataset.cache_file(data)) as cache:
        for start in range(0, len(dead), 1_000):
            cache.writer.tombstone(dead[start : start + 1_000], TombstoneReason.RECALLED_ELSEWHERE).result()
        counts = cache.reader.counts()
        assert counts.tombstones == len(dead) and counts.messages == len(box.rows) - len(dead)
    conn = dataset.raw_connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path, len(dead)


def _copy(source: Path, data: Path) -> Path:
    target = data / source.name
    shutil.copyfile(source, target)
    return target


def raw_resync(path: Path, rows: list[tuple]) -> tuple[float, int]:  # type: ignore[type-arg]
    conn = dataset.raw_connect(path)
    try:
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(RAW_UPSERT, rows)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        return elapsed, conn.execute(RESURRECTED).fetchone()[0]
    finally:
        conn.close()


def writer_resync(data: Path, box: dataset.Inbox, batch: int = ingest.BATCH) -> tuple[float, int, int]:
    """(seconds, resurrected rows, rows the change sets claim changed)."""
    from sync.cache import Cache

    items = box.items
    with Cache.open_file(dataset.cache_file(data)) as cache:
        started = time.perf_counter()
        futures = [cache.writer.upsert_messages(items[i : i + batch]) for i in range(0, len(items), batch)]
        changes = [f.result() for f in futures]
        elapsed = time.perf_counter() - started
        changed = sum(len(c.messages_inserted) + len(c.messages_updated) for c in changes)
        resurrected = cache.db.connection().execute(RESURRECTED).fetchone()[0]
        return elapsed, resurrected, changed


def run(options: Options) -> Figure:
    box = dataset.inbox(options.size)
    rows, _items = box.rows, box.items
    with scratch(options, f"{NAME}-start") as start:
        started = time.perf_counter()
        source, tombstones = build_start_state(start, box)
        options.log(
            f"{NAME}: start state ({tombstones:,} tombstones) in {time.perf_counter() - started:.1f} s"
        )

        def one(i: int) -> dict[str, float]:
            result: dict[str, float] = {}
            order = ("raw", "app") if i % 2 == 0 else ("app", "raw")
            for side in order:
                with scratch(options, f"{NAME}-{side}") as data:
                    path = _copy(source, data)
                    if side == "raw":
                        seconds, resurrected = raw_resync(path, rows)
                    else:
                        seconds, resurrected, changed = writer_resync(data, box)
                        result["changed"] = changed
                result[side] = len(rows) / seconds
                result[f"{side}_resurrected"] = resurrected
            return result

        results = timed_runs(options, NAME, one)
    app = median([r["app"] for r in results])
    raw = median([r["raw"] for r in results])
    resurrected = int(max(r["app_resurrected"] for r in results))
    raw_resurrected = int(max(r["raw_resurrected"] for r in results))
    changed = int(max(r["changed"] for r in results))
    ratio = app / raw
    return Figure(
        number=FIGURE,
        name=NAME,
        title=TITLE if options.size == "full" else f"re-sync of {len(rows):,} unchanged rows (small)",
        unit="rows/s",
        value=app,
        baseline=raw,
        goal="≥ 0.8×; 0 resurrected",
        met=ratio >= 0.8 and resurrected == 0,
        runs=len(results),
        size=f"{options.size}: {len(rows):,} rows offered, {tombstones:,} of them tombstoned",
        baseline_title="raw `sqlite3` `executemany` of an upsert with the writer's conflict rule "
        "(`DO UPDATE ... WHERE` a field differs) and a `WHERE NOT EXISTS` tombstone filter, one transaction",
        rows=[
            ("resurrected rows (worst run)", str(resurrected), str(raw_resurrected), "goal 0"),
            ("rows the change sets report as changed (worst run)", str(changed), "", "expected 0"),
        ],
        notes=[
            f"app side: `cache.writer.upsert_messages` in batches of {ingest.BATCH:,} rows; start state "
            "loaded raw, then every 100th row tombstoned through `cache.writer.tombstone` (untimed)",
            f"app median {fmt(app, 'rows/s')}, raw median {fmt(raw, 'rows/s')}, ratio {ratio_text(ratio)}",
        ],
    )
