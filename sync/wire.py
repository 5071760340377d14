"""Wire decoding: typed msgspec structs for every response of spec §2, validated item by item.

Every ``decode_*`` function is pure (bytes in, values out, no I/O, no shared state), so a caller may run
it in an executor for a big page; :class:`sync.api.ApiClient` does so itself above a size threshold.

A tolerant reader (spec §1 "JSON" and §8): the real service sends only what the vendor documents
(``spec/vendor-shapes.md``), so every **[chosen]** field of the contract is optional and every documented
field may be null or missing; unknown fields are ignored and so are unknown enum values (an enum is read
as a plain string, never checked against a list). Timestamps may be epoch milliseconds (int or float) or
ISO-8601 strings. Integers are bounded to SQLite's int64 (:data:`Int64`), so a huge number skips its item
here instead of overflowing in the cache later.

Validation is per item (DESIGN "Errors and bad input"): an item whose URN does not parse
(:mod:`sync.urns`) or whose fields are wrong is skipped, logged and counted in the page's ``skipped``
(the first few in detail, then one line with the count, so a hostile page cannot flood the log); only a
malformed *envelope* rejects the page, as :class:`sync.errors.ProtocolError`. Fields the product does not
use are not declared, so their shape can never make an item fail.

Error answers (:func:`error_from_response`) are typed by ``code`` (any letter case), else by status, and
say what the server said: ``message``, else ``error``, else a Zod body's issues as ``path: message``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, Final, TypeVar

import msgspec

from sync import model
from sync.errors import (
    DailyQuotaExceeded,
    KnownError,
    ProtocolError,
    RateLimited,
    ValidationFailed,
    error_for_code,
    redact,
)
from sync.urns import UrnError, parse_conversation, parse_message, parse_profile

__all__ = [
    "DETAILED_SKIPS",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_COUNT",
    "AccountList",
    "AccountSyncStatus",
    "ConversationAck",
    "ConversationPage",
    "Count",
    "ExistsResult",
    "Int64",
    "MessagePage",
    "ReactResult",
    "RecallResult",
    "RefreshResult",
    "SendResult",
    "ServerSyncResult",
    "SkipLog",
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
    "parse_rate_limit_reset",
    "parse_retry_after",
    "rate_limit_wait",
]

log = logging.getLogger(__name__)

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
"""An integer SQLite can store: a field of this type that is out of range fails its item (skipped and
counted) instead of raising ``OverflowError`` in the cache. Use it for every integer the server sends."""
MAX_COUNT: Final = 2**31 - 1
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
"""A count (unread messages, reactions): not negative, and small enough that the cache may add up
billions of them without overflowing int64."""

_ACCOUNT_ID_RE: Final = re.compile(r"[0-9a-f]{24}")
_DIGITS_RE: Final = re.compile(r"-?[0-9]+")
_NUMBER_RE: Final = re.compile(r"[0-9]+(\.[0-9]*)?")
_MAX_EPOCH_MS: Final = 253_402_300_799_999
"""9999-12-31: a larger "timestamp" is garbage, not a date (and would overflow SQLite's sort order intent)."""

Timestamp = int | float | str
MAX_CURSOR: Final = 4096
"""Characters a paging cursor may have (real ones are a few dozen; a URL stays well under its limits)."""
TOO_DEEP: Final = "JSON nested too deeply"
"""msgspec raises ``RecursionError`` (not a ``DecodeError``) on very deep nesting, and ``UnicodeDecodeError``
on invalid UTF-8 inside a string: both are bad input like any other, never a crash."""
DETAILED_SKIPS: Final = 3
"""Skipped items of one page logged one by one; the rest are one summary line with their count."""
QUOTA_RESET_AFTER_S: Final = 3600.0
"""A C3 429 whose wait is longer than this is the daily quota, not the per-key rate limit."""


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
    """Any string: the vendor's lists differ by page and version (AVAILABLE, WARMUP, FREE, PREMIUM…)."""
    enabled: bool | None = None
    api_seat_allocated: bool | None = None
    """A1 (vendor): whether the key's plan holds an API seat for this account."""
    profile_urn: str | None = None
    """A2 only [chosen]: the account's mailbox prefix."""
    linkedin_plan: msgspec.Raw = msgspec.Raw(b"null")
    """A2 (vendor): ``{premiumType, isPremium, …}``; only ``premiumType`` is read, and a malformed plan
    is no plan (it must never cost the account)."""


class _WirePlan(_Wire, kw_only=True, frozen=True):
    premium_type: str | None = None


def _plan(raw: msgspec.Raw) -> str:
    try:
        plan = _decoder(_WirePlan | None).decode(raw)  # type: ignore[arg-type]
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return ""
    return (plan.premium_type or "") if plan is not None else ""


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


class _AccountsEnvelope(_Envelope, kw_only=True, frozen=True):
    accounts: list[msgspec.Raw]


class _ConversationsEnvelope(_Envelope, kw_only=True, frozen=True):
    conversations: list[msgspec.Raw]
    next_cursor: str | None = None
    has_more: bool | None = None
    from_cache: bool | None = None


class _MessagesEnvelope(_Envelope, kw_only=True, frozen=True):
    messages: list[msgspec.Raw]
    participants: list[msgspec.Raw] | None = None
    cursor: str | None = None
    has_more: bool | None = None


class _SendEnvelope(_Envelope, kw_only=True, frozen=True):
    sent_message: msgspec.Raw = msgspec.Raw(b"null")
    """Raw (``Raw | None`` is not a msgspec type): a bad item must not reject the whole answer."""
    conversation_urn: str | None = None
    """[chosen]: the vendor's answer has none; the thread is the one sent into."""
    recipient_profile_urn: str | None = None


class _SyncStatusEnvelope(_Envelope, kw_only=True, frozen=True):
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


class _RecallWire(_Envelope, kw_only=True, frozen=True):
    message_urn: str | None = None


class _ServerSyncWire(_Envelope, kw_only=True, frozen=True):
    account_id: str | None = None
    conversations_processed: Int64 | None = None
    messages_processed: Int64 | None = None
    duration_ms: float | None = None
    duration_seconds: float | str | None = None
    """A number, or a string such as ``"12.3"`` (the vendor documents it as a string)."""
    error: str | None = None


class _ExistsWire(_Envelope, kw_only=True, frozen=True):
    has_conversation: bool | None = None
    conversation_urn: str | None = None
    profile_urn: str | None = None
    account_id: str | None = None


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


class RefreshResult(_Envelope, kw_only=True, frozen=True):
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


class SkipLog:
    """Counts one page's skipped items and logs them without flooding: the first
    :data:`DETAILED_SKIPS` one line each, the rest one summary line (:meth:`close`)."""

    __slots__ = ("count", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0

    def add(self, index: int, reason: object) -> None:
        self.count += 1
        if self.count <= DETAILED_SKIPS:
            log.warning("skipped malformed %s item #%d: %s", self.what, index, reason)

    def close(self) -> int:
        """Write the summary line (if any item went unlogged); return the count."""
        if self.count > DETAILED_SKIPS:
            log.warning(
                "skipped %d more malformed %s item(s) on this page (%d in all)",
                self.count - DETAILED_SKIPS,
                self.what,
                self.count,
            )
        return self.count


def _items(
    raws: Iterable[msgspec.Raw], kind: type[_W], convert: Callable[[_W], _T], what: str
) -> tuple[list[_T], int]:
    """Decode and convert each item on its own; a bad one is logged (see :class:`SkipLog`), counted and
    left out."""
    good: list[_T] = []
    skips = SkipLog(what)
    decoder = _decoder(kind)
    for index, raw in enumerate(raws):
        try:
            good.append(convert(decoder.decode(raw)))
        except RecursionError:
            skips.add(index, TOO_DEEP)
        except (msgspec.DecodeError, ValueError) as exc:  # UrnError and _ItemError are ValueErrors
            skips.add(index, exc)
    return good, skips.close()


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
        api_seat=wire.api_seat_allocated,
        plan=_plan(wire.linkedin_plan),
    )


def conversation_from_wire(wire: WireConversation, account_id: str) -> model.Conversation:
    """A C1 item as a model value; ``account_id`` is the requested account, used when the item has none.

    A preview without ``sentAt`` (the vendor's ``{}``) is no preview; one without ``messageUrn`` keeps
    ``""``; an item without ``lastActivityAt`` takes its preview's time. A missing ``starred`` is False
    here (see :attr:`ConversationPage.star_unknown`). Raises ``UrnError`` or ``ValueError`` when the item
    is wrong.
    """
    urn = parse_conversation(wire.conversation_urn)
    latest = None
    wl = wire.latest_message
    if wl is not None and wl.sent_at is not None:
        if wl.message_urn:
            parse_message(wl.message_urn)  # present and malformed: the item is wrong
        latest = model.LatestMessage(
            message_urn=wl.message_urn or "",
            text=wl.text or "",
            sent_at=epoch_ms(wl.sent_at),
            sender_name=wl.sender_name or "",
            has_attachment=bool(wl.has_attachment),
        )
    if wire.last_activity_at is not None:
        last_activity_at = epoch_ms(wire.last_activity_at)
    elif latest is not None:
        last_activity_at = latest.sent_at
    else:
        raise _ItemError("no lastActivityAt and no latest message to take it from")
    return model.Conversation(
        account_id=_check_account_id(wire.account_id) if wire.account_id else account_id,
        conversation_id=urn.token,
        conversation_urn=wire.conversation_urn,
        last_activity_at=last_activity_at,
        unread_count=wire.unread_count or 0,
        starred=bool(wire.starred),
        participants=tuple(_participant(p) for p in wire.participants or ()),
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
    reactions = tuple(model.Reaction(r.emoji, r.count, r.reacted_by_owner) for r in wire.reactions or ())
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
        is_sent_by_owner=bool(wire.is_sent_by_owner),
        has_attachment=bool(wire.has_attachment) or bool(wire.attachments),
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
    """A1 ``GET /accounts``: a bare array (an ``{accounts: [...]}`` object is accepted too).

    An account listed more than once is kept once (its first item); the repeats are counted in
    ``duplicates`` and logged in one line, so a server that lists one account 300 times gets it synced
    once.
    """
    try:
        decoded = _decoder(list[msgspec.Raw] | _AccountsEnvelope).decode(body)  # type: ignore[arg-type]
    except RecursionError:
        raise ProtocolError(f"malformed A1 answer: {TOO_DEEP}", endpoint="A1") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # ValidationError is a DecodeError
        raise ProtocolError(f"malformed A1 answer: {exc}", endpoint="A1") from None
    raws: Sequence[msgspec.Raw] = decoded if isinstance(decoded, list) else decoded.accounts
    accounts, skipped = _items(raws, WireAccount, _account, "account")
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
    """C1 ``GET /conversations`` for ``account_id`` (items without ``accountId`` belong to it)."""
    envelope = _envelope(body, _ConversationsEnvelope, "C1")

    def convert(wire: WireConversation) -> tuple[model.Conversation, bool]:
        return conversation_from_wire(wire, account_id), wire.starred is None

    converted, skipped = _items(envelope.conversations, WireConversation, convert, "conversation")
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
        next_cursor=_cursor(envelope.next_cursor, "C1"),
        has_more=_has_more(envelope.has_more, envelope.next_cursor),
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
    envelope = _envelope(body, _MessagesEnvelope, "C2")
    messages, skipped = _items(
        envelope.messages,
        WireMessage,
        lambda wire: message_from_wire(wire, account_id, conversation_urn),
        "message",
    )
    messages.sort(key=_newest_first, reverse=True)
    # Participants are informational here (C1 carries them too): a bad one is dropped, not counted.
    participants, _ = _items(envelope.participants or (), WireParticipant, _participant, "participant")
    return MessagePage(
        messages=tuple(messages),
        cursor=_cursor(envelope.cursor, "C2"),
        has_more=_has_more(envelope.has_more, envelope.cursor),
        participants=tuple(participants),
        skipped=skipped,
    )


def decode_send(body: bytes, account_id: str, conversation_urn: str | None = None) -> SendResult:
    """C3 ``POST /conversations/send``; ``conversation_urn`` is the thread replied into, if any (the
    vendor's answer does not name it)."""
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
    wire = _envelope(body, _RecallWire, "C6")
    return RecallResult(success=wire.success, message_urn=wire.message_urn or message_urn)


def decode_react(body: bytes) -> ReactResult:
    return _envelope(body, ReactResult, "C7")


def decode_ack(body: bytes, endpoint: str = "C8") -> ConversationAck:
    return _envelope(body, ConversationAck, endpoint)


def _seconds(value: float | str | None) -> float | None:
    if isinstance(value, str):
        text = value.strip().removesuffix("s").strip()
        if not _NUMBER_RE.fullmatch(text):
            return None
        value = float(text)
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def decode_server_sync(body: bytes) -> ServerSyncResult:
    """C11 200: ``durationMs`` or ``durationSeconds`` (a number or a numeric string), optional ``error``."""
    wire = _envelope(body, _ServerSyncWire, "C11")
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
    envelope = _envelope(body, _SyncStatusEnvelope, "C12")
    accounts, skipped = _items(envelope.accounts, WireAccountSyncStatus, _sync_status, "sync status")
    return SyncStatusList(tuple(accounts), skipped)


def decode_refresh(body: bytes) -> RefreshResult:
    return _envelope(body, RefreshResult, "C13")


def decode_exists(body: bytes) -> ExistsResult:
    wire = _envelope(body, _ExistsWire, "C14")
    return ExistsResult(
        has_conversation=bool(wire.has_conversation),
        conversation_urn=wire.conversation_urn,
        profile_urn=wire.profile_urn,
        account_id=wire.account_id,
    )


# --- error answers ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ErrorBody:
    code: str | None = None
    message: str | None = None
    hold_until: str | None = None
    zod: bool = False


def _zod_text(issues: list[Any]) -> str | None:
    """A Zod error's issues as ``path.a: message; path.b: message`` (an empty path: the message alone)."""
    parts: list[str] = []
    for issue in issues:
        if not isinstance(issue, dict):
            continue
        message = issue.get("message")
        if not isinstance(message, str) or not message.strip():
            continue
        path = issue.get("path")
        names = (
            [str(p) for p in path if isinstance(p, str | int) and not isinstance(p, bool)]
            if isinstance(path, list)
            else []
        )
        parts.append(f"{'.'.join(names)}: {message}" if names else message)
    return "; ".join(parts) or None


def _read_error_body(body: bytes) -> _ErrorBody:
    try:
        decoded = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return _ErrorBody()
    if not isinstance(decoded, dict):
        return _ErrorBody()
    hold = decoded.get("holdUntil")
    hold_until = hold if isinstance(hold, str) else None
    nested = decoded.get("error")
    zod_text = None
    if isinstance(nested, dict):
        issues = nested.get("issues")
        if isinstance(issues, list):
            zod_text = _zod_text(issues)
        decoded = {**nested, **{k: v for k, v in decoded.items() if k != "error"}}
        nested = nested.get("message")
    code = decoded.get("code")
    message = decoded.get("message")
    text = zod_text
    if text is None and isinstance(message, str) and message.strip():
        text = message
    if text is None and isinstance(nested, str) and nested.strip():
        text = nested
    return _ErrorBody(
        code if isinstance(code, str) and code else None, text, hold_until, zod=zod_text is not None
    )


def parse_error_body(body: bytes) -> tuple[str | None, str | None]:
    """``(code, message)`` from any documented error shape (spec §1, §8).

    ``message`` is a Zod body's issues as ``path: message`` (joined by ``"; "``), else ``message``, else
    ``error``. Tolerant of anything: a non-JSON body (an HTML page from a proxy), a non-object, fields of
    the wrong type, or ``error`` as a nested object all give what can be read, else None.
    """
    read = _read_error_body(body)
    return read.code, read.message


def _http_date_s(value: str) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso_s(value: str) -> float | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _now_s(now_s: float | None) -> float:
    return datetime.now(UTC).timestamp() if now_s is None else now_s


def _finite_wait(seconds: float) -> float | None:
    return max(0.0, seconds) if math.isfinite(seconds) else None


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (relative to ``now_s``)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        moment = _http_date_s(text)
        if moment is None:
            return None
        seconds = moment - _now_s(now_s)
    return _finite_wait(seconds)


def parse_rate_limit_reset(value: str | None, now_s: float | None = None) -> float | None:
    """Seconds until an ``X-RateLimit-Reset`` (or ``holdUntil``) time, relative to ``now_s``.

    The sources disagree on its form (vendor-shapes §1.3), so all are read: epoch seconds, epoch
    milliseconds (a number above 10^12), a small number as seconds from now, ISO-8601 with ``T`` or a
    space (``2026-08-28 00:00:00+00:00``), or an HTTP date.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    now = _now_s(now_s)
    if _NUMBER_RE.fullmatch(text):
        number = float(text)
        if number >= 1e12:
            return _finite_wait(number / 1000 - now)
        if number >= 1e9:
            return _finite_wait(number - now)
        return _finite_wait(number)  # too small for an epoch time: seconds from now
    moment = _iso_s(text)
    if moment is None:
        moment = _http_date_s(text)
    return None if moment is None else _finite_wait(moment - now)


def rate_limit_wait(
    headers: Mapping[str, str], hold_until: str | None = None, now_s: float | None = None
) -> float | None:
    """How long a 429 says to wait: ``Retry-After``, else ``X-RateLimit-Reset``, else the body's
    ``holdUntil``; None when nothing readable says."""
    wait = parse_retry_after(headers.get("retry-after"), now_s)
    if wait is None:
        wait = parse_rate_limit_reset(headers.get("x-ratelimit-reset"), now_s)
    if wait is None:
        wait = parse_rate_limit_reset(hold_until, now_s)
    return wait


class _Headers(dict[str, str]):
    """Header lookups by lower-case name, whatever mapping the caller passed."""

    def __init__(self, headers: Mapping[str, str] | None) -> None:
        super().__init__({k.lower(): v for k, v in (headers or {}).items()})


def error_from_response(
    status: int,
    body: bytes,
    *,
    reason_phrase: str = "",
    retry_after: str | None = None,
    headers: Mapping[str, str] | None = None,
    endpoint: str | None = None,
    secrets: Iterable[str] = (),
    now_s: float | None = None,
) -> KnownError:
    """The typed error for a non-2xx answer (or a 2xx saying ``success: false``).

    Typed by ``code`` when known (any letter case), else by status class: a Zod body is
    :class:`ValidationFailed`; a 400 with an unknown code is :class:`Refused` (on C6, "refused by
    LinkedIn", elsewhere "the server refused the request", with the server's reason either way). The text
    is the body's (see :func:`parse_error_body`), else the status line, with every secret redacted.

    A 429 carries ``retry_after_s`` (:func:`rate_limit_wait`, relative to ``now_s``, else the answer's
    ``Date``, else the local clock). On C3 a 429 without ``Retry-After``, or with a wait of more than an
    hour, is the daily quota of new conversations (:class:`DailyQuotaExceeded`), as the vendor documents
    it with ``X-RateLimit-*`` headers only. ``retry_after`` overrides the header of that name.
    """
    read = _read_error_body(body)
    code = read.code
    found = _Headers(headers)
    if retry_after is not None:
        found["retry-after"] = retry_after
    status_line = f"{status} {reason_phrase}".strip()
    text = redact(read.message if read.message is not None else status_line, secrets)
    known_code = code is not None and error_for_code(code, 0) is not ProtocolError
    cls = error_for_code(code, status)
    if read.zod and status == 400 and not known_code:
        cls = ValidationFailed  # the server's own validation of the request (spec §8: C3's body)
    if status == 429 or issubclass(cls, RateLimited | DailyQuotaExceeded):
        if now_s is None and (date := found.get("date")):
            now_s = _http_date_s(date)
        wait = rate_limit_wait(found, read.hold_until, now_s)
        if (
            endpoint == "C3"
            and status == 429
            and not known_code
            and (found.get("retry-after") is None or (wait is not None and wait > QUOTA_RESET_AFTER_S))
        ):
            cls = DailyQuotaExceeded
        if issubclass(cls, RateLimited):
            return cls(
                text,
                retry_after_s=wait,
                status=status,
                code=code,
                server_message=text,
                endpoint=endpoint,
            )
    return cls(text, status=status, code=code, server_message=text, endpoint=endpoint)
