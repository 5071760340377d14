"""The cache's single writer: one thread per process through which every write goes, in order.

Sync batches, tombstones and event applications are queued to it; each returns a
``concurrent.futures.Future`` (or, awaited through :meth:`CacheWriter.run`, the result itself).
Listeners registered with :meth:`CacheWriter.subscribe` see every non-empty ChangeSet on the
writer thread right after its commit, whoever submitted the write — the desktop layer turns
them into Qt signals there.

Group commit: when several :meth:`CacheWriter.apply` requests (every ``upsert_*``, ``tombstone``,
``update_conversation`` … call) are queued back to back, the writer thread runs them in ONE
``BEGIN IMMEDIATE`` transaction, each in its own savepoint (``sync.cache.transaction.apply_group``), and
keeps taking what is queued behind them while the transaction is open, up to a bound of requests, rows
and time. A commit rewrites every page the transaction dirtied, and on a random-order index that is
about one page per row for a batch of 1,000 rows: committing bigger groups is what keeps a first sync's
ingest near raw ``executemany`` speed. Each caller still gets its own ChangeSet (or its own error: a
failed request rolls back to its savepoint and nothing else), and only after the shared COMMIT; when
the transaction as a whole fails, every request of the group gets that error. Other writes
(:meth:`CacheWriter.submit`: the recall log, ``set_last_applied_seq``, ad hoc functions) run alone
and end a group, so the order of all writes is the order they were queued in.

A write that fails for the machine's sake (a full disk, a busy or read-only or damaged file: SQLite's
code says which) fails its future with the matching :class:`sync.errors.LocalStorageError`, the SQLite
error as its ``__cause__``; its transaction is rolled back and the writer thread carries on, so the same
write works again once the disk has room. Any other exception is handed over as it is (a bug).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

from sync.cache import ops, recall_log, transaction
from sync.cache.db import CacheClosed, CacheDatabase, note_damage, storage_error_of
from sync.errors import CacheCorrupt
from sync.model import (
    Account,
    AccountSyncState,
    ChangeSet,
    ConversationIn,
    ConversationSyncState,
    MessageIn,
    Reaction,
    RecallAttempt,
    RecallState,
    TombstoneReason,
)

__all__ = ["CacheWriter"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

ChangeListener = Callable[[ChangeSet], None]

MAX_GROUP_REQUESTS: Final = 100
"""Requests per group transaction at most."""
MAX_GROUP_ROWS: Final = 25_000
"""Rows (``transaction.Request.size``) per group at most; a single bigger request still runs whole."""
MAX_GROUP_SECONDS: Final = 0.5
"""No request joins a group whose transaction has been open this long: bounds how long the write
lock is held (other processes wait for it) and how late the group's first caller hears back."""
CHECKPOINT_QUIET_S: Final = 1.0
"""The writer checkpoints the WAL between writes when none is queued, at most this often…"""
CHECKPOINT_MAX_S: Final = 5.0
"""…and after this long even with writes queued (a long sync), so that the WAL stays small."""
_IDLE_S: Final = 0.5
"""How often an idle writer thread looks up (interpreter exit without close; releasing cache memory)."""


@dataclass(slots=True)
class _Job:
    future: Future[Any]
    request: transaction.Request | None
    """A groupable :meth:`CacheWriter.apply`; None for a :meth:`CacheWriter.submit` call."""
    call: Callable[[], Any] | None = None
    size: int = 1


class CacheWriter:
    """Owns the writer thread of one open cache. Thread-safe: submit from any thread or loop."""

    def __init__(
        self,
        db: CacheDatabase,
        *,
        max_group_requests: int = MAX_GROUP_REQUESTS,
        max_group_rows: int = MAX_GROUP_ROWS,
        max_group_seconds: float = MAX_GROUP_SECONDS,
    ) -> None:
        self._db = db
        self._listeners: list[ChangeListener] = []
        self._lock = threading.Lock()
        self._queued = threading.Condition(self._lock)
        self._queue: deque[_Job] = deque()
        self._closed = False
        self._busy = False
        """Written since the writer was last idle (only the writer thread reads or writes it)."""
        self._max_requests = max(1, max_group_requests)
        self._max_rows = max_group_rows
        self._max_seconds = max_group_seconds
        self._last_checkpoint = time.monotonic()
        self.checkpoints = 0
        """Checkpoints the writer thread ran (for tests)."""
        self.commit_key = f"{transaction.COMMITS_PREFIX}{uuid.uuid4().hex}"
        """This writer's row in ``meta``: other processes tell its commits from theirs by it."""
        # Not a daemon: queued writes finish before the interpreter exits, as they would on close().
        self._thread = threading.Thread(target=self._main, name="cache-writer", daemon=False)
        self._thread.start()

    # --- generic ----------------------------------------------------------------------------------

    def submit(
        self, fn: Callable[Concatenate[CacheDatabase, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        """Queue ``fn(db, *args, **kwargs)`` on the writer thread; the future carries its result.

        ``fn`` runs alone (in its own transaction if it opens one), between the groups before and after it.
        """
        future: Future[T] = Future()
        self._enqueue(_Job(future, None, lambda: fn(self._db, *args, **kwargs)))
        return future

    async def run(
        self, fn: Callable[Concatenate[CacheDatabase, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``await`` form of :meth:`submit` for the asyncio loop (the loop never blocks on SQLite)."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener(change_set)`` after every write that changed something; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def close(self) -> None:
        """Stop taking writes, run every queued one, then close the writer thread's connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queued.notify()
        if threading.current_thread() is not self._thread:  # a listener may close the cache
            self._thread.join()

    @property
    def closed(self) -> bool:
        return self._closed

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            if self._closed:
                raise CacheClosed("the cache writer is closed")
            self._queue.append(job)
            self._queued.notify()

    # --- the writer thread ------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            while True:
                job = self._next_job()
                if job is None:
                    return
                self._busy = True
                if job.request is None:
                    self._run_alone(job)
                else:
                    self._run_group(job)
                self._checkpoint_between_writes()
        finally:
            try:
                self._db.close_thread_connection()
            except Exception:
                log.exception("cache writer: closing its connection failed")

    def _checkpoint_between_writes(self) -> None:
        """Copy the WAL back into the database after the last write's callers have heard back (the
        writer connection's automatic checkpoint is off: it ran inside the COMMIT that crossed its
        threshold, 10-20 ms on which that write's caller waited, a recall's tombstone included)."""
        since = time.monotonic() - self._last_checkpoint
        if since < CHECKPOINT_QUIET_S:
            return
        with self._lock:
            queued = bool(self._queue)
        if queued and since < CHECKPOINT_MAX_S:
            return
        self._checkpoint()

    def _checkpoint(self) -> None:
        try:
            if self._db.checkpoint():
                self.checkpoints += 1
        except Exception as exc:  # the writes are committed; the next checkpoint copies what this one did not
            known = self._known(exc)
            if known is exc:
                log.exception("cache writer: checkpoint failed")
            else:
                log.warning("cache writer: checkpoint failed: %s", known)
        self._last_checkpoint = time.monotonic()

    def _known(self, exc: BaseException) -> BaseException:
        """The error a caller gets: a known :class:`sync.errors.LocalStorageError` for the environment's
        failures (SQLite's error kept as its cause), else ``exc`` itself."""
        known = storage_error_of(exc, self._db.path)
        if known is None or known is exc:
            return exc
        if isinstance(known, CacheCorrupt):
            note_damage(self._db.path)
        known.__cause__ = exc
        return known

    def _end_failed_transaction(self) -> None:
        """After a failed write: no transaction may stay open on the writer's connection (SQLite rolls
        some back itself, SQLITE_FULL among them; peewee's own rollback may then have failed)."""
        try:
            conn = self._db.connection()
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except Exception:
            log.exception("cache writer: rolling back a failed write failed")

    def _next_job(self) -> _Job | None:
        """The next job to run (its future marked running), or None when the writer is done."""
        idle = False
        with self._lock:
            while True:
                while self._queue:
                    job = self._queue.popleft()
                    if job.future.set_running_or_notify_cancel():
                        return job
                if self._closed:
                    return None
                if idle and not threading.main_thread().is_alive():
                    # The interpreter is exiting without close(): what was queued has run; refuse the rest.
                    self._closed = True
                    return None
                if not self._queued.wait(_IDLE_S) and not self._queue:
                    idle = True
                    if self._busy:  # the first idle moment after writes: give back the page cache
                        self._busy = False
                        self._lock.release()
                        try:
                            self._checkpoint()
                            self._db.writer_idle()
                        except Exception:
                            log.exception("cache writer: releasing memory failed")
                        finally:
                            self._lock.acquire()

    def _next_in_group(self, started: float, count: int, rows: int) -> _Job | None:
        """The next queued request, if it may join the open group."""
        with self._lock:
            while self._queue:
                job = self._queue[0]
                if job.request is None or count >= self._max_requests:
                    return None
                if rows + job.size > self._max_rows or time.monotonic() - started >= self._max_seconds:
                    return None
                self._queue.popleft()
                if job.future.set_running_or_notify_cancel():
                    return job
            return None

    def _run_alone(self, job: _Job) -> None:
        call = job.call
        if call is None:  # pragma: no cover - _next_job runs a job alone only when it has a call
            raise RuntimeError("a write job without a call")
        try:
            result = call()
        except BaseException as exc:  # the caller's to see, as a thread pool hands it over
            self._end_failed_transaction()
            job.future.set_exception(self._known(exc))
            return
        changed = isinstance(result, ChangeSet) and bool(result)
        if changed:
            self._announce([result])
        if changed or isinstance(result, RecallAttempt):
            try:
                transaction.count_commit(self._db, self.commit_key)
            except Exception as exc:  # the write itself is committed: its caller hears so
                self._end_failed_transaction()
                known = self._known(exc)
                if known is exc:
                    log.exception("cache writer: the commit counter was not updated")
                else:
                    log.warning("cache writer: the commit counter was not updated: %s", known)
        job.future.set_result(result)

    def _run_group(self, first: _Job) -> None:
        group = [first]
        started = time.monotonic()

        def requests() -> Iterator[transaction.Request]:
            job: _Job | None = first
            rows = 0
            while job is not None:
                if job.request is None:  # pragma: no cover - _next_in_group groups requests only
                    raise RuntimeError("a grouped write job without a request")
                rows += job.size
                yield job.request
                job = self._next_in_group(started, len(group), rows)
                if job is not None:
                    group.append(job)

        try:
            self._db.tune_writer()
            results = transaction.apply_group(self._db, requests(), commit_key=self.commit_key)
        except BaseException as exc:  # the transaction as a whole failed: none of the group is stored
            self._end_failed_transaction()
            known = self._known(exc)
            for job in group:
                job.future.set_exception(known)
            return
        self._announce([r for r in results if isinstance(r, ChangeSet) and r])
        for job, result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                job.future.set_exception(self._known(result))
            else:
                job.future.set_result(result)

    def _announce(self, changes: Sequence[ChangeSet]) -> None:
        if not changes:
            return
        with self._lock:
            listeners = list(self._listeners)
        for change in changes:
            for listener in listeners:
                try:
                    listener(change)
                except Exception:  # a listener's bug must not fail the write that already committed
                    log.exception("cache change listener %r failed", listener)

    # --- the writes the sync needs (each one transaction; see sync.cache.writes) -------------------

    def apply(self, ops: Sequence[ops.WriteOp], *, advance_seq_to: int | None = None) -> Future[ChangeSet]:
        """Several operations in one transaction, optionally advancing ``last_applied_seq`` with them.

        Atomic on its own (all of it or, with an error for this caller, nothing of it), though it may
        share its commit with the requests queued next to it (group commit, see the module docstring).
        """
        request = transaction.Request(ops, advance_seq_to)
        future: Future[ChangeSet] = Future()
        self._enqueue(_Job(future, request, size=request.size))
        return future

    def upsert_accounts(self, accounts: Sequence[Account]) -> Future[ChangeSet]:
        return self.apply([ops.UpsertAccounts(accounts)])

    def upsert_conversations(
        self,
        items: Sequence[ConversationIn],
        *,
        asked_at: int | None = None,
        advance_seq_to: int | None = None,
    ) -> Future[ChangeSet]:
        """A C1 page; ``asked_at``: when it was asked for (see ``ops.UpsertConversations``)."""
        return self.apply([ops.UpsertConversations(items, asked_at)], advance_seq_to=advance_seq_to)

    def upsert_messages(
        self, items: Sequence[MessageIn], *, advance_seq_to: int | None = None
    ) -> Future[ChangeSet]:
        return self.apply([ops.UpsertMessages(items)], advance_seq_to=advance_seq_to)

    def tombstone(
        self,
        message_ids: Sequence[str],
        reason: TombstoneReason,
        *,
        at: int | None = None,
        advance_seq_to: int | None = None,
    ) -> Future[ChangeSet]:
        return self.apply([ops.Tombstone(message_ids, reason, at)], advance_seq_to=advance_seq_to)

    def update_conversation(
        self,
        account_id: str,
        conversation: str,
        *,
        unread_count: int | None = None,
        starred: bool | None = None,
        last_activity_at: int | None = None,
        advance_seq_to: int | None = None,
    ) -> Future[ChangeSet]:
        op = ops.UpdateConversation(account_id, conversation, unread_count, starred, last_activity_at)
        return self.apply([op], advance_seq_to=advance_seq_to)

    def mark_read(self, account_id: str, conversation: str) -> Future[ChangeSet]:
        return self.update_conversation(account_id, conversation, unread_count=0)

    def set_reactions(
        self,
        account_id: str,
        message: str,
        reactions: Sequence[Reaction],
        *,
        advance_seq_to: int | None = None,
    ) -> Future[ChangeSet]:
        return self.apply(
            [ops.SetReactions(account_id, message, tuple(reactions))], advance_seq_to=advance_seq_to
        )

    def set_conversation_sync(
        self, state: ConversationSyncState, *, caught_up_to: int | None = None
    ) -> Future[ChangeSet]:
        return self.apply([ops.SetConversationSync(state, caught_up_to)])

    def set_account_sync(self, state: AccountSyncState) -> Future[ChangeSet]:
        return self.apply([ops.SetAccountSync(state)])

    def set_last_applied_seq(self, seq: int) -> Future[None]:
        return self.submit(transaction.set_last_applied_seq, seq)

    def begin_recall(
        self,
        account_id: str,
        conversation_urn: str,
        message_urn: str,
        *,
        window_id: str = "",
        started_at: int | None = None,
        conversation_title: str = "",
        message_text: str = "",
    ) -> Future[RecallAttempt]:
        return self.submit(
            recall_log.begin_recall,
            account_id,
            conversation_urn,
            message_urn,
            window_id=window_id,
            started_at=started_at,
            conversation_title=conversation_title,
            message_text=message_text,
        )

    def finish_recall(
        self,
        attempt_id: int,
        state: RecallState,
        *,
        latency_ms: int | None = None,
        error_kind: str = "",
        error_message: str = "",
        finished_at: int | None = None,
    ) -> Future[RecallAttempt]:
        return self.submit(
            recall_log.finish_recall,
            attempt_id,
            state,
            latency_ms=latency_ms,
            error_kind=error_kind,
            error_message=error_message,
            finished_at=finished_at,
        )
