"""How search results look and take the keyboard: header rows (the conversation, how many found) and result
rows with every match highlighted, in a list whose Up/Down step over headers.

Everything is plain text: the highlight is a ``QTextLayout`` format range drawn by the delegate, never
markup made from a message.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent, QPainter, QTextCharFormat, QTextLayout
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from sync.model import Message, Span

from .fonts import elide, scaled
from .palette import LIGHT, Palette, qcolor
from .search_model import SearchResultsModel, SearchRole
from .text import format_time, local_now_ms

AnyIndex = QModelIndex | QPersistentModelIndex


def utf16_spans(text: str, spans: tuple[Span, ...]) -> list[tuple[int, int]]:
    """Python character offsets as the UTF-16 offsets Qt counts in (an emoji is two there)."""

    def at(i: int) -> int:
        return len(text[:i].encode("utf-16-le")) // 2

    return [(at(a), at(b) - at(a)) for a, b in spans if b > a]


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
