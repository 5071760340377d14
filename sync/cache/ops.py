"""The cache's write operations (frozen values queued to the writer) and the change accumulator."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from sync.model import (
    Account,
    AccountSyncState,
    ChangeSet,
    ConversationIn,
    ConversationSyncState,
    MessageIn,
    Reaction,
    RowKey,
    TombstoneReason,
)

log = logging.getLogger(__name__)

LAST_APPLIED_SEQ: Final = "last_applied_seq"
CHUNK: Final = 500  # ids per IN (...) probe: well under SQLite's variable limit


class CacheInputError(ValueError):
    """A write's envelope is malformed (not a list, an unknown operation, an unparseable tombstone id).

    Nothing is written. A malformed *item* inside a well-formed list is skipped and counted instead.
    """


# --- operations -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpsertAccounts:
    """Insert or update accounts (A1/A2). An empty ``mailbox`` keeps the one already stored."""

    accounts: Sequence[Account]


@dataclass(frozen=True, slots=True)
class UpsertConversations:
    """A page of conversations (C1). Server values win for unread/starred/participants, except over what
    this machine set after the page was asked for; the latest message is the server's unless it is
    tombstoned or a cached message is newer."""

    items: Sequence[ConversationIn]
    asked_at: int | None = None
    """When the page was asked for (epoch ms, this machine's clock). A conversation whose unread count or
    star the cache set at or after that keeps them: the page is older than the mark (schema V5). None: the
    page's values win."""


@dataclass(frozen=True, slots=True)
class UpsertMessages:
    """Messages (C2 pages, ``message.created``, a sent message). Tombstoned ids are skipped; a message
    of a conversation not cached yet gets a placeholder conversation row the next C1 page fills."""

    items: Sequence[MessageIn]


@dataclass(frozen=True, slots=True)
class Tombstone:
    """Hide messages everywhere: ``message_ids`` are normalized ids or message URNs of any form."""

    message_ids: Sequence[str]
    reason: TombstoneReason
    at: int | None = None
    """When (epoch ms); now when None."""


@dataclass(frozen=True, slots=True)
class UpdateConversation:
    """``conversation.updated``, mark read (``unread_count=0``), C8–C10. None leaves a field as is. Setting
    the unread count or the star stamps the row's ``local_state_at`` (see :class:`UpsertConversations`).

    ``conversation`` is a normalized id or any conversation URN. Unknown conversations are ignored
    (the next C1 page brings them)."""

    account_id: str
    conversation: str
    unread_count: int | None = None
    starred: bool | None = None
    last_activity_at: int | None = None


@dataclass(frozen=True, slots=True)
class SetReactions:
    """``message.reacted``: the resulting totals of one message copy. A hidden message stays hidden."""

    account_id: str
    message: str
    reactions: tuple[Reaction, ...]


@dataclass(frozen=True, slots=True)
class SetConversationSync:
    state: ConversationSyncState
    caught_up_to: int | None = None
    """C2 has read every message up to now, which covers a ``messages_behind_at`` mark up to this
    value (the mark as read before the C2 read started); a higher mark, set since, is kept."""


@dataclass(frozen=True, slots=True)
class SetAccountSync:
    state: AccountSyncState


WriteOp: TypeAlias = (
    UpsertAccounts
    | UpsertConversations
    | UpsertMessages
    | Tombstone
    | UpdateConversation
    | SetReactions
    | SetConversationSync
    | SetAccountSync
)


# --- the change accumulator ----------------------------------------------------------------------


@dataclass(slots=True)
class Changes:
    inserted: set[RowKey] = field(default_factory=set)
    updated: set[RowKey] = field(default_factory=set)
    hidden: set[RowKey] = field(default_factory=set)
    conversations: set[tuple[str, str]] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    tombstones: set[str] = field(default_factory=set)
    skipped: int = 0

    def skip(self, what: str, reason: object, item: object) -> None:
        self.skipped += 1
        shown = repr(item)
        log.warning(
            "cache: skipped %s (%s): %s", what, reason, shown if len(shown) <= 300 else shown[:300] + "…"
        )

    def freeze(self) -> ChangeSet:
        # Within one transaction a row can be inserted and then hidden: the UI must only see it hidden.
        inserted = self.inserted - self.hidden if self.hidden else self.inserted
        updated = self.updated - self.hidden - inserted if self.updated else self.updated
        return ChangeSet(
            messages_inserted=frozenset(inserted),
            messages_updated=frozenset(updated),
            messages_hidden=frozenset(self.hidden),
            conversations_changed=frozenset(self.conversations),
            accounts_changed=frozenset(self.accounts),
            tombstones_added=frozenset(self.tombstones),
            skipped=self.skipped,
        )


class Invalid(Exception):
    pass


def now_ms() -> int:
    return time.time_ns() // 1_000_000
