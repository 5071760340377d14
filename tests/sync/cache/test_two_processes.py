"""Two processes writing one cache file at once both succeed: no "database is locked" reaches a caller."""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sync.cache import SCHEMA_VERSION, Cache
from tests.sync.cache import two_process_worker as worker


def _run_both(target: Callable[..., None], path: Path) -> list[tuple[str, int, float, float]]:
    """Run ``target`` in two spawned processes released at once; fail on any error in either."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    results = ctx.Queue()
    processes = [ctx.Process(target=target, args=(str(path), w, start, results)) for w in (1, 2)]
    for p in processes:
        p.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(timeout=30)
    errors = [o[2] for o in outcomes if o[0] == "error"]
    assert not errors, "\n".join(str(e) for e in errors)
    assert all(p.exitcode == 0 for p in processes)
    return outcomes


def test_two_processes_write_the_same_cache_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    Cache.open_file(path).close()  # created up front, so the test is about writes, not migration

    (_, _, began_1, ended_1), (_, _, began_2, ended_2) = _run_both(worker.write, path)

    assert max(began_1, began_2) < min(ended_1, ended_2), "the two writers did not overlap"

    hidden = {worker.token(w, b, 0) for w in (1, 2) for b in range(9, worker.BATCHES, 10)}
    expected = {
        worker.token(w, b, i) for w in (1, 2) for b in range(worker.BATCHES) for i in range(worker.PER_BATCH)
    } - hidden
    with contextlib.closing(sqlite3.connect(path)) as conn:
        stored = {r[0] for r in conn.execute("SELECT message_id FROM messages")}
        tombstones = {r[0] for r in conn.execute("SELECT message_id FROM tombstones")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert stored == expected
    assert tombstones == hidden


def test_two_processes_create_the_same_new_cache_at_once(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"

    _run_both(worker.open_new, path)

    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
