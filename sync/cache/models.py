"""peewee models of the cache's tables (the newest schema), for the queries that are not on a hot path.

They are deliberately unbound: every query names its database with ``.bind(db)`` or
``.execute(db)``, so two open caches in one process (tests, or two backends) never share
a binding. The tables themselves are created by ``sync.cache.schema``.
"""

from __future__ import annotations

from typing import Final

import peewee

from sync.model import RecallAttempt, RecallState

__all__ = [
    "ALL_MODELS",
    "AccountRow",
    "AccountSyncRow",
    "ConversationRow",
    "ConversationSyncRow",
    "MessageRow",
    "MetaRow",
    "RecallLogRow",
    "TombstoneRow",
    "recall_attempt",
]


class _Base(peewee.Model):
    class Meta:
        database = None
        legacy_table_names = False


class AccountRow(_Base):
    account_id = peewee.TextField(primary_key=True)
    name = peewee.TextField(default="")
    public_id = peewee.TextField(default="")
    mailbox = peewee.TextField(default="")
    """``urn:li:fsd_profile:…``: the prefix of this account's conversation and message URNs."""
    status = peewee.TextField(default="UNKNOWN")
    enabled = peewee.BooleanField(default=True)
    api_seat = peewee.BooleanField(null=True)

    class Meta:
        table_name = "accounts"


class ConversationRow(_Base):
    id = peewee.AutoField()
    account_id = peewee.TextField()
    conversation_id = peewee.TextField()
    conversation_urn = peewee.TextField()
    last_activity_at = peewee.IntegerField()
    unread_count = peewee.IntegerField(default=0)
    starred = peewee.BooleanField(default=False)
    participants = peewee.TextField(default="[]")
    """JSON list; stored on the row so a page of conversations never joins."""
    latest_message_id = peewee.TextField(null=True)
    latest_message_urn = peewee.TextField(null=True)
    latest_text = peewee.TextField(null=True)
    latest_sent_at = peewee.IntegerField(null=True)
    latest_sender_name = peewee.TextField(null=True)
    latest_has_attachment = peewee.BooleanField(null=True)

    class Meta:
        table_name = "conversations"


class MessageRow(_Base):
    id = peewee.AutoField()
    account_id = peewee.TextField()
    conversation_id = peewee.TextField()
    message_id = peewee.TextField()
    """Normalized token (spec §4), shared by every mailbox's copy."""
    message_urn = peewee.TextField()
    conversation_urn = peewee.TextField()
    text = peewee.TextField()
    sent_at = peewee.IntegerField()
    sender_profile_id = peewee.TextField(default="")
    sender_name = peewee.TextField(default="")
    is_sent_by_owner = peewee.BooleanField(default=False)
    has_attachment = peewee.BooleanField(default=False)
    reactions = peewee.TextField(default="[]")

    class Meta:
        table_name = "messages"


class TombstoneRow(_Base):
    message_id = peewee.TextField(primary_key=True)
    reason = peewee.TextField()
    created_at = peewee.IntegerField()
    conversation_id = peewee.TextField(null=True)
    sent_at = peewee.IntegerField(null=True)

    class Meta:
        table_name = "tombstones"
        without_rowid = True


class RecallLogRow(_Base):
    id = peewee.AutoField()
    account_id = peewee.TextField()
    conversation_urn = peewee.TextField()
    message_urn = peewee.TextField()
    message_id = peewee.TextField()
    window_id = peewee.TextField(default="")
    started_at = peewee.IntegerField()
    finished_at = peewee.IntegerField(null=True)
    outcome = peewee.TextField()
    latency_ms = peewee.IntegerField(null=True)
    error_kind = peewee.TextField(default="")
    error_message = peewee.TextField(default="")
    owner_pid = peewee.IntegerField(null=True)
    conversation_title = peewee.TextField(default="")
    message_preview = peewee.TextField(default="")

    class Meta:
        table_name = "recall_log"


class ConversationSyncRow(_Base):
    account_id = peewee.TextField()
    conversation_id = peewee.TextField()
    oldest_synced_at = peewee.IntegerField(null=True)
    newest_synced_at = peewee.IntegerField(null=True)
    older_cursor = peewee.TextField(null=True)
    reached_oldest = peewee.BooleanField(default=False)
    last_reconciled_at = peewee.IntegerField(null=True)
    updated_at = peewee.IntegerField()
    messages_behind_at = peewee.IntegerField(null=True)

    class Meta:
        table_name = "conversation_sync"
        primary_key = peewee.CompositeKey("account_id", "conversation_id")
        without_rowid = True


class AccountSyncRow(_Base):
    account_id = peewee.TextField(primary_key=True)
    last_sync_at = peewee.IntegerField(null=True)
    conversations_cursor = peewee.TextField(null=True)
    initial_sync_completed = peewee.BooleanField(default=False)
    last_error = peewee.TextField(default="")
    updated_at = peewee.IntegerField()
    last_error_kind = peewee.TextField(default="")
    last_error_refused = peewee.BooleanField(default=False)

    class Meta:
        table_name = "account_sync"
        without_rowid = True


class MetaRow(_Base):
    key = peewee.TextField(primary_key=True)
    value = peewee.TextField()

    class Meta:
        table_name = "meta"
        without_rowid = True


ALL_MODELS: Final[tuple[type[_Base], ...]] = (
    AccountRow,
    ConversationRow,
    MessageRow,
    TombstoneRow,
    RecallLogRow,
    ConversationSyncRow,
    AccountSyncRow,
    MetaRow,
)


def recall_attempt(row: RecallLogRow) -> RecallAttempt:
    """The frozen value of one recall-log row."""
    return RecallAttempt(
        attempt_id=row.id,
        account_id=row.account_id,
        conversation_urn=row.conversation_urn,
        message_urn=row.message_urn,
        message_id=row.message_id,
        started_at=row.started_at,
        outcome=RecallState(row.outcome),
        latency_ms=row.latency_ms,
        error_kind=row.error_kind,
        error_message=row.error_message,
        window_id=row.window_id,
        finished_at=row.finished_at,
        conversation_title=row.conversation_title,
        message_preview=row.message_preview,
    )
