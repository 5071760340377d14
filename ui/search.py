"""Message search in a window: typing in the search box finds messages in every cached conversation.

The panel under the conversation list puts the results (``ui.search_model``, grouped by conversation) in
their view (``ui.search_view``), says how many were found or why none were, and takes the search box's
keys. Enter or a double-click on a result asks the window to jump to that message in its thread
(:func:`reveal_message`); ``WindowSearch`` is the main window's side of it (a mixin).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QListView, QMainWindow, QVBoxLayout, QWidget

from sync.model import ChangeSet, Conversation, Message

from .message_model import MessageListModel
from .palette import Palette
from .quick_switcher import QuickSwitcher, quick_switch_action
from .search_model import SEARCH_LIMIT, SearchResultsModel
from .search_view import SearchResultsView
from .sources import InboxReader
from .text import one_line
from .widgets import plain_label

if TYPE_CHECKING:
    from .sidebar import Sidebar
    from .views import MessageListView

REVEAL_PAGES: Final = 400
"""Older pages of the cache a jump may read to find its message (50 messages each)."""


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


if TYPE_CHECKING:
    # What the mixin uses of its host, ui.main_window.MainWindow (a QMainWindow): declared for the type
    # checker only.
    _WindowHost = QMainWindow
else:
    _WindowHost = object


class WindowSearch(_WindowHost):
    """The window's message search and Ctrl+K, and the jump from a result to its message (a mixin of
    ``ui.main_window.MainWindow``)."""

    if TYPE_CHECKING:
        _reader: InboxReader
        _open: Conversation | None
        sidebar: Sidebar
        search_edit: QLineEdit
        message_view: MessageListView
        message_model: MessageListModel

        def open_conversation(self, conversation: Conversation) -> None: ...

        def open_to_reply(self, conversation: Conversation) -> None: ...

    def _build_search(self) -> None:
        """Message search under the conversation list (``ui.search``) and Ctrl+K (``ui.quick_switcher``)."""
        self.search_panel = SearchPanel(self._reader, self)
        self.search_results = self.search_panel.view
        self.sidebar.add_below_list(self.search_panel.widget)
        self.search_panel.attach(self.search_edit)
        self.search_panel.message_activated.connect(self.jump_to_message)
        self.search_edit.setPlaceholderText("Search conversations and messages")
        self.search_edit.textChanged.connect(self._on_search_text_changed)
        self.sidebar.account_filter_changed.connect(self._on_search_text_changed)
        self.quick_switcher = QuickSwitcher(self._reader, self)
        self.quick_switcher.chosen.connect(self.open_to_reply)
        self.quick_switch_action = quick_switch_action(self, self.quick_switcher)

    def jump_to_message(self, message: Message) -> None:
        """Open the message's conversation and scroll its thread to it, selected (a search result)."""
        conversation = self._reader.conversation(message.account_id, message.conversation_id)
        if conversation is None:
            self.statusBar().showMessage("That conversation is no longer in the cache.", 5000)
            return
        key = (conversation.account_id, conversation.conversation_id)
        if self._open is None or (self._open.account_id, self._open.conversation_id) != key:
            self.open_conversation(conversation)
        # After the thread's own first layout, which puts a thread just opened at its newest message.
        QTimer.singleShot(0, self, functools.partial(self._reveal_message, message))

    def _reveal_message(self, message: Message) -> None:
        if not reveal_message(self.message_view, self.message_model, message):
            self.statusBar().showMessage("That message is no longer there (it may have been recalled).", 5000)

    def _on_search_text_changed(self, *_: object) -> None:
        shown = self.sidebar.shown_account_ids()
        self.search_panel.search(self.search_edit.text(), shown[0] if shown else None)
