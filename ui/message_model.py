"""One conversation's visible messages, oldest at the top, with older history paged in at the top edge."""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QObject, QPersistentModelIndex, Qt

from sync.model import ChangeSet, Message, RecallState
from sync.recall_rules import UNCONFIRMED_CHECKING

from .days import local_day
from .sources import InboxReader
from .text import bubble_text, format_clock, truncation_note

PAGE_SIZE = 50
RECALLING_TEXT = "Recalling…"
RETRY_TEXT = "Retry"

AnyIndex = QModelIndex | QPersistentModelIndex
MessageKey = tuple[str, str]
"""(account id, message id): one cached copy of a message."""


_LINE_STATES: Final = frozenset({RecallState.REFUSED, RecallState.FAILED, RecallState.UNCONFIRMED})


@dataclass(frozen=True, slots=True)
class RecallRowState:
    """A recall of one row that is under way or did not remove it (a recalled row is simply gone)."""

    state: RecallState | None
    """None: no recall of this row is under way."""
    reason: str = ""
    can_retry: bool = False

    @property
    def in_flight(self) -> bool:
        return self.state is RecallState.PENDING

    @property
    def has_line(self) -> bool:
        """A line under the bubble: why it was not recalled, or that it is not confirmed yet."""
        return self.state in _LINE_STATES

    @property
    def status(self) -> str:
        """The ``RECALL_STATUS`` role's value: "pending", "failed" (a line under the bubble) or "none"."""
        return "pending" if self.in_flight else "failed" if self.has_line else "none"

    @property
    def text(self) -> str:
        if self.in_flight:
            return RECALLING_TEXT
        if self.state is RecallState.UNCONFIRMED:
            # Never "recalled", never "failed" until evidence says so (spec §9); the detail (e.g. "LinkedIn
            # still shows the message") goes to the status bar and the recall log.
            return UNCONFIRMED_CHECKING
        if self.has_line:
            return f"Not recalled: {self.reason}" if self.reason else "Not recalled"
        return ""


class MessageRole(enum.IntEnum):
    MESSAGE = Qt.ItemDataRole.UserRole + 1
    """The ``Message`` value itself."""
    KEY = enum.auto()
    TEXT = enum.auto()
    """The full text, for copying. Painting uses ``BUBBLE_TEXT``."""
    BUBBLE_TEXT = enum.auto()
    """The bounded part of the text that is laid out, as plain text."""
    OMITTED_CHARS = enum.auto()
    SENDER_NAME = enum.auto()
    SENT_AT = enum.auto()
    IS_OWN = enum.auto()
    HAS_ATTACHMENT = enum.auto()
    REACTIONS = enum.auto()
    """A short plain-text line such as "👍 2  ❤️ 1" ("" when none)."""
    RECALL_STATUS = enum.auto()
    """"none", "pending" or "failed" (a line under the bubble: refused, failed or not confirmed)."""
    RECALL_STATUS_TEXT = enum.auto()
    """"Recalling…", "Not recalled: <reason>" or ""."""
    RECALL_CAN_RETRY = enum.auto()
    RECALL_RETRY_TEXT = enum.auto()
    BUBBLE = enum.auto()
    """A ``BubbleData``: everything the bubble delegate lays out and paints, in one call."""
    """"Retry" when a retry makes sense, else ""."""


_ROLE_NAMES = {role: role.name.lower().encode() for role in MessageRole}

SAME_SIZE_CHANGE: Final = [int(MessageRole.RECALL_STATUS)]
"""The roles of a ``dataChanged`` that changes how a row looks but not its height (a recall in flight
begins or ends): a view may repaint the row without laying the thread out again."""
_BUBBLE = int(MessageRole.BUBBLE)
_MESSAGE = int(MessageRole.MESSAGE)
_NO_RECALL = RecallRowState(None)


@dataclass(frozen=True, slots=True)
class BubbleData:
    """One row's display inputs. The delegate asks for this once per layout instead of a role per field:
    each ``index.data()`` crosses from C++ to Python, and a thread lays out every row before it paints."""

    message: Message
    text: str
    """The bounded part of the text that is laid out, as plain text."""
    omitted: int
    sender: str
    reactions: str
    recall_status: str
    recall_text: str
    can_retry: bool
    reacted: bool = False
    """The account has reacted to it: its reactions chip stands out."""
    day: int = 0
    """The local day it was sent on (``ui.days.local_day``) when it is the first message of that day
    shown: a day separator goes above it. 0: none."""


def message_key(message: Message) -> MessageKey:
    return (message.account_id, message.message_id)


def message_sort_key(message: Message) -> tuple[int, str]:
    return (message.sent_at, message.message_id)


def reactions_text(message: Message) -> str:
    if not message.reactions:
        return ""
    return "  ".join(f"{r.emoji} {r.count}" if r.count > 1 else r.emoji for r in message.reactions)


class MessageListModel(QAbstractListModel):
    """The open conversation's messages, updated by row diffs, plus each row's recall state.

    Older history is not loaded through ``canFetchMore``: views call ``fetchMore`` at the *bottom*, where
    a chat sits all the time. The view calls ``load_older()`` when it is scrolled to the top instead.
    """

    def __init__(self, reader: InboxReader, *, page_size: int = PAGE_SIZE, parent: QObject | None = None):
        super().__init__(parent)
        self._reader = reader
        self._page_size = page_size
        self._account_id: str | None = None
        self._conversation_id: str | None = None
        self._rows: list[Message] = []
        self._has_older = False
        self._loading = False
        self._recall: dict[MessageKey, RecallRowState] = {}
        self._bubbles: dict[MessageKey, tuple[Message, RecallRowState | None, BubbleData]] = {}
        """Each row's last ``BubbleData`` and what it was made of: the delegate asks for it on every size
        hint and paint, and a thread's first page is measured whole before it paints. A row's day
        separator depends on the row above it: rows moving around it are checked (``_check_day_break``)."""

    # -- which conversation ------------------------------------------------------------------------------

    @property
    def conversation_key(self) -> tuple[str, str] | None:
        if self._account_id is None or self._conversation_id is None:
            return None
        return (self._account_id, self._conversation_id)

    def set_conversation(self, account_id: str | None, conversation_id: str | None) -> None:
        """Show another conversation (None: none): resets to its newest page."""
        self.beginResetModel()
        self._account_id, self._conversation_id = account_id, conversation_id
        self._rows = []
        self._bubbles.clear()
        self._has_older = False
        if account_id is not None and conversation_id is not None:
            page = self._reader.messages_page(account_id, conversation_id, before=None, limit=self._page_size)
            self._has_older = len(page) >= self._page_size
            self._rows = sorted(page, key=message_sort_key)
        self.endResetModel()

    def reload(self) -> None:
        """Read the newest page again (e.g. after another process changed the cache)."""
        self.set_conversation(self._account_id, self._conversation_id)

    def can_load_older(self) -> bool:
        return self._has_older and not self._loading

    def load_older(self) -> int:
        """Prepend the next page of older history; returns how many rows came in."""
        key = self.conversation_key
        if key is None or not self.can_load_older():
            return 0
        self._loading = True
        try:
            before = message_sort_key(self._rows[0]) if self._rows else None
            page = self._reader.messages_page(key[0], key[1], before=before, limit=self._page_size)
            self._has_older = len(page) >= self._page_size
            known = {message_key(m) for m in self._rows}
            older = sorted((m for m in page if message_key(m) not in known), key=message_sort_key)
            if older:
                self.beginInsertRows(QModelIndex(), 0, len(older) - 1)
                self._rows[0:0] = older
                self.endInsertRows()
                self._check_day_break(len(older))
            return len(older)
        finally:
            self._loading = False

    # -- diffs -------------------------------------------------------------------------------------------

    def apply_changes(self, changes: ChangeSet) -> None:
        """Remove hidden rows, insert new ones, update changed ones — only those of this conversation."""
        conv = self.conversation_key
        if conv is None:
            return
        account_id, conversation_id = conv
        # A tombstone names a message id alone: it hides every mailbox's copy, named here or not.
        for row in reversed(range(len(self._rows))):
            message = self._rows[row]
            if message.message_id in changes.tombstones_added:
                self._remove_row(row)
        hidden = {
            (k.account_id, k.message_id)
            for k in changes.messages_hidden
            if (k.account_id, k.conversation_id) == conv
        }
        for row in reversed(range(len(self._rows))):
            if message_key(self._rows[row]) in hidden:
                self._remove_row(row)
        touched = sorted(
            {
                k.message_id
                for k in changes.messages_inserted | changes.messages_updated
                if (k.account_id, k.conversation_id) == conv
            }
        )
        for message_id in touched:
            fresh = self._reader.message(account_id, message_id)
            if fresh is not None and fresh.conversation_id != conversation_id:
                fresh = None
            self._upsert(account_id, message_id, fresh)

    def _upsert(self, account_id: str, message_id: str, fresh: Message | None) -> None:
        row = self.row_of(account_id, message_id)
        if fresh is None:
            if row is not None:
                self._remove_row(row)
            return
        if row is not None and message_sort_key(self._rows[row]) == message_sort_key(fresh):
            if self._rows[row] != fresh:
                self._rows[row] = fresh
                index = self.index(row, 0)
                self.dataChanged.emit(index, index, [])
            return
        if row is not None:
            self._remove_row(row)
        keys = [message_sort_key(m) for m in self._rows]
        target = bisect.bisect_left(keys, message_sort_key(fresh))
        if target == 0 and self._has_older:
            # Older than everything loaded while more history exists: load_older brings it in its place.
            return
        self.beginInsertRows(QModelIndex(), target, target)
        self._rows.insert(target, fresh)
        self.endInsertRows()
        self._check_day_break(target + 1)

    def _remove_row(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        message = self._rows.pop(row)
        self._recall.pop(message_key(message), None)
        self._bubbles.pop(message_key(message), None)
        self.endRemoveRows()
        self._check_day_break(row)

    def _day_break(self, row: int) -> int:
        """The day of row ``row`` when a separator goes above it (the first row shown, or the first of its
        day), else 0."""
        day = local_day(self._rows[row].sent_at)
        if row > 0 and local_day(self._rows[row - 1].sent_at) == day:
            return 0
        return day

    def _check_day_break(self, row: int) -> None:
        """The row above ``row`` changed (inserted, removed): its separator may come or go. Only a row
        already laid out can be wrong; its data is made again and the view told (it changes height)."""
        if not 0 <= row < len(self._rows):
            return
        m = self._rows[row]
        cached = self._bubbles.get((m.account_id, m.message_id))
        if cached is not None and cached[2].day != self._day_break(row):
            del self._bubbles[(m.account_id, m.message_id)]
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [])

    # -- recall state ------------------------------------------------------------------------------------

    def mark_recall_pending(self, account_id: str, message_id: str) -> None:
        self._set_recall(account_id, message_id, RecallRowState(RecallState.PENDING))

    def mark_recall_failed(
        self,
        account_id: str,
        message_id: str,
        reason_text: str,
        can_retry: bool,
        state: RecallState = RecallState.FAILED,
    ) -> None:
        """A recall that did not remove the row: refused, failed, or not confirmed yet (``state``)."""
        self._set_recall(account_id, message_id, RecallRowState(state, reason_text, can_retry))

    def clear_recall_state(self, account_id: str, message_id: str) -> None:
        before = self._recall.pop((account_id, message_id), None)
        if before is not None:
            self._emit_row_changed(account_id, message_id, resized=before.has_line)

    def recall_state(self, account_id: str, message_id: str) -> RecallRowState | None:
        return self._recall.get((account_id, message_id))

    def _set_recall(self, account_id: str, message_id: str, state: RecallRowState) -> None:
        # Kept even when the row is not loaded (another conversation is open): it shows when it is.
        before = self._recall.get((account_id, message_id))
        self._recall[(account_id, message_id)] = state
        # Only a failure adds a line under the bubble ("Recalling…" takes the time's place).
        failed = [s is not None and s.has_line for s in (before, state)]
        self._emit_row_changed(account_id, message_id, resized=failed[0] != failed[1])

    def _emit_row_changed(self, account_id: str, message_id: str, *, resized: bool = True) -> None:
        row = self.row_of(account_id, message_id)
        if row is not None:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [] if resized else SAME_SIZE_CHANGE)

    # -- reading -----------------------------------------------------------------------------------------

    def message_at(self, row: int) -> Message | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, account_id: str, message_id: str) -> int | None:
        # Linear: a conversation holds a few pages at most, and the search runs once per diff entry.
        for row, message in enumerate(self._rows):
            if message.message_id == message_id and message.account_id == account_id:
                return row
        return None

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({int(role): QByteArray(name) for role, name in _ROLE_NAMES.items()})
        return names

    def bubble_data(self, row: int) -> BubbleData | None:
        """Row ``row``'s display inputs (None: no such row), the same value object as long as the message
        and its recall state are unchanged (cheap to return again, and to find in the delegate's cache)."""
        if not 0 <= row < len(self._rows):
            return None
        m = self._rows[row]
        key = (m.account_id, m.message_id)
        state = self._recall.get(key)
        cached = self._bubbles.get(key)
        if cached is not None and cached[0] is m and cached[1] is state:
            return cached[2]
        shown = state or _NO_RECALL
        text, omitted = bubble_text(m.text)
        sender = "You" if m.is_sent_by_owner else (m.sender_name or "Unknown")
        bubble = BubbleData(
            m,
            text,
            omitted,
            sender,
            reactions_text(m),
            shown.status,
            shown.text,
            shown.can_retry,
            any(r.reacted_by_owner for r in m.reactions),
            self._day_break(row),
        )
        self._bubbles[key] = (m, state, bubble)
        return bubble

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = index.row()
        if not 0 <= row < len(self._rows) or index.column() != 0 or not index.isValid():
            return None
        # The delegate's roles first: it asks for them on every size hint and paint.
        if role == _BUBBLE:
            return self.bubble_data(row)
        m = self._rows[row]
        if role == _MESSAGE:
            return m
        state = self._recall.get(message_key(m)) or _NO_RECALL
        if role == Qt.ItemDataRole.DisplayRole:
            # Plain text plus the recall status line, so every reader of the row sees the state.
            text, omitted = bubble_text(m.text)
            lines = [text]
            if omitted:
                lines.append(truncation_note(omitted))
            if state.in_flight or state.has_line:
                lines.append(state.text + (f" — {RETRY_TEXT}" if state.can_retry else ""))
            return "\n".join(lines)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{m.sender_name or 'You'} — {format_clock(m.sent_at)}"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            sender = "You" if m.is_sent_by_owner else m.sender_name
            return f"{sender}: {bubble_text(m.text)[0]}" + (f" ({state.text})" if state.text else "")
        if role == MessageRole.KEY:
            return message_key(m)
        if role == MessageRole.TEXT:
            return m.text
        if role == MessageRole.BUBBLE_TEXT:
            return bubble_text(m.text)[0]
        if role == MessageRole.OMITTED_CHARS:
            return bubble_text(m.text)[1]
        if role == MessageRole.SENDER_NAME:
            return "You" if m.is_sent_by_owner else (m.sender_name or "Unknown")
        if role == MessageRole.SENT_AT:
            return m.sent_at
        if role == MessageRole.IS_OWN:
            return m.is_sent_by_owner
        if role == MessageRole.HAS_ATTACHMENT:
            return m.has_attachment
        if role == MessageRole.REACTIONS:
            return reactions_text(m)
        if role == MessageRole.RECALL_STATUS:
            return state.status
        if role == MessageRole.RECALL_STATUS_TEXT:
            return state.text
        if role == MessageRole.RECALL_CAN_RETRY:
            return state.can_retry
        if role == MessageRole.RECALL_RETRY_TEXT:
            return RETRY_TEXT if state.can_retry else ""
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
