"""The reply bar under a thread: the reply box (Enter sends, Shift+Enter is a new line), Send, and a draft
per conversation."""

from __future__ import annotations

from typing import Final, Protocol

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QWidget

ConversationKey = tuple[str, str]
"""(account id, conversation id)."""

DRAFT_SAVE_MS: Final = 800
"""A draft is handed to its store this long after the last keystroke (and at once when another
conversation opens, a message is sent or the window closes)."""

_ENTER_KEYS: Final = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_CTRL: Final = Qt.KeyboardModifier.ControlModifier
_SHIFT: Final = Qt.KeyboardModifier.ShiftModifier
_NO_MODIFIER: Final = Qt.KeyboardModifier.NoModifier


class DraftStore(Protocol):
    """Where the drafts of a conversation's reply box are kept (the desktop layer's keeps them in the data
    dir, so that they survive a restart; ``MemoryDrafts`` for as long as the window lives)."""

    def draft(self, key: ConversationKey) -> str: ...

    def set_draft(self, key: ConversationKey, text: str) -> None:
        """Keep ``text`` as the draft of ``key``; an empty (or blank) text drops it."""
        ...


class MemoryDrafts:
    """Drafts kept in memory only."""

    def __init__(self) -> None:
        self._drafts: dict[ConversationKey, str] = {}

    def draft(self, key: ConversationKey) -> str:
        return self._drafts.get(key, "")

    def set_draft(self, key: ConversationKey, text: str) -> None:
        if text.strip():
            self._drafts[key] = text
        else:
            self._drafts.pop(key, None)


def send_hint(ctrl_enter_sends: bool) -> str:
    """The keys that send, in words."""
    if ctrl_enter_sends:
        return "Ctrl+Enter to send, Enter for a new line"
    return "Enter to send, Shift+Enter for a new line"


class ReplyEdit(QPlainTextEdit):
    """The reply box: plain text only; Tab leaves the box.

    Enter sends and Shift+Enter is a new line, as in Signal, LinkedIn and Slack; with ``ctrl_enter_sends``
    (a setting) Enter is a new line and Ctrl+Enter sends. Ctrl+Enter sends either way.
    """

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replyEdit")
        self.setTabChangesFocus(True)
        self._ctrl_enter_sends = False
        self.set_ctrl_enter_sends(False)

    @property
    def ctrl_enter_sends(self) -> bool:
        return self._ctrl_enter_sends

    def set_ctrl_enter_sends(self, on: bool) -> None:
        self._ctrl_enter_sends = on
        # The one key a newcomer needs (the whole rule is the tooltip): short enough for one line.
        hint = "Ctrl+Enter to send" if on else "Shift+Enter for a new line"
        self.setPlaceholderText(f"Write a message…  ({hint})")
        self.setToolTip(send_hint(on))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in _ENTER_KEYS:
            # The keypad's Enter carries KeypadModifier: the same key for this purpose.
            modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if modifiers == _CTRL or (modifiers == _NO_MODIFIER and not self._ctrl_enter_sends):
                self.submit()
                return
            if modifiers == _SHIFT:
                # A new paragraph, as a plain Enter makes (QPlainTextEdit's own Shift+Enter would be a
                # Unicode line separator inside the paragraph).
                self.insertPlainText("\n")
                self.ensureCursorVisible()
                return
        super().keyPressEvent(event)

    def submit(self) -> None:
        text = self.toPlainText()
        if text.strip():
            self.submitted.emit(text)


class ReplyBox:
    """The reply box and its Send button in the bar under the thread; what was typed in a conversation is
    kept as its draft (in ``drafts``) while another one is open, and comes back when it is opened again.

    ``widget`` is the bar (a plain ``QWidget``: the style sheet paints a plain widget's background, not a
    subclass's).
    """

    def __init__(self, drafts: DraftStore | None = None) -> None:
        self._drafts: DraftStore = MemoryDrafts() if drafts is None else drafts
        self._key: ConversationKey | None = None
        self._loading = False
        self.widget = QWidget()
        self.widget.setObjectName("replyBar")
        layout = QHBoxLayout(self.widget)
        layout.setContentsMargins(16, 10, 16, 12)
        self.edit = ReplyEdit()
        self.edit.setFixedHeight(72)
        self.edit.textChanged.connect(self._on_edit_text_changed)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primaryButton")
        self.send_button.clicked.connect(self.edit.submit)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        self._save_timer = QTimer(self.widget)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(DRAFT_SAVE_MS)
        self._save_timer.timeout.connect(self.save_draft)
        self.set_ctrl_enter_sends(False)

    def set_ctrl_enter_sends(self, on: bool) -> None:
        """Which keys send (the "Send with Ctrl+Enter" setting)."""
        self.edit.set_ctrl_enter_sends(on)
        self.send_button.setToolTip("Send (Ctrl+Enter)" if on else "Send (Enter)")

    def set_drafts(self, drafts: DraftStore) -> None:
        """Keep drafts in ``drafts`` from now on (the one open is moved there)."""
        self.save_draft()
        self._drafts = drafts
        self.save_draft()

    def switch(self, leaving: ConversationKey | None, opening: ConversationKey) -> None:
        """Another conversation opens: keep the draft of the one left (``leaving``, the one the box was
        showing), bring back the one opened's."""
        del leaving  # the box knows which conversation its text belongs to
        self.save_draft()
        self._key = opening
        self._loading = True
        try:
            self.edit.setPlainText(self._drafts.draft(opening))
        finally:
            self._loading = False
        self.edit.moveCursor(QTextCursor.MoveOperation.End)

    def close_conversation(self) -> None:
        """No conversation is open any more (its draft is kept)."""
        self.save_draft()
        self._key = None

    def sent(self) -> None:
        """The text was sent: the box is emptied and the conversation's draft dropped at once."""
        self.edit.clear()
        self.save_draft()

    def save_draft(self) -> None:
        """Hand the open conversation's draft to the store now (the timer does it after typing)."""
        self._save_timer.stop()
        if self._key is not None:
            self._drafts.set_draft(self._key, self.edit.toPlainText())

    def _on_edit_text_changed(self) -> None:
        if not self._loading and self._key is not None:
            self._save_timer.start()
