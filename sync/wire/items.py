"""Item-by-item validation: each item decoded alone, a bad one skipped and counted, the rest model values.

Validation is per item (ARCHITECTURE.md §9): an item whose URN does not parse
(:mod:`sync.urns`) or whose fields are wrong is skipped, logged and counted in the page's ``skipped``
(the first few in detail, then one line with the count, so a hostile page cannot flood the log); only a
malformed *envelope* rejects the page, as :class:`sync.errors.ProtocolError`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import msgspec

from sync import model
from sync.errors import ProtocolError
from sync.urns import parse_conversation, parse_message
from sync.wire.error_answers import error_from_response
from sync.wire.structs import (
    Envelope,
    WireAccount,
    WireConversation,
    WireMessage,
    WireParticipant,
    WirePlan,
    epoch_ms,
)

__all__ = [
    "DETAILED_SKIPS",
    "MAX_CURSOR",
    "TOO_DEEP",
    "ItemError",
    "SkipLog",
    "account_from_wire",
    "cached_decoder",
    "checked_cursor",
    "conversation_from_wire",
    "decode_envelope",
    "decode_items",
    "decode_message_item",
    "has_more_pages",
    "message_from_wire",
    "participant_from_wire",
]

# The package's name, not the module's: log filters and the repeat collapser (sync.logs) key on it.
log = logging.getLogger("sync.wire")

_ACCOUNT_ID_RE: Final = re.compile(r"[0-9a-f]{24}")
MAX_CURSOR: Final = 4096
"""Characters a paging cursor may have (real ones are a few dozen; a URL stays well under its limits)."""
TOO_DEEP: Final = "JSON nested too deeply"
"""msgspec raises ``RecursionError`` (not a ``DecodeError``) on very deep nesting, and ``UnicodeDecodeError``
on invalid UTF-8 inside a string: both are bad input like any other, never a crash."""
DETAILED_SKIPS: Final = 3
"""Skipped items of one page logged one by one; the rest are one summary line with their count."""


class ItemError(ValueError):
    """One item is wrong; it is skipped, never the page."""


_E = TypeVar("_E", bound=Envelope)
_T = TypeVar("_T")
_W = TypeVar("_W", bound=msgspec.Struct)

_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def cached_decoder(kind: type[_T]) -> msgspec.json.Decoder[_T]:
    found = _decoders.get(kind)
    if found is None:
        found = _decoders[kind] = msgspec.json.Decoder(kind)
    return found


def decode_envelope(body: bytes, kind: type[_E], endpoint: str) -> _E:
    """Decode an envelope or reject the whole answer; a 2xx that says ``success: false`` is an error."""
    try:
        envelope = cached_decoder(kind).decode(body)
    except RecursionError:  # msgspec's answer to JSON nested deeper than it parses (about 1,000 levels)
        raise ProtocolError(f"malformed {endpoint} answer: {TOO_DEEP}", endpoint=endpoint) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # ValidationError is a DecodeError
        # An error body under a 2xx status lacks the envelope's fields: type it as the error it says it is.
        try:
            failed = cached_decoder(Envelope).decode(body).success is False
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


def decode_items(
    raws: Iterable[msgspec.Raw], kind: type[_W], convert: Callable[[_W], _T], what: str
) -> tuple[list[_T], int]:
    """Decode and convert each item on its own; a bad one is logged (see :class:`SkipLog`), counted and
    left out."""
    good: list[_T] = []
    skips = SkipLog(what)
    decoder = cached_decoder(kind)
    for index, raw in enumerate(raws):
        try:
            good.append(convert(decoder.decode(raw)))
        except RecursionError:
            skips.add(index, TOO_DEEP)
        except (msgspec.DecodeError, ValueError) as exc:  # UrnError and ItemError are ValueErrors
            skips.add(index, exc)
    return good, skips.close()


def checked_cursor(cursor: str | None, endpoint: str) -> str | None:
    """An opaque cursor, which goes back in a URL: one longer than :data:`MAX_CURSOR` rejects the page
    (it could not be sent back, and stored as a resume point it would fail every later run)."""
    if cursor is not None and len(cursor) > MAX_CURSOR:
        raise ProtocolError(
            f"malformed {endpoint} answer: a cursor of {len(cursor)} characters (at most {MAX_CURSOR})",
            endpoint=endpoint,
        )
    return cursor


def has_more_pages(has_more: bool | None, cursor: str | None) -> bool:
    # hasMore is required by the contract; a server that leaves it out still says so by its cursor.
    return bool(cursor) if has_more is None else has_more


def _check_account_id(value: str) -> str:
    if not _ACCOUNT_ID_RE.fullmatch(value):
        raise ItemError(f"account id {value[:40]!r} is not 24 lowercase hex characters")
    return value


def participant_from_wire(wire: WireParticipant) -> model.Participant:
    return model.Participant(
        profile_id=wire.profile_id or "",
        name=wire.name or "",
        headline=wire.headline or "",
        profile_url=wire.profile_url or "",
        picture=wire.profile_picture or "",
    )


def _plan(raw: msgspec.Raw) -> str:
    try:
        plan = cached_decoder(WirePlan | None).decode(raw)  # type: ignore[arg-type]
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return ""
    return (plan.premium_type or "") if plan is not None else ""


def account_from_wire(wire: WireAccount, mailbox: str = "") -> model.Account:
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
        raise ItemError("no lastActivityAt and no latest message to take it from")
    return model.Conversation(
        account_id=_check_account_id(wire.account_id) if wire.account_id else account_id,
        conversation_id=urn.token,
        conversation_urn=wire.conversation_urn,
        last_activity_at=last_activity_at,
        unread_count=wire.unread_count or 0,
        starred=bool(wire.starred),
        participants=tuple(participant_from_wire(p) for p in wire.participants or ()),
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
        raise ItemError(f"message mailbox {urn.mailbox} is not the conversation's {conversation.mailbox}")
    if urn.thread_token is not None and urn.thread_token != conversation.token:
        raise ItemError("legacy message URN names another thread")
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
        reactions_known=wire.reactions is not None,
    )


def decode_message_item(raw: bytes | msgspec.Raw, account_id: str, conversation_urn: str) -> model.Message:
    """One message object (an event's ``message``); raises ``ValueError``/``UrnError``/msgspec errors."""
    try:
        decoded = cached_decoder(WireMessage).decode(raw)
    except RecursionError:
        raise ItemError(TOO_DEEP) from None
    return message_from_wire(decoded, account_id, conversation_urn)
