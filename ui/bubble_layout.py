"""Message rows' geometry: bubble fonts, wrapped text (with its links), the day separator above the first
message of a day, and where each part of a row goes, cached per row."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QTextCharFormat,
    QTextLayout,
    QTextLine,
    QTextOption,
)

from .days import day_label, today
from .fonts import elide, link_font, make_scaled
from .links import LinkSpan, find_links, link_at
from .message_model import RECALLING_TEXT, BubbleData
from .text import format_message_time, local_now_ms, truncation_note

# Message text is measured with QFontMetrics.boundingRect and painted with QPainter.drawText, both with these
# flags over a rect of the same width: one C++ call each, the same text engine, so the painted text is the
# measured one. drawText takes a plain string: markup in a message is never interpreted.
_TEXT_FLAGS = int(
    Qt.AlignmentFlag.AlignAbsolute
    | Qt.AlignmentFlag.AlignLeft
    | Qt.AlignmentFlag.AlignTop
    | Qt.TextFlag.TextWordWrap
)

ATTACHMENT_NOTE = "📎 Attachment (open it on LinkedIn)"
FAILED = "failed"
PENDING = "pending"
"""``MessageRole.RECALL_STATUS`` values (see ``RecallRowState.status``)."""


def has_status_line(data: BubbleData) -> bool:
    """A line under the bubble: the reason a recall failed (a recall in flight shows in the header)."""
    return bool(data.recall_text) and data.recall_status != PENDING


class BubbleFonts:
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
        self.small = make_scaled(base, 0.85)
        self.header = make_scaled(base, 0.85, bold=True)
        self.link = link_font(self.small)
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
            self._attachment_w = self.small_fm.horizontalAdvance(ATTACHMENT_NOTE)
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


_BUBBLE_FONTS: dict[str, BubbleFonts] = {}


class BubbleText:
    """A message's text as laid out in its bubble: the plain string, its wrapped size, and how it is drawn.

    Normally drawn with ``QPainter.drawText`` and ``_TEXT_FLAGS`` into the rect it was measured in (word wrap,
    plain text). A word too long for a line cannot be broken that way, and links are drawn as links: such a
    text is wrapped at word boundaries or anywhere by a ``QTextLayout`` (its links underlined by character
    formats over the plain string: nothing in the text is interpreted), kept here so that it is drawn
    exactly as it was measured and a click can be placed on a character.
    """

    __slots__ = ("_layout", "_text", "height", "line_width", "links", "width")

    def __init__(
        self,
        text: str,
        width: int,
        height: int,
        line_width: int,
        layout: QTextLayout | None,
        links: tuple[LinkSpan, ...] = (),
    ):
        self._text = text
        self.width = width
        self.height = height
        self.line_width = line_width
        """The width lines were wrapped at (the drawing rect's width)."""
        self._layout = layout
        self.links = links
        """The links in the text (``ui.links.find_links``), drawn underlined in the link colour."""

    def text(self) -> str:
        """The literal characters laid out (markup and control characters included)."""
        return self._text

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.width, self.height)

    def draw(self, painter: QPainter, origin: QPointF, link_color: QColor | None = None) -> None:
        """Draw in the painter's pen, the links in ``link_color`` (the pen's too when None)."""
        if self._layout is not None:
            if self.links and link_color is not None:
                self._layout.draw(painter, origin, _link_selections(self.links, link_color))
            else:
                self._layout.draw(painter, origin)
        elif self._text:
            rect = QRectF(origin.x(), origin.y(), self.line_width, self.height)
            painter.drawText(rect, _TEXT_FLAGS, self._text)

    def link_at(self, x: float, y: float) -> str | None:
        """The address of the link under (``x``, ``y``), relative to where the text is drawn."""
        layout = self._layout
        if not self.links or layout is None:
            return None
        for i in range(layout.lineCount()):
            line = layout.lineAt(i)
            if line.y() <= y < line.y() + line.height():
                if not 0 <= x <= line.naturalTextWidth():
                    return None
                index = line.xToCursor(x, QTextLine.CursorPosition.CursorOnCharacter)
                return link_at(self.links, index)
        return None


def _link_selections(links: tuple[LinkSpan, ...], color: QColor) -> list[QTextLayout.FormatRange]:
    ranges = []
    for start, end, _url in links:
        selection = QTextLayout.FormatRange()
        selection.start = start
        selection.length = end - start
        selection.format.setForeground(color)
        ranges.append(selection)
    return ranges


def _measure_text(text: str, fonts: BubbleFonts, line_width: int) -> BubbleText:
    """``text`` wrapped at ``line_width`` in the base font: one C++ call unless a word overflows a line or
    the text holds a link."""
    if not text:
        return BubbleText(text, 0, 0, line_width, None)
    links = find_links(text)
    if links:
        return _wrap_anywhere(text, fonts, line_width, links)
    box = fonts.fm.boundingRect(QRect(0, 0, line_width, 0), _TEXT_FLAGS, text)
    if box.width() <= line_width:
        return BubbleText(text, box.width(), box.height(), line_width, None)
    return _wrap_anywhere(text, fonts, line_width)


def _wrap_anywhere(
    text: str, fonts: BubbleFonts, line_width: int, links: tuple[LinkSpan, ...] = ()
) -> BubbleText:
    """A text with a word longer than a line (a long link), or with links: wrapped at word boundaries, or
    anywhere inside such a word, line by line the way ``drawText`` places lines (leading between them,
    whole-pixel tops); its links underlined."""
    # drawText turns "\n" into line separators itself; a bare QTextLayout does not (same length: the
    # links' character positions hold).
    layout = QTextLayout(text.replace("\n", "\u2028"), fonts.base)
    if links:
        underline = QTextCharFormat()
        underline.setFontUnderline(True)
        formats = []
        for start, end, _url in links:
            span = QTextLayout.FormatRange()
            span.start = start
            span.length = end - start
            span.format = underline
            formats.append(span)
        layout.setFormats(formats)
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
    return BubbleText(text, min(line_width, math.ceil(natural)), math.ceil(y), line_width, layout, links)


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
    day: QRect = dataclass_field(default_factory=QRect)
    """The day separator above the bubble (null when the message is not the first of its day shown)."""
    day_text: str = ""
    """Its words: "Today", "Yesterday" or a date."""


_LayoutKey = tuple[BubbleData, int, str]
"""Everything a row's layout depends on: (row data, row width, font key)."""


class BubbleLayouts:
    """Message rows' geometry, cached: heights for size hints, full layouts for painting and clicks.

    The list asks for the size hint of every row of a page before it paints any, so a height is worked
    out alone (the text's wrapped height and a few sums, cached per message value, recall state, width
    and font); the full layout is made for the rows painted. Text sizes are cached per text and font.
    """

    MARGIN_X = 18
    MARGIN_Y = 5
    PAD_X = 12
    PAD_Y = 8
    MAX_BUBBLE = 620
    DAY_PAD_Y = 6
    CACHE_LIMIT = 2_000

    def __init__(self) -> None:
        self._cache: dict[_LayoutKey, BubbleLayout] = {}
        """Full layouts, of the rows painted (or clicked)."""
        self._heights: dict[_LayoutKey, int] = {}
        """Row heights, of every row the view measured: a size hint needs no more than the text's height."""
        self._texts: dict[tuple[str, str], BubbleText] = {}
        """(text, font key) → the text's last measurement."""
        self._fonts: BubbleFonts | None = None
        self._minute = -1
        self._day: tuple[int, int] = (0, 0)

    def clear(self) -> None:
        """Forget the row layouts and heights (say, the width changed). Text measurements are kept: each
        is reused only at widths where it still holds."""
        self._cache.clear()
        self._heights.clear()

    def height(self, data: BubbleData, width: int, base: QFont) -> int:
        """The height of the row showing ``data`` at ``width``: its layout's, without making it."""
        fonts = self.fonts_for(base)
        key = (data, width, fonts.key)
        height = self._heights.get(key)
        if height is None:
            if len(self._heights) >= self.CACHE_LIMIT:
                self._heights.clear()
            text = self._text(data.text, self.text_width(width), fonts)
            height = self._heights[key] = self._height(data, text.height, fonts)
        return height

    def min_row_height(self, font: QFont) -> int:
        """No row is lower than this (an empty message, no notes, reactions or status)."""
        return self._height_of(0, 0, False, False, False, self.fonts_for(font))

    def text_width(self, row_width: int) -> int:
        """The width a row's text is wrapped at."""
        return max(160, min(self.MAX_BUBBLE, int(row_width * 0.72))) - 2 * self.PAD_X

    def _height(self, data: BubbleData, text_h: int, fonts: BubbleFonts) -> int:
        notes = (1 if data.omitted else 0) + (1 if data.message.has_attachment else 0)
        return self._height_of(
            text_h, notes, bool(data.reactions), has_status_line(data), bool(data.day), fonts
        )

    def day_height(self, fonts: BubbleFonts) -> int:
        """The band of a day separator, above the first message of a day."""
        return fonts.small_h + 2 * self.DAY_PAD_Y + 4

    def _height_of(
        self, text_h: int, notes: int, reactions: bool, status: bool, day: bool, fonts: BubbleFonts
    ) -> int:
        """A row's height: day separator, bubble (header, text, notes), reactions chip, recall status line,
        margins."""
        small_h = fonts.small_h
        height = self.MARGIN_Y + self.PAD_Y + fonts.header_h + 3 + text_h + self.PAD_Y
        if day:
            height += self.day_height(fonts)
        if notes:
            height += notes * small_h + 2
        if reactions:
            height += small_h  # the chip overlaps the bubble's bottom edge by 4 px
        if status:
            height += 2 + small_h
        return height + self.MARGIN_Y

    def fonts_for(self, base: QFont) -> BubbleFonts:
        """The bubble fonts of rows drawn in ``base`` (the view's font)."""
        # QFont == is one cheap C++ call; key() builds a string: compare with the last font first.
        fonts = self._fonts
        if fonts is not None and base == fonts.base:
            return fonts
        key = base.key()
        fonts = _BUBBLE_FONTS.get(key)
        if fonts is None:
            fonts = _BUBBLE_FONTS[key] = BubbleFonts(base, key)
        self._fonts = fonts
        return fonts

    def _check_day(self) -> None:
        """Forget the layouts when the local date changes: their times ("14:05" vs "12 Mar, 14:05") did."""
        minute = local_now_ms() // 60_000
        if minute == self._minute:
            return
        self._minute = minute
        local = time.localtime(minute * 60)
        day = (local.tm_year, local.tm_yday)
        if day != self._day:
            self._day = day
            self._cache.clear()

    def layout(self, data: BubbleData, width: int, base: QFont) -> BubbleLayout:
        """The full layout of the row showing ``data`` at ``width`` in ``base``."""
        self._check_day()
        fonts = self.fonts_for(base)
        key = (data, width, fonts.key)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[key] = self._compute(data, width, fonts)
        return cached

    def _text(self, text: str, line_width: int, fonts: BubbleFonts) -> BubbleText:
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

    def _compute(self, data: BubbleData, width: int, fonts: BubbleFonts) -> BubbleLayout:
        message = data.message
        own = message.is_sent_by_owner
        small_fm = fonts.small_fm
        small_h = fonts.small_h
        max_text = self.text_width(width)
        text = self._text(data.text, max_text, fonts)
        text_h = text.height

        if data.omitted:
            truncation = truncation_note(data.omitted)
            notes = f"{truncation}\n{ATTACHMENT_NOTE}" if message.has_attachment else truncation
            note_w = small_fm.horizontalAdvance(truncation)
            if message.has_attachment:
                note_w = max(note_w, fonts.attachment_w)
            note_h = small_h * (2 if message.has_attachment else 1)
        elif message.has_attachment:
            notes, note_w, note_h = ATTACHMENT_NOTE, fonts.attachment_w, small_h
        else:
            notes, note_w, note_h = "", 0, 0

        # "Recalling…" takes the time's place: the row keeps its height, so marking a recall in flight
        # repaints that one row instead of laying out and repainting the whole thread in every window
        # just before the answer arrives (the answer's change set would wait behind that work).
        time_text = (
            RECALLING_TEXT
            if data.recall_status == PENDING
            else format_message_time(message.sent_at, local_now_ms())
        )
        header_w = fonts.header_width(data.sender, time_text)
        inner_w = min(max_text, max(text.width, header_w, note_w, fonts.min_inner))
        bubble_w = inner_w + 2 * self.PAD_X
        header_h = fonts.header_h
        bubble_h = self.PAD_Y + header_h + 3 + text_h + (note_h + 2 if note_h else 0) + self.PAD_Y
        x = width - self.MARGIN_X - bubble_w if own else self.MARGIN_X
        day = QRect()
        day_text = ""
        top = self.MARGIN_Y
        if data.day:
            # The day's words in a pill centred over the row, from its day number (not stored in the
            # row data: "Today" becomes "Yesterday" at midnight, when the layouts are made again).
            day_text = day_label(data.day, today())
            day_w = small_fm.horizontalAdvance(day_text) + 24
            band = self.day_height(fonts)
            day = QRect((width - day_w) // 2, self.MARGIN_Y + 2, day_w, band - 4)
            top += band
        bubble = QRect(x, top, bubble_w, bubble_h)
        header = QRect(x + self.PAD_X, top + self.PAD_Y, inner_w, header_h)
        text_top = top + self.PAD_Y + header_h + 3
        note = QRect(x + self.PAD_X, text_top + text_h + 2, inner_w, note_h)
        y = top + bubble_h

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
        if has_status_line(data):
            # Slack of 2 px: elidedText elides text that is exactly as wide as the space given.
            sw = small_fm.horizontalAdvance(data.recall_text) + 2
            tail = fonts.dot_w + fonts.retry_w if data.can_retry else 0
            # A long reason is elided, never the "Retry" link after it.
            sw = min(sw, width - 2 * self.MARGIN_X - tail)
            status_text = elide(small_fm, data.recall_text, sw)
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
            day=day,
            day_text=day_text,
        )
