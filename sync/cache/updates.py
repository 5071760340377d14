"""Small writes: a conversation's fields, a message's reactions, per-conversation and per-account state."""

from __future__ import annotations

import logging
import sqlite3

from sync import urns
from sync.cache.db import CacheDatabase
from sync.cache.models import (
    AccountSyncRow,
    ConversationSyncRow,
)
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


def update_conversation(
    db: CacheDatabase, conn: sqlite3.Connection, op: UpdateConversation, acc: Changes
) -> None:
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


def set_reactions(db: CacheDatabase, conn: sqlite3.Connection, op: SetReactions, acc: Changes) -> None:
    mid, reactions = reactions_update(op)
    # An UPDATE can only touch a row that exists, and hiding deletes rows: a tombstoned message stays gone.
    row = conn.execute(
        "UPDATE messages SET reactions = ? WHERE account_id = ? AND message_id = ? AND reactions IS NOT ?"
        " RETURNING conversation_id",
        (reactions, op.account_id, mid, reactions),
    ).fetchone()
    if row is not None:
        acc.updated.add(RowKey(op.account_id, row[0], mid))


def set_conversation_sync(
    db: CacheDatabase, conn: sqlite3.Connection, op: SetConversationSync, acc: Changes
) -> None:
    s = op.state
    conversation = conversation_token(s.conversation_id)
    exists = conn.execute(
        "SELECT 1 FROM conversations WHERE account_id = ? AND conversation_id = ?",
        (s.account_id, conversation),
    ).fetchone()
    if exists is None:
        raise CacheInputError(f"sync state for unknown conversation {s.account_id}/{conversation}")
    ConversationSyncRow.insert(
        account_id=s.account_id,
        conversation_id=conversation,
        oldest_synced_at=s.oldest_synced_at,
        newest_synced_at=s.newest_synced_at,
        older_cursor=s.older_cursor,
        reached_oldest=s.reached_oldest,
        last_reconciled_at=s.last_reconciled_at,
        updated_at=now_ms(),
    ).on_conflict(
        conflict_target=[ConversationSyncRow.account_id, ConversationSyncRow.conversation_id],
        preserve=[
            ConversationSyncRow.oldest_synced_at,
            ConversationSyncRow.newest_synced_at,
            ConversationSyncRow.older_cursor,
            ConversationSyncRow.reached_oldest,
            ConversationSyncRow.last_reconciled_at,
            ConversationSyncRow.updated_at,
        ],
    ).execute(db.peewee)
    if op.caught_up_to is not None:
        conn.execute(
            "UPDATE conversation_sync SET messages_behind_at = NULL"
            " WHERE account_id = ? AND conversation_id = ? AND messages_behind_at <= ?",
            (s.account_id, conversation, op.caught_up_to),
        )


def set_account_sync(db: CacheDatabase, conn: sqlite3.Connection, op: SetAccountSync, acc: Changes) -> None:
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
    AccountSyncRow.insert(
        account_id=s.account_id,
        last_sync_at=s.last_sync_at,
        conversations_cursor=s.conversations_cursor,
        initial_sync_completed=s.initial_sync_completed,
        last_error=s.last_error,
        last_error_kind=s.last_error_kind,
        last_error_refused=s.last_error_refused,
        updated_at=now_ms(),
    ).on_conflict(
        conflict_target=[AccountSyncRow.account_id],
        preserve=[
            AccountSyncRow.last_sync_at,
            AccountSyncRow.conversations_cursor,
            AccountSyncRow.initial_sync_completed,
            AccountSyncRow.last_error,
            AccountSyncRow.last_error_kind,
            AccountSyncRow.last_error_refused,
            AccountSyncRow.updated_at,
        ],
    ).execute(db.peewee)
