"""Group commit: write requests queued together share one transaction, each keeps its own outcome."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from sync.cache import (
    Cache,
    CacheDatabase,
    CacheInputError,
    CacheWriter,
    SetConversationSync,
    UpsertMessages,
    ops,
    transaction,
)
from sync.cache.db import WAL_SIZE_LIMIT_BYTES, WRITER_CACHE_KIB
from sync.model import ChangeSet, ConversationSyncState, RowKey, TombstoneReason
from tests.sync.cache.helpers import ACCOUNT_A, ACCOUNT_B, ACCOUNTS, message_token, msg, thread_token

T1, T2, T3, T4 = (message_token(n) for n in range(1, 5))
CONV = thread_token(1)
RECALLED = TombstoneReason.RECALLED_HERE
ROOT = Path(__file__).resolve().parents[3]


def _key(token: str, account: str = ACCOUNT_A) -> RowKey:
    return RowKey(account, CONV, token)


class _Trace:
    """The writer connection's statements, and a gate that keeps the writer thread busy: what is queued
    while it is held runs as one group once it opens."""

    def __init__(self, writer: CacheWriter) -> None:
        self.writer = writer
        self.statements: list[str] = []

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        entered, release = threading.Event(), threading.Event()

        def gate(db: CacheDatabase) -> None:
            db.connection().set_trace_callback(self.statements.append)
            entered.set()
            assert release.wait(10)

        gate_done = self.writer.submit(gate)
        assert entered.wait(10)
        try:
            yield
        finally:
            release.set()
            gate_done.result(10)

    def stop(self) -> None:
        self.writer.submit(lambda db: db.connection().set_trace_callback(None)).result(10)

    def count(self, statement: str) -> int:
        return self.statements.count(statement)


def _commits(cache: Cache) -> int:
    row = cache.db.connection().execute("SELECT value FROM meta WHERE key = ?", (cache.writer.commit_key,))
    found = row.fetchone()
    return 0 if found is None else int(found[0])


def test_queued_upserts_commit_together_and_each_caller_gets_its_own_change_set(cache: Cache) -> None:
    trace = _Trace(cache.writer)
    announced: list[ChangeSet] = []
    cache.writer.subscribe(announced.append)
    commits = _commits(cache)
    with trace.held():
        futures = [
            cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100), msg(ACCOUNT_A, 1, T2, 200)]),
            cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T3, 300)]),
            cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100)]),  # unchanged by then
            cache.writer.upsert_messages([msg(ACCOUNT_B, 1, T1, 100)]),
        ]
    changes = [f.result(10) for f in futures]
    trace.stop()

    assert trace.count("BEGIN IMMEDIATE") == 1 and trace.count("COMMIT") == 1
    assert changes[0].messages_inserted == {_key(T1), _key(T2)}
    assert changes[1].messages_inserted == {_key(T3)} and not changes[1].messages_updated
    assert not changes[2]
    assert changes[3].messages_inserted == {_key(T1, ACCOUNT_B)}
    assert all((ACCOUNT_A, CONV) in c.conversations_changed for c in changes[:2])
    assert announced == [changes[0], changes[1], changes[3]]  # in order, the empty one not announced
    assert _commits(cache) == commits + 1  # one commit counted for the group, inside it
    assert cache.reader.counts().messages == 4


def test_futures_resolve_only_after_the_shared_commit(cache: Cache) -> None:
    seen: list[int] = []

    def count_from_another_connection(_: Future[ChangeSet]) -> None:
        # Runs on the writer thread as the future resolves: what another process would see then.
        with contextlib.closing(sqlite3.connect(cache.path)) as other:
            seen.append(other.execute("SELECT count(*) FROM messages").fetchone()[0])

    with _Trace(cache.writer).held():
        futures = [cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(n), n)]) for n in range(5)]
        for future in futures:
            future.add_done_callback(count_from_another_connection)
    for future in futures:
        future.result(10)
    cache.writer.submit(lambda db: None).result(10)  # the last callback ran before the writer moved on

    assert seen == [5] * 5


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("failure", ["mid-transaction", "malformed-envelope"])
def test_a_failing_request_loses_only_its_own_writes(cache: Cache, position: int, failure: str) -> None:
    unknown = ConversationSyncState(ACCOUNT_A, thread_token(7))  # no such conversation: raises
    bad: list[ops.WriteOp] = (
        [UpsertMessages([msg(ACCOUNT_A, 1, T4, 400)]), SetConversationSync(unknown)]
        if failure == "mid-transaction"
        else [UpsertMessages([msg(ACCOUNT_A, 1, T4, 400)]), "not an operation"]  # type: ignore[list-item]
    )
    good = [[UpsertMessages([msg(ACCOUNT_A, 1, token, n * 100)])] for n, token in enumerate((T1, T2, T3), 1)]
    requests = [*good[:position], bad, *good[position:]]
    announced: list[ChangeSet] = []
    cache.writer.subscribe(announced.append)

    with _Trace(cache.writer).held():
        futures = [cache.writer.apply(ops, advance_seq_to=seq) for seq, ops in enumerate(requests, 1)]

    results = []
    for n, future in enumerate(futures):
        if n == position:
            with pytest.raises(CacheInputError):
                future.result(10)
        else:
            results.append(future.result(10))
    assert [c.messages_inserted for c in results] == [{_key(T1)}, {_key(T2)}, {_key(T3)}]
    assert announced == results
    stored = {m.message_id for m in cache.reader.messages(ACCOUNT_A, CONV)}
    assert stored == {T1, T2, T3}  # the failed request's own upsert is gone with it
    assert cache.reader.last_applied_seq() == 4
    # The writer goes on as before.
    assert cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T4, 400)]).result(10).messages_inserted


def test_a_failed_commit_fails_every_request_of_the_group(cache: Cache) -> None:
    commits = _commits(cache)

    def deny_commit(db: CacheDatabase) -> None:
        def authorizer(action: int, arg1: str | None, *_: object) -> int:
            refused = action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT"
            return sqlite3.SQLITE_DENY if refused else sqlite3.SQLITE_OK

        db.connection().set_authorizer(authorizer)

    trace = _Trace(cache.writer)
    with trace.held():
        cache.writer.submit(deny_commit)
        futures = [cache.writer.upsert_messages([msg(ACCOUNT_A, 1, token, 100)]) for token in (T1, T2, T3)]
        cache.writer.submit(lambda db: db.connection().set_authorizer(None))
        after = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T4, 400)])

    errors = [f.exception(10) for f in futures]
    assert all(isinstance(e, sqlite3.DatabaseError) and "not authorized" in str(e) for e in errors)
    assert after.result(10).messages_inserted == {_key(T4)}  # the writer goes on
    assert {m.message_id for m in cache.reader.messages(ACCOUNT_A, CONV)} == {T4}  # none of the group
    assert _commits(cache) == commits + 1  # the group's commit was not counted, the next write's was


def test_requests_apply_in_queue_order_so_a_later_upsert_of_the_same_row_wins(cache: Cache) -> None:
    with _Trace(cache.writer).held():
        first = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100, "one")])
        second = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100, "two")])
        third = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100, "three")])
        read_between = cache.writer.submit(
            lambda db: db.connection().execute("SELECT text FROM messages").fetchall()
        )
        fourth = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100, "four")])

    assert first.result(10).messages_inserted == {_key(T1)}
    assert second.result(10).messages_updated == {_key(T1)}
    assert third.result(10).messages_updated == {_key(T1)}
    assert [tuple(r) for r in read_between.result(10)] == [("three",)]  # a plain submit ends a group
    assert fourth.result(10).messages_updated == {_key(T1)}
    stored = cache.reader.message(ACCOUNT_A, T1)
    assert stored is not None and stored.text == "four"


def test_a_tombstone_inside_a_group_refuses_resurrection(cache: Cache) -> None:
    with _Trace(cache.writer).held():
        upserted = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100), msg(ACCOUNT_A, 1, T2, 200)])
        hidden = cache.writer.tombstone([T1, T3], RECALLED)
        again = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100, "back"), msg(ACCOUNT_A, 1, T3, 300)])
        other_account = cache.writer.upsert_messages([msg(ACCOUNT_B, 1, T1, 100)])

    assert upserted.result(10).messages_inserted == {_key(T1), _key(T2)}
    assert hidden.result(10).messages_hidden == {_key(T1)}
    assert hidden.result(10).tombstones_added == {T1, T3}
    assert not again.result(10).messages_inserted and not again.result(10).messages_updated
    assert not other_account.result(10).messages_inserted
    assert {m.message_id for m in cache.reader.messages(ACCOUNT_A, CONV)} == {T2}
    assert cache.reader.message(ACCOUNT_B, T1) is None
    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.latest is not None and row.latest.message_urn.endswith(f",{T2})")


def test_a_group_is_bounded_in_requests_and_rows(tmp_path: Path) -> None:
    with Cache.open_file(tmp_path / "c.sqlite") as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result(10)
        writer = CacheWriter(cache.db, max_group_requests=3, max_group_rows=4)
        try:
            trace = _Trace(writer)
            with trace.held():
                by_requests = [
                    writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(n), n)]) for n in range(7)
                ]
            for f in by_requests:
                f.result(10)
            assert trace.count("COMMIT") == 3  # 3 + 3 + 1 requests

            trace.statements.clear()
            with trace.held():
                rows = [
                    writer.upsert_messages(
                        [msg(ACCOUNT_A, 2, message_token(100 + 10 * k + n), n) for n in range(size)]
                    )
                    for k, size in enumerate((2, 2, 1, 5, 1))
                ]
            for f in rows:
                f.result(10)
            assert trace.count("COMMIT") == 4  # 2 + 2 rows, 1, 5 (alone: over the bound by itself), 1
            trace.stop()
        finally:
            writer.close()
        assert cache.reader.counts().messages == 7 + 11


def test_a_cancelled_request_is_skipped(cache: Cache) -> None:
    with _Trace(cache.writer).held():
        kept = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100)])
        dropped = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T2, 200)])
        assert dropped.cancel()

    assert kept.result(10).messages_inserted == {_key(T1)}
    assert cache.reader.message(ACCOUNT_A, T2) is None


def test_apply_group_pulls_requests_while_its_one_transaction_is_open(cache: Cache) -> None:
    """The writes-level function the writer uses: each request is pulled after the one before it was
    applied, in the same (not yet committed) transaction."""
    seen: list[tuple[int, int]] = []

    def requests(db: CacheDatabase) -> Iterator[transaction.Request]:
        with contextlib.closing(sqlite3.connect(cache.path)) as other:
            for n in range(3):
                count = "SELECT count(*) FROM messages"
                seen.append(
                    (db.connection().execute(count).fetchone()[0], other.execute(count).fetchone()[0])
                )
                yield transaction.Request([UpsertMessages([msg(ACCOUNT_A, 1, message_token(n), n)])], n + 1)
        yield transaction.Request(
            [UpsertMessages([msg(ACCOUNT_A, 1, message_token(9), 9)])], advance_seq_to=3
        )

    results = cache.writer.submit(
        lambda db: transaction.apply_group(db, requests(db), commit_key=cache.writer.commit_key)
    ).result(10)

    assert seen == [(0, 0), (1, 0), (2, 0)]  # in the transaction: the rows so far; outside it: none
    assert [r.messages_inserted for r in results if isinstance(r, ChangeSet)] == [
        {_key(message_token(n))} for n in range(3)
    ] + [frozenset()]  # seq 3 was applied by the request before it: skipped, as an event replay is
    assert cache.reader.last_applied_seq() == 3
    assert cache.reader.message(ACCOUNT_A, message_token(9)) is None


def test_two_failing_requests_in_one_group_each_get_their_own_error(cache: Cache) -> None:
    unknown = ConversationSyncState(ACCOUNT_A, thread_token(7))
    announced: list[ChangeSet] = []
    cache.writer.subscribe(announced.append)
    with _Trace(cache.writer).held():
        futures = [
            cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100)]),
            cache.writer.apply([UpsertMessages([msg(ACCOUNT_A, 1, T2, 200)]), SetConversationSync(unknown)]),
            cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T3, 300)]),
            cache.writer.apply([UpsertMessages([msg(ACCOUNT_A, 1, T4, 400)]), SetConversationSync(unknown)]),
            cache.writer.tombstone([T1], RECALLED),
        ]

    errors = [f.exception(10) for f in futures]
    assert [type(e) for e in errors] == [type(None), CacheInputError, type(None), CacheInputError, type(None)]
    changes = [f.result(10) for f in (futures[0], futures[2], futures[4])]
    assert [c.messages_inserted for c in changes[:2]] == [{_key(T1)}, {_key(T3)}]
    assert changes[2].messages_hidden == {_key(T1)}
    assert announced == changes  # each announced once, after the commit
    assert {m.message_id for m in cache.reader.messages(ACCOUNT_A, CONV)} == {T3}


def test_the_writer_connection_keeps_the_durability_pragmas(cache: Cache) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100)]).result(10)

    def pragmas(db: CacheDatabase) -> dict[str, object]:
        conn = db.connection()
        names = (
            "synchronous",
            "foreign_keys",
            "journal_mode",
            "cache_size",
            "wal_autocheckpoint",
            "journal_size_limit",
        )
        return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

    assert cache.writer.submit(pragmas).result(10) == {
        "synchronous": 1,  # NORMAL
        "foreign_keys": 1,
        "journal_mode": "wal",
        "cache_size": -WRITER_CACHE_KIB,
        "wal_autocheckpoint": 0,
        "journal_size_limit": WAL_SIZE_LIMIT_BYTES,
    }
    cache.writer.submit(lambda db: db.writer_idle()).result(10)  # gives memory back, keeps working
    assert cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T2, 200)]).result(10).messages_inserted


def test_queued_writes_finish_when_the_interpreter_exits_without_close(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    script = f"""
import sys
from sync.cache import Cache
from tests.sync.cache.helpers import ACCOUNTS, ACCOUNT_A, message_token, msg
cache = Cache.open_file({str(path)!r})
cache.writer.upsert_accounts(ACCOUNTS)
for n in range(50):
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(n), n)])
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, timeout=60, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    with Cache.open_file(path) as again:
        assert again.reader.counts().messages == 50


def _write_pages(cache: Cache, first: int, count: int) -> None:
    """About a WAL page per row (a 3,000-character text): 1,200 rows are more than the 1,000 pages SQLite's
    own automatic checkpoint lets the WAL hold."""
    big = "x" * 3_000
    for n in range(first, first + count):
        cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(n), n, big)]).result(10)


def test_no_write_waits_for_a_checkpoint_the_writer_runs_them_between_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.sqlite"
    monkeypatch.setattr("sync.cache.writer.CHECKPOINT_QUIET_S", 3_600.0)
    monkeypatch.setattr("sync.cache.writer.CHECKPOINT_MAX_S", 3_600.0)
    monkeypatch.setattr("sync.cache.writer._IDLE_S", 3_600.0)  # no idle-time checkpoint on a slow machine
    with Cache.open_file(path) as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result(10)
        cache.writer.submit(lambda db: db.checkpoint()).result(10)
        before = path.stat().st_size
        _write_pages(cache, 0, 1_200)
        # No COMMIT copied the WAL back (SQLite's automatic checkpoint would have, past 1,000 pages)…
        assert path.stat().st_size == before
        assert cache.writer.checkpoints == 0
        # …the writer does, between writes, once its interval has passed.
        monkeypatch.setattr("sync.cache.writer.CHECKPOINT_QUIET_S", 0.0)
        _write_pages(cache, 1_200, 1)
        cache.writer.submit(lambda db: None).result(10)  # runs after the checkpoint that followed the write
        assert cache.writer.checkpoints >= 1
        assert path.stat().st_size > before + 1_000 * 3_000
        assert cache.reader.counts().messages == 1_201
