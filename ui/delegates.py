"""Painting of conversation rows and message bubbles, as plain text only (never rich text)."""

from __future__ import annotations

import time
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
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from sync.model import Message

from .conversation_model import ConversationRole
from .message_model import BubbleData, MessageRole, RecallStatus
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
_METRICS: dict[str, QFontMetrics] = {}


def _metrics(font: QFont) -> QFontMetrics:
    """Font metrics, built once per font (every row's layout asks for the same few)."""
    key = font.key()
    found = _METRICS.get(key)
    if found is None:
        found = _METRICS[key] = QFontMetrics(font)
    return found


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


class ConversationDelegate(QStyledItemDelegate):
    """Avatar initials, name, headline, preview, time, star and unread badge, in a fixed-height row.

    Every row has the same height, so the list can use ``setUniformItemSizes(True)``.
    """

    ROW_HEIGHT = 78
    AVATAR = 44

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return QSize(max(200, option.rect.width()), self.ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
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
        time_text = format_time(int(index.data(ConversationRole.LAST_ACTIVITY) or 0), _now_ms())
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


@dataclass(slots=True)
class BubbleLayout:
    """Where each part of one message row goes, relative to the row's top-left corner."""

    height: int
    bubble: QRect
    header: QRect
    text_origin: QPointF
    text_layout: QTextLayout
    note: QRect
    reactions: QRect
    status: QRect
    status_text: str
    """The recall status line as painted (elided to the row)."""
    retry: QRect
    data: BubbleData


@dataclass(frozen=True, slots=True)
class _Inputs:
    """Everything a row's layout depends on: its cache key."""

    data: BubbleData
    width: int
    font_key: str


class MessageDelegate(QStyledItemDelegate):
    """Chat bubbles: own messages right-aligned in the accent colour, others left; recall status below.

    Text is laid out with ``QTextLayout`` over a plain string, so markup in a message is shown as typed.
    Layouts are cached per (message value, recall state, width): the list asks for size hints often.
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
        self._cache: dict[_Inputs, BubbleLayout] = {}

    def clear_cache(self) -> None:
        self._cache.clear()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        width = self._row_width(option)
        return QSize(width, self.layout_for(option, index).height)

    def _row_width(self, option: QStyleOptionViewItem) -> int:
        widget = option.widget
        if isinstance(widget, QAbstractItemView):
            return max(240, widget.viewport().width())
        rect: QRect = option.rect
        return max(240, rect.width())

    def layout_for(self, option: QStyleOptionViewItem, index: AnyIndex) -> BubbleLayout:
        data = index.data(MessageRole.BUBBLE)
        assert isinstance(data, BubbleData)
        base: QFont = option.font
        inputs = _Inputs(data=data, width=self._row_width(option), font_key=base.key())
        cached = self._cache.get(inputs)
        if cached is None:
            if len(self._cache) >= self.CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[inputs] = self._compute(inputs, base)
        return cached

    def _compute(self, inputs: _Inputs, base: QFont) -> BubbleLayout:
        data = inputs.data
        message = data.message
        small = _scaled(base, 0.85)
        small_fm = _metrics(small)
        header_font = _scaled(base, 0.85, bold=True)
        header_fm = _metrics(header_font)
        fm = _metrics(base)
        max_bubble = max(160, min(self.MAX_BUBBLE, int(inputs.width * 0.72)))
        max_text = max_bubble - 2 * self.PAD_X

        text = data.text
        layout = QTextLayout(text, base)
        text_option = QTextOption()
        text_option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(text_option)
        layout.beginLayout()
        text_h = 0.0
        text_w = 0.0
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(max_text)
            line.setPosition(QPointF(0, text_h))
            text_h += line.height()
            text_w = max(text_w, line.naturalTextWidth())
        layout.endLayout()
        if not text:
            text_h = 0.0

        note_lines: list[str] = []
        if data.omitted:
            note_lines.append(truncation_note(data.omitted))
        if message.has_attachment:
            note_lines.append("📎 Attachment (open it on LinkedIn)")
        note_w = max((small_fm.horizontalAdvance(n) for n in note_lines), default=0)
        note_h = small_fm.height() * len(note_lines)

        time_text = format_message_time(message.sent_at, _now_ms())
        header_w = header_fm.horizontalAdvance(data.sender) + 14 + small_fm.horizontalAdvance(time_text)
        inner_w = min(max_text, max(int(text_w + 1), header_w, note_w, fm.averageCharWidth() * 4))
        bubble_w = inner_w + 2 * self.PAD_X
        header_h = header_fm.height()
        bubble_h = (
            self.PAD_Y + header_h + 3 + int(text_h + 0.999) + (note_h + 2 if note_h else 0) + self.PAD_Y
        )
        x = inputs.width - self.MARGIN_X - bubble_w if message.is_sent_by_owner else self.MARGIN_X
        bubble = QRect(x, self.MARGIN_Y, bubble_w, bubble_h)
        header = QRect(x + self.PAD_X, self.MARGIN_Y + self.PAD_Y, inner_w, header_h)
        text_top = header.bottom() + 1 + 3
        note = QRect(x + self.PAD_X, text_top + int(text_h + 0.999) + 2, inner_w, note_h)
        y = bubble.bottom() + 1

        reactions = QRect()
        reactions_text = data.reactions
        if reactions_text:
            rw = small_fm.horizontalAdvance(reactions_text) + 14
            rh = small_fm.height() + 4
            rx = bubble.right() - rw - 6 if message.is_sent_by_owner else bubble.left() + 6
            reactions = QRect(rx, y - 4, rw, rh)
            y = reactions.bottom() + 1

        status = QRect()
        retry = QRect()
        status_text = ""
        if data.recall_text:
            # Slack of 2 px: elidedText elides text that is exactly as wide as the space given.
            sw = small_fm.horizontalAdvance(data.recall_text) + 2
            link_fm = _metrics(_link_font(small))
            retry_w = link_fm.horizontalAdvance("Retry") + 2
            dot_w = small_fm.horizontalAdvance(" · ")
            tail = dot_w + retry_w if data.can_retry else 0
            # A long reason is elided, never the "Retry" link after it.
            sw = min(sw, inputs.width - 2 * self.MARGIN_X - tail)
            status_text = _elide(small_fm, data.recall_text, sw)
            total = sw + tail
            sx = bubble.right() - total if message.is_sent_by_owner else bubble.left()
            status = QRect(max(self.MARGIN_X, sx), y + 2, total, small_fm.height())
            if data.can_retry:
                retry = QRect(status.left() + sw + dot_w, status.top(), retry_w, status.height())
            y = status.bottom() + 1
        return BubbleLayout(
            height=y + self.MARGIN_Y,
            bubble=bubble,
            header=header,
            text_origin=QPointF(x + self.PAD_X, text_top),
            text_layout=layout,
            note=note,
            reactions=reactions,
            status=status,
            status_text=status_text,
            retry=retry,
            data=data,
        )

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        if not isinstance(index.data(MessageRole.BUBBLE), BubbleData):
            return
        geo = self.layout_for(option, index)
        message = geo.data.message
        rect: QRect = option.rect
        base: QFont = option.font
        own = message.is_sent_by_owner
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(rect.topLeft())
        state = option.state

        bubble = QRectF(geo.bubble)
        if state & QStyle.StateFlag.State_Selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(FOCUS_RING)
            painter.drawRoundedRect(bubble.adjusted(-3, -3, 3, 3), 17, 17)
        path = QPainterPath()
        path.addRoundedRect(bubble, 14, 14)
        painter.fillPath(path, OWN_BUBBLE if own else OTHER_BUBBLE)

        small = _scaled(base, 0.85)
        header_font = _scaled(base, 0.85, bold=True)
        painter.setFont(header_font)
        painter.setPen(OWN_MUTED if own else ACCENT)
        painter.drawText(
            geo.header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, geo.data.sender
        )
        painter.setFont(small)
        painter.setPen(OWN_MUTED if own else MUTED)
        time_text = format_message_time(message.sent_at, _now_ms())
        painter.drawText(geo.header, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, time_text)

        painter.setPen(OWN_TEXT if own else OTHER_TEXT)
        geo.text_layout.draw(painter, geo.text_origin)

        if geo.note.height() > 0:
            painter.setFont(small)
            painter.setPen(OWN_MUTED if own else MUTED)
            notes = []
            if geo.data.omitted:
                notes.append(truncation_note(geo.data.omitted))
            if message.has_attachment:
                notes.append("📎 Attachment (open it on LinkedIn)")
            painter.drawText(
                geo.note, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, "\n".join(notes)
            )

        if not geo.reactions.isNull():
            painter.setPen(QColor("#D5DAE0"))
            painter.setBrush(QColor("#FFFFFF"))
            painter.drawRoundedRect(
                QRectF(geo.reactions), geo.reactions.height() / 2, geo.reactions.height() / 2
            )
            painter.setFont(small)
            painter.setPen(TEXT)
            painter.drawText(geo.reactions, Qt.AlignmentFlag.AlignCenter, geo.data.reactions)

        if not geo.status.isNull():
            painter.setFont(small)
            failed = geo.data.recall_status == RecallStatus.FAILED.value
            painter.setPen(ERROR if failed else MUTED)
            status_text = geo.status_text
            painter.drawText(
                geo.status, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, status_text
            )
            if not geo.retry.isNull():
                sm = _metrics(small)
                dot = QRect(
                    geo.retry.left() - sm.horizontalAdvance(" · "),
                    geo.retry.top(),
                    sm.horizontalAdvance(" · "),
                    geo.retry.height(),
                )
                painter.setPen(MUTED)
                painter.drawText(dot, Qt.AlignmentFlag.AlignCenter, "·")
                painter.setFont(_link_font(small))
                painter.setPen(ACCENT)
                painter.drawText(
                    geo.retry, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "Retry"
                )
        painter.restore()

    def editorEvent(
        self, event: QEvent, model: object, option: QStyleOptionViewItem, index: AnyIndex
    ) -> bool:
        if (
            isinstance(event, QMouseEvent)
            and event.type() == QEvent.Type.MouseButtonRelease
            and event.button() == Qt.MouseButton.LeftButton
        ):
            retry = self.layout_for(option, index).retry
            rect: QRect = option.rect
            if not retry.isNull() and retry.translated(rect.topLeft()).contains(event.position().toPoint()):
                message = index.data(MessageRole.MESSAGE)
                if isinstance(message, Message):
                    self.retry_clicked.emit(message)
                    return True
        return super().editorEvent(event, model, option, index)  # type: ignore[arg-type]
