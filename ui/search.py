"""Message search in a window: typing in the search box finds messages in every cached conversation.

Results come from the reader (``InboxReader.search_messages``: the cache's FTS5 index, newest first, one
folding rule), grouped by conversation: a header row per conversation, then its messages, each with the
words that matched highlighted. Everything is plain text: the highlight is a ``QTextLayout`` format range
drawn by the delegate, never markup made from a message.

Enter or a double-click on a result asks the window to jump to that message in its thread
(:func:`reveal_message`). A change set that hides a message (a recall here, elsewhere, by the event stream
or reconciliation) takes it out of the results at once; new or changed messages run the search again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent, QPainter, QTextCharFormat, QTextLayout
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLineEdit,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from sync.model import ChangeSet, Conversation, ConversationHits, Message, MessageHit, Span

from .fonts import elide, scaled
from .message_model import MessageListModel
from .palette import LIGHT, Palette, qcolor
from .sources import InboxReader
from .text import format_time, local_now_ms, one_line
from .widgets import plain_label

AnyIndex = QModelIndex | QPersistentModelIndex

SEARCH_LIMIT: Final = 50
"""Messages a search shows at most: the newest matches (a few screens of results)."""
EXCERPT_BEFORE: Final = 40
"""Characters kept before the first match in a result's one-line excerpt."""
EXCERPT_CHARS: Final = 240
"""Characters of a message a result shows at most (the row elides what does not fit)."""
REFRESH_DELAY_MS: Final = 300
"""New or changed messages run the search again after this pause (a sync's bursts coalesce)."""
REVEAL_PAGES: Final = 400
"""Older pages of the cache a jump may read to find its message (50 messages each)."""


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


def utf16_spans(text: str, spans: tuple[Span, ...]) -> list[tuple[int, int]]:
    """Python character offsets as the UTF-16 offsets Qt counts in (an emoji is two there)."""

    def at(i: int) -> int:
        return len(text[:i].encode("utf-16-le")) // 2

    return [(at(a), at(b) - at(a)) for a, b in spans if b > a]


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


class SearchResultDelegate(QStyledItemDelegate):
    """Header rows (the conversation, how many found) and result rows (sender and time, then the message
    as one line) with every match drawn highlighted: plain text laid out by ``QTextLayout``."""

    HEADER_HEIGHT = 30
    ROW_HEIGHT = 50

    def __init__(self, parent: QObject | None = None, palette: Palette = LIGHT) -> None:
        super().__init__(parent)
        self.palette = palette

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        header = index.data(SearchRole.KIND) == "conversation"
        return QSize(max(200, option.rect.width()), self.HEADER_HEIGHT if header else self.ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        painter.save()
        try:
            if index.data(SearchRole.KIND) == "conversation":
                self._paint_header(painter, option, index)
            else:
                self._paint_result(painter, option, index)
        finally:
            painter.restore()

    def _paint_header(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        colors = self.palette
        rect = QRect(option.rect)
        painter.fillRect(rect, qcolor(colors.subtle))
        base: QFont = option.font
        small = scaled(base, 0.86)
        count = int(index.data(SearchRole.COUNT) or 0)
        count_text = f"{count} found"
        small_fm = QFontMetrics(small)
        count_w = small_fm.horizontalAdvance(count_text)
        painter.setFont(small)
        painter.setPen(qcolor(colors.muted))
        text_rect = rect.adjusted(12, 0, -12, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, count_text)
        title_font = scaled(base, 0.93, bold=True)
        painter.setFont(title_font)
        painter.setPen(qcolor(colors.secondary_text))
        width = text_rect.width() - count_w - 8
        title = elide(QFontMetrics(title_font), str(index.data(SearchRole.TITLE) or ""), width)
        painter.drawText(
            QRect(text_rect.left(), rect.top(), width, rect.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            title,
        )

    def _paint_result(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        colors = self.palette
        rect = QRect(option.rect)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, qcolor(colors.selection))
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), qcolor(colors.accent))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, qcolor(colors.subtle))
        painter.setPen(qcolor(colors.row_divider))
        painter.drawLine(rect.left() + 12, rect.bottom(), rect.right(), rect.bottom())
        base: QFont = option.font
        small = scaled(base, 0.86)
        small_fm = QFontMetrics(small)
        left, right = rect.left() + 12, rect.right() - 12
        top = rect.top() + 6
        # First line: the sender (its match highlighted too), the time on the right.
        when = format_time(int(index.data(SearchRole.SENT_AT) or 0), local_now_ms())
        when_w = small_fm.horizontalAdvance(when)
        painter.setFont(small)
        painter.setPen(qcolor(colors.muted))
        painter.drawText(
            QRect(right - when_w, top, when_w, small_fm.height()),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            when,
        )
        self._draw_highlighted(
            painter,
            scaled(base, 0.86, bold=True),
            str(index.data(SearchRole.SENDER) or ""),
            tuple(index.data(SearchRole.SENDER_SPANS) or ()),
            QPoint(left, top),
            right - when_w - 8 - left,
            colors.secondary_text,
        )
        # Second line: the message around its first match.
        self._draw_highlighted(
            painter,
            base,
            str(index.data(SearchRole.EXCERPT) or ""),
            tuple(index.data(SearchRole.EXCERPT_SPANS) or ()),
            QPoint(left, top + small_fm.height() + 4),
            right - left,
            colors.text,
        )

    def _draw_highlighted(
        self,
        painter: QPainter,
        font: QFont,
        text: str,
        spans: tuple[Span, ...],
        at: QPoint,
        width: int,
        color: str,
    ) -> None:
        """``text`` on one line from ``at``, elided to ``width``, the spans highlighted (plain text: a
        ``QTextLayout`` with format ranges, never markup)."""
        metrics = QFontMetrics(font)
        shown = elide(metrics, text, width)
        if shown != text:
            cut = len(shown) - 1  # what is kept before the "…"
            spans = tuple((a, min(b, cut)) for a, b in spans if a < cut)
        layout = QTextLayout(shown, font)
        layout.setCacheEnabled(True)
        formats = []
        marked = QTextCharFormat()
        marked.setBackground(qcolor(self.palette.warning_border))  # a marker pen: legible in both themes
        marked.setForeground(qcolor(self.palette.text))
        for start, length in utf16_spans(shown, spans):
            fmt = QTextLayout.FormatRange()
            fmt.start, fmt.length, fmt.format = start, length, marked
            formats.append(fmt)
        layout.setFormats(formats)
        layout.beginLayout()
        line = layout.createLine()
        if line.isValid():
            line.setLineWidth(max(1, width))
        layout.endLayout()
        painter.setPen(qcolor(color))
        layout.draw(painter, at)


class SearchResultsView(QListView):
    """The results list: Up/Down step over headers from result to result, Enter or a double-click opens
    one, Escape says the person is done with the search."""

    message_activated = Signal(Message)
    escape_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchResults")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.result_delegate = SearchResultDelegate(self)
        self.setItemDelegate(self.result_delegate)
        self.setUniformItemSizes(False)
        self.setMouseTracking(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.doubleClicked.connect(self._on_double_clicked)

    def activate_current(self) -> bool:
        """Open the current result (the first one when none is current); False when there is none."""
        model = self.model()
        if not isinstance(model, SearchResultsModel):
            return False
        row = self.currentIndex().row() if self.currentIndex().isValid() else -1
        message = model.message_at(row)
        if message is None:
            first = model.first_message_row()
            message = model.message_at(first) if first is not None else None
        if message is None:
            return False
        self.message_activated.emit(message)
        return True

    def select_first(self) -> bool:
        model = self.model()
        first = model.first_message_row() if isinstance(model, SearchResultsModel) else None
        if first is None:
            return False
        self.setCurrentIndex(self.model().index(first, 0))
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.activate_current()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
            return
        super().keyPressEvent(event)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        message = index.data(SearchRole.MESSAGE)
        if isinstance(message, Message):
            self.message_activated.emit(message)


class SearchPanel(QObject):
    """The "Messages" part of the sidebar while a search is typed: a count, the results, or why there are
    none. ``widget`` is hidden while the search box is empty.

    The search box drives it (:meth:`attach`): every keystroke searches at once (a search is a few ms of
    the index), Down moves into the results, Enter opens the current or first result, Escape clears."""

    message_activated = Signal(Message)
    """Jump to this message in its thread."""

    def __init__(self, reader: InboxReader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = SearchResultsModel(reader, parent=self)
        self.widget = QWidget()
        self.widget.setObjectName("searchPanel")
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.heading = plain_label("Messages", "searchHeading")
        self.heading.setContentsMargins(12, 8, 12, 4)
        self.view = SearchResultsView()
        self.view.setModel(self.model)
        self.empty_label = plain_label("", "searchEmptyLabel")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        layout.addWidget(self.heading)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty_label)
        self.widget.setVisible(False)
        self.view.message_activated.connect(self.message_activated)
        self.model.searched.connect(self._on_model_searched)
        self._edit: QLineEdit | None = None

    def attach(self, edit: QLineEdit) -> None:
        """Drive the panel from a search box (a ``QLineEdit``): its keys Down, Enter and Escape."""
        self._edit = edit
        edit.installEventFilter(self)
        self.view.escape_pressed.connect(self._on_view_escape_pressed)

    def search(self, text: str, account_id: str | None = None) -> None:
        self.model.search(text, account_id)

    def clear(self) -> None:
        self.model.clear()

    def refresh(self) -> None:
        """Another process changed the cache: search again."""
        if self.model.active:
            self.model.refresh()

    def hide_now(self, changes: ChangeSet) -> None:
        self.model.hide_now(changes)

    def apply_changes(self, changes: ChangeSet) -> None:
        self.model.apply_changes(changes)

    def set_palette(self, palette: Palette) -> None:
        self.view.result_delegate.set_palette(palette)
        self.view.viewport().update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        edit = self._edit
        if edit is not None and watched is edit and isinstance(event, QKeyEvent):
            if event.type() != QEvent.Type.KeyPress:
                return False
            key = event.key()
            if key == Qt.Key.Key_Escape and edit.text():
                edit.clear()
                return True
            if self.model.active and key == Qt.Key.Key_Down and self.view.select_first():
                self.view.setFocus()
                return True
            if self.model.active and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                return self.view.activate_current()
        return False

    def _on_view_escape_pressed(self) -> None:
        if self._edit is not None:
            self._edit.clear()
            self._edit.setFocus()

    def _on_model_searched(self) -> None:
        model = self.model
        _show(self.widget, model.active)
        if not model.active:
            return
        count = model.hit_count
        groups = len(model.groups)
        if count:
            more = "+" if count >= SEARCH_LIMIT else ""
            where = f"in {groups} conversation{'s' if groups != 1 else ''}"
            self.heading.setText(f"Messages — {count}{more} found {where}")
        else:
            self.heading.setText("Messages")
        self.empty_label.setText(f"No messages found for “{one_line(model.query, 60)}”" if not count else "")
        _show(self.empty_label, not count)
        _show(self.view, bool(count))


def _show(widget: QWidget, shown: bool) -> None:
    """Show or hide, only on a change (each keystroke would lay the sidebar out again otherwise)."""
    if widget.isHidden() == shown:
        widget.setVisible(shown)


def reveal_message(view: QListView, model: MessageListModel, message: Message) -> bool:
    """Scroll the open thread to ``message`` (reading older pages of the cache until it is there, up to
    :data:`REVEAL_PAGES`), centred, and select it. False when the thread does not hold it (recalled)."""
    if model.conversation_key != (message.account_id, message.conversation_id):
        return False
    row = model.row_of(message.account_id, message.message_id)
    for _ in range(REVEAL_PAGES):
        if row is not None or not model.can_load_older() or not model.load_older():
            break
        row = model.row_of(message.account_id, message.message_id)
    if row is None:
        return False
    index = model.index(row, 0)
    view.executeDelayedItemsLayout()  # the rows read above, measured once
    view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
    view.setCurrentIndex(index)
    view.setFocus()
    return True
