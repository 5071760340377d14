"""Small writes: a conversation's fields, a message's reactions, per-conversation and per-account state."""

from __future__ import annotations

import logging
import sqlite3

from sync import urns
from sync.cache.ops import (
    CacheInputError,
    Changes,
    Invalid,
    SetAccountSync,
    SetConversationSync,
    SetReactions,
    UpdateConversation,
    now_ms,
)
from sync.cache.validate import reactions_json
from sync.model import RowKey

log = logging.getLogger(__name__)


def conversation_token(value: str) -> str:
    try:
        return urns.conversation_id(value)
    except urns.UrnError as exc:
        raise CacheInputError(f"not a conversation id: {exc}") from exc


def update_conversation(conn: sqlite3.Connection, op: UpdateConversation, acc: Changes) -> None:
    conversation = conversation_token(op.conversation)
    row = conn.execute(
        "SELECT unread_count, starred, last_activity_at FROM conversations"
        " WHERE account_id = ? AND conversation_id = ?",
        (op.account_id, conversation),
    ).fetchone()
    if row is None:
        log.debug("cache: update of unknown conversation %s/%s ignored", op.account_id, conversation)
        return
    new = (
        row[0] if op.unread_count is None else op.unread_count,
        row[1] if op.starred is None else int(op.starred),
        row[2] if op.last_activity_at is None else max(row[2], op.last_activity_at),
    )
    if op.unread_count is not None or op.starred is not None:
        # Newer than any C1 page asked for before now, even when the row already says so: a page on its
        # way may still say otherwise.
        conn.execute(
            "UPDATE conversations SET local_state_at = ? WHERE account_id = ? AND conversation_id = ?",
            (now_ms(), op.account_id, conversation),
        )
    if new == tuple(row):
        return
    conn.execute(
        "UPDATE conversations SET unread_count = ?, starred = ?, last_activity_at = ?"
        " WHERE account_id = ? AND conversation_id = ?",
        (*new, op.account_id, conversation),
    )
    acc.conversations.add((op.account_id, conversation))


def reactions_update(op: SetReactions) -> tuple[str, str]:
    """(normalized message id, reactions JSON), or CacheInputError."""
    try:
        return urns.message_id(op.message), reactions_json(op.reactions)
    except (urns.UrnError, Invalid) as exc:
        raise CacheInputError(f"bad reactions update: {exc}") from exc


def set_reactions(conn: sqlite3.Connection, op: SetReactions, acc: Changes) -> None:
    mid, reactions = reactions_update(op)
    # An UPDATE can only touch a row that exists, and hiding deletes rows: a tombstoned message stays gone.
    row = conn.execute(
        "UPDATE messages SET reactions = ? WHERE account_id = ? AND message_id = ? AND reactions IS NOT ?"
        " RETURNING conversation_id",
        (reactions, op.account_id, mid, reactions),
    ).fetchone()
    if row is not None:
        acc.updated.add(RowKey(op.account_id, row[0], mid))


def set_conversation_sync(conn: sqlite3.Connection, op: SetConversationSync, acc: Changes) -> None:
    s = op.state
    conversation = conversation_token(s.conversation_id)
    exists = conn.execute(
        "SELECT 1 FROM conversations WHERE account_id = ? AND conversation_id = ?",
        (s.account_id, conversation),
    ).fetchone()
    if exists is None:
        raise CacheInputError(f"sync state for unknown conversation {s.account_id}/{conversation}")
    # messages_behind_at is not written here: only C2 catching up (below) clears it.
    conn.execute(
        "INSERT INTO conversation_sync (account_id, conversation_id, oldest_synced_at, newest_synced_at,"
        " older_cursor, reached_oldest, last_reconciled_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (account_id, conversation_id) DO UPDATE SET"
        " oldest_synced_at = excluded.oldest_synced_at, newest_synced_at = excluded.newest_synced_at,"
        " older_cursor = excluded.older_cursor, reached_oldest = excluded.reached_oldest,"
        " last_reconciled_at = excluded.last_reconciled_at, updated_at = excluded.updated_at",
        (
            s.account_id,
            conversation,
            s.oldest_synced_at,
            s.newest_synced_at,
            s.older_cursor,
            bool(s.reached_oldest),
            s.last_reconciled_at,
            now_ms(),
        ),
    )
    if op.caught_up_to is not None:
        conn.execute(
            "UPDATE conversation_sync SET messages_behind_at = NULL"
            " WHERE account_id = ? AND conversation_id = ? AND messages_behind_at <= ?",
            (s.account_id, conversation, op.caught_up_to),
        )


def set_account_sync(conn: sqlite3.Connection, op: SetAccountSync, acc: Changes) -> None:
    s = op.state
    if conn.execute("SELECT 1 FROM accounts WHERE account_id = ?", (s.account_id,)).fetchone() is None:
        raise CacheInputError(f"sync state for unknown account {s.account_id!r}")
    before = conn.execute(
        "SELECT last_error, last_error_kind, last_error_refused FROM account_sync WHERE account_id = ?",
        (s.account_id,),
    ).fetchone()
    if tuple(before or ("", "", 0)) != (s.last_error, s.last_error_kind, int(s.last_error_refused)):
        # Whether an account needs attention is shown in every window and process: a change set says so.
        acc.accounts.add(s.account_id)
    conn.execute(
        "INSERT INTO account_sync (account_id, last_sync_at, conversations_cursor, initial_sync_completed,"
        " last_error, last_error_kind, last_error_refused, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (account_id) DO UPDATE SET"
        " last_sync_at = excluded.last_sync_at, conversations_cursor = excluded.conversations_cursor,"
        " initial_sync_completed = excluded.initial_sync_completed, last_error = excluded.last_error,"
        " last_error_kind = excluded.last_error_kind, last_error_refused = excluded.last_error_refused,"
        " updated_at = excluded.updated_at",
        (
            s.account_id,
            s.last_sync_at,
            s.conversations_cursor,
            bool(s.initial_sync_completed),
            s.last_error,
            s.last_error_kind,
            bool(s.last_error_refused),
            now_ms(),
        ),
    )
