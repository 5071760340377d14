"""The newest schema against the SQL the cache runs: every column is written; upserts update what they insert.

The cache's queries are SQL text (no models, see ``sync.cache``). A statement naming a column the schema
lacks fails in the write and read tests already; what they do not catch is the reverse: a column a
migration adds that no write ever fills, or an upsert whose ``DO UPDATE`` forgets a column its ``INSERT``
names (a conflicting row would then keep a stale value forever). This test runs every kind of write once
on one connection and reads the statements back from SQLite's trace.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from sync.cache import recall_log, transaction
from sync.cache.db import open_database
from sync.cache.ops import (
    SetAccountSync,
    SetConversationSync,
    SetReactions,
    Tombstone,
    UpdateConversation,
    UpsertAccounts,
    UpsertConversations,
    UpsertMessages,
)
from sync.model import (
    AccountSyncState,
    ConversationSyncState,
    Reaction,
    RecallState,
    TombstoneReason,
)
from tests.sync.cache.helpers import (
    ACCOUNT_A,
    ACCOUNTS,
    conv,
    conv_urn,
    message_token,
    msg,
    msg_urn,
    thread_token,
)

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_INSERT = re.compile(r"^INSERT (?:OR \w+ )?INTO (\w+) \(([^)]*)\)")
_TRIGGER_STATEMENT = re.compile(r"(?:INSERT|UPDATE)\b.*?;", re.DOTALL)
_FTS5_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config")
"""The tables FTS5 keeps for a virtual table ``x`` (``x_data``…): written by SQLite itself."""
_UPSERT = re.compile(r" ON CONFLICT \(([^)]*)\) DO UPDATE SET (.+?)(?: WHERE |$)")
_UPDATE = re.compile(r"^UPDATE (\w+) SET (.+?)(?: WHERE | RETURNING |$)")
_ASSIGNED = re.compile(r"(\w+) = ")


def _names(text: str) -> set[str]:
    return {name.strip() for name in text.split(",")}


def _run_every_write(path: Path) -> list[str]:
    """Every write path of the cache once, on this thread's connection; the statements SQLite ran."""
    db = open_database(path)
    statements: list[str] = []
    try:
        db.connection().set_trace_callback(statements.append)
        first, second = message_token(1, 100), message_token(2, 150)
        synced = ConversationSyncState(ACCOUNT_A, thread_token(1), 100, 100, "older", True, 90)
        transaction.apply(
            db,
            [
                UpsertAccounts(ACCOUNTS),
                UpsertConversations([conv(ACCOUNT_A, 1, 100, unread=1, latest=(first, 100, "hi"))]),
                UpsertMessages([msg(ACCOUNT_A, 1, first, 100, "hi"), msg(ACCOUNT_A, 1, second, 150)]),
                SetReactions(ACCOUNT_A, msg_urn(ACCOUNT_A, first), (Reaction("👍", 1, True),)),
                UpdateConversation(ACCOUNT_A, conv_urn(ACCOUNT_A, 1), starred=True),
                SetConversationSync(synced),
                SetAccountSync(AccountSyncState(ACCOUNT_A, 100, "cursor", True, "down", "server", True)),
            ],
            advance_seq_to=1,
        )
        # New activity C2 has not read yet marks the conversation behind; catching up clears the mark.
        transaction.apply(db, [UpsertConversations([conv(ACCOUNT_A, 1, 200, unread=1)])])
        transaction.apply(db, [SetConversationSync(synced, caught_up_to=200)])
        urn = msg_urn(ACCOUNT_A, first)
        attempt = recall_log.begin_recall(db, ACCOUNT_A, conv_urn(ACCOUNT_A, 1), urn, message_text="hi")
        recall_log.finish_recall(
            db, attempt.attempt_id, RecallState.UNCONFIRMED, latency_ms=5, error_kind="x"
        )
        recall_log.begin_recall(db, ACCOUNT_A, conv_urn(ACCOUNT_A, 1), msg_urn(ACCOUNT_A, second))
        assert recall_log.take_over_stale(db)  # this process's own pending row, not in flight
        transaction.apply(db, [Tombstone([urn], TombstoneReason.RECALLED_HERE)])
        transaction.count_commit(db, transaction.COMMITS_PREFIX + str(os.getpid()))
        transaction.set_last_applied_seq(db, 2)
        db.connection().set_trace_callback(None)
    finally:
        db.close()
    return statements


def test_every_column_is_written_and_every_upsert_updates_what_it_inserts(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    statements = _run_every_write(path)

    written: defaultdict[str, set[str]] = defaultdict(set)
    upserts = 0
    for statement in statements:
        sql = _LITERAL.sub("?", " ".join(statement.split()))
        if (insert := _INSERT.match(sql)) is not None:
            table, inserted = insert[1], _names(insert[2])
            written[table] |= inserted
            if (upsert := _UPSERT.search(sql)) is not None:
                upserts += 1
                updated = set(_ASSIGNED.findall(upsert[2]))
                assert updated == inserted - _names(upsert[1]), sql
        elif (update := _UPDATE.match(sql)) is not None:
            written[update[1]] |= set(_ASSIGNED.findall(update[2]))
    assert upserts >= 7  # accounts, conversations, messages, both sync states, meta (seq, commits)

    db = open_database(path)
    try:
        conn = db.connection()
        # What the schema's triggers write counts too (the search indexes are kept in step by them); the
        # trace shows a trigger by its name only.
        for (body,) in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'"):
            for statement in _TRIGGER_STATEMENT.findall(body.split("BEGIN", 1)[1]):
                sql = _LITERAL.sub("?", " ".join(statement.split()))
                if (insert := _INSERT.match(sql)) is not None:
                    written[insert[1]] |= _names(insert[2])
                elif (update := _UPDATE.match(sql)) is not None:
                    written[update[1]] |= set(_ASSIGNED.findall(update[2]))
        virtual = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL%'")
        ]
        shadows = {name + suffix for name in virtual for suffix in _FTS5_SHADOWS}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"message_search", "message_search_keys", "conversation_search"} <= set(tables)
        for table in [t for t in tables if t not in shadows]:
            columns = {
                r[1]
                for r in conn.execute(f"PRAGMA table_info({table})")
                if not (r[1] == "id" and r[5] == 1)  # the rowid key SQLite assigns
            }
            # An FTS5 table is also written by rowid and through its command column ('delete').
            extra = {"rowid", table} if table in virtual else set()
            assert written[table] - extra == columns, table
    finally:
        db.close()
