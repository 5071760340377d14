"""Painting of conversation rows: avatar, name, headline, account, preview (or draft), time, star and unread
badge."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from .conversation_model import ConversationRole
from .fonts import elide, scaled
from .palette import LIGHT, Palette, avatar_color, qcolor
from .row_cache import ROW_PIXMAP_BUDGET, RowCache
from .text import format_time, local_now_ms

AnyIndex = QModelIndex | QPersistentModelIndex

DRAFT_LABEL = "Draft:"
"""What a row with a reply not sent yet says before the draft's text."""


class ConversationDelegate(QStyledItemDelegate):
    """Avatar initials, name, headline, preview, time, star and unread badge, in a fixed-height row; in
    "All accounts" (of several), the account the conversation belongs to, right of the headline. A
    conversation with a reply not sent yet shows "Draft:" and its text in place of the preview.

    Every row has the same height, so the list can use ``setUniformItemSizes(True)``.
    """

    ACCOUNT_SHARE = 0.45
    """At most this share of the text column goes to the account's name (the headline gets the rest)."""

    ROW_HEIGHT = 78
    AVATAR = 44

    def __init__(self, parent: QObject | None = None, palette: Palette = LIGHT) -> None:
        super().__init__(parent)
        self.palette = palette
        """The colours rows are painted with (rows are cached per palette)."""
        self._rendered = RowCache(ROW_PIXMAP_BUDGET)

    def set_palette(self, palette: Palette) -> None:
        """Paint with ``palette`` from now on; the rows painted in the old one are dropped (the caller
        repaints the view)."""
        if palette is self.palette:
            return
        self.palette = palette
        self._rendered.clear()

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
            index.data(ConversationRole.ACCOUNT_LABEL),
            index.data(ConversationRole.DRAFT),
            format_time(int(index.data(ConversationRole.LAST_ACTIVITY) or 0), local_now_ms()),
            bool(state & QStyle.StateFlag.State_Selected),
            bool(state & QStyle.StateFlag.State_MouseOver),
            base.key(),
            self.palette.name,
        )
        self._rendered.draw(painter, shown, rect, lambda row: self._paint_row(row, option, index, shown[9]))

    def _paint_row(
        self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex, time_text: str
    ) -> None:
        colors = self.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRect(option.rect)
        state = option.state
        if state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, qcolor(colors.selection))
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), qcolor(colors.accent))
        elif state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, qcolor(colors.subtle))
        painter.setPen(qcolor(colors.row_divider))
        painter.drawLine(rect.left() + 72, rect.bottom(), rect.right(), rect.bottom())

        base: QFont = option.font
        unread = int(index.data(ConversationRole.UNREAD_COUNT) or 0)
        starred = bool(index.data(ConversationRole.STARRED))

        # Avatar: a coloured circle with initials.
        avatar = QRect(
            rect.left() + 14, rect.top() + (rect.height() - self.AVATAR) // 2, self.AVATAR, self.AVATAR
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(qcolor(avatar_color(colors, str(index.data(ConversationRole.AVATAR_SEED) or ""))))
        painter.drawEllipse(avatar)
        painter.setPen(qcolor(colors.avatar_text))
        painter.setFont(scaled(base, 1.05, bold=True))
        painter.drawText(
            avatar, Qt.AlignmentFlag.AlignCenter, str(index.data(ConversationRole.INITIALS) or "?")
        )

        left = avatar.right() + 12
        right = rect.right() - 12
        small = scaled(base, 0.86)
        small_fm = QFontMetrics(small)
        name_font = scaled(base, 1.0, bold=True)
        name_fm = QFontMetrics(name_font)
        line_h = name_fm.height()
        top = rect.top() + (rect.height() - (line_h + 2 * small_fm.height() + 4)) // 2

        # First line: name (bold), star, time on the right.
        time_w = small_fm.horizontalAdvance(time_text)
        painter.setFont(small)
        painter.setPen(qcolor(colors.accent if unread else colors.muted))
        painter.drawText(
            QRect(right - time_w, top, time_w, line_h),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            time_text,
        )
        name_right = right - time_w - 8
        if starred:
            painter.setPen(qcolor(colors.star))
            star_w = small_fm.horizontalAdvance("★") + 4
            painter.drawText(
                QRect(name_right - star_w, top, star_w, line_h), Qt.AlignmentFlag.AlignVCenter, "★"
            )
            name_right -= star_w + 2
        painter.setFont(name_font)
        painter.setPen(qcolor(colors.text))
        title = str(index.data(ConversationRole.TITLE) or "")
        painter.drawText(
            QRect(left, top, name_right - left, line_h),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            elide(name_fm, title, name_right - left),
        )

        # Second line: headline, and the account in "All accounts" (a pill at the right).
        y = top + line_h + 2
        painter.setFont(small)
        headline_right = right
        account = str(index.data(ConversationRole.ACCOUNT_LABEL) or "")
        if account:
            pad = 6
            room = int((right - left) * self.ACCOUNT_SHARE)
            label = elide(small_fm, account, room - 2 * pad)
            pill_w = small_fm.horizontalAdvance(label) + 2 * pad
            pill = QRect(right - pill_w, y, pill_w, small_fm.height())
            painter.setPen(qcolor(colors.border_soft))
            painter.setBrush(qcolor(colors.subtle))
            painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
            painter.setPen(qcolor(colors.secondary_text))
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)
            headline_right = pill.left() - 8
        painter.setPen(qcolor(colors.muted))
        headline = str(index.data(ConversationRole.HEADLINE) or "")
        painter.drawText(
            QRect(left, y, headline_right - left, small_fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            elide(small_fm, headline, headline_right - left),
        )

        # Third line: latest message preview, and the unread badge.
        y += small_fm.height() + 2
        preview_right = right
        if unread:
            badge_text = "99+" if unread > 99 else str(unread)
            badge_font = scaled(base, 0.8, bold=True)
            badge_fm = QFontMetrics(badge_font)
            badge_h = badge_fm.height() + 2
            badge_w = max(badge_h, badge_fm.horizontalAdvance(badge_text) + 10)
            badge = QRect(right - badge_w, y + (small_fm.height() - badge_h) // 2, badge_w, badge_h)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(qcolor(colors.accent))
            painter.drawRoundedRect(badge, badge_h / 2, badge_h / 2)
            painter.setFont(badge_font)
            painter.setPen(qcolor(colors.on_accent))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, badge_text)
            preview_right = badge.left() - 8
        draft = str(index.data(ConversationRole.DRAFT) or "")
        if draft:
            label_font = scaled(base, 0.93, bold=True)
            label = DRAFT_LABEL + " "
            label_w = QFontMetrics(label_font).horizontalAdvance(label)
            painter.setFont(label_font)
            painter.setPen(qcolor(colors.danger))
            painter.drawText(
                QRect(left, y, min(label_w, preview_right - left), small_fm.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
            left += label_w
        painter.setFont(scaled(base, 0.93, bold=False))
        preview_fm = QFontMetrics(painter.font())
        painter.setPen(qcolor(colors.text if unread and not draft else colors.muted))
        preview = draft or str(index.data(ConversationRole.PREVIEW) or "")
        painter.drawText(
            QRect(left, y, preview_right - left, small_fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            elide(preview_fm, preview, preview_right - left),
        )
        painter.restore()
