"""The ingest hot path: accounts, conversations (with their derived latest message) and messages, upserted
only where something changed; tombstoned ids never come back (ARCHITECTURE.md §5).

The search index follows exactly the rows written here, in the same transaction: a message whose text,
sender or time changed leaves it in the upsert's own statement (a trigger), and the new and changed rows
enter it just before the transaction commits (``sync.cache.search.index_new_messages``); unchanged rows,
which the upsert does not touch, are not re-indexed."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Final

from sync import urns
from sync.cache.ops import CHUNK, Changes, Invalid, UpsertAccounts, UpsertConversations, UpsertMessages
from sync.cache.validate import (
    NO_LATEST,
    NO_REACTIONS,
    ConversationTuple,
    Latest,
    MessageTuple,
    UrnMemo,
    check_bool,
    check_text,
    conversation_row,
    message_row,
    need,
    parse_or_invalid,
)
from sync.model import (
    Account,
    RowKey,
)

log = logging.getLogger(__name__)

# --- shared derived-data helpers ------------------------------------------------------------------


def chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def known_accounts(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT account_id FROM accounts")}


def tombstoned(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` (sorted, so that each probe walks the index in order) have a tombstone."""
    found: set[str] = set()
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT message_id FROM tombstones WHERE message_id IN ({marks})"  # noqa: S608 - only '?'s
        found.update(r[0] for r in conn.execute(sql, chunk))
    return found


def newest_cached(conn: sqlite3.Connection, account: str, conversation: str) -> Latest | None:
    row = conn.execute(
        "SELECT message_id, message_urn, text, sent_at, sender_name, has_attachment FROM messages"
        " WHERE account_id = ? AND conversation_id = ? ORDER BY sent_at DESC, message_id DESC LIMIT 1",
        (account, conversation),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4], row[5])


def pick_latest(
    conn: sqlite3.Connection, conversation: str, candidate: Latest | None, newest: Latest | None
) -> Latest | None:
    """The newest visible message: the candidate (server's or stored) unless tombstoned or older than
    the newest cached message (cached rows are never tombstoned: hiding deletes them)."""
    if candidate is not None and (
        conn.execute("SELECT 1 FROM tombstones WHERE message_id = ?", (candidate[0],)).fetchone()
        if candidate[0] is not None
        # A preview without a URN (spec §8) is known only by its conversation and time.
        else conn.execute(
            "SELECT 1 FROM tombstones WHERE conversation_id = ? AND sent_at = ?", (conversation, candidate[3])
        ).fetchone()
    ):
        candidate = None
    if newest is None:
        return candidate
    if candidate is None or (newest[3], newest[0] or "") >= (candidate[3], candidate[0] or ""):
        return newest
    return candidate


def refresh_conversation(conn: sqlite3.Connection, account: str, conversation: str) -> bool:
    """Recompute a conversation's latest visible message (and activity) after its messages changed."""
    row = conn.execute(
        "SELECT last_activity_at, latest_message_id, latest_message_urn, latest_text, latest_sent_at,"
        " latest_sender_name, latest_has_attachment FROM conversations"
        " WHERE account_id = ? AND conversation_id = ?",
        (account, conversation),
    ).fetchone()
    if row is None:
        return False
    stored: Latest | None = None if row[1] is None else tuple(row[1:])
    latest = pick_latest(conn, conversation, stored, newest_cached(conn, account, conversation))
    activity = max(row[0], latest[3]) if latest is not None else row[0]
    if latest == stored and activity == row[0]:
        return False
    conn.execute(
        "UPDATE conversations SET last_activity_at = ?, latest_message_id = ?, latest_message_urn = ?,"
        " latest_text = ?, latest_sent_at = ?, latest_sender_name = ?, latest_has_attachment = ?"
        " WHERE account_id = ? AND conversation_id = ?",
        (activity, *(latest or NO_LATEST), account, conversation),
    )
    return True


# --- the operations' bodies -----------------------------------------------------------------------


def upsert_accounts(conn: sqlite3.Connection, op: UpsertAccounts, acc: Changes) -> None:
    rows: dict[str, tuple[str, str, str, str, str, int, int | None]] = {}
    for account in op.accounts:
        try:
            need(isinstance(account, Account), f"expected an Account, got {type(account).__name__}")
            mailbox = check_text(account.mailbox, "mailbox")
            if mailbox:
                mailbox = str(parse_or_invalid(urns.parse_profile, mailbox, "mailbox"))
            rows[account.account_id] = (
                check_text(account.account_id, "account_id", empty=False),
                check_text(account.name, "name"),
                check_text(account.public_id, "public_id"),
                mailbox,
                check_text(account.status, "status"),
                check_bool(account.enabled, "enabled"),
                None if account.api_seat is None else check_bool(account.api_seat, "api_seat"),
            )
        except Invalid as exc:
            acc.skip("account", exc, account)
    for account_id, new in rows.items():
        old = conn.execute(
            "SELECT account_id, name, public_id, mailbox, status, enabled, api_seat FROM accounts"
            " WHERE account_id = ?",
            (account_id,),
        ).fetchone()
        if old is not None and not new[3]:
            new = (*new[:3], old[3], *new[4:])  # a mailbox learnt from A2 or C1 is not forgotten
        if old is not None and tuple(old) == new:
            continue
        conn.execute(
            "INSERT INTO accounts (account_id, name, public_id, mailbox, status, enabled, api_seat)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET name = excluded.name, public_id = excluded.public_id,"
            " mailbox = excluded.mailbox, status = excluded.status, enabled = excluded.enabled,"
            " api_seat = excluded.api_seat",
            new,
        )
        acc.accounts.add(account_id)


def upsert_conversations(conn: sqlite3.Connection, op: UpsertConversations, acc: Changes) -> None:
    rows: dict[tuple[str, str], ConversationTuple] = {}
    for item in op.items:
        try:
            row = conversation_row(item)
        except Invalid as exc:
            acc.skip("conversation", exc, item)
            continue
        rows[(row.account_id, row.conversation_id)] = row
    accounts = known_accounts(conn) if rows else set()
    for (account, conversation), row in rows.items():
        if account not in accounts:
            acc.skip("conversation", f"unknown account {account!r}", row.conversation_urn)
            continue
        found = conn.execute(
            "SELECT conversation_urn, last_activity_at, unread_count, starred, participants,"
            " latest_message_id, latest_message_urn, latest_text, latest_sent_at, latest_sender_name,"
            " latest_has_attachment, local_state_at"
            " FROM conversations WHERE account_id = ? AND conversation_id = ?",
            (account, conversation),
        ).fetchone()
        old = None if found is None else found[:-1]
        # Set here after the page was asked for (a mark read while it was on its way): the page is older.
        keep_local = found is not None and op.asked_at is not None and (found[-1] or 0) >= op.asked_at
        latest = pick_latest(conn, conversation, row.latest, newest_cached(conn, account, conversation))
        # The server's activity time can trail an event this cache already applied.
        activity = max(row.last_activity_at, old[1] if old else 0, latest[3] if latest else 0)
        new = (
            row.conversation_urn,
            activity,
            old[2] if old and keep_local else row.unread_count,
            (old[3] if old else 0) if row.starred is None or (old and keep_local) else row.starred,
            row.participants,
            *(latest or NO_LATEST),
        )
        if old is not None and tuple(old) == new:
            continue
        conn.execute(
            "INSERT INTO conversations (account_id, conversation_id, conversation_urn, last_activity_at,"
            " unread_count, starred, participants, latest_message_id, latest_message_urn, latest_text,"
            " latest_sent_at, latest_sender_name, latest_has_attachment) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (account_id, conversation_id) DO UPDATE SET"
            " conversation_urn = excluded.conversation_urn,"
            " last_activity_at = excluded.last_activity_at, unread_count = excluded.unread_count,"
            " starred = excluded.starred, participants = excluded.participants,"
            " latest_message_id = excluded.latest_message_id,"
            " latest_message_urn = excluded.latest_message_urn,"
            " latest_text = excluded.latest_text, latest_sent_at = excluded.latest_sent_at,"
            " latest_sender_name = excluded.latest_sender_name,"
            " latest_has_attachment = excluded.latest_has_attachment",
            (account, conversation, *new),
        )
        if old is not None and activity > old[1]:
            # New activity that C1 reports before C2 has read it: remembered until C2 has (schema V2).
            conn.execute(
                "UPDATE conversation_sync SET messages_behind_at = max(coalesce(messages_behind_at, 0), ?)"
                " WHERE account_id = ? AND conversation_id = ? AND newest_synced_at IS NOT NULL",
                (activity, account, conversation),
            )
        acc.conversations.add((account, conversation))


MESSAGE_COLUMNS: Final = (
    "account_id, conversation_id, message_id, message_urn, conversation_urn, text, sent_at,"
    " sender_profile_id, sender_name, is_sent_by_owner, has_attachment, reactions"
)
MESSAGE_UPDATABLE: Final = (
    "conversation_id",
    "message_urn",
    "conversation_urn",
    "text",
    "sent_at",
    "sender_profile_id",
    "sender_name",
    "is_sent_by_owner",
    "has_attachment",
    "reactions",
)
# The schema's triggers refuse a tombstoned id (``sync.cache.schema``); the Python-side check
# before this statement only keeps change sets exact. DO UPDATE ... WHERE touches a row only when
# its fields differ.
_UPSERT_MESSAGE: Final = (
    f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 - constant columns
    " ON CONFLICT (message_id, account_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in MESSAGE_UPDATABLE)
    + " WHERE "
    + " OR ".join(f"messages.{c} IS NOT excluded.{c}" for c in MESSAGE_UPDATABLE)
)


def _existing_messages(
    conn: sqlite3.Connection, ids: Sequence[str], wanted: dict[tuple[str, str], MessageTuple]
) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The stored rows of the batch's (account, id) keys. The probe reads only the covering
    ``messages_key`` index; full rows are read only for the keys found (none on a first sync)."""
    rowids: list[int] = []
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT id, account_id, message_id FROM messages WHERE message_id IN ({marks})"  # noqa: S608 - only '?'s
        rowids += [r[0] for r in conn.execute(sql, chunk) if (r[1], r[2]) in wanted]
    existing: dict[tuple[str, str], tuple[Any, ...]] = {}
    for start in range(0, len(rowids), CHUNK):
        chunk_ids = rowids[start : start + CHUNK]
        marks = ",".join("?" * len(chunk_ids))
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN ({marks})"  # noqa: S608 - only '?'s
        for found in conn.execute(sql, chunk_ids):
            existing[(found[0], found[2])] = tuple(found)
    return existing


def upsert_messages(conn: sqlite3.Connection, op: UpsertMessages, acc: Changes) -> None:
    rows: dict[tuple[str, str], MessageTuple] = {}
    memo = UrnMemo()
    for item in op.items:
        try:
            row = message_row(item, memo)
        except Invalid as exc:
            acc.skip("message", exc, item)
            continue
        rows[(row[0], row[2])] = row  # a repeated id in one batch: the last copy wins
    if not rows:
        return
    accounts = known_accounts(conn)
    for key in [k for k in rows if k[0] not in accounts]:
        acc.skip("message", f"unknown account {key[0]!r}", rows.pop(key)[3])
    ids = sorted({mid for _, mid in rows})
    dead = tombstoned(conn, ids)
    existing = _existing_messages(conn, ids, rows)
    for key, row in rows.items():
        if not row[11]:  # REACTIONS_UNKNOWN
            # The server did not say (the vendor's C2): what the cache knows stays (a reaction made here).
            old = existing.get(key)
            rows[key] = (*row[:11], old[11] if old is not None else NO_REACTIONS)
    if dead:
        log.debug("cache: %d tombstoned message(s) not stored", sum(1 for k in rows if k[1] in dead))
        rows = {k: r for k, r in rows.items() if k[1] not in dead}
    # Per-row work is the hot loop of a first sync: kept to the minimum the change set needs.
    if existing:
        new = [row for key, row in rows.items() if key not in existing]
        changed = [(row, existing[key]) for key, row in rows.items() if existing.get(key, row) != row]
    else:  # a first sync: every row is new
        new, changed = list(rows.values()), []
    if not new and not changed:
        return
    acc.inserted.update(RowKey(r[0], r[1], r[2]) for r in new)
    acc.updated.update(RowKey(r[0], r[1], r[2]) for r, _ in changed)
    touched = {(r[0], r[1]) for r in new}
    touched |= {(r[0], r[1]) for r, _ in changed} | {(o[0], o[1]) for _, o in changed}
    # The foreign key needs the conversation row; C1 fills in the rest of a placeholder later.
    for account, conversation in touched:
        exists = conn.execute(
            "SELECT 1 FROM conversations WHERE account_id = ? AND conversation_id = ?",
            (account, conversation),
        ).fetchone()
        if exists is None:
            mine = [r for r in new if r[0] == account and r[1] == conversation]
            mine += [r for r, _ in changed if r[0] == account and r[1] == conversation]
            newest = max(mine, key=lambda r: r[6])
            conn.execute(
                "INSERT INTO conversations (account_id, conversation_id, conversation_urn, last_activity_at)"
                " VALUES (?, ?, ?, ?)",
                (account, conversation, newest[4], newest[6]),
            )
            acc.conversations.add((account, conversation))
    conn.executemany(_UPSERT_MESSAGE, new)
    conn.executemany(_UPSERT_MESSAGE, [r for r, _ in changed])
    for account, conversation in touched:
        if refresh_conversation(conn, account, conversation):
            acc.conversations.add((account, conversation))
