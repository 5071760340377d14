"""What the decoders return: small answers as structs, pages as validated model values with skip counts."""

from __future__ import annotations

from dataclasses import dataclass

from sync import model
from sync.wire.structs import Envelope

__all__ = [
    "AccountList",
    "AccountSyncStatus",
    "ConversationAck",
    "ConversationPage",
    "ExistsResult",
    "MessagePage",
    "ReactResult",
    "RecallResult",
    "RefreshResult",
    "SendResult",
    "ServerSyncResult",
    "SyncState",
    "SyncStatusList",
]

# --- results that are small enough to be their own wire struct ----------------------------------------


class RecallResult(Envelope, kw_only=True, frozen=True):
    """C6 200. ``message_urn`` echoes the requested URN (filled in from the request when absent)."""

    message_urn: str = ""


class ReactResult(Envelope, kw_only=True, frozen=True):
    message_urn: str | None = None
    emoji: str | None = None
    react: bool | None = None


class ConversationAck(Envelope, kw_only=True, frozen=True):
    """C8, C9/C10, M1 200."""

    conversation_urn: str | None = None


class RefreshResult(Envelope, kw_only=True, frozen=True):
    """C13 200: the refreshed messages arrive later as ``conversation.refreshed`` events."""

    message: str | None = None
    conversation_urn: str | None = None
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExistsResult:
    """C14 200."""

    has_conversation: bool = False
    conversation_urn: str | None = None
    profile_urn: str | None = None
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class ServerSyncResult:
    """C11 200: the server's sync from LinkedIn has run. ``error`` is the server's word on a partial
    failure (vendor), None when it had none."""

    account_id: str | None = None
    conversations_processed: int = 0
    messages_processed: int = 0
    duration_ms: float | None = None
    error: str | None = None


# --- results with validated items ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountList:
    """A1: the valid accounts (each once, first listing wins), how many items were skipped as malformed,
    and how many repeated an account already listed."""

    accounts: tuple[model.Account, ...]
    skipped: int = 0
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """C1: one page of conversations, newest activity first."""

    conversations: tuple[model.Conversation, ...]
    next_cursor: str | None
    has_more: bool
    from_cache: bool = False
    skipped: int = 0
    mailbox_hint: str | None = None
    """The mailbox prefix of the first ``msg_conversation`` URN on the page: the fallback for an account
    whose A2 answer has no ``profileUrn`` (spec §2 A2)."""
    star_unknown: frozenset[str] = frozenset()
    """Normalized conversation ids whose item did not say ``starred`` (the vendor's never do): their
    ``starred`` here is False only for want of a value; the stored star is kept (``ConversationIn.starred``
    None) until C9/C10 or an event says otherwise."""


@dataclass(frozen=True, slots=True)
class MessagePage:
    """C2: one page of a conversation's messages, **newest first** by (``sentAt``, message token) whatever
    order the server sent (the vendor's pages are oldest first); recalled messages are never included."""

    messages: tuple[model.Message, ...]
    cursor: str | None
    has_more: bool
    participants: tuple[model.Participant, ...] = ()
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class SendResult:
    """C3 200. The send has happened even when ``sent_message`` is None (its item was malformed and
    skipped): the caller must not send again, the next sync brings the message."""

    conversation_urn: str | None
    recipient_profile_urn: str | None
    sent_message: model.Message | None
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class SyncState:
    last_sync_at: int | None
    sync_in_progress: bool
    total_conversations: int
    total_messages: int
    consecutive_failures: int
    last_error: str | None
    initial_sync_completed: bool


@dataclass(frozen=True, slots=True)
class AccountSyncStatus:
    account_id: str
    account_name: str
    sync_state: SyncState | None


@dataclass(frozen=True, slots=True)
class SyncStatusList:
    """C12."""

    accounts: tuple[AccountSyncStatus, ...]
    skipped: int = 0
