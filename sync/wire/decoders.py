"""One decoder per endpoint of spec §2: an answer's body in, a typed result out (pure, no I/O)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import msgspec

from sync import model
from sync.errors import ProtocolError
from sync.urns import UrnError, parse_conversation, parse_profile
from sync.wire.items import (
    TOO_DEEP,
    ItemError,
    account_from_wire,
    cached_decoder,
    checked_cursor,
    conversation_from_wire,
    decode_envelope,
    decode_items,
    decode_message_item,
    has_more_pages,
    message_from_wire,
    participant_from_wire,
)
from sync.wire.results import (
    AccountList,
    AccountSyncStatus,
    ConversationAck,
    ConversationPage,
    ExistsResult,
    MessagePage,
    ReactResult,
    RecallResult,
    RefreshResult,
    SendResult,
    ServerSyncResult,
    SyncState,
    SyncStatusList,
)
from sync.wire.structs import (
    NUMBER_RE,
    AccountsEnvelope,
    ConversationsEnvelope,
    ExistsWire,
    MessagesEnvelope,
    RecallWire,
    SendEnvelope,
    ServerSyncWire,
    SyncStatusEnvelope,
    WireAccount,
    WireAccountSyncStatus,
    WireConversation,
    WireMessage,
    WireParticipant,
    epoch_ms,
)

__all__ = [
    "decode_account_status",
    "decode_accounts",
    "decode_ack",
    "decode_conversations",
    "decode_exists",
    "decode_messages",
    "decode_react",
    "decode_recall",
    "decode_refresh",
    "decode_send",
    "decode_server_sync",
    "decode_sync_status",
]

# The package's name, not the module's: log filters and the repeat collapser (sync.logs) key on it.
log = logging.getLogger("sync.wire")


def decode_accounts(body: bytes) -> AccountList:
    """A1 ``GET /accounts``: a bare array (an ``{accounts: [...]}`` object is accepted too).

    An account listed more than once is kept once (its first item); the repeats are counted in
    ``duplicates`` and logged in one line, so a server that lists one account 300 times gets it synced
    once.
    """
    try:
        decoded = cached_decoder(list[msgspec.Raw] | AccountsEnvelope).decode(body)  # type: ignore[arg-type]
    except RecursionError:
        raise ProtocolError(f"malformed A1 answer: {TOO_DEEP}", endpoint="A1") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # ValidationError is a DecodeError
        raise ProtocolError(f"malformed A1 answer: {exc}", endpoint="A1") from None
    raws: Sequence[msgspec.Raw] = decoded if isinstance(decoded, list) else decoded.accounts
    accounts, skipped = decode_items(raws, WireAccount, account_from_wire, "account")
    unique: dict[str, model.Account] = {}
    repeated: set[str] = set()
    for account in accounts:
        if account.account_id in unique:
            repeated.add(account.account_id)
        else:
            unique[account.account_id] = account
    duplicates = len(accounts) - len(unique)
    if duplicates:
        log.warning(
            "A1 listed %d account(s) more than once: %d repeated item(s) ignored, the first of each kept",
            len(repeated),
            duplicates,
        )
    return AccountList(tuple(unique.values()), skipped, duplicates)


def decode_account_status(body: bytes) -> model.Account:
    """A2 ``GET /account/status``: the account with its mailbox prefix (``""`` when the server has none,
    as the vendor never does: the prefix then comes from the first C1 page)."""
    wire = decode_envelope(body, WireAccount, "A2")
    mailbox = ""
    if wire.profile_urn:
        try:
            mailbox = str(parse_profile(wire.profile_urn))
        except UrnError as exc:
            # The prefix has a fallback (the first C1 page), so a bad one is dropped, not fatal.
            log.warning("ignored malformed profileUrn in A2: %s", exc)
    try:
        return account_from_wire(wire, mailbox)
    except ItemError as exc:
        raise ProtocolError(f"malformed A2 answer: {exc}", endpoint="A2") from None


def decode_conversations(body: bytes, account_id: str) -> ConversationPage:
    """C1 ``GET /conversations`` for ``account_id`` (items without ``accountId`` belong to it)."""
    envelope = decode_envelope(body, ConversationsEnvelope, "C1")

    def convert(wire: WireConversation) -> tuple[model.Conversation, bool]:
        return conversation_from_wire(wire, account_id), wire.starred is None

    converted, skipped = decode_items(envelope.conversations, WireConversation, convert, "conversation")
    conversations = tuple(conversation for conversation, _ in converted)
    star_unknown = frozenset(c.conversation_id for c, unknown in converted if unknown)
    mailbox_hint = None
    for conversation in conversations:
        parsed = parse_conversation(conversation.conversation_urn)
        if parsed.mailbox is not None:
            mailbox_hint = str(parsed.mailbox)
            break
    return ConversationPage(
        conversations=conversations,
        next_cursor=checked_cursor(envelope.next_cursor, "C1"),
        has_more=has_more_pages(envelope.has_more, envelope.next_cursor),
        from_cache=bool(envelope.from_cache),
        skipped=skipped,
        mailbox_hint=mailbox_hint,
        star_unknown=star_unknown,
    )


def _newest_first(message: model.Message) -> tuple[int, str]:
    return message.sent_at, message.message_id


def decode_messages(body: bytes, account_id: str, conversation_urn: str) -> MessagePage:
    """C2 ``GET /conversations/{urn}/messages``; ``conversation_urn`` must parse (it was requested).

    The messages come back newest first by (``sentAt``, message token) whatever the wire order: the
    order is undocumented and the vendor's pages are oldest first (spec §8), while everything downstream
    (the newest synced time, reconciliation's coverage, a page's oldest message) relies on it.
    """
    parse_conversation(conversation_urn)
    envelope = decode_envelope(body, MessagesEnvelope, "C2")
    messages, skipped = decode_items(
        envelope.messages,
        WireMessage,
        lambda wire: message_from_wire(wire, account_id, conversation_urn),
        "message",
    )
    messages.sort(key=_newest_first, reverse=True)
    # Participants are informational here (C1 carries them too): a bad one is dropped, not counted.
    participants, _ = decode_items(
        envelope.participants or (), WireParticipant, participant_from_wire, "participant"
    )
    return MessagePage(
        messages=tuple(messages),
        cursor=checked_cursor(envelope.cursor, "C2"),
        has_more=has_more_pages(envelope.has_more, envelope.cursor),
        participants=tuple(participants),
        skipped=skipped,
    )


def decode_send(body: bytes, account_id: str, conversation_urn: str | None = None) -> SendResult:
    """C3 ``POST /conversations/send``; ``conversation_urn`` is the thread replied into, if any (the
    vendor's answer does not name it)."""
    envelope = decode_envelope(body, SendEnvelope, "C3")
    thread = envelope.conversation_urn or conversation_urn
    sent: model.Message | None = None
    skipped = 0
    if bytes(envelope.sent_message) != b"null":
        if thread is None:
            skipped = 1
            log.warning("C3 answer names no conversation: sentMessage skipped")
        else:
            try:
                sent = decode_message_item(envelope.sent_message, account_id, thread)
            except (msgspec.DecodeError, ValueError) as exc:
                skipped = 1
                log.warning("skipped malformed C3 sentMessage: %s", exc)
    return SendResult(thread, envelope.recipient_profile_urn, sent, skipped)


def decode_recall(body: bytes, message_urn: str) -> RecallResult:
    """C6 200 ``{success, messageUrn}``; an answer without ``messageUrn`` echoes the requested one."""
    wire = decode_envelope(body, RecallWire, "C6")
    return RecallResult(success=wire.success, message_urn=wire.message_urn or message_urn)


def decode_react(body: bytes) -> ReactResult:
    return decode_envelope(body, ReactResult, "C7")


def decode_ack(body: bytes, endpoint: str = "C8") -> ConversationAck:
    return decode_envelope(body, ConversationAck, endpoint)


def _seconds(value: float | str | None) -> float | None:
    if isinstance(value, str):
        text = value.strip().removesuffix("s").strip()
        if not NUMBER_RE.fullmatch(text):
            return None
        value = float(text)
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def decode_server_sync(body: bytes) -> ServerSyncResult:
    """C11 200: ``durationMs`` or ``durationSeconds`` (a number or a numeric string), optional ``error``."""
    wire = decode_envelope(body, ServerSyncWire, "C11")
    duration_ms = (
        wire.duration_ms if wire.duration_ms is not None and math.isfinite(wire.duration_ms) else None
    )
    if duration_ms is None and (seconds := _seconds(wire.duration_seconds)) is not None:
        duration_ms = seconds * 1000
    return ServerSyncResult(
        account_id=wire.account_id,
        conversations_processed=wire.conversations_processed or 0,
        messages_processed=wire.messages_processed or 0,
        duration_ms=duration_ms,
        error=wire.error or None,
    )


def _sync_status(wire: WireAccountSyncStatus) -> AccountSyncStatus:
    state = None
    if (ws := wire.sync_state) is not None:
        state = SyncState(
            last_sync_at=None if ws.last_sync_at is None else epoch_ms(ws.last_sync_at),
            sync_in_progress=bool(ws.sync_in_progress),
            total_conversations=ws.total_conversations or 0,
            total_messages=ws.total_messages or 0,
            consecutive_failures=ws.consecutive_failures or 0,
            last_error=ws.last_error,
            initial_sync_completed=bool(ws.initial_sync_completed),
        )
    return AccountSyncStatus(wire.account_id, wire.account_name or "", state)


def decode_sync_status(body: bytes) -> SyncStatusList:
    """C12: ``lastSyncAt`` may be epoch ms (contract) or ISO-8601 (vendor)."""
    envelope = decode_envelope(body, SyncStatusEnvelope, "C12")
    accounts, skipped = decode_items(envelope.accounts, WireAccountSyncStatus, _sync_status, "sync status")
    return SyncStatusList(tuple(accounts), skipped)


def decode_refresh(body: bytes) -> RefreshResult:
    return decode_envelope(body, RefreshResult, "C13")


def decode_exists(body: bytes) -> ExistsResult:
    wire = decode_envelope(body, ExistsWire, "C14")
    return ExistsResult(
        has_conversation=bool(wire.has_conversation),
        conversation_urn=wire.conversation_urn,
        profile_urn=wire.profile_urn,
        account_id=wire.account_id,
    )
