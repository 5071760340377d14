"""Wire decoding: typed msgspec structs for every response of spec §2, validated item by item.

Every ``decode_*`` function is pure (bytes in, values out, no I/O, no shared state), so a caller may run
it in an executor for a big page; :class:`sync.api.ApiClient` does so itself above a size threshold.

Tolerance (spec §1 "JSON"): unknown fields are ignored, optional fields may be missing, timestamps may be
epoch milliseconds (int or float) or ISO-8601 strings. Validation is per item (DESIGN "Errors and bad
input"): an item whose URN does not parse (:mod:`sync.urns`) or whose fields are wrong is skipped, logged
and counted in the page's ``skipped``; only a malformed *envelope* rejects the page, as
:class:`sync.errors.ProtocolError`. Fields the product does not use are not declared, so their shape can
never make an item fail.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

import msgspec

from sync import model
from sync.errors import KnownError, ProtocolError, RateLimited, error_for_code, redact
from sync.urns import UrnError, parse_conversation, parse_message, parse_profile

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
    "WireAccount",
    "WireConversation",
    "WireMessage",
    "WireParticipant",
    "WireReaction",
    "conversation_from_wire",
    "decode_account_status",
    "decode_accounts",
    "decode_ack",
    "decode_conversations",
    "decode_exists",
    "decode_message_item",
    "decode_messages",
    "decode_react",
    "decode_recall",
    "decode_refresh",
    "decode_send",
    "decode_server_sync",
    "decode_sync_status",
    "epoch_ms",
    "error_from_response",
    "message_from_wire",
    "parse_error_body",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

_ACCOUNT_ID_RE: Final = re.compile(r"[0-9a-f]{24}")
_DIGITS_RE: Final = re.compile(r"-?[0-9]+")
_MAX_EPOCH_MS: Final = 253_402_300_799_999
"""9999-12-31: a larger "timestamp" is garbage, not a date (and would overflow SQLite's sort order intent)."""

Timestamp = int | float | str
MAX_CURSOR: Final = 4096
"""Characters a paging cursor may have (real ones are a few dozen; a URL stays well under its limits)."""
TOO_DEEP: Final = "JSON nested too deeply"
"""msgspec raises ``RecursionError`` (not a ``DecodeError``) on very deep nesting, and ``UnicodeDecodeError``
on invalid UTF-8 inside a string: both are bad input like any other, never a crash."""


class _ItemError(ValueError):
    """One item is wrong; it is skipped, never the page."""


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


class _Envelope(_Wire, kw_only=True, frozen=True):
    success: bool | None = None


class WireAccount(_Envelope, kw_only=True, frozen=True):
    id: str
    first_name: str | None = None
    last_name: str | None = None
    public_id: str | None = None
    status: str | None = None
    enabled: bool | None = None
    profile_urn: str | None = None
    """A2 only [chosen]: the account's mailbox prefix."""


class WireParticipant(_Wire, kw_only=True, frozen=True):
    profile_id: str | None = None
    name: str | None = None
    headline: str | None = None
    profile_url: str | None = None
    profile_picture: str | None = None


class WireLatestMessage(_Wire, kw_only=True, frozen=True):
    sent_at: Timestamp
    message_urn: str | None = None
    text: str | None = None
    sender_name: str | None = None


class WireConversation(_Wire, kw_only=True, frozen=True):
    conversation_urn: str
    last_activity_at: Timestamp
    account_id: str | None = None
    unread_count: int = 0
    participants: list[WireParticipant] = []
    latest_message: WireLatestMessage | None = None
    starred: bool = False


class WireReaction(_Wire, kw_only=True, frozen=True):
    emoji: str
    count: int = 1
    reacted_by_owner: bool = False


class WireMessage(_Wire, kw_only=True, frozen=True):
    message_urn: str
    sent_at: Timestamp
    text: str | None = None
    sender_profile_id: str | None = None
    sender_name: str | None = None
    is_sent_by_owner: bool = False
    has_attachment: bool = False
    attachments: list[msgspec.Raw] | None = None
    reactions: list[WireReaction] | None = None


class _AccountsEnvelope(_Envelope, kw_only=True, frozen=True):
    accounts: list[msgspec.Raw]


class _ConversationsEnvelope(_Envelope, kw_only=True, frozen=True):
    conversations: list[msgspec.Raw]
    next_cursor: str | None = None
    has_more: bool | None = None
    from_cache: bool = False


class _MessagesEnvelope(_Envelope, kw_only=True, frozen=True):
    messages: list[msgspec.Raw]
    participants: list[msgspec.Raw] = []
    cursor: str | None = None
    has_more: bool | None = None


class _SendEnvelope(_Envelope, kw_only=True, frozen=True):
    sent_message: msgspec.Raw = msgspec.Raw(b"null")
    """Raw (``Raw | None`` is not a msgspec type): a bad item must not reject the whole answer."""
    conversation_urn: str | None = None
    recipient_profile_urn: str | None = None


class _SyncStatusEnvelope(_Envelope, kw_only=True, frozen=True):
    accounts: list[msgspec.Raw]


class WireSyncState(_Wire, kw_only=True, frozen=True):
    last_sync_at: Timestamp | None = None
    sync_in_progress: bool = False
    total_conversations: int = 0
    total_messages: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    initial_sync_completed: bool = False


class WireAccountSyncStatus(_Wire, kw_only=True, frozen=True):
    account_id: str
    account_name: str | None = None
    sync_state: WireSyncState | None = None


# --- results that are small enough to be their own wire struct ----------------------------------------


class RecallResult(_Envelope, kw_only=True, frozen=True):
    """C6 200. ``message_urn`` echoes the requested URN (filled in from the request when absent)."""

    message_urn: str = ""


class ReactResult(_Envelope, kw_only=True, frozen=True):
    message_urn: str | None = None
    emoji: str | None = None
    react: bool | None = None


class ConversationAck(_Envelope, kw_only=True, frozen=True):
    """C8, C9/C10, M1 200."""

    conversation_urn: str | None = None


class ServerSyncResult(_Envelope, kw_only=True, frozen=True):
    """C11 200."""

    account_id: str | None = None
    conversations_processed: int = 0
    messages_processed: int = 0
    duration_ms: float = 0.0


class RefreshResult(_Envelope, kw_only=True, frozen=True):
    """C13 200: the refreshed messages arrive later as ``conversation.refreshed`` events."""

    message: str | None = None
    conversation_urn: str | None = None
    account_id: str | None = None


class ExistsResult(_Envelope, kw_only=True, frozen=True):
    """C14 200."""

    has_conversation: bool = False
    conversation_urn: str | None = None
    profile_urn: str | None = None
    account_id: str | None = None


# --- results with validated items ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountList:
    """A1: the valid accounts, and how many items were skipped as malformed."""

    accounts: tuple[model.Account, ...]
    skipped: int = 0


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


@dataclass(frozen=True, slots=True)
class MessagePage:
    """C2: one page of a conversation's messages, newest first (recalled messages are never included)."""

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


# --- envelope and item helpers ------------------------------------------------------------------------

_E = TypeVar("_E", bound=_Envelope)
_T = TypeVar("_T")
_W = TypeVar("_W", bound=msgspec.Struct)

_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decoder(kind: type[_T]) -> msgspec.json.Decoder[_T]:
    found = _decoders.get(kind)
    if found is None:
        found = _decoders[kind] = msgspec.json.Decoder(kind)
    return found


def _envelope(body: bytes, kind: type[_E], endpoint: str) -> _E:
    """Decode an envelope or reject the whole answer; a 2xx that says ``success: false`` is an error."""
    try:
        envelope = _decoder(kind).decode(body)
    except RecursionError:  # msgspec's answer to JSON nested deeper than it parses (about 1,000 levels)
        raise ProtocolError(f"malformed {endpoint} answer: {TOO_DEEP}", endpoint=endpoint) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # ValidationError is a DecodeError
        # An error body under a 2xx status lacks the envelope's fields: type it as the error it says it is.
        try:
            failed = _decoder(_Envelope).decode(body).success is False
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            failed = False
        if failed:
            raise error_from_response(200, body, endpoint=endpoint) from None
        raise ProtocolError(f"malformed {endpoint} answer: {exc}", endpoint=endpoint) from None
    if envelope.success is False:
        raise error_from_response(200, body, endpoint=endpoint)
    return envelope


def _items(
    raws: Iterable[msgspec.Raw], kind: type[_W], convert: Callable[[_W], _T], what: str
) -> tuple[list[_T], int]:
    """Decode and convert each item on its own; a bad one is logged, counted and left out."""
    good: list[_T] = []
    skipped = 0
    decoder = _decoder(kind)
    for index, raw in enumerate(raws):
        try:
            good.append(convert(decoder.decode(raw)))
        except RecursionError:
            skipped += 1
            log.warning("skipped malformed %s item #%d: %s", what, index, TOO_DEEP)
        except (msgspec.DecodeError, ValueError) as exc:  # UrnError and _ItemError are ValueErrors
            skipped += 1
            log.warning("skipped malformed %s item #%d: %s", what, index, exc)
    return good, skipped


def _cursor(cursor: str | None, endpoint: str) -> str | None:
    """An opaque cursor, which goes back in a URL: one longer than :data:`MAX_CURSOR` rejects the page
    (it could not be sent back, and stored as a resume point it would fail every later run)."""
    if cursor is not None and len(cursor) > MAX_CURSOR:
        raise ProtocolError(
            f"malformed {endpoint} answer: a cursor of {len(cursor)} characters (at most {MAX_CURSOR})",
            endpoint=endpoint,
        )
    return cursor


def _has_more(has_more: bool | None, cursor: str | None) -> bool:
    # hasMore is required by the contract; a server that leaves it out still says so by its cursor.
    return bool(cursor) if has_more is None else has_more


def _check_account_id(value: str) -> str:
    if not _ACCOUNT_ID_RE.fullmatch(value):
        raise _ItemError(f"account id {value[:40]!r} is not 24 lowercase hex characters")
    return value


def _non_negative(value: int, name: str) -> int:
    if value < 0:
        raise _ItemError(f"{name} is negative: {value}")
    return value


def _participant(wire: WireParticipant) -> model.Participant:
    return model.Participant(
        profile_id=wire.profile_id or "",
        name=wire.name or "",
        headline=wire.headline or "",
        profile_url=wire.profile_url or "",
        picture=wire.profile_picture or "",
    )


def _account(wire: WireAccount, mailbox: str = "") -> model.Account:
    name = " ".join(part for part in (wire.first_name, wire.last_name) if part) or wire.public_id or wire.id
    return model.Account(
        account_id=_check_account_id(wire.id),
        name=name,
        public_id=wire.public_id or "",
        mailbox=mailbox,
        status=wire.status or "UNKNOWN",
        enabled=True if wire.enabled is None else wire.enabled,
    )


def conversation_from_wire(wire: WireConversation, account_id: str) -> model.Conversation:
    """A C1 item as a model value; ``account_id`` is the requested account, used when the item has none.

    Raises ``UrnError`` or ``ValueError`` when the item is wrong.
    """
    urn = parse_conversation(wire.conversation_urn)
    latest = None
    if wire.latest_message is not None:
        wl = wire.latest_message
        if wl.message_urn is not None:
            parse_message(wl.message_urn)  # present and malformed: the item is wrong
        latest = model.LatestMessage(
            message_urn=wl.message_urn or "",
            text=wl.text or "",
            sent_at=epoch_ms(wl.sent_at),
            sender_name=wl.sender_name or "",
        )
    return model.Conversation(
        account_id=_check_account_id(wire.account_id) if wire.account_id else account_id,
        conversation_id=urn.token,
        conversation_urn=wire.conversation_urn,
        last_activity_at=epoch_ms(wire.last_activity_at),
        unread_count=_non_negative(wire.unread_count, "unreadCount"),
        starred=wire.starred,
        participants=tuple(_participant(p) for p in wire.participants),
        latest=latest,
    )


def message_from_wire(wire: WireMessage, account_id: str, conversation_urn: str) -> model.Message:
    """A C2 item (or C3 ``sentMessage``, or an event's message) as a model value in one conversation.

    Raises ``UrnError`` or ``ValueError`` when the item is wrong, including a message URN that names
    another mailbox or another thread than the conversation it was listed in.
    """
    conversation = parse_conversation(conversation_urn)
    urn = parse_message(wire.message_urn)
    if urn.mailbox is not None and conversation.mailbox is not None and urn.mailbox != conversation.mailbox:
        raise _ItemError(f"message mailbox {urn.mailbox} is not the conversation's {conversation.mailbox}")
    if urn.thread_token is not None and urn.thread_token != conversation.token:
        raise _ItemError("legacy message URN names another thread")
    reactions = tuple(
        model.Reaction(r.emoji, _non_negative(r.count, "reaction count"), r.reacted_by_owner)
        for r in wire.reactions or ()
    )
    return model.Message(
        account_id=account_id,
        conversation_id=conversation.token,
        message_id=urn.token,
        message_urn=wire.message_urn,
        conversation_urn=conversation_urn,
        text=wire.text or "",
        sent_at=epoch_ms(wire.sent_at),
        sender_profile_id=wire.sender_profile_id or "",
        sender_name=wire.sender_name or "",
        is_sent_by_owner=wire.is_sent_by_owner,
        has_attachment=wire.has_attachment or bool(wire.attachments),
        reactions=reactions,
    )


def decode_message_item(raw: bytes | msgspec.Raw, account_id: str, conversation_urn: str) -> model.Message:
    """One message object (an event's ``message``); raises ``ValueError``/``UrnError``/msgspec errors."""
    try:
        decoded = _decoder(WireMessage).decode(raw)
    except RecursionError:
        raise _ItemError(TOO_DEEP) from None
    return message_from_wire(decoded, account_id, conversation_urn)


# --- one decoder per endpoint ---------------------------------------------------------------------------


def decode_accounts(body: bytes) -> AccountList:
    """A1 ``GET /accounts``: a bare array (an ``{accounts: [...]}`` object is accepted too)."""
    try:
        decoded = _decoder(list[msgspec.Raw] | _AccountsEnvelope).decode(body)  # type: ignore[arg-type]
    except RecursionError:
        raise ProtocolError(f"malformed A1 answer: {TOO_DEEP}", endpoint="A1") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # ValidationError is a DecodeError
        raise ProtocolError(f"malformed A1 answer: {exc}", endpoint="A1") from None
    raws: Sequence[msgspec.Raw] = decoded if isinstance(decoded, list) else decoded.accounts
    accounts, skipped = _items(raws, WireAccount, _account, "account")
    return AccountList(tuple(accounts), skipped)


def decode_account_status(body: bytes) -> model.Account:
    """A2 ``GET /account/status``: the account with its mailbox prefix (``""`` when the server has none)."""
    wire = _envelope(body, WireAccount, "A2")
    mailbox = ""
    if wire.profile_urn:
        try:
            mailbox = str(parse_profile(wire.profile_urn))
        except UrnError as exc:
            # The prefix has a fallback (the first C1 page), so a bad one is dropped, not fatal.
            log.warning("ignored malformed profileUrn in A2: %s", exc)
    try:
        return _account(wire, mailbox)
    except _ItemError as exc:
        raise ProtocolError(f"malformed A2 answer: {exc}", endpoint="A2") from None


def decode_conversations(body: bytes, account_id: str) -> ConversationPage:
    """C1 ``GET /conversations`` for ``account_id``."""
    envelope = _envelope(body, _ConversationsEnvelope, "C1")
    conversations, skipped = _items(
        envelope.conversations,
        WireConversation,
        lambda wire: conversation_from_wire(wire, account_id),
        "conversation",
    )
    mailbox_hint = None
    for conversation in conversations:
        parsed = parse_conversation(conversation.conversation_urn)
        if parsed.mailbox is not None:
            mailbox_hint = str(parsed.mailbox)
            break
    return ConversationPage(
        conversations=tuple(conversations),
        next_cursor=_cursor(envelope.next_cursor, "C1"),
        has_more=_has_more(envelope.has_more, envelope.next_cursor),
        from_cache=envelope.from_cache,
        skipped=skipped,
        mailbox_hint=mailbox_hint,
    )


def decode_messages(body: bytes, account_id: str, conversation_urn: str) -> MessagePage:
    """C2 ``GET /conversations/{urn}/messages``; ``conversation_urn`` must parse (it was requested)."""
    parse_conversation(conversation_urn)
    envelope = _envelope(body, _MessagesEnvelope, "C2")
    messages, skipped = _items(
        envelope.messages,
        WireMessage,
        lambda wire: message_from_wire(wire, account_id, conversation_urn),
        "message",
    )
    # Participants are informational here (C1 carries them too): a bad one is dropped, not counted.
    participants, _ = _items(envelope.participants, WireParticipant, _participant, "participant")
    return MessagePage(
        messages=tuple(messages),
        cursor=_cursor(envelope.cursor, "C2"),
        has_more=_has_more(envelope.has_more, envelope.cursor),
        participants=tuple(participants),
        skipped=skipped,
    )


def decode_send(body: bytes, account_id: str, conversation_urn: str | None = None) -> SendResult:
    """C3 ``POST /conversations/send``; ``conversation_urn`` is the thread replied into, if any."""
    envelope = _envelope(body, _SendEnvelope, "C3")
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
    result = _envelope(body, RecallResult, "C6")
    return result if result.message_urn else msgspec.structs.replace(result, message_urn=message_urn)


def decode_react(body: bytes) -> ReactResult:
    return _envelope(body, ReactResult, "C7")


def decode_ack(body: bytes, endpoint: str = "C8") -> ConversationAck:
    return _envelope(body, ConversationAck, endpoint)


def decode_server_sync(body: bytes) -> ServerSyncResult:
    return _envelope(body, ServerSyncResult, "C11")


def _sync_status(wire: WireAccountSyncStatus) -> AccountSyncStatus:
    state = None
    if (ws := wire.sync_state) is not None:
        state = SyncState(
            last_sync_at=None if ws.last_sync_at is None else epoch_ms(ws.last_sync_at),
            sync_in_progress=ws.sync_in_progress,
            total_conversations=ws.total_conversations,
            total_messages=ws.total_messages,
            consecutive_failures=ws.consecutive_failures,
            last_error=ws.last_error,
            initial_sync_completed=ws.initial_sync_completed,
        )
    return AccountSyncStatus(wire.account_id, wire.account_name or "", state)


def decode_sync_status(body: bytes) -> SyncStatusList:
    envelope = _envelope(body, _SyncStatusEnvelope, "C12")
    accounts, skipped = _items(envelope.accounts, WireAccountSyncStatus, _sync_status, "sync status")
    return SyncStatusList(tuple(accounts), skipped)


def decode_refresh(body: bytes) -> RefreshResult:
    return _envelope(body, RefreshResult, "C13")


def decode_exists(body: bytes) -> ExistsResult:
    return _envelope(body, ExistsResult, "C14")


# --- error answers ----------------------------------------------------------------------------------


def parse_error_body(body: bytes) -> tuple[str | None, str | None]:
    """``(code, message)`` from either error shape; ``message`` is ``message``, else ``error``.

    Tolerant of anything: a non-JSON body (an HTML page from a proxy), a non-object, fields of the
    wrong type, or ``error`` as a nested ``{code, message}`` object all give what can be read, else None.
    """
    try:
        decoded = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None, None
    if not isinstance(decoded, dict):
        return None, None
    nested = decoded.get("error")
    if isinstance(nested, dict):
        decoded = {**nested, **{k: v for k, v in decoded.items() if k != "error"}}
        nested = nested.get("message")
    code = decoded.get("code")
    message = decoded.get("message")
    text = message if isinstance(message, str) and message.strip() else None
    if text is None and isinstance(nested, str) and nested.strip():
        text = nested
    return (code if isinstance(code, str) and code else None), text


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (relative to ``now_s``)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        base = datetime.now(UTC).timestamp() if now_s is None else now_s
        seconds = moment.timestamp() - base
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def error_from_response(
    status: int,
    body: bytes,
    *,
    reason_phrase: str = "",
    retry_after: str | None = None,
    endpoint: str | None = None,
    secrets: Iterable[str] = (),
    now_s: float | None = None,
) -> KnownError:
    """The typed error for a non-2xx answer (or a 2xx saying ``success: false``).

    Typed by ``code`` when known, else by status class (a 400 with an unknown code — the real service's
    C6 refusals — is :class:`Refused`, "refused by LinkedIn" with the server's message). The message is the
    body's ``message``, else ``error``, else the status line, with every secret redacted.
    """
    code, message = parse_error_body(body)
    status_line = f"{status} {reason_phrase}".strip()
    text = redact(message if message is not None else status_line, secrets)
    cls = error_for_code(code, status)
    if issubclass(cls, RateLimited):
        return cls(
            text,
            retry_after_s=parse_retry_after(retry_after, now_s),
            status=status,
            code=code,
            server_message=text,
            endpoint=endpoint,
        )
    return cls(text, status=status, code=code, server_message=text, endpoint=endpoint)
