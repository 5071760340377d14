"""The single writer thread: order, futures and asyncio, listeners, clean shutdown, per-thread connections."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from sync.cache import Cache, CacheClosed, CacheDatabase, ops, transaction
from sync.model import ChangeSet, RowKey, TombstoneReason
from tests.sync.cache.helpers import ACCOUNT_A, ACCOUNTS, message_token, msg, thread_token


def test_every_write_runs_on_the_one_writer_thread_in_submission_order(cache: Cache) -> None:
    seen: list[tuple[int, str]] = []

    def record(db: CacheDatabase, n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n

    futures = [cache.writer.submit(record, n) for n in range(50)]

    assert [f.result() for f in futures] == list(range(50))
    assert [n for n, _ in seen] == list(range(50))
    names = {name for _, name in seen}
    assert len(names) == 1 and names.pop().startswith("cache-writer")


def test_run_awaits_the_writer_from_asyncio(cache: Cache) -> None:
    async def main() -> ChangeSet:
        return await cache.writer.run(
            transaction.apply, [ops.UpsertMessages([msg(ACCOUNT_A, 1, message_token(1), 5)])]
        )

    change = asyncio.run(main())

    assert change.messages_inserted == {RowKey(ACCOUNT_A, thread_token(1), message_token(1))}


def test_close_drains_the_queue_then_refuses_writes(tmp_path: Path) -> None:
    cache = Cache.open_file(tmp_path / "c.sqlite")
    cache.writer.upsert_accounts(ACCOUNTS)
    futures = [cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(n), n)]) for n in range(200)]

    cache.close()

    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(CacheClosed):
        cache.writer.upsert_messages([])
    with Cache.open_file(tmp_path / "c.sqlite") as again:
        assert again.reader.counts().messages == 200


def test_listeners_see_every_change_set_after_commit(cache: Cache) -> None:
    got: list[ChangeSet] = []
    unsubscribe = cache.writer.subscribe(got.append)

    def broken(_: ChangeSet) -> None:
        raise RuntimeError("a listener bug")

    cache.writer.subscribe(broken)
    first = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 5)]).result()
    cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, message_token(1), 5)]
    ).result()  # unchanged: not announced
    unsubscribe()
    cache.writer.tombstone([message_token(1)], TombstoneReason.RECALLED_HERE).result()

    assert got == [first]


def test_exceptions_reach_the_caller_and_the_writer_keeps_going(cache: Cache) -> None:
    def fails(db: CacheDatabase) -> None:
        with db.write_transaction():
            db.connection().execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        cache.writer.submit(fails).result()

    assert cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 5)]).result().messages_inserted
    assert cache.db.connection().execute("SELECT count(*) FROM meta WHERE key = 'k'").fetchone()[0] == 0


def test_each_thread_reads_through_its_own_connection(cache: Cache) -> None:
    """peewee keeps connection state thread-local: the writer, this thread and a reader thread differ."""
    writer_conn = cache.writer.submit(lambda db: id(db.connection())).result()
    main_conn = cache.db.connection()
    box: dict[str, object] = {}

    def read() -> None:
        box["conn"] = id(cache.db.connection())
        box["accounts"] = len(cache.reader.accounts())
        cache.db.close_thread_connection()

    reader = threading.Thread(target=read)
    reader.start()
    reader.join()

    assert len({writer_conn, id(main_conn), box["conn"]}) == 3
    assert box["accounts"] == 2
    assert isinstance(main_conn, sqlite3.Connection)


def test_write_transactions_begin_immediate(cache: Cache) -> None:
    """A deferred transaction would fail at once with "database is locked" after another commit."""
    statements: list[str] = []

    def trace(db: CacheDatabase) -> None:
        db.connection().set_trace_callback(statements.append)

    cache.writer.submit(trace).result()
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 5)]).result()
    cache.writer.submit(lambda db: db.connection().set_trace_callback(None)).result()

    assert statements[0] == "BEGIN IMMEDIATE"
    assert statements[-1] == "COMMIT"


def test_commit_counters_tell_another_writers_commits_from_our_own(cache: Cache, tmp_path: Path) -> None:
    from tests.sync.cache.helpers import ACCOUNT_A, message_token, msg

    own = cache.writer.commit_key
    before = cache.reader.commits_by_others(own)
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 1_000)]).result()
    assert cache.reader.commits_by_others(own) == before  # our own commit is not "another process"
    cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, message_token(1), 1_000)]
    ).result()  # unchanged: no commit
    other = Cache.open_file(cache.path)  # a second writer on the same file, as another process has
    try:
        assert other.writer.commit_key != own
        seen_from_there = other.reader.commits_by_others(other.writer.commit_key)
        assert seen_from_there >= 2  # the accounts and the first message, written by `cache`
        other.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(2), 2_000)]).result()
        assert cache.reader.commits_by_others(own) == before + 1
        assert other.reader.commits_by_others(other.writer.commit_key) == seen_from_there
        other.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(2), 2_000)]).result()
        assert cache.reader.commits_by_others(own) == before + 1
    finally:
        other.close()
