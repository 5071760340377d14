"""Checks of the sync's values before they reach SQLite: a wrong item is skipped, never guessed at."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from sync import urns
from sync.cache.ops import Invalid
from sync.model import (
    ConversationIn,
    LatestMessage,
    MessageIn,
    Participant,
    Reaction,
)

# --- validation: a wire item that is wrong is skipped, never guessed at ---------------------------


def need(ok: bool, reason: str) -> None:
    if not ok:
        raise Invalid(reason)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_text(value: object, name: str, *, empty: bool = True) -> str:
    if not isinstance(value, str) or not (empty or value):
        raise Invalid(f"{name} must be a {'' if empty else 'non-empty '}string")
    return value


def check_time(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Invalid(f"{name} must be epoch ms (a non-negative int)")
    return value


def check_bool(value: object, name: str) -> int:
    need(isinstance(value, bool), f"{name} must be a bool")
    return int(bool(value))


NO_REACTIONS: Final = "[]"
REACTIONS_UNKNOWN: Final = ""
"""A row's reactions when the server did not send any (``MessageIn.reactions is None``): the writer keeps
the stored ones (or stores none). Never a value stored: no JSON text is empty."""


def reactions_json(reactions: object) -> str:
    need(isinstance(reactions, tuple | list), "reactions must be a sequence")
    out: list[list[Any]] = []
    for reaction in reactions:  # type: ignore[attr-defined]
        need(isinstance(reaction, Reaction), "reaction must be a Reaction")
        check_text(reaction.emoji, "reaction emoji", empty=False)
        need(is_int(reaction.count) and reaction.count >= 0, "reaction count must be a non-negative int")
        check_bool(reaction.reacted_by_owner, "reacted_by_owner")
        out.append([reaction.emoji, reaction.count, reaction.reacted_by_owner])
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def participants_json(participants: object) -> str:
    need(isinstance(participants, tuple | list), "participants must be a sequence")
    out: list[dict[str, str]] = []
    for p in participants:  # type: ignore[attr-defined]
        need(isinstance(p, Participant), "participant must be a Participant")
        values = {
            "profileId": p.profile_id,
            "name": p.name,
            "headline": p.headline,
            "profileUrl": p.profile_url,
            "picture": p.picture,
        }
        for key, value in values.items():
            check_text(value, f"participant {key}")
        out.append(values)
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def parse_or_invalid(parser: Any, value: object, name: str) -> Any:
    need(isinstance(value, str), f"{name} must be a string")
    try:
        return parser(value)
    except urns.UrnError as exc:
        raise Invalid(f"{name}: {exc.reason}") from None


# (account_id, conversation_id, message_id, message_urn, conversation_urn, text, sent_at,
#  sender_profile_id, sender_name, is_sent_by_owner, has_attachment, reactions)
MessageTuple: TypeAlias = tuple[str, str, str, str, str, str, int, str, str, int, int, str]


class UrnMemo:
    """Per-batch memo of URN parsing, which is most of the ingest's Python cost: a page's items share
    one conversation URN, and their message URNs one ``urn:li:msg_message:(<mailbox>`` head.

    Every answer is one :mod:`sync.urns` gave: a message URN whose head was already seen whole is
    checked by validating its token alone, which is equivalent (the head has no comma, the token
    no comma or parenthesis), and anything else goes through the full parser.
    """

    __slots__ = ("conversations", "heads")

    def __init__(self) -> None:
        self.conversations: dict[str, tuple[str, str]] = {}
        self.heads: set[str] = set()

    def conversation(self, value: str) -> tuple[str, str]:
        """(normalized id, canonical URN)."""
        hit = self.conversations.get(value)
        if hit is None:
            parsed = urns.parse_conversation(value)
            hit = self.conversations[value] = (parsed.token, str(parsed))
        return hit

    def message(self, value: str) -> tuple[str, str, str | None]:
        """(normalized id, canonical URN, thread token of an ``fs_event`` or None)."""
        comma = value.rfind(",")
        if comma > 0 and value.endswith(")") and value[:comma] in self.heads:
            token = value[comma + 1 : -1]
            try:  # not contextlib.suppress: this runs once per message and try costs nothing
                if urns.message_id(token) == token:  # not equal when the token holds percent escapes
                    return token, value, None
            except urns.UrnError:
                pass  # the full parser below says what is wrong
        parsed = urns.parse_message(value)
        if parsed.kind == "msg_message" and "%" not in value:
            self.heads.add(value[:comma])
        return parsed.token, (value if "%" not in value else str(parsed)), parsed.thread_token


def _message_fields_ok(item: object) -> bool:
    """The common case, checked in one expression; the slow path says what is wrong otherwise."""
    return (
        type(item) is MessageIn
        and type(item.account_id) is str
        and bool(item.account_id)
        and type(item.message_urn) is str
        and type(item.conversation_urn) is str
        and type(item.text) is str
        and type(item.sent_at) is int
        and item.sent_at >= 0
        and type(item.sender_profile_id) is str
        and type(item.sender_name) is str
        and type(item.is_sent_by_owner) is bool
        and type(item.has_attachment) is bool
    )


def _explain_message(item: object) -> None:
    if not isinstance(item, MessageIn):
        raise Invalid(f"expected a MessageIn, got {type(item).__name__}")
    check_text(item.account_id, "account_id", empty=False)
    check_text(item.message_urn, "message_urn")
    check_text(item.conversation_urn, "conversation_urn")
    check_text(item.text, "text")
    check_time(item.sent_at, "sent_at")
    check_text(item.sender_profile_id, "sender_profile_id")
    check_text(item.sender_name, "sender_name")
    check_bool(item.is_sent_by_owner, "is_sent_by_owner")
    check_bool(item.has_attachment, "has_attachment")


def message_row(item: object, memo: UrnMemo) -> MessageTuple:
    if not _message_fields_ok(item) or not isinstance(item, MessageIn):
        _explain_message(item)  # raises Invalid, saying which field is wrong
        raise Invalid("malformed message")  # pragma: no cover - _explain_message found it first
    try:
        message_id, message_urn, thread = memo.message(item.message_urn)
    except urns.UrnError as exc:
        raise Invalid(f"message_urn: {exc.reason}") from None
    try:
        conversation_id, conversation_urn = memo.conversation(item.conversation_urn)
    except urns.UrnError as exc:
        raise Invalid(f"conversation_urn: {exc.reason}") from None
    need(thread is None or thread == conversation_id, "message URN names another conversation")
    # A message URN under another mailbox prefix than its conversation's is kept: the row is keyed by
    # (account, token) whatever the prefix, and tombstones by the token alone.
    if item.reactions is None:
        reactions = REACTIONS_UNKNOWN
    else:
        reactions = NO_REACTIONS if item.reactions == () else reactions_json(item.reactions)
    return (
        item.account_id,
        conversation_id,
        message_id,
        message_urn,
        conversation_urn,
        item.text,
        item.sent_at,
        item.sender_profile_id,
        item.sender_name,
        int(item.is_sent_by_owner),
        int(item.has_attachment),
        reactions,
    )


# (latest_message_id, latest_message_urn, latest_text, latest_sent_at, latest_sender_name,
#  latest_has_attachment)
# The id and URN are None for a vendor C1 preview, which carries no messageUrn (spec §8).
Latest: TypeAlias = tuple[str | None, str | None, str, int, str, int]
NO_LATEST: Final = (None, None, None, None, None, None)


@dataclass(frozen=True, slots=True)
class ConversationTuple:
    account_id: str
    conversation_id: str
    conversation_urn: str
    last_activity_at: int
    unread_count: int
    starred: int | None
    """None: the server did not say; the stored value is kept (0 for a new row)."""
    participants: str
    latest: Latest | None


def conversation_row(item: object) -> ConversationTuple:
    if not isinstance(item, ConversationIn):
        raise Invalid(f"expected a ConversationIn, got {type(item).__name__}")
    conversation = parse_or_invalid(urns.parse_conversation, item.conversation_urn, "conversation_urn")
    latest: Latest | None = None
    if item.latest is not None:
        need(isinstance(item.latest, LatestMessage), "latest must be a LatestMessage or None")
        # The vendor's C1 preview has no messageUrn (spec §8): stored without an id, it is still shown.
        message_id: str | None = None
        message_urn: str | None = None
        if item.latest.message_urn != "":
            message = parse_or_invalid(urns.parse_message, item.latest.message_urn, "latest.message_urn")
            message_id, message_urn = message.token, str(message)
        latest = (
            message_id,
            message_urn,
            check_text(item.latest.text, "latest.text"),
            check_time(item.latest.sent_at, "latest.sent_at"),
            check_text(item.latest.sender_name, "latest.sender_name"),
            check_bool(item.latest.has_attachment, "latest.has_attachment"),
        )
    need(is_int(item.unread_count) and item.unread_count >= 0, "unread_count must be a non-negative int")
    return ConversationTuple(
        check_text(item.account_id, "account_id", empty=False),
        conversation.token,
        str(conversation),
        check_time(item.last_activity_at, "last_activity_at"),
        item.unread_count,
        None if item.starred is None else check_bool(item.starred, "starred"),
        participants_json(item.participants),
        latest,
    )
