"""The list views: uniform conversation rows, and a thread paging older history, stuck to the bottom."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from .conversation_delegate import ConversationDelegate
from .message_delegate import MessageDelegate
from .message_model import SAME_SIZE_CHANGE, MessageListModel


class ConversationListView(QListView):
    """The conversation list: uniform rows (cheap over big models), Up/Down to move, Enter to open."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationList")
        self.setItemDelegate(ConversationDelegate(self))
        # Every row is ConversationDelegate.ROW_HEIGHT tall: without this a big model is measured row by row.
        self.setUniformItemSizes(True)
        self.setMouseTracking(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)


class MessageListView(QListView):
    """The thread: bubbles of varying height, newest at the bottom, older history loaded at the top edge."""

    older_history_wanted = Signal()
    """Scrolled to the top with nothing older cached: the desktop layer fetches the next older page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageList")
        self.bubble_delegate = MessageDelegate(self)
        self.bubble_delegate.prepare(self.font())
        self.setItemDelegate(self.bubble_delegate)
        self.setUniformItemSizes(False)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setMouseTracking(True)
        self.verticalScrollBar().setSingleStep(24)
        self.verticalScrollBar().valueChanged.connect(self._on_scrollbar_value_changed)
        self._stick_to_bottom = True
        self._scroll_bar_forced = False
        self._message_model: MessageListModel | None = None

    def set_message_model(self, model: MessageListModel) -> None:
        self.setModel(model)
        self._message_model = model
        model.modelReset.connect(self._on_model_model_reset)
        model.rowsAboutToBeInserted.connect(self._on_model_rows_about_to_be_inserted)
        model.rowsInserted.connect(self._on_model_rows_inserted)

    def dataChanged(
        self,
        top_left: QModelIndex | QPersistentModelIndex,
        bottom_right: QModelIndex | QPersistentModelIndex,
        roles: Sequence[int] = (),
    ) -> None:
        if list(roles) == SAME_SIZE_CHANGE:
            # QListView lays every row out again on any change (a few ms per thread, per window); a change
            # that keeps the row's height needs only a repaint of that row.
            QAbstractItemView.dataChanged(self, top_left, bottom_right, list(roles))
            return
        super().dataChanged(top_left, bottom_right, list(roles))

    def is_at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    @contextlib.contextmanager
    def keeping_the_newest_in_view(self) -> Iterator[None]:
        """A change that grows the newest bubble (a status line under it) must not push it below the edge."""
        at_bottom = self.is_at_bottom()
        yield
        if at_bottom:
            QTimer.singleShot(0, self, self.scroll_to_newest)

    def scroll_to_newest(self) -> None:
        self.executeDelayedItemsLayout()
        self.scrollToBottom()

    def load_older(self) -> int:
        """Prepend older history keeping the visible bubbles where they are on screen."""
        model = self._message_model
        if model is None or not model.can_load_older():
            return 0
        bar = self.verticalScrollBar()
        from_bottom = bar.maximum() - bar.value()
        added = model.load_older()
        if added:
            self.executeDelayedItemsLayout()
            bar.setValue(bar.maximum() - from_bottom)
        return added

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Bubble heights depend on the width: measure again, and keep a chat at the bottom stuck there.
        at_bottom = self.is_at_bottom()
        self.bubble_delegate.clear_cache()
        super().resizeEvent(event)
        if at_bottom:
            QTimer.singleShot(0, self, self.scroll_to_newest)

    def _on_model_model_reset(self) -> None:
        self._expect_scroll_bar()
        QTimer.singleShot(0, self, self._after_reset)

    def _expect_scroll_bar(self) -> None:
        """Show the scroll bar up front when the new rows cannot fit whatever their heights: the rows are
        then measured once, at the width they keep, not again when the bar appears (row heights depend on
        the width). Back to "as needed" after the layout (``_after_reset``)."""
        model = self._message_model
        if model is None or self.verticalScrollBarPolicy() != Qt.ScrollBarPolicy.ScrollBarAsNeeded:
            return
        if model.rowCount() * self.bubble_delegate.min_row_height(self.font()) > self.viewport().height():
            self._scroll_bar_forced = True
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)

    def _after_reset(self) -> None:
        if self._scroll_bar_forced:
            self._scroll_bar_forced = False
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll_to_newest()
        # A short first page leaves no scroll bar to reach the top with: fill the viewport.
        for _ in range(5):
            if self.verticalScrollBar().maximum() > 0 or not self.load_older():
                break

    def _on_model_rows_about_to_be_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        self._stick_to_bottom = self.is_at_bottom()

    def _on_model_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        model = self._message_model
        if model is not None and last == model.rowCount() - 1 and self._stick_to_bottom:
            QTimer.singleShot(0, self, self.scroll_to_newest)

    def _on_scrollbar_value_changed(self, value: int) -> None:
        bar = self.verticalScrollBar()
        if value == bar.minimum() and bar.maximum() > 0:
            # Deferred: loading changes the range this very signal is reporting on.
            QTimer.singleShot(0, self, self._on_reached_top)

    def _on_reached_top(self) -> None:
        model = self._message_model
        if model is None or model.conversation_key is None:
            return
        if model.can_load_older():
            self.load_older()
        else:
            self.older_history_wanted.emit()
