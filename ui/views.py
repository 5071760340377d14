"""The list views: uniform conversation rows, and a thread paging older history, stuck to the bottom."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from sync.model import Message

from .conversation_delegate import ConversationDelegate
from .message_delegate import MessageDelegate
from .message_model import SAME_SIZE_CHANGE, MessageListModel, MessageRole

ANCHOR_SEARCH_PAGES: Final = 10
"""How many older pages of the cache a restored scroll position may read to find its message (beyond
that the thread opens at the newest)."""


@dataclass(frozen=True, slots=True)
class ScrollAnchor:
    """Where a thread scrolled up was: the message at the top of the view, and how many pixels of its row
    were above the view's top edge. A thread at the newest has no anchor (it opens at the newest)."""

    message_id: str
    offset: int = 0


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
        self._pending_anchor: ScrollAnchor | None = None
        self._before_reset: tuple[tuple[str, str] | None, ScrollAnchor | None] = (None, None)
        self._reset_queued = False
        self._held: ScrollAnchor | None = None
        """The anchor a thread was restored or re-read at, kept in view (across resizes, rows laid out
        late) until the user scrolls: nothing automatic throws it to the newest meanwhile."""
        self.verticalScrollBar().actionTriggered.connect(self._on_scrollbar_action_triggered)
        self._following_own: tuple[str, str] | None = None
        """The conversation a message was just sent into, until that message arrives."""

    def set_message_model(self, model: MessageListModel) -> None:
        self.setModel(model)
        self._message_model = model
        model.modelAboutToBeReset.connect(self._on_model_model_about_to_be_reset)
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
        at_bottom = self._held is None and self.is_at_bottom()
        yield
        if at_bottom:
            QTimer.singleShot(0, self, self.scroll_to_newest)

    def scroll_to_newest(self) -> None:
        self.executeDelayedItemsLayout()
        self.scrollToBottom()

    def follow_own_message(self) -> None:
        """The user sent a message: show the newest now, and the sent one when it arrives, however far up
        the thread was scrolled."""
        model = self._message_model
        self._following_own = None if model is None else model.conversation_key
        self._held = None
        self.scroll_to_newest()

    def scroll_anchor(self) -> ScrollAnchor | None:
        """Where the thread is scrolled to, to restore it later; None at the newest (or when empty)."""
        if self._pending_anchor is not None:
            return self._pending_anchor  # not laid out yet: where it is about to be
        if self._message_model is None or self.is_at_bottom():
            return None
        index = self.indexAt(QPoint(self.viewport().width() // 2, 0))
        message = index.data(MessageRole.MESSAGE)
        if not isinstance(message, Message):
            return None
        return ScrollAnchor(message.message_id, max(0, -self.visualRect(index).top()))

    def restore_anchor(self, anchor: ScrollAnchor | None) -> None:
        """Scroll the conversation being opened to ``anchor`` instead of the newest, once its rows are
        laid out (None: the newest). A message no longer in the cache opens the thread at the newest."""
        self._pending_anchor = anchor

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
        if event.size().width() != event.oldSize().width():
            # QListView lays its rows out again on its own only when the height changes (its flow is top
            # to bottom): a thread made narrower or wider (a dock shown or hidden beside it) kept the row
            # heights measured at the old width, bubbles drawn at the new one, with uneven gaps between.
            self.scheduleDelayedItemsLayout()
        if at_bottom or self._held is not None:
            QTimer.singleShot(0, self, self._stick)

    def _stick(self) -> None:
        """After a resize: the newest back in view, or the held anchor at the top (a restored thread
        stays where it was restored to while its rows are laid out at the window's width)."""
        if self._held is None:
            self.scroll_to_newest()
        elif not self._scroll_to_anchor(self._held):
            self._held = None  # its message is gone (recalled): the view stays where it is

    def wheelEvent(self, event: QWheelEvent) -> None:
        self._held = None  # the user scrolls: no anchor holds the view any more
        super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self._held = None
        super().keyPressEvent(event)

    def _on_scrollbar_action_triggered(self, _action: int) -> None:
        self._held = None

    def _on_model_model_about_to_be_reset(self) -> None:
        model = self._message_model
        key = None if model is None else model.conversation_key
        anchor = None if key is None else self._held or self.scroll_anchor()
        self._before_reset = (key, anchor)

    def _on_model_model_reset(self) -> None:
        key, anchor = self._before_reset
        self._before_reset = (None, None)
        model = self._message_model
        if (
            self._pending_anchor is None
            and anchor is not None
            and model is not None
            and model.conversation_key == key
        ):
            # The same conversation read again (another process changed the cache): it stays where the
            # user was reading, not thrown to the newest.
            self._pending_anchor = anchor
        self._expect_scroll_bar()
        if not self._reset_queued:
            # Once after the last of several resets in a row (a window made, then a conversation opened
            # at once): an earlier one's turn would scroll the rows of the later one.
            self._reset_queued = True
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
        self._reset_queued = False
        if self._scroll_bar_forced:
            self._scroll_bar_forced = False
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        anchor, self._pending_anchor = self._pending_anchor, None
        self._held = None
        if anchor is not None and self._scroll_to_anchor(anchor):
            self._held = anchor
            return
        self.scroll_to_newest()
        # A short first page leaves no scroll bar to reach the top with: fill the viewport.
        for _ in range(5):
            if self.verticalScrollBar().maximum() > 0 or not self.load_older():
                break

    def _scroll_to_anchor(self, anchor: ScrollAnchor) -> bool:
        """Put the anchor's row at the top of the view, reading older pages of the cache to find it (a
        bounded number); False when it is not found."""
        model = self._message_model
        key = None if model is None else model.conversation_key
        if model is None or key is None:
            return False
        row = model.row_of(key[0], anchor.message_id)
        for _ in range(ANCHOR_SEARCH_PAGES):
            if row is not None or not model.can_load_older() or not model.load_older():
                break
            row = model.row_of(key[0], anchor.message_id)
        if row is None:
            return False
        self.executeDelayedItemsLayout()
        index = model.index(row, 0)
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop)
        bar = self.verticalScrollBar()
        bar.setValue(min(bar.maximum(), bar.value() + anchor.offset))
        return True

    def _on_model_rows_about_to_be_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        self._stick_to_bottom = self.is_at_bottom()

    def _on_model_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        model = self._message_model
        if model is None:
            return
        if self._following_own is not None and self._following_own == model.conversation_key:
            for row in range(first, last + 1):
                message = model.message_at(row)
                if message is not None and message.is_sent_by_owner:
                    # The message just sent: in view even if the thread was scrolled away meanwhile.
                    self._following_own = None
                    sent = QPersistentModelIndex(model.index(row, 0))
                    QTimer.singleShot(0, self, functools.partial(self._scroll_into_view, sent))
                    return
        if last == model.rowCount() - 1 and self._stick_to_bottom and self._held is None:
            QTimer.singleShot(0, self, self.scroll_to_newest)

    def _scroll_into_view(self, index: QPersistentModelIndex) -> None:
        if not index.isValid():
            return
        model = self._message_model
        if model is None:
            return
        if index.row() == model.rowCount() - 1:
            self.scroll_to_newest()  # the newest: its status line and reactions too
            return
        self.executeDelayedItemsLayout()
        self.scrollTo(model.index(index.row(), 0), QAbstractItemView.ScrollHint.EnsureVisible)

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
