"""Painting of conversation rows and message bubbles, as plain text only (never rich text)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPixmap,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from sync.model import Message

from .conversation_model import ConversationRole
from .message_model import RECALLING_TEXT, BubbleData, MessageListModel, MessageRole
from .text import avatar_color, format_message_time, format_time, truncation_note

AnyIndex = QModelIndex | QPersistentModelIndex

ACCENT = QColor("#0A66C2")
TEXT = QColor("#1D2226")
MUTED = QColor("#666A6F")
ERROR = QColor("#B3261E")
SELECTED_ROW = QColor("#E3EDF9")
HOVER_ROW = QColor("#F3F6F8")
STAR = QColor("#E3A008")
OWN_BUBBLE = QColor("#0A66C2")
OWN_TEXT = QColor("#FFFFFF")
OWN_MUTED = QColor("#D6E6F7")
OTHER_BUBBLE = QColor("#EEF1F4")
OTHER_TEXT = TEXT
FOCUS_RING = QColor("#7FB0E6")


def _now_ms() -> int:
    # Local clock: only for formatting times, never for the recall window (that uses server time).
    return int(time.time() * 1000)


_FONTS: dict[tuple[str, float, bool], QFont] = {}


def _scaled(font: QFont, factor: float, *, bold: bool = False) -> QFont:
    """``font`` scaled (and bold), built once per base font."""
    key = (font.key(), factor, bold)
    found = _FONTS.get(key)
    if found is None:
        found = _FONTS[key] = _make_scaled(font, factor, bold=bold)
    return found


def _make_scaled(font: QFont, factor: float, *, bold: bool = False) -> QFont:
    scaled = QFont(font)
    if font.pointSizeF() > 0:
        scaled.setPointSizeF(font.pointSizeF() * factor)
    else:
        scaled.setPixelSize(max(8, round(font.pixelSize() * factor)))
    scaled.setBold(bold)
    return scaled


def _link_font(font: QFont) -> QFont:
    link = QFont(font)
    link.setUnderline(True)
    link.setBold(True)
    return link


def _elide(metrics: QFontMetrics, text: str, width: int) -> str:
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, width))


class _RenderedRows:
    """Rows already painted, as pixmaps, by everything their pixels depend on.

    A view repaints every visible row whenever anything in it moves (a row removed, a relayout, a
    scroll, a window uncovered): with rows drawn from scratch that is several milliseconds of text
    shaping and antialiased fills per window, during which nothing else on the GUI thread runs — a
    recall's change set included. A cached row is one ``drawPixmap``. Past the byte budget the least
    recently drawn rows go."""

    def __init__(self, budget_bytes: int) -> None:
        self._pixmaps: dict[Hashable, QPixmap] = {}
        self._bytes = 0
        self._budget = budget_bytes

    def draw(self, painter: QPainter, key: Hashable, area: QRect, render: Callable[[QPainter], None]) -> None:
        """Draw the row's ``area`` (painter coordinates), rendering it with ``render`` on a miss."""
        if area.isEmpty():
            return  # a view squeezed to nothing: a null pixmap cannot be painted on
        dpr = painter.device().devicePixelRatioF()
        full_key = (key, area.size().toTuple(), dpr)
        pixmap = self._pixmaps.pop(full_key, None)
        if pixmap is not None:
            self._pixmaps[full_key] = pixmap  # most recently drawn last
        else:
            pixmap = QPixmap(math.ceil(area.width() * dpr), math.ceil(area.height() * dpr))
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(Qt.GlobalColor.transparent)
            row_painter = QPainter(pixmap)
            row_painter.translate(-area.left(), -area.top())
            render(row_painter)
            row_painter.end()
            size = _bytes_of(pixmap)
            while self._pixmaps and self._bytes + size > self._budget:
                self._bytes -= _bytes_of(self._pixmaps.pop(next(iter(self._pixmaps))))
            self._pixmaps[full_key] = pixmap
            self._bytes += size
        painter.drawPixmap(area.topLeft(), pixmap)

    def clear(self) -> None:
        self._pixmaps.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._pixmaps)


def _bytes_of(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4


ROW_PIXMAP_BUDGET = 16 * 1024 * 1024
"""Bytes of rendered rows kept per delegate (a few screens of rows at 2× device pixel ratio)."""


class ConversationDelegate(QStyledItemDelegate):
    """Avatar initials, name, headline, preview, time, star and unread badge, in a fixed-height row.

    Every row has the same height, so the list can use ``setUniformItemSizes(True)``.
    """

    ROW_HEIGHT = 78
    AVATAR = 44

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rendered = _RenderedRows(ROW_PIXMAP_BUDGET)

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return QSize(max(200, option.rect.width()), self.ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        rect = QRect(option.rect)
        base: QFont = option.font
        state = option.state
        shown = (
            index.data(ConversationRole.TITLE),
            index.data(ConversationRole.HEADLINE),
            index.data(ConversationRole.PREVIEW),
            index.data(ConversationRole.UNREAD_COUNT),
            index.data(ConversationRole.STARRED),
            index.data(ConversationRole.AVATAR_SEED),
            index.data(ConversationRole.INITIALS),
            format_time(int(index.data(ConversationRole.LAST_ACTIVITY) or 0), _now_ms()),
            bool(state & QStyle.StateFlag.State_Selected),
            bool(state & QStyle.StateFlag.State_MouseOver),
            base.key(),
        )
        self._rendered.draw(painter, shown, rect, lambda row: self._paint_row(row, option, index, shown[7]))

    def _paint_row(
        self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex, time_text: str
    ) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRect(option.rect)
        state = option.state
        if state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, SELECTED_ROW)
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), ACCENT)
        elif state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, HOVER_ROW)
        painter.setPen(QColor("#E6E9EC"))
        painter.drawLine(rect.left() + 72, rect.bottom(), rect.right(), rect.bottom())

        base: QFont = option.font
        unread = int(index.data(ConversationRole.UNREAD_COUNT) or 0)
        starred = bool(index.data(ConversationRole.STARRED))

        # Avatar: a coloured circle with initials.
        avatar = QRect(
            rect.left() + 14, rect.top() + (rect.height() - self.AVATAR) // 2, self.AVATAR, self.AVATAR
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(avatar_color(str(index.data(ConversationRole.AVATAR_SEED) or ""))))
        painter.drawEllipse(avatar)
        painter.setPen(QColor("#FFFFFF"))
        painter.setFont(_scaled(base, 1.05, bold=True))
        painter.drawText(
            avatar, Qt.AlignmentFlag.AlignCenter, str(index.data(ConversationRole.INITIALS) or "?")
        )

        left = avatar.right() + 12
        right = rect.right() - 12
        small = _scaled(base, 0.86)
        small_fm = QFontMetrics(small)
        name_font = _scaled(base, 1.0, bold=True)
        name_fm = QFontMetrics(name_font)
        line_h = name_fm.height()
        top = rect.top() + (rect.height() - (line_h + 2 * small_fm.height() + 4)) // 2

        # First line: name (bold), star, time on the right.
        time_w = small_fm.horizontalAdvance(time_text)
        painter.setFont(small)
        painter.setPen(ACCENT if unread else MUTED)
        painter.drawText(
            QRect(right - time_w, top, time_w, line_h),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            time_text,
        )
        name_right = right - time_w - 8
        if starred:
            painter.setPen(STAR)
            star_w = small_fm.horizontalAdvance("★") + 4
            painter.drawText(
                QRect(name_right - star_w, top, star_w, line_h), Qt.AlignmentFlag.AlignVCenter, "★"
            )
            name_right -= star_w + 2
        painter.setFont(name_font)
        painter.setPen(TEXT)
        title = str(index.data(ConversationRole.TITLE) or "")
        painter.drawText(
            QRect(left, top, name_right - left, line_h),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            _elide(name_fm, title, name_right - left),
        )

        # Second line: headline.
        y = top + line_h + 2
        painter.setFont(small)
        painter.setPen(MUTED)
        headline = str(index.data(ConversationRole.HEADLINE) or "")
        painter.drawText(
            QRect(left, y, right - left, small_fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            _elide(small_fm, headline, right - left),
        )

        # Third line: latest message preview, and the unread badge.
        y += small_fm.height() + 2
        preview_right = right
        if unread:
            badge_text = "99+" if unread > 99 else str(unread)
            badge_font = _scaled(base, 0.8, bold=True)
            badge_fm = QFontMetrics(badge_font)
            badge_h = badge_fm.height() + 2
            badge_w = max(badge_h, badge_fm.horizontalAdvance(badge_text) + 10)
            badge = QRect(right - badge_w, y + (small_fm.height() - badge_h) // 2, badge_w, badge_h)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(ACCENT)
            painter.drawRoundedRect(badge, badge_h / 2, badge_h / 2)
            painter.setFont(badge_font)
            painter.setPen(QColor("#FFFFFF"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, badge_text)
            preview_right = badge.left() - 8
        painter.setFont(_scaled(base, 0.93, bold=False))
        preview_fm = QFontMetrics(painter.font())
        painter.setPen(TEXT if unread else MUTED)
        preview = str(index.data(ConversationRole.PREVIEW) or "")
        painter.drawText(
            QRect(left, y, preview_right - left, small_fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            _elide(preview_fm, preview, preview_right - left),
        )
        painter.restore()


# Message text is measured with QFontMetrics.boundingRect and painted with QPainter.drawText, both with these
# flags over a rect of the same width: one C++ call each, the same text engine, so the painted text is the
# measured one. drawText takes a plain string: markup in a message is never interpreted.
_TEXT_FLAGS = int(
    Qt.AlignmentFlag.AlignAbsolute
    | Qt.AlignmentFlag.AlignLeft
    | Qt.AlignmentFlag.AlignTop
    | Qt.TextFlag.TextWordWrap
)
_LEFT_VCENTER = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT_VCENTER = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT_TOP = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
_CENTER = Qt.AlignmentFlag.AlignCenter
_SELECTED = QStyle.StateFlag.State_Selected
_NO_PEN = Qt.PenStyle.NoPen
_ANTIALIASING = QPainter.RenderHint.Antialiasing
_REACTION_BORDER = QColor("#D5DAE0")
_REACTION_FILL = QColor("#FFFFFF")
_BUBBLE_ROLE = int(MessageRole.BUBBLE)
_MESSAGE_ROLE = int(MessageRole.MESSAGE)
_ATTACHMENT_NOTE = "📎 Attachment (open it on LinkedIn)"
_FAILED = "failed"
_PENDING = "pending"
"""``MessageRole.RECALL_STATUS`` values (see ``RecallRowState.status``)."""


def _has_status_line(data: BubbleData) -> bool:
    """A line under the bubble: the reason a recall failed (a recall in flight shows in the header)."""
    return bool(data.recall_text) and data.recall_status != _PENDING


class _BubbleFonts:
    """The fonts and metrics of bubbles drawn in one base font, built once per font.

    What only some rows need (the attachment note, the "Retry" link) is measured when first needed: each
    new font or fallback font (the note's emoji) costs a font load, and a thread's first page waits for
    everything measured before it paints.
    """

    __slots__ = (
        "_attachment_w",
        "_dot_w",
        "_retry_w",
        "base",
        "fm",
        "header",
        "header_fm",
        "header_h",
        "key",
        "link",
        "min_inner",
        "small",
        "small_fm",
        "small_h",
        "widths",
    )

    def __init__(self, base: QFont, key: str) -> None:
        self.key = key
        self.base = QFont(base)
        self.small = _make_scaled(base, 0.85)
        self.header = _make_scaled(base, 0.85, bold=True)
        self.link = _link_font(self.small)
        self.fm = QFontMetrics(self.base)
        self.small_fm = QFontMetrics(self.small)
        self.header_fm = QFontMetrics(self.header)
        self.small_h = self.small_fm.height()
        self.header_h = self.header_fm.height()
        self.min_inner = self.fm.averageCharWidth() * 4
        self._retry_w = -1
        self._dot_w = -1
        self._attachment_w = -1
        self.widths: dict[tuple[bool, str], int] = {}
        """Advances of header strings (sender names, times) in the header font (True) or the small one."""

    @property
    def retry_w(self) -> int:
        if self._retry_w < 0:
            self._retry_w = QFontMetrics(self.link).horizontalAdvance("Retry") + 2
        return self._retry_w

    @property
    def dot_w(self) -> int:
        if self._dot_w < 0:
            self._dot_w = self.small_fm.horizontalAdvance(" · ")
        return self._dot_w

    @property
    def attachment_w(self) -> int:
        if self._attachment_w < 0:
            self._attachment_w = self.small_fm.horizontalAdvance(_ATTACHMENT_NOTE)
        return self._attachment_w

    def header_width(self, sender: str, time_text: str) -> int:
        widths = self.widths
        if len(widths) >= 4_096:
            widths.clear()
        sender_w = widths.get((True, sender))
        if sender_w is None:
            sender_w = widths[(True, sender)] = self.header_fm.horizontalAdvance(sender)
        time_w = widths.get((False, time_text))
        if time_w is None:
            time_w = widths[(False, time_text)] = self.small_fm.horizontalAdvance(time_text)
        return sender_w + 14 + time_w


_BUBBLE_FONTS: dict[str, _BubbleFonts] = {}


class BubbleText:
    """A message's text as laid out in its bubble: the plain string, its wrapped size, and how it is drawn.

    Normally drawn with ``QPainter.drawText`` and ``_TEXT_FLAGS`` into the rect it was measured in (word wrap,
    plain text). A word too long for a line cannot be broken that way: such a text is wrapped at word
    boundaries or anywhere by a ``QTextLayout``, kept here so that it is drawn exactly as it was measured.
    """

    __slots__ = ("_layout", "_text", "height", "line_width", "width")

    def __init__(self, text: str, width: int, height: int, line_width: int, layout: QTextLayout | None):
        self._text = text
        self.width = width
        self.height = height
        self.line_width = line_width
        """The width lines were wrapped at (the drawing rect's width)."""
        self._layout = layout

    def text(self) -> str:
        """The literal characters laid out (markup and control characters included)."""
        return self._text

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.width, self.height)

    def draw(self, painter: QPainter, origin: QPointF) -> None:
        if self._layout is not None:
            self._layout.draw(painter, origin)
        elif self._text:
            rect = QRectF(origin.x(), origin.y(), self.line_width, self.height)
            painter.drawText(rect, _TEXT_FLAGS, self._text)


def _measure_text(text: str, fonts: _BubbleFonts, line_width: int) -> BubbleText:
    """``text`` wrapped at ``line_width`` in the base font: one C++ call unless a word overflows a line."""
    if not text:
        return BubbleText(text, 0, 0, line_width, None)
    box = fonts.fm.boundingRect(QRect(0, 0, line_width, 0), _TEXT_FLAGS, text)
    if box.width() <= line_width:
        return BubbleText(text, box.width(), box.height(), line_width, None)
    return _wrap_anywhere(text, fonts, line_width)


def _wrap_anywhere(text: str, fonts: _BubbleFonts, line_width: int) -> BubbleText:
    """A text with a word longer than a line (a long link): wrapped at word boundaries, or anywhere inside
    such a word, line by line the way ``drawText`` places lines (leading between them, whole-pixel tops)."""
    # drawText turns "\n" into line separators itself; a bare QTextLayout does not.
    layout = QTextLayout(text.replace("\n", "\u2028"), fonts.base)
    option = QTextOption(Qt.AlignmentFlag.AlignAbsolute | Qt.AlignmentFlag.AlignLeft)
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    option.setTextDirection(Qt.LayoutDirection.LeftToRight)
    layout.setTextOption(option)
    layout.setCacheEnabled(True)
    leading = fonts.fm.leading()
    y = float(-leading)
    natural = 0.0
    layout.beginLayout()
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(line_width)
        y = float(math.ceil(y + leading))
        line.setPosition(QPointF(0, y))
        y += line.height()
        natural = max(natural, line.naturalTextWidth())
    layout.endLayout()
    return BubbleText(text, min(line_width, math.ceil(natural)), math.ceil(y), line_width, layout)


@dataclass(slots=True)
class BubbleLayout:
    """Where each part of one message row goes, relative to the row's top-left corner."""

    height: int
    bubble: QRect
    header: QRect
    time_text: str
    """The time in the header, as measured (and painted)."""
    text_origin: QPointF
    text_layout: BubbleText
    note: QRect
    notes: str
    """The note lines under the text (truncation, attachment), "\\n"-separated."""
    reactions: QRect
    status: QRect
    status_text: str
    """The recall status line as painted (elided to the row)."""
    retry: QRect
    data: BubbleData


def _bubble_data(index: AnyIndex) -> object:
    """The row's ``BubbleData`` (asked of the model directly when it is ours: no trip through QVariant)."""
    model = index.model()
    if isinstance(model, MessageListModel):
        return model.bubble_data(index.row()) if index.column() == 0 else None
    return index.data(_BUBBLE_ROLE)


_LayoutKey = tuple[BubbleData, int, str]
"""Everything a row's layout depends on: (row data, row width, font key)."""


class MessageDelegate(QStyledItemDelegate):
    """Chat bubbles: own messages right-aligned in the accent colour, others left; recall status below.

    Text is measured with ``QFontMetrics.boundingRect`` and drawn with ``QPainter.drawText`` over a plain
    string (same flags, same width), so markup in a message is shown as typed and the painted text always
    fits the measured size. The list asks for the size hint of every row of a page before it paints any,
    so a size hint works out the row's height only (cached per message value, recall state, width and
    font); the full layout is made for the rows painted. Text sizes are cached per text and font.
    """

    retry_clicked = Signal(Message)
    """The user clicked "Retry" under a failed recall."""

    MARGIN_X = 18
    MARGIN_Y = 5
    PAD_X = 12
    PAD_Y = 8
    MAX_BUBBLE = 620
    CACHE_LIMIT = 2_000

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache: dict[_LayoutKey, BubbleLayout] = {}
        """Full layouts, of the rows painted (or clicked)."""
        self._heights: dict[_LayoutKey, int] = {}
        """Row heights, of every row the view measured: a size hint needs no more than the text's height."""
        self._texts: dict[tuple[str, str], BubbleText] = {}
        """(text, font key) → the text's last measurement."""
        self._fonts: _BubbleFonts | None = None
        self._rendered = _RenderedRows(ROW_PIXMAP_BUDGET)
        self._minute = -1
        self._day: tuple[int, int] = (0, 0)

    def clear_cache(self) -> None:
        """Forget the row layouts and heights (say, the width changed). Text measurements are kept: each
        is reused only at widths where it still holds."""
        self._cache.clear()
        self._heights.clear()
        self._rendered.clear()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        # The view measures every row of a page before it paints any: only the height is worked out here
        # (the text's wrapped height and a few sums); the rest of the layout waits for the row's paint.
        width = self._row_width(option)
        data = _bubble_data(index)
        if not isinstance(data, BubbleData):
            return QSize(width, 0)
        fonts = self._fonts_for(option.font)
        key = (data, width, fonts.key)
        height = self._heights.get(key)
        if height is None:
            if len(self._heights) >= self.CACHE_LIMIT:
                self._heights.clear()
            text = self._text(data.text, self._text_width(width), fonts)
            height = self._heights[key] = self._height(data, text.height, fonts)
        return QSize(width, height)

    def min_row_height(self, font: QFont) -> int:
        """No row is lower than this (an empty message, no notes, reactions or status)."""
        return self._height_of(0, 0, False, False, self._fonts_for(font))

    def _text_width(self, row_width: int) -> int:
        """The width a row's text is wrapped at."""
        return max(160, min(self.MAX_BUBBLE, int(row_width * 0.72))) - 2 * self.PAD_X

    def _height(self, data: BubbleData, text_h: int, fonts: _BubbleFonts) -> int:
        notes = (1 if data.omitted else 0) + (1 if data.message.has_attachment else 0)
        return self._height_of(text_h, notes, bool(data.reactions), _has_status_line(data), fonts)

    def _height_of(self, text_h: int, notes: int, reactions: bool, status: bool, fonts: _BubbleFonts) -> int:
        """A row's height: bubble (header, text, notes), reactions chip, recall status line, margins."""
        small_h = fonts.small_h
        height = self.MARGIN_Y + self.PAD_Y + fonts.header_h + 3 + text_h + self.PAD_Y
        if notes:
            height += notes * small_h + 2
        if reactions:
            height += small_h  # the chip overlaps the bubble's bottom edge by 4 px
        if status:
            height += 2 + small_h
        return height + self.MARGIN_Y

    def _row_width(self, option: QStyleOptionViewItem) -> int:
        widget = option.widget
        if isinstance(widget, QAbstractItemView):
            return max(240, widget.viewport().width())
        rect: QRect = option.rect
        return max(240, rect.width())

    def prepare(self, font: QFont) -> None:
        """Load the bubble fonts for ``font`` (the view's) ahead of the first row: done when the view is
        made, so that opening the first conversation does not wait for a font to load."""
        self._fonts_for(font)

    def _fonts_for(self, base: QFont) -> _BubbleFonts:
        # QFont == is one cheap C++ call; key() builds a string: compare with the last font first.
        fonts = self._fonts
        if fonts is not None and base == fonts.base:
            return fonts
        key = base.key()
        fonts = _BUBBLE_FONTS.get(key)
        if fonts is None:
            fonts = _BUBBLE_FONTS[key] = _BubbleFonts(base, key)
        self._fonts = fonts
        return fonts

    def _check_day(self) -> None:
        """Forget the layouts when the local date changes: their times ("14:05" vs "12 Mar, 14:05") did."""
        minute = _now_ms() // 60_000
        if minute == self._minute:
            return
        self._minute = minute
        local = time.localtime(minute * 60)
        day = (local.tm_year, local.tm_yday)
        if day != self._day:
            self._day = day
            self._cache.clear()

    def layout_for(self, option: QStyleOptionViewItem, index: AnyIndex) -> BubbleLayout:
        geo = self._layout(option, _bubble_data(index))
        if geo is None:  # pragma: no cover - a message row always has bubble data
            raise RuntimeError("no bubble layout for a message row")
        return geo

    def _layout(self, option: QStyleOptionViewItem, data: object) -> BubbleLayout | None:
        """The row's full layout (for painting and clicks), or None for a row without a bubble."""
        if not isinstance(data, BubbleData):
            return None
        self._check_day()
        fonts = self._fonts_for(option.font)
        key = (data, self._row_width(option), fonts.key)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[key] = self._compute(data, key[1], fonts)
        return cached

    def _text(self, text: str, line_width: int, fonts: _BubbleFonts) -> BubbleText:
        """``text`` wrapped at ``line_width``, measured once per text, font and width — or reused from a
        wider width: wrapped at ``w`` into lines no wider than ``n``, a text breaks at the same places at
        any width from ``n`` to ``w`` (a shown scroll bar narrows the rows of a thread just measured)."""
        key = (text, fonts.key)
        found = self._texts.get(key)
        if found is None or not found.width <= line_width <= found.line_width:
            if len(self._texts) >= self.CACHE_LIMIT:
                self._texts.clear()
            found = self._texts[key] = _measure_text(text, fonts, line_width)
        return found

    def _compute(self, data: BubbleData, width: int, fonts: _BubbleFonts) -> BubbleLayout:
        message = data.message
        own = message.is_sent_by_owner
        small_fm = fonts.small_fm
        small_h = fonts.small_h
        max_text = self._text_width(width)
        text = self._text(data.text, max_text, fonts)
        text_h = text.height

        if data.omitted:
            truncation = truncation_note(data.omitted)
            notes = f"{truncation}\n{_ATTACHMENT_NOTE}" if message.has_attachment else truncation
            note_w = small_fm.horizontalAdvance(truncation)
            if message.has_attachment:
                note_w = max(note_w, fonts.attachment_w)
            note_h = small_h * (2 if message.has_attachment else 1)
        elif message.has_attachment:
            notes, note_w, note_h = _ATTACHMENT_NOTE, fonts.attachment_w, small_h
        else:
            notes, note_w, note_h = "", 0, 0

        # "Recalling…" takes the time's place: the row keeps its height, so marking a recall in flight
        # repaints that one row instead of laying out and repainting the whole thread in every window
        # just before the answer arrives (the answer's change set would wait behind that work).
        time_text = (
            RECALLING_TEXT
            if data.recall_status == _PENDING
            else format_message_time(message.sent_at, _now_ms())
        )
        header_w = fonts.header_width(data.sender, time_text)
        inner_w = min(max_text, max(text.width, header_w, note_w, fonts.min_inner))
        bubble_w = inner_w + 2 * self.PAD_X
        header_h = fonts.header_h
        bubble_h = self.PAD_Y + header_h + 3 + text_h + (note_h + 2 if note_h else 0) + self.PAD_Y
        x = width - self.MARGIN_X - bubble_w if own else self.MARGIN_X
        bubble = QRect(x, self.MARGIN_Y, bubble_w, bubble_h)
        header = QRect(x + self.PAD_X, self.MARGIN_Y + self.PAD_Y, inner_w, header_h)
        text_top = self.MARGIN_Y + self.PAD_Y + header_h + 3
        note = QRect(x + self.PAD_X, text_top + text_h + 2, inner_w, note_h)
        y = self.MARGIN_Y + bubble_h

        reactions = QRect()
        reactions_text = data.reactions
        if reactions_text:
            rw = small_fm.horizontalAdvance(reactions_text) + 14
            rh = small_h + 4
            rx = x + bubble_w - rw - 7 if own else x + 6
            reactions = QRect(rx, y - 4, rw, rh)
            y = y - 4 + rh

        status = QRect()
        retry = QRect()
        status_text = ""
        if _has_status_line(data):
            # Slack of 2 px: elidedText elides text that is exactly as wide as the space given.
            sw = small_fm.horizontalAdvance(data.recall_text) + 2
            tail = fonts.dot_w + fonts.retry_w if data.can_retry else 0
            # A long reason is elided, never the "Retry" link after it.
            sw = min(sw, width - 2 * self.MARGIN_X - tail)
            status_text = _elide(small_fm, data.recall_text, sw)
            total = sw + tail
            sx = x + bubble_w - 1 - total if own else x
            status = QRect(max(self.MARGIN_X, sx), y + 2, total, small_h)
            if data.can_retry:
                retry = QRect(status.left() + sw + fonts.dot_w, y + 2, fonts.retry_w, small_h)
            y = y + 2 + small_h
        return BubbleLayout(
            height=y + self.MARGIN_Y,  # == self._height(data, text_h, fonts), what sizeHint said
            bubble=bubble,
            header=header,
            time_text=time_text,
            text_origin=QPointF(x + self.PAD_X, text_top),
            text_layout=text,
            note=note,
            notes=notes,
            reactions=reactions,
            status=status,
            status_text=status_text,
            retry=retry,
            data=data,
        )

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        geo = self._layout(option, _bubble_data(index))
        if geo is None:
            return
        selected = bool(option.state & _SELECTED)
        fonts = self._fonts_for(option.font)
        rect: QRect = option.rect
        # The painted part of the row, in row coordinates: the bubble with its focus ring, the reactions
        # chip and the status line, and a little slack for antialiased edges.
        area = geo.bubble.adjusted(-4, -4, 4, 4).united(geo.reactions).united(geo.status).united(geo.retry)
        area = area.adjusted(-2, -2, 2, 2)
        key = (geo.data, rect.width(), fonts.key, selected, geo.time_text)
        painter.save()
        painter.translate(rect.topLeft())
        self._rendered.draw(painter, key, area, lambda row: self._paint_bubble(row, geo, fonts, selected))
        painter.restore()

    def _paint_bubble(
        self, painter: QPainter, geo: BubbleLayout, fonts: _BubbleFonts, selected: bool
    ) -> None:
        data = geo.data
        own = data.message.is_sent_by_owner
        painter.save()
        painter.setRenderHint(_ANTIALIASING)

        bubble = QRectF(geo.bubble)
        if selected:
            painter.setPen(_NO_PEN)
            painter.setBrush(FOCUS_RING)
            painter.drawRoundedRect(bubble.adjusted(-3, -3, 3, 3), 17, 17)
        path = QPainterPath()
        path.addRoundedRect(bubble, 14, 14)
        painter.fillPath(path, OWN_BUBBLE if own else OTHER_BUBBLE)

        painter.setFont(fonts.header)
        painter.setPen(OWN_MUTED if own else ACCENT)
        painter.drawText(geo.header, _LEFT_VCENTER, data.sender)
        painter.setFont(fonts.small)
        painter.setPen(OWN_MUTED if own else MUTED)
        painter.drawText(geo.header, _RIGHT_VCENTER, geo.time_text)

        painter.setFont(fonts.base)
        painter.setPen(OWN_TEXT if own else OTHER_TEXT)
        geo.text_layout.draw(painter, geo.text_origin)

        if geo.notes:
            painter.setFont(fonts.small)
            painter.setPen(OWN_MUTED if own else MUTED)
            painter.drawText(geo.note, _LEFT_TOP, geo.notes)

        if data.reactions:
            reactions = geo.reactions
            painter.setPen(_REACTION_BORDER)
            painter.setBrush(_REACTION_FILL)
            painter.drawRoundedRect(QRectF(reactions), reactions.height() / 2, reactions.height() / 2)
            painter.setFont(fonts.small)
            painter.setPen(TEXT)
            painter.drawText(reactions, _CENTER, data.reactions)

        if not geo.status.isNull():
            painter.setFont(fonts.small)
            painter.setPen(ERROR if data.recall_status == _FAILED else MUTED)
            painter.drawText(geo.status, _LEFT_VCENTER, geo.status_text)
            retry = geo.retry
            if not retry.isNull():
                dot = QRect(retry.left() - fonts.dot_w, retry.top(), fonts.dot_w, retry.height())
                painter.setPen(MUTED)
                painter.drawText(dot, _CENTER, "·")
                painter.setFont(fonts.link)
                painter.setPen(ACCENT)
                painter.drawText(retry, _LEFT_VCENTER, "Retry")
        painter.restore()

    def editorEvent(
        self, event: QEvent, model: object, option: QStyleOptionViewItem, index: AnyIndex
    ) -> bool:
        if (
            isinstance(event, QMouseEvent)
            and event.type() == QEvent.Type.MouseButtonRelease
            and event.button() == Qt.MouseButton.LeftButton
        ):
            geo = self._layout(option, _bubble_data(index))
            rect: QRect = option.rect
            if (
                geo is not None
                and not geo.retry.isNull()
                and geo.retry.translated(rect.topLeft()).contains(event.position().toPoint())
            ):
                message = index.data(_MESSAGE_ROLE)
                if isinstance(message, Message):
                    self.retry_clicked.emit(message)
                    return True
        return super().editorEvent(event, model, option, index)  # type: ignore[arg-type]
