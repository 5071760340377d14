"""The wire's shapes: msgspec structs for every answer of spec §2, and the bounded types their fields use."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Final

import msgspec

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_COUNT",
    "NUMBER_RE",
    "AccountsEnvelope",
    "ConversationsEnvelope",
    "Count",
    "Envelope",
    "ExistsWire",
    "Int64",
    "MessagesEnvelope",
    "RecallWire",
    "SendEnvelope",
    "ServerSyncWire",
    "SyncStatusEnvelope",
    "Timestamp",
    "WireAccount",
    "WireAccountSyncStatus",
    "WireConversation",
    "WireLatestMessage",
    "WireMessage",
    "WireParticipant",
    "WirePlan",
    "WireReaction",
    "WireSyncState",
    "epoch_ms",
]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
"""An integer SQLite can store: a field of this type that is out of range fails its item (skipped and
counted) instead of raising ``OverflowError`` in the cache. Use it for every integer the server sends."""
MAX_COUNT: Final = 2**31 - 1
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
"""A count (unread messages, reactions): not negative, and small enough that the cache may add up
billions of them without overflowing int64."""

_DIGITS_RE: Final = re.compile(r"-?[0-9]+")
NUMBER_RE: Final = re.compile(r"[0-9]+(\.[0-9]*)?")
_MAX_EPOCH_MS: Final = 253_402_300_799_999
"""9999-12-31: a larger "timestamp" is garbage, not a date (and would overflow SQLite's sort order intent)."""

Timestamp = int | float | str


def epoch_ms(value: object) -> int:
    """Epoch milliseconds from a number (ms) or an ISO-8601 string; ``ValueError`` otherwise.

    A naive ISO time is taken as UTC (the vendor's strings end in ``Z`` or carry no zone at all).
    """
    if isinstance(value, bool):
        raise ValueError(f"a boolean is not a timestamp: {value!r}")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite timestamp: {value!r}")
        ms = round(value)
    elif isinstance(value, str):
        text = value.strip()
        if _DIGITS_RE.fullmatch(text):
            ms = int(text)
        else:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError as exc:
                raise ValueError(f"not an ISO-8601 time: {value[:40]!r}") from exc
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            ms = round(moment.timestamp() * 1000)
    else:
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    if not 0 <= ms <= _MAX_EPOCH_MS:
        raise ValueError(f"timestamp out of range: {ms}")
    return ms


# --- wire structs ----------------------------------------------------------------------------------


class _Wire(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """Base of the wire structs: camelCase names, unknown fields ignored (msgspec's default)."""


class Envelope(_Wire, kw_only=True, frozen=True):
    success: bool | None = None


class WireAccount(Envelope, kw_only=True, frozen=True):
    id: str
    first_name: str | None = None
    last_name: str | None = None
    public_id: str | None = None
    status: str | None = None
    """Any string: the vendor's lists differ by page and version (AVAILABLE, WARMUP, FREE, PREMIUM…)."""
    enabled: bool | None = None
    api_seat_allocated: bool | None = None
    """A1 (vendor): whether the key's plan holds an API seat for this account."""
    profile_urn: str | None = None
    """A2 only [chosen]: the account's mailbox prefix."""
    linkedin_plan: msgspec.Raw = msgspec.Raw(b"null")
    """A2 (vendor): ``{premiumType, isPremium, …}``; only ``premiumType`` is read, and a malformed plan
    is no plan (it must never cost the account)."""


class WirePlan(_Wire, kw_only=True, frozen=True):
    premium_type: str | None = None


class WireParticipant(_Wire, kw_only=True, frozen=True):
    profile_id: str | None = None
    name: str | None = None
    headline: str | None = None
    profile_url: str | None = None
    profile_picture: str | None = None


class WireLatestMessage(_Wire, kw_only=True, frozen=True):
    sent_at: Timestamp | None = None
    """Missing (the vendor's ``{}`` of an empty thread): no preview, the conversation is still kept."""
    message_urn: str | None = None
    """[chosen]: the vendor's preview has no URN."""
    text: str | None = None
    sender_name: str | None = None
    has_attachment: bool | None = None


class WireConversation(_Wire, kw_only=True, frozen=True):
    conversation_urn: str
    last_activity_at: Timestamp | None = None
    account_id: str | None = None
    """[chosen]: the vendor's item has none; the account asked for is meant."""
    unread_count: Count | None = None
    participants: list[WireParticipant] | None = None
    latest_message: WireLatestMessage | None = None
    starred: bool | None = None
    """[chosen]: the vendor's item has none; the star is then unknown (``ConversationPage.star_unknown``)."""


class WireReaction(_Wire, kw_only=True, frozen=True):
    emoji: str
    count: Count = 1
    reacted_by_owner: bool = False


class WireMessage(_Wire, kw_only=True, frozen=True):
    message_urn: str
    sent_at: Timestamp
    text: str | None = None
    sender_profile_id: str | None = None
    sender_name: str | None = None
    is_sent_by_owner: bool | None = None
    has_attachment: bool | None = None
    attachments: list[msgspec.Raw] | None = None
    reactions: list[WireReaction] | None = None
    """[chosen]: the vendor's C2 item has none."""


class AccountsEnvelope(Envelope, kw_only=True, frozen=True):
    accounts: list[msgspec.Raw]


class ConversationsEnvelope(Envelope, kw_only=True, frozen=True):
    conversations: list[msgspec.Raw]
    next_cursor: str | None = None
    has_more: bool | None = None
    from_cache: bool | None = None


class MessagesEnvelope(Envelope, kw_only=True, frozen=True):
    messages: list[msgspec.Raw]
    participants: list[msgspec.Raw] | None = None
    cursor: str | None = None
    has_more: bool | None = None


class SendEnvelope(Envelope, kw_only=True, frozen=True):
    sent_message: msgspec.Raw = msgspec.Raw(b"null")
    """Raw (``Raw | None`` is not a msgspec type): a bad item must not reject the whole answer."""
    conversation_urn: str | None = None
    """[chosen]: the vendor's answer has none; the thread is the one sent into."""
    recipient_profile_urn: str | None = None


class SyncStatusEnvelope(Envelope, kw_only=True, frozen=True):
    accounts: list[msgspec.Raw]


class WireSyncState(_Wire, kw_only=True, frozen=True):
    last_sync_at: Timestamp | None = None
    """Epoch ms (contract) or ISO-8601 (vendor)."""
    sync_in_progress: bool | None = None
    total_conversations: Int64 | None = None
    total_messages: Int64 | None = None
    consecutive_failures: Int64 | None = None
    last_error: str | None = None
    initial_sync_completed: bool | None = None


class WireAccountSyncStatus(_Wire, kw_only=True, frozen=True):
    account_id: str
    account_name: str | None = None
    sync_state: WireSyncState | None = None


class RecallWire(Envelope, kw_only=True, frozen=True):
    message_urn: str | None = None


class ServerSyncWire(Envelope, kw_only=True, frozen=True):
    account_id: str | None = None
    conversations_processed: Int64 | None = None
    messages_processed: Int64 | None = None
    duration_ms: float | None = None
    duration_seconds: float | str | None = None
    """A number, or a string such as ``"12.3"`` (the vendor documents it as a string)."""
    error: str | None = None


class ExistsWire(Envelope, kw_only=True, frozen=True):
    has_conversation: bool | None = None
    conversation_urn: str | None = None
    profile_urn: str | None = None
    account_id: str | None = None
