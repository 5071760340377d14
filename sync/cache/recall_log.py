"""The recall log: every attempt, from pending to its final state, written on the cache's writer thread.

Each function here is run through ``CacheWriter.submit`` (one ``BEGIN IMMEDIATE`` transaction each).
States are :class:`sync.model.RecallState`. Two rules keep the log truthful (spec §9):

- an attempt is ``pending`` only while its process is working on it: a pending row whose process is gone
  (a crash, ``kill -9``) becomes ``unconfirmed`` at the next start (:func:`take_over_stale`), and is then
  settled like any other unconfirmed attempt;
- an ``unconfirmed`` attempt becomes ``recalled`` in the same transaction as its message's tombstone,
  whatever path wrote it (the event stream, reconciliation, a settling re-read, another process):
  :func:`confirm_tombstoned`, called by the tombstone write.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable

from sync import urns
from sync.cache.db import CacheDatabase
from sync.cache.models import RecallLogRow, recall_attempt
from sync.cache.ops import CacheInputError
from sync.model import RecallAttempt, RecallState

__all__ = [
    "CONFIRMED_LATER",
    "begin_recall",
    "confirm_tombstoned",
    "finish_recall",
    "log_cancelled",
    "open_attempts",
    "take_over_stale",
]

CONFIRMED_LATER = "Confirmed later: LinkedIn no longer has the message."
CUT_SHORT = "The app stopped while this recall was in flight; checking whether it went through…"
PREVIEW_CHARS = 120


def _now_ms() -> int:
    return int(time.time() * 1000)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


def _load(db: CacheDatabase, attempt_id: int) -> RecallAttempt:
    query = RecallLogRow.select().where(RecallLogRow.id == attempt_id).bind(db.peewee)
    return recall_attempt(query.get())


def begin_recall(
    db: CacheDatabase,
    account_id: str,
    conversation_urn: str,
    message_urn: str,
    *,
    window_id: str = "",
    started_at: int | None = None,
    conversation_title: str = "",
    message_text: str = "",
    state: RecallState = RecallState.PENDING,
) -> RecallAttempt:
    """Log an attempt as ``pending`` before the DELETE is sent (owned by this process)."""
    try:
        mid = urns.message_id(message_urn)
    except urns.UrnError as exc:
        raise CacheInputError(f"cannot log a recall of {message_urn!r}: {exc.reason}") from exc
    with db.write_transaction():
        attempt_id = RecallLogRow.insert(
            account_id=account_id,
            conversation_urn=conversation_urn,
            message_urn=message_urn,
            message_id=mid,
            window_id=window_id,
            started_at=_now_ms() if started_at is None else started_at,
            outcome=str(state),
            owner_pid=os.getpid(),
            conversation_title=conversation_title,
            message_preview=_first_line(message_text),
        ).execute(db.peewee)
        return _load(db, int(attempt_id))


def finish_recall(
    db: CacheDatabase,
    attempt_id: int,
    state: RecallState,
    *,
    latency_ms: int | None = None,
    error_kind: str = "",
    error_message: str = "",
    finished_at: int | None = None,
) -> RecallAttempt:
    """Record where an attempt stands now. The tombstone itself is a separate ``Tombstone`` write.

    An attempt that is already ``recalled`` stays so (its tombstone may have been written by the event
    stream before this call): evidence is never taken back."""
    with db.write_transaction():
        row = RecallLogRow.select(RecallLogRow.outcome).where(RecallLogRow.id == attempt_id).bind(db.peewee)
        current = row.first()
        if current is None:
            raise CacheInputError(f"no recall attempt {attempt_id}")
        if state is RecallState.UNCONFIRMED and _tombstoned(db, attempt_id):
            # The message.recalled event (or another path) beat this attempt's own evidence.
            state, error_kind, error_message = RecallState.RECALLED, "", CONFIRMED_LATER
        if current.outcome != RecallState.RECALLED:
            RecallLogRow.update(
                outcome=str(state),
                latency_ms=latency_ms,
                error_kind=error_kind,
                error_message=error_message,
                finished_at=None if not state.final else (_now_ms() if finished_at is None else finished_at),
            ).where(RecallLogRow.id == attempt_id).execute(db.peewee)
        return _load(db, attempt_id)


def _tombstoned(db: CacheDatabase, attempt_id: int) -> bool:
    row = (
        db.connection()
        .execute(
            "SELECT 1 FROM recall_log JOIN tombstones USING (message_id) WHERE recall_log.id = ?",
            (attempt_id,),
        )
        .fetchone()
    )
    return row is not None


def log_cancelled(
    db: CacheDatabase,
    account_id: str,
    conversation_urn: str,
    message_urn: str,
    *,
    window_id: str = "",
    conversation_title: str = "",
    message_text: str = "",
) -> RecallAttempt:
    """A recall cancelled during its grace period: nothing was sent, but the log shows it."""
    attempt = begin_recall(
        db,
        account_id,
        conversation_urn,
        message_urn,
        window_id=window_id,
        conversation_title=conversation_title,
        message_text=message_text,
        state=RecallState.CANCELLED,
    )
    return finish_recall(db, attempt.attempt_id, RecallState.CANCELLED, latency_ms=0)


def open_attempts(db: CacheDatabase) -> list[RecallAttempt]:
    """Every attempt not in a final state (pending or unconfirmed), oldest first."""
    query = (
        RecallLogRow.select()
        .where(RecallLogRow.outcome.in_([str(RecallState.PENDING), str(RecallState.UNCONFIRMED)]))
        .order_by(RecallLogRow.started_at, RecallLogRow.id)
        .bind(db.peewee)
    )
    return [recall_attempt(row) for row in query]


def _alive(pid: int | None) -> bool:
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def take_over_stale(db: CacheDatabase, in_flight: Iterable[int] = ()) -> list[RecallAttempt]:
    """Pending attempts no process is working on any more become ``unconfirmed``; returns them.

    A pending row is stale when its process is gone, or when it is this process's own and not among
    ``in_flight`` (an attempt whose final write failed, e.g. on a full disk)."""
    mine = os.getpid()
    busy = set(in_flight)
    stale = [
        attempt.attempt_id
        for attempt, pid in _pending_with_pids(db)
        if (pid == mine and attempt.attempt_id not in busy) or (pid != mine and not _alive(pid))
    ]
    if not stale:
        return []
    with db.write_transaction():
        RecallLogRow.update(
            outcome=str(RecallState.UNCONFIRMED), error_kind="cut_short", error_message=CUT_SHORT
        ).where(RecallLogRow.id.in_(stale), RecallLogRow.outcome == str(RecallState.PENDING)).execute(
            db.peewee
        )
    return [_load(db, attempt_id) for attempt_id in stale]


def _pending_with_pids(db: CacheDatabase) -> list[tuple[RecallAttempt, int | None]]:
    query = RecallLogRow.select().where(RecallLogRow.outcome == str(RecallState.PENDING)).bind(db.peewee)
    return [(recall_attempt(row), row.owner_pid) for row in query]


def confirm_tombstoned(conn: sqlite3.Connection, message_ids: Iterable[str], at: int) -> int:
    """Inside a tombstone's transaction: its unconfirmed attempts are now recalled (returns how many)."""
    changed = 0
    for mid in message_ids:
        changed += conn.execute(
            "UPDATE recall_log SET outcome = ?, finished_at = ?, error_kind = '', error_message = ?"
            " WHERE message_id = ? AND outcome = ?",
            (str(RecallState.RECALLED), at, CONFIRMED_LATER, mid, str(RecallState.UNCONFIRMED)),
        ).rowcount
    return changed
