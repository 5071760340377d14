"""The results of a message search as an item model: a header row per conversation, then its messages,
each with the words that matched (``ui.search`` puts it in the sidebar, ``ui.search_view`` draws it).

Results come from the reader (``InboxReader.search_messages``: the cache's FTS5 index, newest first, one
folding rule). A change set that hides a message (a recall here, elsewhere, by the event stream or
reconciliation) takes it out of the results at once; new or changed messages run the search again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from sync.model import ChangeSet, Conversation, ConversationHits, Message, MessageHit, Span

from .sources import InboxReader

AnyIndex = QModelIndex | QPersistentModelIndex

SEARCH_LIMIT: Final = 50
"""Messages a search shows at most: the newest matches (a few screens of results)."""
EXCERPT_BEFORE: Final = 40
"""Characters kept before the first match in a result's one-line excerpt."""
EXCERPT_CHARS: Final = 240
"""Characters of a message a result shows at most (the row elides what does not fit)."""
REFRESH_DELAY_MS: Final = 300
"""New or changed messages run the search again after this pause (a sync's bursts coalesce)."""


class SearchRole(enum.IntEnum):
    KIND = Qt.ItemDataRole.UserRole + 1
    """``"conversation"`` (a group's header) or ``"message"``."""
    CONVERSATION = enum.auto()
    MESSAGE = enum.auto()
    """The ``Message`` of a result row (None on a header)."""
    TITLE = enum.auto()
    """The conversation's title (header rows)."""
    COUNT = enum.auto()
    """How many results the conversation has (header rows)."""
    SENDER = enum.auto()
    SENDER_SPANS = enum.auto()
    EXCERPT = enum.auto()
    """The message as one line of plain text around its first match."""
    EXCERPT_SPANS = enum.auto()
    """The matches in ``EXCERPT`` as ``(start, end)`` character offsets."""
    SENT_AT = enum.auto()


@dataclass(frozen=True, slots=True)
class SearchRow:
    """A header (``hit`` None) or one message found."""

    conversation: Conversation
    hit: MessageHit | None = None
    count: int = 0


def excerpt(text: str, spans: tuple[Span, ...]) -> tuple[str, tuple[Span, ...]]:
    """One line of ``text`` around its first match, and the matches moved into it: line breaks and tabs
    become spaces (one for one, so offsets hold), "…" marks what was cut."""
    start = max(0, spans[0][0] - EXCERPT_BEFORE) if spans else 0
    end = min(len(text), start + EXCERPT_CHARS)
    shown = text[start:end].translate(_ONE_LINE)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    moved = tuple((max(a, start) + shift, min(b, end) + shift) for a, b in spans if b > start and a < end)
    return prefix + shown + suffix, moved


_ONE_LINE: Final = {ord(c): " " for c in "\n\r\t\v\f\u2028\u2029\x85"}


class SearchResultsModel(QAbstractListModel):
    """The results of one search: rows of headers and messages, newest group first."""

    searched = Signal()
    """The rows were read again (a new query, or the same one after a change)."""

    def __init__(self, reader: InboxReader, *, limit: int = SEARCH_LIMIT, parent: QObject | None = None):
        super().__init__(parent)
        self._reader = reader
        self._limit = limit
        self._query = ""
        self._account_id: str | None = None
        self._groups: tuple[ConversationHits, ...] = ()
        self._rows: list[SearchRow] = []
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_DELAY_MS)
        self._refresh.timeout.connect(self.refresh)

    # -- the query -------------------------------------------------------------------------------------

    @property
    def query(self) -> str:
        return self._query

    @property
    def active(self) -> bool:
        return bool(self._query.strip())

    def search(self, query: str, account_id: str | None = None) -> None:
        """Show the results of ``query`` (in one account, or every one)."""
        self._query, self._account_id = query, account_id
        self._refresh.stop()
        self._show(self._read())

    def clear(self) -> None:
        self.search("")

    def refresh(self) -> None:
        """Run the same search again; the rows are only replaced when the results changed."""
        self._refresh.stop()
        groups = self._read()
        if groups != self._groups:
            self._show(groups)

    def _read(self) -> tuple[ConversationHits, ...]:
        if not self.active:
            return ()
        return self._reader.search_messages(self._query, account_id=self._account_id, limit=self._limit)

    def _show(self, groups: tuple[ConversationHits, ...]) -> None:
        self.beginResetModel()
        self._groups = groups
        self._rows = []
        for group in groups:
            self._rows.append(SearchRow(group.conversation, None, len(group.hits)))
            self._rows += [SearchRow(group.conversation, hit) for hit in group.hits]
        self.endResetModel()
        self.searched.emit()

    # -- change sets -----------------------------------------------------------------------------------

    def hide_now(self, changes: ChangeSet) -> None:
        """Take the messages a change set hides (recalled anywhere) out of the results, at once."""
        gone = changes.tombstones_added | {k.message_id for k in changes.messages_hidden}
        if not gone or not self._groups:
            return
        kept = tuple(
            ConversationHits(g.conversation, hits)
            for g in self._groups
            if (hits := tuple(h for h in g.hits if h.message.message_id not in gone))
        )
        if kept != self._groups:
            self._show(kept)

    def apply_changes(self, changes: ChangeSet) -> None:
        """Hidden messages go at once; new or changed messages and conversations run the search again
        shortly (a sync's bursts coalesce)."""
        self.hide_now(changes)
        changed = changes.messages_inserted or changes.messages_updated or changes.conversations_changed
        if self.active and changed and not self._refresh.isActive():
            self._refresh.start()

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def hit_count(self) -> int:
        return sum(len(g.hits) for g in self._groups)

    @property
    def groups(self) -> tuple[ConversationHits, ...]:
        return self._groups

    def row_at(self, row: int) -> SearchRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def message_at(self, row: int) -> Message | None:
        found = self.row_at(row)
        return found.hit.message if found is not None and found.hit is not None else None

    def first_message_row(self) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.hit is not None), None)

    def row_of(self, account_id: str, message_id: str) -> int | None:
        for i, r in enumerate(self._rows):
            if r.hit is not None and (r.hit.message.account_id, r.hit.message.message_id) == (
                account_id,
                message_id,
            ):
                return i
        return None

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({int(role): QByteArray(role.name.lower().encode()) for role in SearchRole})
        return names

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        found = self.row_at(index.row()) if index.isValid() else None
        if found is None or found.hit is None:
            return Qt.ItemFlag.NoItemFlags  # a header: the keyboard steps over it
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        found = self.row_at(index.row()) if index.isValid() and index.column() == 0 else None
        if found is None:
            return None
        hit = found.hit
        if role == SearchRole.KIND:
            return "conversation" if hit is None else "message"
        if role == SearchRole.CONVERSATION:
            return found.conversation
        if role == SearchRole.TITLE:
            return found.conversation.title
        if role == SearchRole.COUNT:
            return found.count
        if hit is None:
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return f"{found.conversation.title}: {found.count} found"
            return None
        message = hit.message
        if role == SearchRole.MESSAGE:
            return message
        if role == SearchRole.SENDER:
            return sender_of(message)
        if role == SearchRole.SENDER_SPANS:
            return hit.sender_spans if not message.is_sent_by_owner else ()
        if role in (SearchRole.EXCERPT, SearchRole.EXCERPT_SPANS):
            line, spans = excerpt(message.text, hit.text_spans)
            return line if role == SearchRole.EXCERPT else spans
        if role == SearchRole.SENT_AT:
            return message.sent_at
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return f"{sender_of(message)}: {excerpt(message.text, hit.text_spans)[0]}"
        return None


def sender_of(message: Message) -> str:
    return "You" if message.is_sent_by_owner else (message.sender_name or "Unknown")
