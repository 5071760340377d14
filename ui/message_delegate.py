"""Painting of message rows: chat bubbles with their links, notes, reactions and recall status, and the day
separator above the first message of a day; clicks on "Retry" and on links."""

from __future__ import annotations

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont, QMouseEvent, QPainter, QPainterPath
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from sync.model import Message

from .bubble_layout import FAILED, BubbleFonts, BubbleLayout, BubbleLayouts
from .message_model import BubbleData, MessageListModel, MessageRole
from .palette import LIGHT, Palette, qcolor
from .row_cache import ROW_PIXMAP_BUDGET, RowCache

AnyIndex = QModelIndex | QPersistentModelIndex

_LEFT_VCENTER = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT_VCENTER = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT_TOP = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
_CENTER = Qt.AlignmentFlag.AlignCenter
_SELECTED = QStyle.StateFlag.State_Selected
_NO_PEN = Qt.PenStyle.NoPen
_ANTIALIASING = QPainter.RenderHint.Antialiasing
_BUBBLE_ROLE = int(MessageRole.BUBBLE)
_MESSAGE_ROLE = int(MessageRole.MESSAGE)


def bubble_data(index: AnyIndex) -> object:
    """The row's ``BubbleData`` (asked of the model directly when it is ours: no trip through QVariant)."""
    model = index.model()
    if isinstance(model, MessageListModel):
        return model.bubble_data(index.row()) if index.column() == 0 else None
    return index.data(_BUBBLE_ROLE)


def row_width(option: QStyleOptionViewItem) -> int:
    """The width a row is laid out at: the view's (its viewport's), not the item rect's."""
    widget = option.widget
    if isinstance(widget, QAbstractItemView):
        return max(240, widget.viewport().width())
    rect: QRect = option.rect
    return max(240, rect.width())


class MessageDelegate(QStyledItemDelegate):
    """Chat bubbles: own messages right-aligned in the accent colour, others left; recall status below.

    Text is measured with ``QFontMetrics.boundingRect`` and drawn with ``QPainter.drawText`` over a plain
    string (same flags, same width), so markup in a message is shown as typed and the painted text always
    fits the measured size. Where each part goes is ``BubbleLayouts``' job; this paints it, from cached
    pixmaps of the rows already painted.
    """

    retry_clicked = Signal(Message)
    """The user clicked "Retry" under a failed recall."""
    link_clicked = Signal(str)
    """The user clicked a link in a message: its address (the window asks before opening it)."""

    def __init__(self, parent: QObject | None = None, palette: Palette = LIGHT) -> None:
        super().__init__(parent)
        self.palette = palette
        """The colours bubbles are painted with (rows are cached per palette)."""
        self._layouts = BubbleLayouts()
        self._rendered = RowCache(ROW_PIXMAP_BUDGET)
        if isinstance(parent, QAbstractItemView):
            # A pointing hand over links: a watcher of the view's viewport, living as long as it.
            _LinkHover(parent, self)

    def set_palette(self, palette: Palette) -> None:
        """Paint with ``palette`` from now on; the rows painted in the old one are dropped (the caller
        repaints the view). Layouts stay: a palette changes no size."""
        if palette is self.palette:
            return
        self.palette = palette
        self._rendered.clear()

    def clear_cache(self) -> None:
        """Forget the row layouts, heights and pixmaps (say, the width changed). Text measurements are
        kept: each is reused only at widths where it still holds."""
        self._layouts.clear()
        self._rendered.clear()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        # The view measures every row of a page before it paints any: only the height is worked out here
        # (the text's wrapped height and a few sums); the rest of the layout waits for the row's paint.
        width = row_width(option)
        data = bubble_data(index)
        if not isinstance(data, BubbleData):
            return QSize(width, 0)
        return QSize(width, self._layouts.height(data, width, option.font))

    def min_row_height(self, font: QFont) -> int:
        """No row is lower than this (an empty message, no notes, reactions or status)."""
        return self._layouts.min_row_height(font)

    def prepare(self, font: QFont) -> None:
        """Load the bubble fonts for ``font`` (the view's) ahead of the first row: done when the view is
        made, so that opening the first conversation does not wait for a font to load."""
        self._layouts.fonts_for(font)

    def layout_for(self, option: QStyleOptionViewItem, index: AnyIndex) -> BubbleLayout:
        geo = self._layout(option, bubble_data(index))
        if geo is None:  # pragma: no cover - a message row always has bubble data
            raise RuntimeError("no bubble layout for a message row")
        return geo

    def _layout(self, option: QStyleOptionViewItem, data: object) -> BubbleLayout | None:
        """The row's full layout (for painting and clicks), or None for a row without a bubble."""
        if not isinstance(data, BubbleData):
            return None
        return self._layouts.layout(data, row_width(option), option.font)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        geo = self._layout(option, bubble_data(index))
        if geo is None:
            return
        selected = bool(option.state & _SELECTED)
        fonts = self._layouts.fonts_for(option.font)
        rect: QRect = option.rect
        # The painted part of the row, in row coordinates: the bubble with its focus ring, the reactions
        # chip and the status line, and a little slack for antialiased edges.
        area = geo.bubble.adjusted(-4, -4, 4, 4).united(geo.reactions).united(geo.status).united(geo.retry)
        if not geo.day.isNull():
            area = area.united(QRect(0, geo.day.top(), rect.width(), geo.day.height()))
        area = area.adjusted(-2, -2, 2, 2)
        key = (geo.data, rect.width(), fonts.key, selected, geo.time_text, geo.day_text, self.palette.name)
        painter.save()
        painter.translate(rect.topLeft())
        self._rendered.draw(painter, key, area, lambda row: self._paint_bubble(row, geo, fonts, selected))
        painter.restore()

    def _paint_bubble(self, painter: QPainter, geo: BubbleLayout, fonts: BubbleFonts, selected: bool) -> None:
        data = geo.data
        own = data.message.is_sent_by_owner
        colors = self.palette
        painter.save()
        painter.setRenderHint(_ANTIALIASING)

        if not geo.day.isNull():
            self._paint_day(painter, geo, fonts)

        bubble = QRectF(geo.bubble)
        if selected:
            painter.setPen(_NO_PEN)
            painter.setBrush(qcolor(colors.accent_light))
            painter.drawRoundedRect(bubble.adjusted(-3, -3, 3, 3), 17, 17)
        path = QPainterPath()
        path.addRoundedRect(bubble, 14, 14)
        painter.fillPath(path, qcolor(colors.own_bubble if own else colors.other_bubble))

        painter.setFont(fonts.header)
        painter.setPen(qcolor(colors.own_muted if own else colors.accent))
        painter.drawText(geo.header, _LEFT_VCENTER, data.sender)
        painter.setFont(fonts.small)
        painter.setPen(qcolor(colors.own_muted if own else colors.muted))
        painter.drawText(geo.header, _RIGHT_VCENTER, geo.time_text)

        painter.setFont(fonts.base)
        painter.setPen(qcolor(colors.own_text if own else colors.other_text))
        # Links: underlined; on one's own bubble in its text colour, on the other in the accent.
        geo.text_layout.draw(painter, geo.text_origin, None if own else qcolor(colors.accent))

        if geo.notes:
            painter.setFont(fonts.small)
            painter.setPen(qcolor(colors.own_muted if own else colors.muted))
            painter.drawText(geo.note, _LEFT_TOP, geo.notes)

        if data.reactions:
            reactions = geo.reactions
            # One's own reaction among them: the chip in the accent's colours (click the picker to undo).
            painter.setPen(qcolor(colors.accent if data.reacted else colors.reaction_border))
            painter.setBrush(qcolor(colors.selection if data.reacted else colors.reaction_fill))
            painter.drawRoundedRect(QRectF(reactions), reactions.height() / 2, reactions.height() / 2)
            painter.setFont(fonts.small)
            painter.setPen(qcolor(colors.text))
            painter.drawText(reactions, _CENTER, data.reactions)

        if not geo.status.isNull():
            painter.setFont(fonts.small)
            painter.setPen(qcolor(colors.danger if data.recall_status == FAILED else colors.muted))
            painter.drawText(geo.status, _LEFT_VCENTER, geo.status_text)
            retry = geo.retry
            if not retry.isNull():
                dot = QRect(retry.left() - fonts.dot_w, retry.top(), fonts.dot_w, retry.height())
                painter.setPen(qcolor(colors.muted))
                painter.drawText(dot, _CENTER, "·")
                painter.setFont(fonts.link)
                painter.setPen(qcolor(colors.accent))
                painter.drawText(retry, _LEFT_VCENTER, "Retry")
        painter.restore()

    def _paint_day(self, painter: QPainter, geo: BubbleLayout, fonts: BubbleFonts) -> None:
        """ "Today", "Yesterday" or a date in a pill, with a hairline either side."""
        colors = self.palette
        day = geo.day
        middle = day.center().y()
        painter.setPen(qcolor(colors.row_divider))
        margin = BubbleLayouts.MARGIN_X
        width = 2 * day.left() + day.width()  # the pill is centred in the row
        if day.left() - 8 > margin:
            painter.drawLine(margin, middle, day.left() - 8, middle)
            painter.drawLine(day.right() + 8, middle, width - margin, middle)
        painter.setPen(_NO_PEN)
        painter.setBrush(qcolor(colors.day_fill))
        painter.drawRoundedRect(QRectF(day), day.height() / 2, day.height() / 2)
        painter.setFont(fonts.small)
        painter.setPen(qcolor(colors.muted))
        painter.drawText(day, _CENTER, geo.day_text)

    def link_at(self, option: QStyleOptionViewItem, index: AnyIndex, point: QPoint) -> str | None:
        """The address of the link under ``point`` (view coordinates), in the row at ``index``."""
        geo = self._layout(option, bubble_data(index))
        if geo is None or not geo.text_layout.links:
            return None
        rect: QRect = option.rect
        origin = geo.text_origin
        return geo.text_layout.link_at(
            point.x() - rect.left() - origin.x(), point.y() - rect.top() - origin.y()
        )

    def editorEvent(
        self, event: QEvent, model: object, option: QStyleOptionViewItem, index: AnyIndex
    ) -> bool:
        if (
            isinstance(event, QMouseEvent)
            and event.type() == QEvent.Type.MouseButtonRelease
            and event.button() == Qt.MouseButton.LeftButton
        ):
            geo = self._layout(option, bubble_data(index))
            rect: QRect = option.rect
            point = event.position().toPoint()
            if (
                geo is not None
                and not geo.retry.isNull()
                and geo.retry.translated(rect.topLeft()).contains(point)
            ):
                message = index.data(_MESSAGE_ROLE)
                if isinstance(message, Message):
                    self.retry_clicked.emit(message)
                    return True
            url = self.link_at(option, index, point)
            if url is not None:
                self.link_clicked.emit(url)
                return True
        return super().editorEvent(event, model, option, index)  # type: ignore[arg-type]


class _LinkHover(QObject):
    """A pointing hand while the mouse is over a link of a bubble. An event filter of the view's viewport
    and its child, so that it goes with it (the delegate may outlive the viewport at teardown)."""

    def __init__(self, view: QAbstractItemView, delegate: MessageDelegate) -> None:
        viewport = view.viewport()
        super().__init__(viewport)
        self._view = view
        self._delegate = delegate
        self._pointing = False
        viewport.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
            self._point_at(event.position().toPoint())
        elif kind == QEvent.Type.Leave and self._pointing:
            self._set_pointing(False)
        return False

    def _point_at(self, point: QPoint) -> None:
        view = self._view
        index = view.indexAt(point)
        over_link = False
        if index.isValid():
            option = QStyleOptionViewItem()
            option.rect = view.visualRect(index)
            option.font = view.font()
            option.widget = view
            over_link = self._delegate.link_at(option, index, point) is not None
        if over_link != self._pointing:
            self._set_pointing(over_link)

    def _set_pointing(self, on: bool) -> None:
        self._pointing = on
        viewport = self._view.viewport()
        if on:
            viewport.setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            viewport.unsetCursor()
