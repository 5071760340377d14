"""The engine's values: model values as the cache writer's input, and what a pass reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sync.model import AccountIssue, ChangeSet, Conversation, ConversationIn, Message, MessageIn

__all__ = ["SyncReport", "conversation_in", "merge_all", "message_in"]


def conversation_in(conversation: Conversation, *, star_known: bool = True) -> ConversationIn:
    return ConversationIn(
        account_id=conversation.account_id,
        conversation_urn=conversation.conversation_urn,
        last_activity_at=conversation.last_activity_at,
        unread_count=conversation.unread_count,
        starred=conversation.starred if star_known else None,
        participants=conversation.participants,
        latest=conversation.latest,
    )


def message_in(message: Message) -> MessageIn:
    return MessageIn(
        account_id=message.account_id,
        conversation_urn=message.conversation_urn,
        message_urn=message.message_urn,
        text=message.text,
        sent_at=message.sent_at,
        sender_profile_id=message.sender_profile_id,
        sender_name=message.sender_name,
        is_sent_by_owner=message.is_sent_by_owner,
        has_attachment=message.has_attachment,
        reactions=message.reactions if message.reactions_known else None,
    )


def merge_all(change_sets: Sequence[ChangeSet]) -> ChangeSet:
    """One change set for many, in one pass over each (``ChangeSet.merged`` pairwise is quadratic)."""
    return ChangeSet(
        frozenset().union(*(c.messages_inserted for c in change_sets)),
        frozenset().union(*(c.messages_updated for c in change_sets)),
        frozenset().union(*(c.messages_hidden for c in change_sets)),
        frozenset().union(*(c.conversations_changed for c in change_sets)),
        frozenset().union(*(c.accounts_changed for c in change_sets)),
        frozenset().union(*(c.tombstones_added for c in change_sets)),
        sum(c.skipped for c in change_sets),
    )


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one run did: the merged change set, request-free counts and per-item skips."""

    changes: ChangeSet
    accounts: int
    conversations_seen: int
    message_pages: int
    tombstoned_by_reconciliation: int
    skipped: int
    account_issues: tuple[AccountIssue, ...] = ()
    """Accounts this pass could not serve (seatless, refused, failing); the others were synced."""
    requests: int = 0
    """Requests the pass sent (A1, A2, C1, C2): what the poller charges to its budget."""
