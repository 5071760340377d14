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
from typing import Any, Final

from sync import urns
from sync.cache.db import CacheDatabase
from sync.cache.ops import CacheInputError
from sync.model import RecallAttempt, RecallState

__all__ = [
    "CONFIRMED_LATER",
    "RECALL_COLUMNS",
    "begin_recall",
    "confirm_tombstoned",
    "finish_recall",
    "log_cancelled",
    "open_attempts",
    "recall_attempt",
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


RECALL_COLUMNS: Final = (
    "id, account_id, conversation_urn, message_urn, message_id, started_at, outcome, latency_ms, error_kind,"
    " error_message, window_id, finished_at, conversation_title, message_preview"
)
"""The ``recall_log`` columns :func:`recall_attempt` reads, in its order."""


def recall_attempt(row: sqlite3.Row | tuple[Any, ...]) -> RecallAttempt:
    """The frozen value of one recall-log row selected as :data:`RECALL_COLUMNS`."""
    return RecallAttempt(
        attempt_id=row[0],
        account_id=row[1],
        conversation_urn=row[2],
        message_urn=row[3],
        message_id=row[4],
        started_at=row[5],
        outcome=RecallState(row[6]),
        latency_ms=row[7],
        error_kind=row[8],
        error_message=row[9],
        window_id=row[10],
        finished_at=row[11],
        conversation_title=row[12],
        message_preview=row[13],
    )


def _load(db: CacheDatabase, attempt_id: int) -> RecallAttempt:
    row = (
        db.connection()
        .execute(f"SELECT {RECALL_COLUMNS} FROM recall_log WHERE id = ?", (attempt_id,))  # noqa: S608 - constant columns
        .fetchone()
    )
    if row is None:
        raise CacheInputError(f"no recall attempt {attempt_id}")
    return recall_attempt(row)


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
        cursor = db.connection().execute(
            "INSERT INTO recall_log (account_id, conversation_urn, message_urn, message_id, window_id,"
            " started_at, outcome, owner_pid, conversation_title, message_preview)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account_id,
                conversation_urn,
                message_urn,
                mid,
                window_id,
                _now_ms() if started_at is None else started_at,
                str(state),
                os.getpid(),
                conversation_title,
                _first_line(message_text),
            ),
        )
        if cursor.lastrowid is None:  # pragma: no cover - an INSERT that succeeded always has one
            raise CacheInputError(f"the recall of {message_urn!r} was not logged")
        return _load(db, cursor.lastrowid)


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
        conn = db.connection()
        current = conn.execute("SELECT outcome FROM recall_log WHERE id = ?", (attempt_id,)).fetchone()
        if current is None:
            raise CacheInputError(f"no recall attempt {attempt_id}")
        if state is RecallState.UNCONFIRMED and _tombstoned(conn, attempt_id):
            # The message.recalled event (or another path) beat this attempt's own evidence.
            state, error_kind, error_message = RecallState.RECALLED, "", CONFIRMED_LATER
        if current[0] != RecallState.RECALLED:
            conn.execute(
                "UPDATE recall_log SET outcome = ?, latency_ms = ?, error_kind = ?, error_message = ?,"
                " finished_at = ? WHERE id = ?",
                (
                    str(state),
                    latency_ms,
                    error_kind,
                    error_message,
                    None if not state.final else (_now_ms() if finished_at is None else finished_at),
                    attempt_id,
                ),
            )
        return _load(db, attempt_id)


def _tombstoned(conn: sqlite3.Connection, attempt_id: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM recall_log JOIN tombstones USING (message_id) WHERE recall_log.id = ?",
        (attempt_id,),
    ).fetchone()
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
    rows = db.connection().execute(
        f"SELECT {RECALL_COLUMNS} FROM recall_log WHERE outcome IN (?, ?)"  # noqa: S608 - constant columns
        " ORDER BY started_at, id",
        (str(RecallState.PENDING), str(RecallState.UNCONFIRMED)),
    )
    return [recall_attempt(row) for row in rows]


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
        db.connection().executemany(
            "UPDATE recall_log SET outcome = ?, error_kind = 'cut_short', error_message = ?"
            " WHERE id = ? AND outcome = ?",
            [(str(RecallState.UNCONFIRMED), CUT_SHORT, a, str(RecallState.PENDING)) for a in stale],
        )
    return [_load(db, attempt_id) for attempt_id in stale]


def _pending_with_pids(db: CacheDatabase) -> list[tuple[RecallAttempt, int | None]]:
    rows = db.connection().execute(
        f"SELECT {RECALL_COLUMNS}, owner_pid FROM recall_log WHERE outcome = ?",  # noqa: S608 - constant columns
        (str(RecallState.PENDING),),
    )
    return [(recall_attempt(row), row[14]) for row in rows]


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
