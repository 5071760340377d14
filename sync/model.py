"""Frozen value types shared by every layer: cached rows, change sets and states (stdlib only).

The UI sees only these; the cache builds them from its rows and the services carry them in
signals. Times are epoch milliseconds (ints), as on the wire.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

RECALL_WINDOW_MS = 3_600_000
"""LinkedIn lets a sender recall a message for 60 minutes after ``sentAt`` (server clock)."""


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    name: str
    public_id: str = ""
    mailbox: str = ""
    """The account's ``urn:li:fsd_profile:…`` URN, the prefix of its conversation URNs."""
    status: str = "UNKNOWN"
    enabled: bool = True
    api_seat: bool | None = None
    """A1 ``apiSeatAllocated``: False means the key's plan has no API seat for this account, which is then
    shown ("no API access on your plan") and never synced; None when the server does not say."""
    plan: str = ""
    """A2's ``linkedinPlan.premiumType`` (``NON_PREMIUM``, ``SALES_NAVIGATOR``…) when it says; not cached."""


@dataclass(frozen=True, slots=True)
class Participant:
    profile_id: str
    name: str
    headline: str = ""
    profile_url: str = ""
    picture: str = ""


@dataclass(frozen=True, slots=True)
class Reaction:
    emoji: str
    count: int
    reacted_by_owner: bool = False


@dataclass(frozen=True, slots=True)
class LatestMessage:
    message_urn: str
    text: str
    sent_at: int
    sender_name: str = ""
    has_attachment: bool = False


@dataclass(frozen=True, slots=True)
class Conversation:
    account_id: str
    conversation_id: str
    """Normalized thread token (spec §4)."""
    conversation_urn: str
    last_activity_at: int
    unread_count: int = 0
    starred: bool = False
    participants: tuple[Participant, ...] = ()
    latest: LatestMessage | None = None
    """The newest *visible* message: never a tombstoned one."""

    @property
    def title(self) -> str:
        return ", ".join(p.name for p in self.participants) or "(no participants)"


@dataclass(frozen=True, slots=True)
class Message:
    account_id: str
    conversation_id: str
    message_id: str
    """Normalized message token: the key of tombstones, shared by every mailbox's copy."""
    message_urn: str
    conversation_urn: str
    text: str
    sent_at: int
    sender_profile_id: str = ""
    sender_name: str = ""
    is_sent_by_owner: bool = False
    has_attachment: bool = False
    reactions: tuple[Reaction, ...] = ()
    reactions_known: bool = field(default=True, compare=False, repr=False)
    """False when the server did not send ``reactions`` at all (the vendor's C2, spec §8): the cached
    totals are kept, not wiped. Not part of the value: a copy read from the cache always knows its own."""

    def recall_window_left_ms(self, server_now_ms: int) -> int:
        """Milliseconds left to recall this message (0 when closed), by the server's clock."""
        return max(0, self.sent_at + RECALL_WINDOW_MS - server_now_ms)


class RowKey(NamedTuple):
    """Names one cached message copy: (account, conversation id, message id).

    Immutable like the frozen dataclasses around it, but a tuple: a big sync's change sets carry hundreds
    of thousands of these, built, hashed and sent to the window's process, where building a frozen
    dataclass (three ``object.__setattr__`` calls) and hashing it (a Python ``__hash__``) cost the GUI
    thread 3× what a tuple does (figure 3)."""

    account_id: str
    conversation_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What one writer transaction did. Every write returns one; empty when nothing changed."""

    messages_inserted: frozenset[RowKey] = frozenset()
    messages_updated: frozenset[RowKey] = frozenset()
    messages_hidden: frozenset[RowKey] = frozenset()
    conversations_changed: frozenset[tuple[str, str]] = frozenset()
    """(account id, conversation id) whose row (latest message, unread, star, activity) changed."""
    accounts_changed: frozenset[str] = frozenset()
    tombstones_added: frozenset[str] = frozenset()
    """Normalized message ids newly tombstoned (even when no copy was cached yet)."""
    skipped: int = 0
    """Malformed items skipped (logged) by this write."""

    def __bool__(self) -> bool:
        return bool(
            self.messages_inserted
            or self.messages_updated
            or self.messages_hidden
            or self.conversations_changed
            or self.accounts_changed
            or self.tombstones_added
        )

    def merged(self, other: ChangeSet) -> ChangeSet:
        """Coalesce two change sets (the UI merges bursts before it updates models)."""
        return ChangeSet(
            self.messages_inserted | other.messages_inserted,
            self.messages_updated | other.messages_updated,
            self.messages_hidden | other.messages_hidden,
            self.conversations_changed | other.conversations_changed,
            self.accounts_changed | other.accounts_changed,
            self.tombstones_added | other.tombstones_added,
            self.skipped + other.skipped,
        )


class TombstoneReason(enum.StrEnum):
    RECALLED_HERE = "recalled_here"
    RECALLED_ELSEWHERE = "recalled_elsewhere"
    """Learnt from the event stream."""
    GONE_UPSTREAM = "gone_upstream"
    """Inferred by reconciliation inside the recall-window horizon."""


class RecallState(enum.StrEnum):
    """The one vocabulary for a recall, from the click to its end (spec §9, ARCHITECTURE.md §7).

    ``grace`` and ``pending`` are on the way; ``unconfirmed`` waits for evidence; the others are final.
    The recall log stores every state but ``grace`` (nothing is logged before the grace period ends).
    """

    GRACE = "grace"
    """The grace period runs: nothing sent yet, Cancel still possible."""
    PENDING = "pending"
    """The DELETE is in flight; nothing is deleted locally."""
    RECALLED = "recalled"
    """On evidence only: a 200, a ``message.recalled`` event, or a clean re-read of its conversation that
    covers its time and lacks it. Only now is the message tombstoned."""
    REFUSED = "refused"
    """The server said no, with its reason (window closed, not your message, no API access…)."""
    UNCONFIRMED = "unconfirmed"
    """The answer was lost and nothing proves either way yet: the message stays, it says "Recall not
    confirmed — checking…", the next sync or a timer settles it by the same rule, Retry is offered."""
    FAILED = "failed"
    """Certainly not recalled, and not by the server's refusal: nothing reached it (offline, signed out,
    a local error), or an unconfirmed recall whose window closed with the message still there."""
    CANCELLED = "cancelled"
    """Cancelled by the user during the grace period: nothing was sent."""

    @property
    def final(self) -> bool:
        return self not in _OPEN_RECALL_STATES


_OPEN_RECALL_STATES: frozenset[RecallState] = frozenset(
    {RecallState.GRACE, RecallState.PENDING, RecallState.UNCONFIRMED}
)

RecallOutcome = RecallState
"""Old name, kept while the callers move to :class:`RecallState`."""


@dataclass(frozen=True, slots=True)
class RecallAttempt:
    """One row of the recall log."""

    attempt_id: int
    account_id: str
    conversation_urn: str
    message_urn: str
    message_id: str
    started_at: int
    outcome: RecallOutcome
    latency_ms: int | None = None
    error_kind: str = ""
    error_message: str = ""
    window_id: str = ""
    finished_at: int | None = None
    conversation_title: str = ""
    """The conversation's name when the attempt started (the log is read long after)."""
    message_preview: str = ""
    """The first line of the message when the attempt started: kept in the log only."""


@dataclass(frozen=True, slots=True)
class ConversationIn:
    """A conversation as the sync hands it to the cache (one C1 item, decoded).

    The cache validates it again (URNs parse, fields have the right types) and skips it,
    counted in ``ChangeSet.skipped``, when it does not; the normalized conversation id is
    taken from ``conversation_urn``. ``latest`` is the server's preview, ignored when its
    message is tombstoned.
    """

    account_id: str
    conversation_urn: str
    last_activity_at: int
    unread_count: int = 0
    starred: bool | None = None
    """None: the server did not say (the vendor's C1 has no ``starred``); the stored value is kept."""
    participants: tuple[Participant, ...] = ()
    latest: LatestMessage | None = None


@dataclass(frozen=True, slots=True)
class AccountIssue:
    """One account that a sync pass could not serve; the other accounts carried on (ARCHITECTURE.md §6).

    ``kind`` is the :class:`sync.errors.KnownError` kind (``no_api_access`` for a seatless account,
    ``server_error``, ``not_found``…); ``refused`` is True when the server said no (4xx), False when it
    failed (5xx, timeout, offline) and the next pass may succeed."""

    account_id: str
    name: str
    kind: str
    message: str
    refused: bool


@dataclass(frozen=True, slots=True)
class MessageIn:
    """A message as the sync hands it to the cache (one C2 item or ``message.created``, decoded).

    ``message_urn`` may be any message form of spec §4 (the cache keys the row by its token);
    ``conversation_urn`` any conversation form. Invalid items are skipped and counted.
    """

    account_id: str
    conversation_urn: str
    message_urn: str
    text: str
    sent_at: int
    sender_profile_id: str = ""
    sender_name: str = ""
    is_sent_by_owner: bool = False
    has_attachment: bool = False
    reactions: tuple[Reaction, ...] | None = ()
    """None: the server did not say (the vendor's C2 has no ``reactions``): the stored totals are kept."""


@dataclass(frozen=True, slots=True)
class ConversationSyncState:
    """How much of one conversation the cache holds, and when it was last known complete."""

    account_id: str
    conversation_id: str
    oldest_synced_at: int | None = None
    newest_synced_at: int | None = None
    older_cursor: str | None = None
    """C2 ``cursor`` for the next older page; None when unknown or nothing older."""
    reached_oldest: bool = False
    last_reconciled_at: int | None = None
    """L of ARCHITECTURE.md §6: server time of the last complete view of this conversation."""


@dataclass(frozen=True, slots=True)
class AccountSyncState:
    account_id: str
    last_sync_at: int | None = None
    conversations_cursor: str | None = None
    """C1 ``nextCursor`` where an interrupted first run resumes; None when done."""
    initial_sync_completed: bool = False
    last_error: str = ""
    """Why the last pass could not serve this account ("" when it could): plain words."""
    last_error_kind: str = ""
    last_error_refused: bool = False


@dataclass(frozen=True, slots=True)
class CacheCounts:
    accounts: int = 0
    conversations: int = 0
    messages: int = 0
    tombstones: int = 0
    unread_conversations: int = 0
    unread_messages: int = 0
    """Sum of the conversations' unread counts (the server's figures)."""


Span = tuple[int, int]
"""(start, end) character offsets into a text: a match a search found, for highlighting."""


@dataclass(frozen=True, slots=True)
class MessageHit:
    """A visible message a search found, and where: spans of its text and of its sender's name."""

    message: Message
    text_spans: tuple[Span, ...] = ()
    sender_spans: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class ConversationHits:
    """The messages a search found in one conversation, newest first."""

    conversation: Conversation
    hits: tuple[MessageHit, ...]


class StreamState(enum.StrEnum):
    LIVE = "live"
    POLLING = "polling"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class SyncProgress:
    done: int
    total: int
    phase: str = ""
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done >= self.total
