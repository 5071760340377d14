"""The paged, filtered conversation list, kept current by row diffs from the cache's change sets."""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QObject, QPersistentModelIndex, Qt

from sync.model import ChangeSet, Conversation

from .sources import InboxReader
from .text import initials, one_line, primary_participant

ConversationKey = tuple[str, str]
"""(account id, conversation id)."""

PAGE_SIZE = 100
BULK_CHANGES = 20
"""A change set naming more conversations than this re-reads the first page instead of moving rows one by
one: each single-row diff re-reads its conversation and re-indexes the loaded rows, and a sync's burst
of a hundred of them over thousands of loaded rows stalled the GUI thread for hundreds of ms."""

AnyIndex = QModelIndex | QPersistentModelIndex


class ConversationRole(enum.IntEnum):
    CONVERSATION = Qt.ItemDataRole.UserRole + 1
    """The ``Conversation`` value itself."""
    KEY = enum.auto()
    TITLE = enum.auto()
    HEADLINE = enum.auto()
    PREVIEW = enum.auto()
    """The latest visible message as one bounded line of plain text."""
    LAST_ACTIVITY = enum.auto()
    UNREAD_COUNT = enum.auto()
    STARRED = enum.auto()
    INITIALS = enum.auto()
    AVATAR_SEED = enum.auto()
    ACCOUNT_ID = enum.auto()
    ACCOUNT_LABEL = enum.auto()
    """The name of the account the conversation belongs to, in "All accounts" of several ("" otherwise)."""
    DRAFT = enum.auto()
    """The reply not sent yet (the reply box's draft) as one bounded line of plain text ("" when none)."""


_ROLE_NAMES = {
    ConversationRole.CONVERSATION: b"conversation",
    ConversationRole.KEY: b"key",
    ConversationRole.TITLE: b"title",
    ConversationRole.HEADLINE: b"headline",
    ConversationRole.PREVIEW: b"preview",
    ConversationRole.LAST_ACTIVITY: b"lastActivity",
    ConversationRole.UNREAD_COUNT: b"unreadCount",
    ConversationRole.STARRED: b"starred",
    ConversationRole.INITIALS: b"initials",
    ConversationRole.AVATAR_SEED: b"avatarSeed",
    ConversationRole.ACCOUNT_ID: b"accountId",
    ConversationRole.ACCOUNT_LABEL: b"accountLabel",
    ConversationRole.DRAFT: b"draft",
}


def conversation_key(conversation: Conversation) -> ConversationKey:
    return (conversation.account_id, conversation.conversation_id)


def conversation_sort_key(conversation: Conversation) -> tuple[int, str, str]:
    """The list order the reader must also use: newest activity first, then a stable tie-break."""
    return (-conversation.last_activity_at, conversation.account_id, conversation.conversation_id)


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    """What the list shows: one account or all, unread only or not, starred only or not, a search text."""

    account_id: str | None = None
    unread_only: bool = False
    search: str = ""
    starred_only: bool = False

    @property
    def shows_everything(self) -> bool:
        """No filter at all: every conversation is listed (nothing to ask the reader)."""
        return self.account_id is None and not (self.unread_only or self.starred_only or self.search.strip())


def preview_text(conversation: Conversation) -> str:
    latest = conversation.latest
    if latest is None:
        return ""
    return one_line(latest.text)


class ConversationListModel(QAbstractListModel):
    """One row per conversation, in activity order, paged in from an ``InboxReader`` ``PAGE_SIZE`` at a time.

    Invariant: the loaded rows are always exactly the first ``rowCount()`` rows the reader would return
    for the current filter, so the next page's offset is simply ``rowCount()`` and a diff either lands
    inside the loaded prefix or is left for ``fetchMore`` to bring in.
    """

    def __init__(self, reader: InboxReader, *, page_size: int = PAGE_SIZE, parent: QObject | None = None):
        super().__init__(parent)
        self._reader = reader
        self._page_size = page_size
        self._filter = ConversationFilter()
        self._rows: list[Conversation] = []
        self._row_of: dict[ConversationKey, int] | None = None
        self._exhausted = False
        self._fetching = False
        self._sticky: ConversationKey | None = None
        self._account_labels: dict[str, str] = {}
        self._drafts: dict[ConversationKey, str] = {}
        self.reload()

    # -- filters -----------------------------------------------------------------------------------------

    @property
    def filter(self) -> ConversationFilter:
        return self._filter

    def set_filter(self, new_filter: ConversationFilter) -> None:
        """Show another account, unread-only state or search; resets the list to its first page."""
        if new_filter == self._filter:
            return
        self._filter = new_filter
        self._sticky = None
        self.reload()

    def set_account_labels(self, labels: Mapping[str, str]) -> None:
        """Account id → the name a row shows while the list holds every account ("" or absent: nothing;
        ``AccountStates.row_labels`` gives none for a single account)."""
        labels = dict(labels)
        if labels == self._account_labels:
            return
        self._account_labels = labels
        if self._rows and self._filter.account_id is None:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0), [])

    def set_drafts(self, drafts: Mapping[ConversationKey, str]) -> None:
        """The reply boxes' drafts by conversation: a row with one shows it in place of its latest message,
        as Signal, Slack and WhatsApp do, so that a reply left half-written is found again."""
        shown = {key: line for key, text in drafts.items() if (line := one_line(text))}
        if shown == self._drafts:
            return
        old = self._drafts
        changed = {key for key in shown.keys() | old.keys() if shown.get(key) != old.get(key)}
        self._drafts = shown
        index = self._index()
        for row in sorted(index[key] for key in changed if key in index):
            self.dataChanged.emit(self.index(row, 0), self.index(row, 0), [ConversationRole.DRAFT])

    def draft(self, conversation: Conversation) -> str:
        """The draft a row shows ("" when none)."""
        return self._drafts.get((conversation.account_id, conversation.conversation_id), "")

    def account_label(self, conversation: Conversation) -> str:
        """The account a row names: only in the list of every account."""
        if self._filter.account_id is not None:
            return ""
        return self._account_labels.get(conversation.account_id, "")

    def keep_visible(self, key: ConversationKey | None) -> None:
        """Keep the open conversation listed while it stays open, even once it stops matching.

        Without it, opening a conversation under "Unread only" marks it read and the row vanishes under
        the reader's cursor. The exemption ends when another key is given or the filter changes.
        """
        old, self._sticky = self._sticky, key
        row = self._index().get(old) if old is not None and old != key else None
        if row is not None and old is not None and not self._matching([old]):
            self._remove(row)

    def reload(self) -> None:
        """Drop every row and read the first page again."""
        self.beginResetModel()
        self._rows = []
        self._row_of = None
        self._exhausted = False
        self._read_page()
        self.endResetModel()

    # -- paging ------------------------------------------------------------------------------------------

    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008 (Qt's default)
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or self._exhausted or self._fetching:
            return
        self._fetching = True
        try:
            page = self._read_rows()
            if page:
                first = len(self._rows)
                self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
                self._rows.extend(page)
                self._row_of = None
                self.endInsertRows()
        finally:
            self._fetching = False

    def _read_page(self) -> None:
        self._rows.extend(self._read_rows())
        self._row_of = None

    def _read_rows(self) -> list[Conversation]:
        f = self._filter
        page = self._reader.conversations_page(
            account_id=f.account_id,
            unread_only=f.unread_only,
            search=f.search,
            starred_only=f.starred_only,
            offset=self._reader_offset(),
            limit=self._page_size,
        )
        if len(page) < self._page_size:
            self._exhausted = True
        # A concurrent write can shift offsets between two pages: never list a conversation twice.
        known = self._index()
        fresh: list[Conversation] = []
        for conversation in page:
            key = conversation_key(conversation)
            if key not in known:
                known[key] = -1
                fresh.append(conversation)
        self._row_of = None
        return fresh

    # -- diffs -------------------------------------------------------------------------------------------

    def apply_changes(self, changes: ChangeSet) -> None:
        """Re-read only the conversations the change set names; move, insert, update or remove their rows.

        A change set naming more than :data:`BULK_CHANGES` conversations (a sync's C1 pages) re-reads the
        first page in one query instead: hundreds of single-row moves, each re-read and re-laid out, would
        cost the GUI thread far more than one reset.
        """
        if len(changes.conversations_changed) > min(BULK_CHANGES, self._page_size):
            if self._all_beyond_the_loaded_rows(changes.conversations_changed):
                # A first sync's older C1 pages: nothing shown changes, so nothing is reset and repainted
                # (a reset repaints the whole list: ~3 ms a page). fetchMore brings them as the view scrolls.
                self._exhausted = False
                return
            # The first page only: re-reading thousands of loaded rows would be a stall of its own;
            # fetchMore brings the rest back as the view scrolls.
            self.reload()
            return
        fresh = {key: self._reader.conversation(*key) for key in sorted(changes.conversations_changed)}
        # Where each belongs is the reader's verdict (the cache's one folding rule), asked once for all.
        matching = self._matching([key for key, conversation in fresh.items() if conversation is not None])
        for key, conversation in fresh.items():
            self._apply_one(key, conversation, key in matching)

    def _matching(self, keys: Collection[ConversationKey]) -> set[ConversationKey]:
        """Which of these conversations the reader lists under the current filter."""
        if not keys:
            return set()
        f = self._filter
        if f.shows_everything:
            return set(keys)
        return self._reader.conversations_matching(
            keys,
            account_id=f.account_id,
            unread_only=f.unread_only,
            search=f.search,
            starred_only=f.starred_only,
        )

    def _all_beyond_the_loaded_rows(self, keys: Collection[ConversationKey]) -> bool:
        """Whether every one of these conversations is unloaded and sorts after the last loaded row (by
        strictly older activity: a tie might sort either way). One query, no rows built."""
        if not self._rows or len(self._rows) < self._page_size:
            return False  # a short list shows the end of the inbox: new rows may belong in it
        index = self._index()
        if any(key in index for key in keys):
            return False
        newest = self._reader.newest_activity(keys)
        return newest is None or newest < self._rows[-1].last_activity_at

    def _apply_one(self, key: ConversationKey, fresh: Conversation | None, listed: bool) -> None:
        row = self._index().get(key)
        wanted = fresh is not None and (listed or key == self._sticky)
        if row is not None and (fresh is None or not wanted):
            self._remove(row)
            return
        if fresh is None or not wanted:
            return
        target = self._insertion_row(fresh, exclude=row)
        if row is None:
            if target is not None:
                self.beginInsertRows(QModelIndex(), target, target)
                self._rows.insert(target, fresh)
                self._row_of = None
                self.endInsertRows()
            else:
                self._exhausted = False  # the reader has a row past ours again
            return
        if target is None:
            # Its activity moved it past the loaded prefix: fetchMore brings it back in its place. (Not
            # before the removal: a view may fetch more while it is notified of it.)
            self._remove(row)
            self._exhausted = False
            return
        old = self._rows[row]
        if target != row:
            # beginMoveRows counts the destination before the move: moving down lands one row further.
            destination = target + 1 if target > row else target
            self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), destination)
            del self._rows[row]
            self._rows.insert(target, fresh)
            self._row_of = None
            self.endMoveRows()
        else:
            self._rows[row] = fresh
        if old != fresh:
            index = self.index(target, 0)
            self.dataChanged.emit(index, index, [])

    def _insertion_row(self, conversation: Conversation, *, exclude: int | None) -> int | None:
        """Where the conversation belongs among the loaded rows (ignoring its own), None if beyond them."""
        key = conversation_sort_key(conversation)
        rows = self._rows if exclude is None else self._rows[:exclude] + self._rows[exclude + 1 :]
        lo, hi = 0, len(rows)
        while lo < hi:
            mid = (lo + hi) // 2
            if conversation_sort_key(rows[mid]) < key:
                lo = mid + 1
            else:
                hi = mid
        if lo == len(rows) and (not self._exhausted or len(rows) >= self._page_size):
            # Past the loaded rows: fetchMore brings it in its place. A list that had run out is not grown
            # row by row past a page (each row would cost every later diff): the caller lets it page again.
            return None
        return lo

    def _reader_offset(self) -> int:
        """Rows the reader has already given us: the kept-visible row may be one it no longer lists."""
        sticky = self._sticky
        row = self._index().get(sticky) if sticky is not None else None
        if row is not None and sticky is not None and not self._matching([sticky]):
            return len(self._rows) - 1
        return len(self._rows)

    def _remove(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self._row_of = None
        self.endRemoveRows()

    def _index(self) -> dict[ConversationKey, int]:
        if self._row_of is None:
            # Inlined conversation_key: this runs over every loaded row after each move or insert.
            self._row_of = {(c.account_id, c.conversation_id): i for i, c in enumerate(self._rows)}
        return self._row_of

    # -- reading -----------------------------------------------------------------------------------------

    def conversation_at(self, row: int) -> Conversation | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, account_id: str, conversation_id: str) -> int | None:
        return self._index().get((account_id, conversation_id))

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({int(role): QByteArray(name) for role, name in _ROLE_NAMES.items()})
        return names

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows) or index.column() != 0:
            return None
        c = self._rows[index.row()]
        person = primary_participant(c)
        if role in (Qt.ItemDataRole.DisplayRole, ConversationRole.TITLE):
            return c.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return c.title
        if role == Qt.ItemDataRole.AccessibleTextRole:
            unread = f", {c.unread_count} unread" if c.unread_count else ""
            account = self.account_label(c)
            via = f" (account {account})" if account else ""
            draft = self.draft(c)
            return f"{c.title}{via}{unread}: " + (f"Draft: {draft}" if draft else preview_text(c))
        if role == ConversationRole.CONVERSATION:
            return c
        if role == ConversationRole.KEY:
            return conversation_key(c)
        if role == ConversationRole.HEADLINE:
            return one_line(person.headline) if person is not None else ""
        if role == ConversationRole.PREVIEW:
            return preview_text(c)
        if role == ConversationRole.LAST_ACTIVITY:
            return c.last_activity_at
        if role == ConversationRole.UNREAD_COUNT:
            return c.unread_count
        if role == ConversationRole.STARRED:
            return c.starred
        if role == ConversationRole.INITIALS:
            return initials(person.name if person is not None else c.title)
        if role == ConversationRole.AVATAR_SEED:
            return person.profile_id or person.name if person is not None else c.conversation_id
        if role == ConversationRole.ACCOUNT_ID:
            return c.account_id
        if role == ConversationRole.ACCOUNT_LABEL:
            return self.account_label(c)
        if role == ConversationRole.DRAFT:
            return self.draft(c)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
