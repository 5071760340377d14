"""Ctrl+K: a quick switcher over every conversation. Type to filter (the cache's rule: participants' names
and the preview, case and diacritics folded), Up/Down to choose, Enter to open, Escape to close."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QDialog, QLineEdit, QVBoxLayout, QWidget

from sync.model import Conversation

from .conversation_delegate import ConversationDelegate
from .conversation_model import ConversationFilter, ConversationListModel, ConversationRole
from .palette import Palette
from .sources import InboxReader
from .views import ConversationListView
from .widgets import plain_label

SHORTCUT = "Ctrl+K"
PAGE = 50


class QuickSwitcher(QDialog):
    """A small window over the inbox: a filter box and the conversations it keeps, newest first."""

    chosen = Signal(Conversation)
    """Open this conversation (the switcher has closed)."""

    def __init__(self, reader: InboxReader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("quickSwitcher")
        self.setWindowTitle("Go to conversation")
        self.setModal(True)
        self.resize(520, 420)
        self.model = ConversationListModel(reader, page_size=PAGE, parent=self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        self.edit = QLineEdit()
        self.edit.setObjectName("switcherEdit")
        self.edit.setPlaceholderText("Go to conversation…")
        self.edit.setClearButtonEnabled(True)
        self.edit.textChanged.connect(self._on_edit_text_changed)
        self.edit.installEventFilter(self)
        self.view = ConversationListView()
        self.view.setObjectName("switcherList")
        self.view.setModel(self.model)
        self.view.activated.connect(self._on_view_activated)
        self.view.doubleClicked.connect(self._on_view_activated)
        self.empty_label = plain_label("No matching conversations", "switcherEmptyLabel")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.edit)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty_label)
        self.model.modelReset.connect(self._select_first)

    def set_palette(self, palette: Palette) -> None:
        delegate = self.view.itemDelegate()
        if isinstance(delegate, ConversationDelegate):
            delegate.set_palette(palette)

    def popup(self) -> None:
        """Open with an empty filter: every conversation, newest first, the first one chosen."""
        if self.edit.text():
            self.edit.clear()  # filters again through textChanged
        else:
            self.model.reload()
        self.show()
        self.raise_()
        self.activateWindow()
        self.edit.setFocus()

    def choose_current(self) -> bool:
        index = self.view.currentIndex()
        conversation = index.data(ConversationRole.CONVERSATION) if index.isValid() else None
        if not isinstance(conversation, Conversation):
            return False
        self.accept()
        self.chosen.emit(conversation)
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
                self._move(key)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.choose_current()
                return True
        return False

    def _move(self, key: int) -> None:
        rows = self.model.rowCount()
        if not rows:
            return
        current = self.view.currentIndex().row()
        steps = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 8, Qt.Key.Key_PageUp: -8}
        step = steps[Qt.Key(key)]
        row = min(max(0, current + step), rows - 1)
        if row == rows - 1 and self.model.canFetchMore():
            self.model.fetchMore()
        self.view.setCurrentIndex(self.model.index(row, 0))

    def _select_first(self) -> None:
        empty = self.model.rowCount() == 0
        self.empty_label.setVisible(empty)
        if not empty:
            self.view.setCurrentIndex(self.model.index(0, 0))

    def _on_edit_text_changed(self, text: str) -> None:
        self.model.set_filter(ConversationFilter(search=text))
        self._select_first()

    def _on_view_activated(self, index: QModelIndex) -> None:
        self.view.setCurrentIndex(index)
        self.choose_current()


def quick_switch_action(window: QWidget, switcher: QuickSwitcher) -> QAction:
    """The window's Ctrl+K: opens ``switcher``."""
    action = QAction("Go to Conversation…", window)
    action.setObjectName("quickSwitchAction")
    action.setShortcut(QKeySequence(SHORTCUT))
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(switcher.popup)
    window.addAction(action)
    return action
