"""LinkedIn messaging URNs (spec §4): the one place that parses, builds and normalizes them.

Every form is matched whole by a strict pattern after exactly one percent-decoding pass with
``unquote`` semantics (``+`` stays ``+``). Anything else raises :class:`UrnError`; nothing is
guessed at, trimmed or case-folded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote

__all__ = [
    "ConversationUrn",
    "MessageUrn",
    "ProfileUrn",
    "UrnError",
    "conversation_id",
    "conversation_urn",
    "decode_percent",
    "encode_path_segment",
    "mailbox_of",
    "message_id",
    "message_urn",
    "parse",
    "parse_conversation",
    "parse_message",
    "parse_profile",
    "profile_urn",
]


class UrnError(ValueError):
    """A string is not a URN of the expected form. ``reason`` says what was wrong.

    This is the only exception the functions of this module raise for bad input.
    """

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        shown = repr(value) if not isinstance(value, str) or len(value) <= 200 else repr(value[:200] + "…")
        super().__init__(f"malformed URN {shown}: {reason}")


_TOKEN: Final = r"2-[A-Za-z0-9+/]+={0,2}"  # noqa: S105  (a URN token pattern, not a secret)
_PROFILE_ID: Final = r"[A-Za-z0-9_-]+"
_PROFILE: Final = rf"urn:li:fsd_profile:({_PROFILE_ID})"

_TOKEN_RE: Final = re.compile(_TOKEN)
_PROFILE_RE: Final = re.compile(_PROFILE)
_MSG_CONVERSATION_RE: Final = re.compile(rf"urn:li:msg_conversation:\({_PROFILE},({_TOKEN})\)")
_MSG_MESSAGE_RE: Final = re.compile(rf"urn:li:msg_message:\({_PROFILE},({_TOKEN})\)")
_MESSAGING_THREAD_RE: Final = re.compile(rf"urn:li:messagingThread:({_TOKEN})")
_FS_CONVERSATION_RE: Final = re.compile(rf"urn:li:fs_conversation:({_TOKEN})")
_MESSAGING_MESSAGE_RE: Final = re.compile(rf"urn:li:messagingMessage:({_TOKEN})")
_FS_EVENT_RE: Final = re.compile(rf"urn:li:fs_event:\(({_TOKEN}),({_TOKEN})\)")
_URN_HEAD_RE: Final = re.compile(r"urn:li:([A-Za-z_]+):")
_PERCENT_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")

ConversationKind = Literal["msg_conversation", "messagingThread", "fs_conversation"]
MessageKind = Literal["msg_message", "messagingMessage", "fs_event"]


@dataclass(frozen=True, slots=True)
class ProfileUrn:
    """``urn:li:fsd_profile:<profile_id>``; as a mailbox prefix it names whose inbox a copy is in."""

    profile_id: str

    def __str__(self) -> str:
        return f"urn:li:fsd_profile:{self.profile_id}"


@dataclass(frozen=True, slots=True)
class ConversationUrn:
    """A conversation in one of its forms; ``token`` is the normalized conversation id."""

    kind: ConversationKind
    token: str
    mailbox: ProfileUrn | None = None

    def __str__(self) -> str:
        if self.kind == "msg_conversation":
            return f"urn:li:msg_conversation:({self.mailbox},{self.token})"
        return f"urn:li:{self.kind}:{self.token}"


@dataclass(frozen=True, slots=True)
class MessageUrn:
    """A message in one of its forms; ``token`` is the normalized message id.

    A legacy ``fs_event`` token is a different id from the modern token of the same message
    and is never treated as the same one (spec §4).
    """

    kind: MessageKind
    token: str
    mailbox: ProfileUrn | None = None
    thread_token: str | None = None

    def __str__(self) -> str:
        if self.kind == "msg_message":
            return f"urn:li:msg_message:({self.mailbox},{self.token})"
        if self.kind == "fs_event":
            return f"urn:li:fs_event:({self.thread_token},{self.token})"
        return f"urn:li:messagingMessage:{self.token}"


def decode_percent(value: str) -> str:
    """Percent-decode exactly once, ``unquote`` semantics; an invalid escape is an error."""
    if not isinstance(value, str):
        raise UrnError(value, f"expected a string, got {type(value).__name__}")
    if "%" not in value:
        return value
    if _PERCENT_RE.search(value):
        raise UrnError(value, "invalid percent escape")
    raw = bytearray()
    i = 0
    data = value.encode("utf-8", "surrogatepass")
    while i < len(data):
        byte = data[i]
        if byte == 0x25:  # '%'
            raw.append(int(data[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.append(byte)
            i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UrnError(value, "percent escapes do not decode as UTF-8") from exc


def _why_not(value: str, expected: str) -> str:
    """A short, specific reason for the error message."""
    if not value:
        return "empty string"
    if value != value.strip():
        return "leading or trailing whitespace"
    head = _URN_HEAD_RE.match(value)
    if not value.startswith("urn:li:"):
        return "does not start with 'urn:li:'"
    if head is None:
        return "no URN type after 'urn:li:'"
    kind = head.group(1)
    known = {
        "msg_conversation",
        "messagingThread",
        "fs_conversation",
        "msg_message",
        "messagingMessage",
        "fs_event",
        "fsd_profile",
    }
    if kind not in known:
        return f"URN type {kind!r} is not a {expected} form this product knows"
    rest = value[head.end() :]
    if kind in {"msg_conversation", "msg_message", "fs_event"}:
        close = rest.find(")")
        if not rest.startswith("(") or close < 0:
            return f"{kind} must be a '(…,…)' tuple"
        if close != len(rest) - 1:
            return "text after the closing parenthesis"
        parts = rest[1:close].split(",")
        if len(parts) != 2:
            return f"{kind} tuple must have exactly two elements"
        first, second = parts
        if kind != "fs_event" and not _PROFILE_RE.fullmatch(first):
            return "mailbox element is not urn:li:fsd_profile:<profileId>"
        if kind == "fs_event" and not _TOKEN_RE.fullmatch(first):
            return "thread element is not a '2-' base64 token"
        if not _TOKEN_RE.fullmatch(second):
            return "token is not a '2-' base64 token"
        return f"not a {expected} URN"
    if kind == "fsd_profile":
        if expected == "profile":
            return "profile id must match [A-Za-z0-9_-]+"
        return f"a profile is not a {expected}"
    if not _TOKEN_RE.fullmatch(rest):
        return "token is not a '2-' base64 token"
    return f"not a {expected} URN"


def parse_profile(value: str) -> ProfileUrn:
    """Parse ``urn:li:fsd_profile:<profileId>``."""
    text = decode_percent(value)
    match = _PROFILE_RE.fullmatch(text)
    if match is None:
        raise UrnError(value, _why_not(text, "profile"))
    return ProfileUrn(match.group(1))


def parse_conversation(value: str) -> ConversationUrn:
    """Parse any conversation form of spec §4."""
    text = decode_percent(value)
    if match := _MSG_CONVERSATION_RE.fullmatch(text):
        return ConversationUrn("msg_conversation", match.group(2), ProfileUrn(match.group(1)))
    if match := _MESSAGING_THREAD_RE.fullmatch(text):
        return ConversationUrn("messagingThread", match.group(1))
    if match := _FS_CONVERSATION_RE.fullmatch(text):
        return ConversationUrn("fs_conversation", match.group(1))
    raise UrnError(value, _why_not(text, "conversation"))


def parse_message(value: str) -> MessageUrn:
    """Parse any message form of spec §4."""
    text = decode_percent(value)
    if match := _MSG_MESSAGE_RE.fullmatch(text):
        return MessageUrn("msg_message", match.group(2), ProfileUrn(match.group(1)))
    if match := _MESSAGING_MESSAGE_RE.fullmatch(text):
        return MessageUrn("messagingMessage", match.group(1))
    if match := _FS_EVENT_RE.fullmatch(text):
        return MessageUrn("fs_event", match.group(2), thread_token=match.group(1))
    raise UrnError(value, _why_not(text, "message"))


def parse(value: str) -> ProfileUrn | ConversationUrn | MessageUrn:
    """Parse a URN of any form this product knows."""
    text = decode_percent(value)
    if _PROFILE_RE.fullmatch(text):
        return parse_profile(text)
    for parser in (parse_conversation, parse_message):
        try:
            return parser(text)
        except UrnError:
            continue
    raise UrnError(value, _why_not(text, "conversation, message or profile"))


def message_id(value: str | MessageUrn) -> str:
    """The normalized message id: the message token of any message form, or a bare token as is."""
    if isinstance(value, MessageUrn):
        return value.token
    text = decode_percent(value)
    if _TOKEN_RE.fullmatch(text):
        return text
    return parse_message(text).token


def conversation_id(value: str | ConversationUrn | MessageUrn) -> str:
    """The normalized conversation id, from any conversation form, an ``fs_event``, or a bare token."""
    if isinstance(value, ConversationUrn):
        return value.token
    if isinstance(value, MessageUrn):
        if value.thread_token is None:
            raise UrnError(str(value), f"a {value.kind} URN does not name its conversation")
        return value.thread_token
    text = decode_percent(value)
    if _TOKEN_RE.fullmatch(text):
        return text
    if _FS_EVENT_RE.fullmatch(text):
        return conversation_id(parse_message(text))
    return parse_conversation(text).token


def mailbox_of(value: str | ConversationUrn | MessageUrn) -> str | None:
    """The mailbox prefix (an ``fsd_profile`` URN) of a tuple form, else None."""
    if isinstance(value, str):
        parsed = parse(value)
        if isinstance(parsed, ProfileUrn):
            raise UrnError(value, "a profile URN has no mailbox prefix")
        value = parsed
    return None if value.mailbox is None else str(value.mailbox)


def _check_token(token: str) -> str:
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise UrnError(token, "token is not a '2-' base64 token")
    return token


def _check_mailbox(mailbox: str | ProfileUrn) -> ProfileUrn:
    return mailbox if isinstance(mailbox, ProfileUrn) else parse_profile(mailbox)


def profile_urn(profile_id: str) -> str:
    """Build ``urn:li:fsd_profile:<profile_id>``."""
    if not isinstance(profile_id, str) or not re.fullmatch(_PROFILE_ID, profile_id):
        raise UrnError(profile_id, "profile id must match [A-Za-z0-9_-]+")
    return f"urn:li:fsd_profile:{profile_id}"


def conversation_urn(mailbox: str | ProfileUrn, thread_token: str) -> str:
    """Build ``urn:li:msg_conversation:(<mailbox>,<thread_token>)``."""
    return str(ConversationUrn("msg_conversation", _check_token(thread_token), _check_mailbox(mailbox)))


def message_urn(mailbox: str | ProfileUrn, message_token: str) -> str:
    """Build ``urn:li:msg_message:(<mailbox>,<message_token>)``."""
    return str(MessageUrn("msg_message", _check_token(message_token), _check_mailbox(mailbox)))


def encode_path_segment(urn: str) -> str:
    """Percent-encode a URN as exactly one path segment: every reserved character, ``/`` included.

    ``quote`` leaves ``.`` alone, so a value of only dots (``..``) would stay a dot segment, which URL
    normalization (httpx included) resolves away together with the segment before it: DELETE
    ``conversations/{c}/messages/..`` would become DELETE ``conversations/{c}``. Such a value is encoded
    as ``%2E``s, which a server decodes back after splitting the path (and then refuses as a URN).
    """
    encoded = quote(urn, safe="")
    if encoded and not encoded.strip("."):
        return encoded.replace(".", "%2E")
    return encoded
