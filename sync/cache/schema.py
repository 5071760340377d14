"""The cache's schema, one frozen DDL step per version (a step never changes once shipped).

The queries elsewhere in ``sync.cache`` are SQL text against the newest schema (no models: see
:mod:`sync.cache`); a test checks that every column of it is written by some statement.
"""

from __future__ import annotations

import sqlite3
from typing import Final

__all__ = [
    "V1",
    "V2",
    "V3",
    "V4",
    "V5",
    "add_messages_behind_v2",
    "create_v1",
    "local_state_v5",
    "message_search_v4",
    "recall_states_v3",
]

# Integer rowid keys with separate unique indexes: a long TEXT primary key makes every insert
# slower (ENVIRONMENT.md). messages_key leads with message_id so that the same index serves the
# upsert's conflict target, the tombstone's "every copy in every account" lookup and get-by-id.
V1: Final = """
CREATE TABLE accounts (
    account_id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    public_id TEXT NOT NULL DEFAULT '',
    mailbox TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'UNKNOWN',
    enabled INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    conversation_urn TEXT NOT NULL,
    last_activity_at INTEGER NOT NULL,
    unread_count INTEGER NOT NULL DEFAULT 0,
    starred INTEGER NOT NULL DEFAULT 0,
    participants TEXT NOT NULL DEFAULT '[]',
    latest_message_id TEXT,
    latest_message_urn TEXT,
    latest_text TEXT,
    latest_sent_at INTEGER,
    latest_sender_name TEXT,
    latest_has_attachment INTEGER
);
CREATE UNIQUE INDEX conversations_key ON conversations (account_id, conversation_id);
CREATE INDEX conversations_account_activity ON conversations (account_id, last_activity_at, conversation_id);
CREATE INDEX conversations_activity ON conversations (last_activity_at, conversation_id, account_id);
CREATE INDEX conversations_latest ON conversations (latest_message_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    message_urn TEXT NOT NULL,
    conversation_urn TEXT NOT NULL,
    text TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    sender_profile_id TEXT NOT NULL DEFAULT '',
    sender_name TEXT NOT NULL DEFAULT '',
    is_sent_by_owner INTEGER NOT NULL DEFAULT 0,
    has_attachment INTEGER NOT NULL DEFAULT 0,
    reactions TEXT NOT NULL DEFAULT '[]',
    FOREIGN KEY (account_id, conversation_id)
        REFERENCES conversations (account_id, conversation_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX messages_key ON messages (message_id, account_id);
CREATE INDEX messages_conversation_time ON messages (account_id, conversation_id, sent_at, message_id);

CREATE TABLE tombstones (
    message_id TEXT NOT NULL PRIMARY KEY,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The tombstone check lives in the database itself, so that no code path (an upsert, a raw
-- statement, another process running older code) can insert a tombstoned message or update one
-- back. An upsert fires the BEFORE INSERT trigger before it considers its DO UPDATE branch.
CREATE TRIGGER messages_born_dead BEFORE INSERT ON messages
WHEN EXISTS (SELECT 1 FROM tombstones WHERE message_id = NEW.message_id)
BEGIN
    SELECT RAISE(IGNORE);
END;
CREATE TRIGGER messages_stay_dead BEFORE UPDATE ON messages
WHEN EXISTS (SELECT 1 FROM tombstones WHERE message_id = NEW.message_id)
BEGIN
    SELECT RAISE(IGNORE);
END;

CREATE TABLE recall_log (
    id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    conversation_urn TEXT NOT NULL,
    message_urn TEXT NOT NULL,
    message_id TEXT NOT NULL,
    window_id TEXT NOT NULL DEFAULT '',
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT NOT NULL,
    latency_ms INTEGER,
    error_kind TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX recall_log_started ON recall_log (started_at, id);

CREATE TABLE conversation_sync (
    account_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    oldest_synced_at INTEGER,
    newest_synced_at INTEGER,
    older_cursor TEXT,
    reached_oldest INTEGER NOT NULL DEFAULT 0,
    last_reconciled_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, conversation_id),
    FOREIGN KEY (account_id, conversation_id)
        REFERENCES conversations (account_id, conversation_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE account_sync (
    account_id TEXT NOT NULL PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    last_sync_at INTEGER,
    conversations_cursor TEXT,
    initial_sync_completed INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
    key TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""


def _statements(script: str) -> list[str]:
    """Split a DDL script into statements (``sqlite3.complete_statement`` keeps trigger bodies whole)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete DDL statement: {current.strip()[:80]}")
    return out


V2: Final = """
-- The activity time C1 reported for a conversation whose messages had been synced before but not up to
-- it yet. An incremental run's C1 stops at the first conversation whose activity the cache already
-- has; without this marker a run that stored the C1 page and failed before reading the conversation's
-- new messages would make it look unchanged to every later run. Cleared when C2 has read past it.
ALTER TABLE conversation_sync ADD COLUMN messages_behind_at INTEGER;
CREATE INDEX conversation_sync_behind ON conversation_sync (account_id)
    WHERE messages_behind_at IS NOT NULL;
"""


V3: Final = """
-- A1's apiSeatAllocated (NULL: not said; 0: the plan has no API seat for the account: shown, not synced).
ALTER TABLE accounts ADD COLUMN api_seat INTEGER;
-- Why the last pass could not serve an account (ARCHITECTURE.md §6: accounts fail alone); '' when it could.
ALTER TABLE account_sync ADD COLUMN last_error_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE account_sync ADD COLUMN last_error_refused INTEGER NOT NULL DEFAULT 0;
-- Where and when a tombstoned message was, when a cached copy said so: the vendor's C1 preview carries no
-- message URN (spec §8), so a recalled message's preview is recognised by its conversation and time.
ALTER TABLE tombstones ADD COLUMN conversation_id TEXT;
ALTER TABLE tombstones ADD COLUMN sent_at INTEGER;
CREATE INDEX tombstones_conversation_time ON tombstones (conversation_id, sent_at)
    WHERE conversation_id IS NOT NULL;
-- The recall log: the process that made an attempt (a pending row whose process is gone was cut short by
-- a crash and is settled at the next start), and what a person needs to read it (issue "daily driver").
ALTER TABLE recall_log ADD COLUMN owner_pid INTEGER;
ALTER TABLE recall_log ADD COLUMN conversation_title TEXT NOT NULL DEFAULT '';
ALTER TABLE recall_log ADD COLUMN message_preview TEXT NOT NULL DEFAULT '';
CREATE INDEX recall_log_open ON recall_log (outcome) WHERE outcome IN ('pending', 'unconfirmed');
-- One vocabulary for recall states (spec §9): succeeded is recalled; a failure the server stated is refused.
UPDATE recall_log SET outcome = 'recalled' WHERE outcome = 'succeeded';
UPDATE recall_log SET outcome = 'refused' WHERE outcome = 'failed' AND error_kind IN (
    'refused', 'recall_not_own', 'recall_window_expired', 'recall_not_member', 'message_not_found',
    'invalid_urn', 'validation', 'invalid_account_id', 'no_api_access', 'not_found', 'account_not_found',
    'conversation_not_found');
"""


def create_v1(conn: sqlite3.Connection) -> None:
    """v0 (a new, empty file) → v1."""
    # executescript() would COMMIT the migration's open transaction first; run statement by statement.
    for statement in _statements(V1):
        conn.execute(statement)


def add_messages_behind_v2(conn: sqlite3.Connection) -> None:
    """v1 → v2: ``conversation_sync.messages_behind_at`` (see :data:`V2`)."""
    for statement in _statements(V2):
        conn.execute(statement)


def recall_states_v3(conn: sqlite3.Connection) -> None:
    """v2 → v3: seats, per-account errors, tombstone places, recall states (see :data:`V3`)."""
    for statement in _statements(V3):
        conn.execute(statement)


V4: Final = """
-- Message search (issue 16): FTS5 over the visible messages' text and sender name, and over each
-- conversation's participants' names and preview (the conversation filter). One folding rule for both:
-- unicode61 with diacritics removed ("emile" finds "Émile", "ÉMILE" finds "émile").
--
-- The message index is external-content (the text lives in messages alone). Its rowid is a search key in
-- time order, not the message's rowid: (sent_at in seconds << 4) | a tie-break, unique. A search reads the
-- index newest first (ORDER BY rowid DESC LIMIT n), so a word in 100,000 messages costs no more than a
-- rare one. Seconds and 4 bits keep the index's rowid deltas short (it is a third smaller than with
-- milliseconds). message_search_keys maps each key to its message.
CREATE TABLE message_search_keys (
    key INTEGER PRIMARY KEY,
    message_rowid INTEGER NOT NULL
);
CREATE UNIQUE INDEX message_search_keys_message ON message_search_keys (message_rowid);
CREATE VIEW message_search_content AS
    SELECT k.key AS key, m.text AS text, m.sender_name AS sender_name
    FROM message_search_keys k JOIN messages m ON m.id = k.message_rowid;
-- columnsize = 0: no per-row column sizes (only relevance ranking reads them, and results are by time):
-- one B-tree fewer to write per message.
CREATE VIRTUAL TABLE message_search USING fts5(
    text, sender_name,
    content = 'message_search_content', content_rowid = 'key', columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- Messages whose indexed fields changed in the open transaction: the writer indexes them again, with the
-- new rows, before it commits (sync.cache.search.index_new_messages). Empty between transactions.
CREATE TABLE message_search_pending (
    message_rowid INTEGER PRIMARY KEY
);
-- Gone from the table, gone from the index, in the same statement: a tombstone's DELETE (or a cascade)
-- can never leave a recalled message findable.
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO message_search (message_search, rowid, text, sender_name)
        SELECT 'delete', key, OLD.text, OLD.sender_name FROM message_search_keys WHERE message_rowid = OLD.id;
    DELETE FROM message_search_keys WHERE message_rowid = OLD.id;
    DELETE FROM message_search_pending WHERE message_rowid = OLD.id;
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF text, sender_name, sent_at ON messages
WHEN OLD.text IS NOT NEW.text OR OLD.sender_name IS NOT NEW.sender_name OR OLD.sent_at IS NOT NEW.sent_at
BEGIN
    INSERT INTO message_search (message_search, rowid, text, sender_name)
        SELECT 'delete', key, OLD.text, OLD.sender_name FROM message_search_keys WHERE message_rowid = OLD.id;
    DELETE FROM message_search_keys WHERE message_rowid = OLD.id;
    -- (Not INSERT OR IGNORE: the statement that fired the trigger decides conflicts, an upsert aborts.)
    INSERT INTO message_search_pending (message_rowid)
        SELECT NEW.id WHERE NOT EXISTS (SELECT 1 FROM message_search_pending WHERE message_rowid = NEW.id);
END;

-- The conversation filter: participants' names and the preview (the latest visible message's text).
-- A few rows per sync: kept in step by triggers.
CREATE VIEW conversation_search_content AS
    SELECT c.id AS id,
        coalesce((SELECT group_concat(json_extract(p.value, '$.name'), ' ')
            FROM json_each(c.participants) p), '')
            AS names,
        coalesce(c.latest_text, '') AS preview
    FROM conversations c;
CREATE VIRTUAL TABLE conversation_search USING fts5(
    names, preview,
    content = 'conversation_search_content', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER conversations_search_insert AFTER INSERT ON conversations
BEGIN
    INSERT INTO conversation_search (rowid, names, preview) VALUES (
        NEW.id,
        coalesce((SELECT group_concat(json_extract(p.value, '$.name'), ' ')
            FROM json_each(NEW.participants) p), ''),
        coalesce(NEW.latest_text, ''));
END;
CREATE TRIGGER conversations_search_update AFTER UPDATE OF participants, latest_text ON conversations
WHEN OLD.participants IS NOT NEW.participants OR OLD.latest_text IS NOT NEW.latest_text
BEGIN
    INSERT INTO conversation_search (conversation_search, rowid, names, preview) VALUES (
        'delete', OLD.id,
        coalesce((SELECT group_concat(json_extract(p.value, '$.name'), ' ')
            FROM json_each(OLD.participants) p), ''),
        coalesce(OLD.latest_text, ''));
    INSERT INTO conversation_search (rowid, names, preview) VALUES (
        NEW.id,
        coalesce((SELECT group_concat(json_extract(p.value, '$.name'), ' ')
            FROM json_each(NEW.participants) p), ''),
        coalesce(NEW.latest_text, ''));
END;
CREATE TRIGGER conversations_search_delete AFTER DELETE ON conversations
BEGIN
    INSERT INTO conversation_search (conversation_search, rowid, names, preview) VALUES (
        'delete', OLD.id,
        coalesce((SELECT group_concat(json_extract(p.value, '$.name'), ' ')
            FROM json_each(OLD.participants) p), ''),
        coalesce(OLD.latest_text, ''));
END;
"""

V4_TIE_BITS: Final = 4
V4_MAX_SECONDS: Final = (1 << 54) - 1
"""Search keys are ``(seconds << 4) | tie-break``, ``seconds`` = ``sent_at // 1000`` clamped to ``0 ..
2**54 - 1``, so that every key fits SQLite's signed 64-bit integers."""
V4_AUTOMERGE: Final = 8
"""FTS5 merges 8 segments of a level at once instead of 4: a first sync writes its index a third faster,
a search reads a few more segments."""


def message_search_v4(conn: sqlite3.Connection) -> None:
    """v3 → v4: the search indexes (see :data:`V4`), filled from the rows already cached."""
    for statement in _statements(V4):
        conn.execute(statement)
    for name in ("message_search", "conversation_search"):
        conn.execute(
            f"INSERT INTO {name} ({name}, rank) VALUES ('automerge', ?)",  # noqa: S608 - constant names
            (V4_AUTOMERGE,),
        )
    # Keys in time order, unique by construction: each is its second's first or one past the previous key.
    rows = conn.execute(
        "SELECT min(max(sent_at, 0) / 1000, ?) AS seconds, id FROM messages ORDER BY seconds, id",
        (V4_MAX_SECONDS,),
    )
    keys: list[tuple[int, int]] = []
    previous = -1
    for seconds, rowid in rows:
        previous = max(seconds << V4_TIE_BITS, previous + 1)
        keys.append((previous, rowid))
    conn.executemany("INSERT INTO message_search_keys (key, message_rowid) VALUES (?, ?)", keys)
    # In key order: FTS5 writes a run of ascending rowids without flushing its pending terms in between.
    conn.execute(
        "INSERT INTO message_search (rowid, text, sender_name)"
        " SELECT k.key, m.text, m.sender_name FROM message_search_keys k CROSS JOIN messages m"
        " ON m.id = k.message_rowid ORDER BY k.key"
    )
    # (FTS5's 'rebuild' refuses a view as its content.)
    conn.execute(
        "INSERT INTO conversation_search (rowid, names, preview)"
        " SELECT id, names, preview FROM conversation_search_content ORDER BY id"
    )


V5: Final = """
-- When this machine last set a conversation's unread count or star (mark read or unread, star, an event),
-- epoch ms of its clock. A C1 page asked for before then is older than what it set and keeps them: a
-- listing on its way while the user opened the conversation must not bring its unread badge back.
ALTER TABLE conversations ADD COLUMN local_state_at INTEGER;
"""


def local_state_v5(conn: sqlite3.Connection) -> None:
    """v4 → v5: ``conversations.local_state_at`` (see :data:`V5`)."""
    for statement in _statements(V5):
        conn.execute(statement)
