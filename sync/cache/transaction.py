"""The cache's write transactions: each call is one ``BEGIN IMMEDIATE`` transaction returning a ChangeSet.

The operations are :mod:`sync.cache.ops`; their bodies live by job in :mod:`sync.cache.ingest`,
:mod:`sync.cache.tombstones` and :mod:`sync.cache.updates`; this module checks an envelope, applies it
(alone or as a group commit) and counts commits.

Run them through :class:`sync.cache.writer.CacheWriter` (the one writer thread of a process);
they are plain functions of an open :class:`CacheDatabase` so that they can be composed into one
transaction (:func:`apply`) and tested directly.

Two invariants hold on every path here:

* A message whose normalized id has a tombstone is never inserted or updated: triggers in the
  schema refuse it whatever the statement, and the Python-side check keeps change sets exact.
  A tombstone may come first: the message is then born dead.
* Derived data (each conversation's latest visible message, its unread count) is updated in the
  same transaction as the write that changes it.

Hiding a message deletes its cached copies (every account's); the tombstone is what remains, so a
recalled message's text does not outlive the recall on this machine either. The search index follows in
the same transaction: a deleted or changed message leaves it in the same statement (the schema's
triggers), new and changed ones enter it just before the ``COMMIT`` (:mod:`sync.cache.search`).

Every body runs SQL text on the transaction's connection (the cache's one query style: see
:mod:`sync.cache`). The message upsert is the hot path: ``executemany``, and only rows that are new or
whose fields differ are written (touching unchanged rows costs 1.8×, ENVIRONMENT.md).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sync.cache import search
from sync.cache.db import CacheDatabase
from sync.cache.ingest import upsert_accounts, upsert_conversations, upsert_messages
from sync.cache.ops import (
    LAST_APPLIED_SEQ,
    CacheInputError,
    Changes,
    SetAccountSync,
    SetConversationSync,
    SetReactions,
    Tombstone,
    UpdateConversation,
    UpsertAccounts,
    UpsertConversations,
    UpsertMessages,
    WriteOp,
)
from sync.cache.tombstones import normalized_ids, tombstone
from sync.cache.updates import (
    conversation_token,
    reactions_update,
    set_account_sync,
    set_conversation_sync,
    set_reactions,
    update_conversation,
)
from sync.cache.validate import is_int
from sync.model import (
    ChangeSet,
    TombstoneReason,
)

log = logging.getLogger(__name__)

_APPLY: Final[dict[type, Callable[[sqlite3.Connection, Any, Changes], None]]] = {
    UpsertAccounts: upsert_accounts,
    UpsertConversations: upsert_conversations,
    UpsertMessages: upsert_messages,
    Tombstone: tombstone,
    UpdateConversation: update_conversation,
    SetReactions: set_reactions,
    SetConversationSync: set_conversation_sync,
    SetAccountSync: set_account_sync,
}
_ITEMS: Final[dict[type, str]] = {
    UpsertAccounts: "accounts",
    UpsertConversations: "items",
    UpsertMessages: "items",
}


def _check_envelope(ops: object) -> Sequence[WriteOp]:
    """Reject, before anything is written, whatever is malformed as a whole."""
    if not isinstance(ops, list | tuple):
        raise CacheInputError(f"expected a list of write operations, got {type(ops).__name__}")
    for op in ops:
        if type(op) not in _APPLY:
            raise CacheInputError(f"unknown write operation {type(op).__name__}")
        items = _ITEMS.get(type(op))
        if items is not None and not isinstance(getattr(op, items), list | tuple):
            got = type(getattr(op, items)).__name__
            raise CacheInputError(f"{type(op).__name__}.{items} must be a list or tuple, got {got}")
        if isinstance(op, Tombstone):
            normalized_ids(op)
            if not isinstance(op.reason, TombstoneReason):
                raise CacheInputError(f"tombstone reason must be a TombstoneReason, got {op.reason!r}")
        if isinstance(op, UpdateConversation):
            conversation_token(op.conversation)
            counts = {"unread_count": op.unread_count, "last_activity_at": op.last_activity_at}
            for name, value in counts.items():
                if value is not None and not (is_int(value) and value >= 0):
                    raise CacheInputError(f"UpdateConversation.{name} must be an int ≥ 0, got {value!r}")
            if op.starred is not None and not isinstance(op.starred, bool):
                raise CacheInputError(f"UpdateConversation.starred must be a bool, got {op.starred!r}")
        if isinstance(op, SetReactions):
            reactions_update(op)
    return ops


def _read_seq(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (LAST_APPLIED_SEQ,)).fetchone()
    return None if row is None else int(row[0])


def _write_seq(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (LAST_APPLIED_SEQ, str(seq)),
    )


def _check_request(ops: object, advance_seq_to: object) -> Sequence[WriteOp]:
    checked = _check_envelope(ops)
    if advance_seq_to is not None and not is_int(advance_seq_to):
        raise CacheInputError(f"advance_seq_to must be an int, got {advance_seq_to!r}")
    return checked


def _apply_checked(
    conn: sqlite3.Connection, checked: Sequence[WriteOp], advance_seq_to: int | None
) -> ChangeSet:
    """The body of :func:`apply`, inside a transaction the caller opened."""
    if advance_seq_to is not None:
        current = _read_seq(conn)
        if current is not None and advance_seq_to <= current:
            return ChangeSet()
    acc = Changes()
    for op in checked:
        _APPLY[type(op)](conn, op, acc)
    if advance_seq_to is not None:
        _write_seq(conn, advance_seq_to)
    return acc.freeze()


def apply(db: CacheDatabase, ops: Sequence[WriteOp], *, advance_seq_to: int | None = None) -> ChangeSet:
    """Apply ``ops`` in order in one ``BEGIN IMMEDIATE`` transaction and say what changed.

    With ``advance_seq_to`` (an event's ``seq``) the stored ``last_applied_seq`` is set to it in the
    same transaction; when the stored value is already ≥ it, the event was applied before and
    nothing is written (empty ChangeSet). Malformed envelopes raise :class:`CacheInputError` and
    change nothing; malformed items are skipped and counted in ``ChangeSet.skipped``.
    """
    checked = _check_request(ops, advance_seq_to)
    with db.write_transaction():
        conn = db.connection()
        change = _apply_checked(conn, checked, advance_seq_to)
        search.index_new_messages(conn)
        return change


@dataclass(frozen=True, slots=True)
class Request:
    """One caller's :func:`apply` (its operations and the event ``seq`` they advance to), as
    :func:`apply_group` takes it."""

    ops: Sequence[WriteOp]
    advance_seq_to: int | None = None

    @property
    def size(self) -> int:
        """Roughly how many rows it writes: what bounds a group (a malformed envelope counts 1)."""
        total = 0
        for op in self.ops if isinstance(self.ops, list | tuple) else ():
            name = "message_ids" if isinstance(op, Tombstone) else _ITEMS.get(type(op))
            items = getattr(op, name, None) if name is not None else None
            total += len(items) if isinstance(items, list | tuple) else 1
        return max(total, 1)


def apply_group(
    db: CacheDatabase, requests: Iterable[Request], *, commit_key: str | None = None
) -> list[ChangeSet | Exception]:
    """Apply several callers' requests in order in ONE ``BEGIN IMMEDIATE`` transaction (group commit).

    Each request is applied exactly as :func:`apply` would apply it alone after the ones before it,
    and is atomic on its own: a request that raises changes nothing and its exception is its result,
    while the others' writes stay. ``requests`` is consumed lazily, so the writer can keep adding what
    is queued while the transaction is open. With ``commit_key`` the writer's commit counter
    (:func:`count_commit`) is bumped inside the same transaction when any request changed something.

    Requests run without a savepoint: SQLite copies every page a savepoint modifies into a statement
    journal first, which costs a quarter of the ingest's speed on random-order indexes. When one
    raises (rare: malformed envelopes are refused before anything runs), the transaction is rolled
    back and the requests before it that succeeded are applied again, each in its own savepoint this
    time (a request that failed keeps its error and is not run again).

    Results are in request order, valid only once this returns: when the transaction as a whole
    fails (``BEGIN``, ``COMMIT``, or an error after which SQLite rolled the whole transaction back,
    such as a full disk), nothing of the group is stored and the exception propagates.
    """
    conn = db.connection()
    done: list[Request] = []
    results: list[ChangeSet | Exception] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for request in requests:
            try:
                checked = _check_request(request.ops, request.advance_seq_to)
            except Exception as exc:  # a malformed envelope: nothing of it ran, the caller gets the error
                done.append(request)
                results.append(exc)
                continue
            try:
                change: ChangeSet | Exception = _apply_checked(conn, checked, request.advance_seq_to)
            except Exception as exc:
                change = exc
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                results = [
                    r if isinstance(r, Exception) else _apply_in_savepoint(conn, q)
                    for q, r in zip(done, results, strict=True)
                ]
            done.append(request)
            results.append(change)
        search.index_new_messages(conn)
        if commit_key is not None and any(isinstance(r, ChangeSet) and r for r in results):
            _bump_commits(conn, commit_key)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return results


def _apply_in_savepoint(conn: sqlite3.Connection, request: Request) -> ChangeSet | Exception:
    """One request of a group being applied again after another one failed; see :func:`apply_group`."""
    checked = _check_request(request.ops, request.advance_seq_to)  # it passed before
    conn.execute("SAVEPOINT request")
    try:
        change = _apply_checked(conn, checked, request.advance_seq_to)
    except Exception as exc:
        if not conn.in_transaction:
            raise  # SQLite rolled back the whole transaction (SQLITE_FULL, SQLITE_IOERR, ...)
        conn.execute("ROLLBACK TO request")
        conn.execute("RELEASE request")
        return exc
    conn.execute("RELEASE request")
    return change


COMMITS_PREFIX: Final = "commits:"


def _bump_commits(conn: sqlite3.Connection, key: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, '1')"
        " ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (key,),
    )


def count_commit(db: CacheDatabase, key: str) -> None:
    """Count one visible commit of one writer (its own small transaction, right after the write).

    ``PRAGMA data_version`` says *that* another connection committed, not *who*: a process that polls
    it would also see its own writer thread's commits. The per-writer counters let it tell another
    process's commits (refresh what is shown) from its own (already applied as change sets). Readers
    only compare the sum of the others' counters with the last one they saw: it must move with every
    commit that changed something, by how much does not matter. :func:`apply_group` bumps it inside
    its own transaction instead.
    """
    with db.write_transaction():
        _bump_commits(db.connection(), key)


def set_last_applied_seq(db: CacheDatabase, seq: int) -> None:
    """Set ``last_applied_seq`` unconditionally (a sandbox reset restarts ``seq`` at 0)."""
    with db.write_transaction():
        _write_seq(db.connection(), seq)
