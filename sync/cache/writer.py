"""The cache's single writer: one thread per process through which every write goes, in order.

Sync batches, tombstones and event applications are queued to it; each returns a
``concurrent.futures.Future`` (or, awaited through :meth:`CacheWriter.run`, the result itself).
Listeners registered with :meth:`CacheWriter.subscribe` see every non-empty ChangeSet on the
writer thread right after its commit, whoever submitted the write — the desktop layer turns
them into Qt signals there.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

from sync.cache import writes
from sync.cache.db import CacheClosed, CacheDatabase
from sync.model import (
    Account,
    AccountSyncState,
    ChangeSet,
    ConversationIn,
    ConversationSyncState,
    MessageIn,
    Reaction,
    RecallAttempt,
    RecallOutcome,
    TombstoneReason,
)

__all__ = ["CacheWriter"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

ChangeListener = Callable[[ChangeSet], None]


class CacheWriter:
    """Owns the writer thread of one open cache. Thread-safe: submit from any thread or loop."""

    def __init__(self, db: CacheDatabase) -> None:
        self._db = db
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-writer")
        self._listeners: list[ChangeListener] = []
        self._lock = threading.Lock()
        self._closed = False
        self.commit_key = f"{writes.COMMITS_PREFIX}{uuid.uuid4().hex}"
        """This writer's row in ``meta``: other processes tell its commits from theirs by it."""

    # --- generic ----------------------------------------------------------------------------------

    def submit(
        self, fn: Callable[Concatenate[CacheDatabase, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        """Queue ``fn(db, *args, **kwargs)`` on the writer thread; the future carries its result."""
        with self._lock:
            if self._closed:
                raise CacheClosed("the cache writer is closed")
            return self._executor.submit(self._call, fn, *args, **kwargs)

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
            self._executor.submit(self._db.close_thread_connection)
        self._executor.shutdown(wait=True)

    @property
    def closed(self) -> bool:
        return self._closed

    def _call(
        self, fn: Callable[Concatenate[CacheDatabase, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        result = fn(self._db, *args, **kwargs)
        changed = isinstance(result, ChangeSet) and bool(result)
        if changed:
            with self._lock:
                listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(result)  # type: ignore[arg-type]
                except Exception:  # a listener's bug must not fail the write that already committed
                    log.exception("cache change listener %r failed", listener)
        if changed or isinstance(result, RecallAttempt):
            writes.count_commit(self._db, self.commit_key)
        return result

    # --- the writes the sync needs (each one transaction; see sync.cache.writes) -------------------

    def apply(self, ops: Sequence[writes.WriteOp], *, advance_seq_to: int | None = None) -> Future[ChangeSet]:
        """Several operations in one transaction, optionally advancing ``last_applied_seq`` with them."""
        return self.submit(writes.apply, ops, advance_seq_to=advance_seq_to)

    def upsert_accounts(self, accounts: Sequence[Account]) -> Future[ChangeSet]:
        return self.apply([writes.UpsertAccounts(accounts)])

    def upsert_conversations(
        self, items: Sequence[ConversationIn], *, advance_seq_to: int | None = None
    ) -> Future[ChangeSet]:
        return self.apply([writes.UpsertConversations(items)], advance_seq_to=advance_seq_to)

    def upsert_messages(
        self, items: Sequence[MessageIn], *, advance_seq_to: int | None = None
    ) -> Future[ChangeSet]:
        return self.apply([writes.UpsertMessages(items)], advance_seq_to=advance_seq_to)

    def tombstone(
        self,
        message_ids: Sequence[str],
        reason: TombstoneReason,
        *,
        at: int | None = None,
        advance_seq_to: int | None = None,
    ) -> Future[ChangeSet]:
        return self.apply([writes.Tombstone(message_ids, reason, at)], advance_seq_to=advance_seq_to)

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
        op = writes.UpdateConversation(account_id, conversation, unread_count, starred, last_activity_at)
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
            [writes.SetReactions(account_id, message, tuple(reactions))], advance_seq_to=advance_seq_to
        )

    def set_conversation_sync(
        self, state: ConversationSyncState, *, caught_up_to: int | None = None
    ) -> Future[ChangeSet]:
        return self.apply([writes.SetConversationSync(state, caught_up_to)])

    def set_account_sync(self, state: AccountSyncState) -> Future[ChangeSet]:
        return self.apply([writes.SetAccountSync(state)])

    def set_last_applied_seq(self, seq: int) -> Future[None]:
        return self.submit(writes.set_last_applied_seq, seq)

    def begin_recall(
        self,
        account_id: str,
        conversation_urn: str,
        message_urn: str,
        *,
        window_id: str = "",
        started_at: int | None = None,
    ) -> Future[RecallAttempt]:
        return self.submit(
            writes.begin_recall,
            account_id,
            conversation_urn,
            message_urn,
            window_id=window_id,
            started_at=started_at,
        )

    def finish_recall(
        self,
        attempt_id: int,
        outcome: RecallOutcome,
        *,
        latency_ms: int | None = None,
        error_kind: str = "",
        error_message: str = "",
        finished_at: int | None = None,
    ) -> Future[RecallAttempt]:
        return self.submit(
            writes.finish_recall,
            attempt_id,
            outcome,
            latency_ms=latency_ms,
            error_kind=error_kind,
            error_message=error_message,
            finished_at=finished_at,
        )
