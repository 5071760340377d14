"""The cache's schema, one frozen DDL step per version (a step never changes once shipped).

The queries elsewhere in ``sync.cache`` are SQL text against the newest schema (no models: see
:mod:`sync.cache`); a test checks that every column of it is written by some statement.
"""

from __future__ import annotations

import sqlite3
from typing import Final

__all__ = ["V1", "V2", "V3", "add_messages_behind_v2", "create_v1", "recall_states_v3"]

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
-- Why the last pass could not serve an account (DESIGN "Sync": accounts fail alone); '' when it could.
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
