"""The in-app list of new inbound messages; a recalled message's entry is removed from it."""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from sync.model import Message

from .text import format_clock, one_line

MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 1
MAX_NOTIFICATIONS = 200

PADDING_X: Final = 10
PADDING_Y: Final = 8
_WRAP: Final = Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop


class NotificationDelegate(QStyledItemDelegate):
    """A notification's row: its whole text wrapped to the list's width, never clipped, never wider than
    the list (the default delegate measured the text at another width than it painted it, and every row
    at the first one's height).

    The style paints the row's background and divider (the style sheet's ``::item`` rules); the text is
    painted here, as plain text, in the rectangle its height was measured for.
    """

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self._view = view

    def text_rect(self, rect: QRect) -> QRect:
        return rect.adjusted(PADDING_X, PADDING_Y, -PADDING_X, -PADDING_Y)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        width = self._view.viewport().width()
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        bounds = QRect(0, 0, max(1, width - 2 * PADDING_X), 1_000_000)
        height = QFontMetrics(option.font).boundingRect(bounds, _WRAP, text).height()
        return QSize(width, height + 2 * PADDING_Y + 1)  # + the divider under the row

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        text = item.text
        item.text = ""
        widget = item.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, widget)
        painter.save()
        painter.setFont(item.font)
        painter.setPen(item.palette.color(QPalette.ColorRole.Text))
        painter.drawText(self.text_rect(item.rect), _WRAP, text)
        painter.restore()


class NotificationList(QWidget):
    """Newest first, at most ``MAX_NOTIFICATIONS``; activating one opens its conversation."""

    notification_activated = Signal(Message)
    count_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notificationList")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.setContentsMargins(8, 4, 8, 0)
        self.empty_label = QLabel("No new messages")
        self.empty_label.setObjectName("mutedLabel")
        self.clear_button = QPushButton("Clear all")
        self.clear_button.setObjectName("flatButton")
        self.clear_button.clicked.connect(self._on_clear_button_clicked)
        top.addWidget(self.empty_label, 1)
        top.addWidget(self.clear_button)
        self.list = QListWidget()
        # Rows as tall as their wrapped text, laid out again when the dock's width changes; nothing wider
        # than the dock, so never a horizontal scroll bar.
        self.list.setItemDelegate(NotificationDelegate(self.list))
        self.list.setUniformItemSizes(False)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.list.itemClicked.connect(self._on_list_item_activated)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        self._refresh()

    def count(self) -> int:
        return self.list.count()

    def message_ids(self) -> list[str]:
        return [self._message(self.list.item(i)).message_id for i in range(self.list.count())]

    def item_texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def add_notification(self, message: Message) -> None:
        if message.message_id in self.message_ids():
            return
        # QListWidgetItem text is painted as plain text by the default delegate: markup stays literal.
        item = QListWidgetItem(f"{message.sender_name or 'Someone'}: {one_line(message.text, 140)}")
        item.setData(MESSAGE_ROLE, message)
        item.setToolTip(format_clock(message.sent_at))
        self.list.insertItem(0, item)
        while self.list.count() > MAX_NOTIFICATIONS:
            self.list.takeItem(self.list.count() - 1)
        self._refresh()

    def remove_notification(self, message_id: str) -> None:
        for row in reversed(range(self.list.count())):
            if self._message(self.list.item(row)).message_id == message_id:
                self.list.takeItem(row)
        self._refresh()

    def conversation_keys(self) -> set[tuple[str, str]]:
        """(account id, conversation id) of every conversation an item is about."""
        keys = set()
        for row in range(self.list.count()):
            message = self._message(self.list.item(row))
            keys.add((message.account_id, message.conversation_id))
        return keys

    def remove_conversation(self, account_id: str, conversation_id: str) -> None:
        """Drop the items of one conversation (it has been read)."""
        removed = False
        for row in reversed(range(self.list.count())):
            message = self._message(self.list.item(row))
            if (message.account_id, message.conversation_id) == (account_id, conversation_id):
                self.list.takeItem(row)
                removed = True
        if removed:
            self._refresh()

    def clear(self) -> None:
        self.list.clear()
        self._refresh()

    @staticmethod
    def _message(item: QListWidgetItem) -> Message:
        message = item.data(MESSAGE_ROLE)
        if not isinstance(message, Message):  # pragma: no cover - every item is made with one
            raise TypeError("a notification item without its message")
        return message

    def _refresh(self) -> None:
        n = self.list.count()
        self.empty_label.setText(f"{n} new message{'s' if n != 1 else ''}" if n else "No new messages")
        self.clear_button.setEnabled(n > 0)
        self.count_changed.emit(n)

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        self.notification_activated.emit(self._message(item))

    def _on_clear_button_clicked(self) -> None:
        self.clear()
