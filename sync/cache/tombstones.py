"""Tombstones: hide a message in every mailbox, with its derived data, in one transaction
(ARCHITECTURE.md §5)."""

from __future__ import annotations

import sqlite3

from sync import urns
from sync.cache import recall_log
from sync.cache.ingest import refresh_conversation
from sync.cache.ops import CacheInputError, Changes, Tombstone, now_ms
from sync.model import (
    RowKey,
)


def normalized_ids(op: Tombstone) -> list[str]:
    if not isinstance(op.message_ids, list | tuple):
        raise CacheInputError(
            f"Tombstone.message_ids must be a list or tuple, got {type(op.message_ids).__name__}"
        )
    try:
        return [urns.message_id(value) for value in op.message_ids]
    except urns.UrnError as exc:
        raise CacheInputError(f"cannot tombstone {exc.value!r}: {exc.reason}") from exc


def _lower_unread(conn: sqlite3.Connection, account: str, conversation: str, mid: str, sent_at: int) -> bool:
    """ARCHITECTURE.md §5: unread counts are the server's; a hidden inbound message lowers the count only
    when it is among the newest ``unreadCount`` inbound messages (so it was one of the unread ones)."""
    row = conn.execute(
        "SELECT unread_count FROM conversations WHERE account_id = ? AND conversation_id = ?",
        (account, conversation),
    ).fetchone()
    unread = 0 if row is None else int(row[0])
    if unread <= 0:
        return False
    newer = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM messages WHERE account_id = ? AND conversation_id = ?"
        " AND is_sent_by_owner = 0 AND (sent_at > ? OR (sent_at = ? AND message_id > ?)) LIMIT ?)",
        (account, conversation, sent_at, sent_at, mid, unread),
    ).fetchone()[0]
    if newer >= unread:
        return False
    conn.execute(
        "UPDATE conversations SET unread_count = ? WHERE account_id = ? AND conversation_id = ?",
        (unread - 1, account, conversation),
    )
    return True


def tombstone(conn: sqlite3.Connection, op: Tombstone, acc: Changes) -> None:
    at = now_ms() if op.at is None else op.at
    ids = normalized_ids(op)
    for mid in ids:
        copies = conn.execute(
            "SELECT account_id, conversation_id, sent_at, is_sent_by_owner FROM messages"
            " WHERE message_id = ?",
            (mid,),
        ).fetchall()
        # Where and when the message was (any copy: every mailbox shares the thread token and the time),
        # so that a vendor C1 preview of it, which has no URN, is recognised too (pick_latest).
        place = (copies[0][1], copies[0][2]) if copies else (None, None)
        cursor = conn.execute(
            "INSERT INTO tombstones (message_id, reason, created_at, conversation_id, sent_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (mid, str(op.reason), at, *place),
        )
        if cursor.rowcount:
            acc.tombstones.add(mid)
        affected: set[tuple[str, str]] = set()
        for account, conversation, sent_at, by_owner in copies:
            if not by_owner and _lower_unread(conn, account, conversation, mid, sent_at):
                acc.conversations.add((account, conversation))
            acc.hidden.add(RowKey(account, conversation, mid))
            affected.add((account, conversation))
        # The schema's trigger takes every copy out of the search index in this same statement (and so
        # this transaction): a recalled message is never findable, by any connection, at any moment.
        conn.execute("DELETE FROM messages WHERE message_id = ?", (mid,))
        # The server's preview may name a message this cache never held.
        affected.update(
            (r[0], r[1])
            for r in conn.execute(
                "SELECT account_id, conversation_id FROM conversations WHERE latest_message_id = ?", (mid,)
            )
        )
        for account, conversation in affected:
            if refresh_conversation(conn, account, conversation):
                acc.conversations.add((account, conversation))
    recall_log.confirm_tombstoned(conn, ids, at)
