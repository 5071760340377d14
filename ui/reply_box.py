"""The reply bar under a thread: the reply box (Ctrl+Enter sends), Send, and a draft per conversation."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QWidget


class ReplyEdit(QPlainTextEdit):
    """The reply box: plain text only; Ctrl+Enter submits, Enter is a new line, Tab leaves the box."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replyEdit")
        self.setTabChangesFocus(True)
        self.setPlaceholderText("Write a message…  (Ctrl+Enter to send)")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        is_enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if is_enter and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submit()
            return
        super().keyPressEvent(event)

    def submit(self) -> None:
        text = self.toPlainText()
        if text.strip():
            self.submitted.emit(text)


class ReplyBox:
    """The reply box and its Send button in the bar under the thread; what was typed in a conversation is
    kept while another one is open.

    ``widget`` is the bar (a plain ``QWidget``: the style sheet paints a plain widget's background, not a
    subclass's).
    """

    def __init__(self) -> None:
        self._drafts: dict[tuple[str, str], str] = {}
        self.widget = QWidget()
        self.widget.setObjectName("replyBar")
        layout = QHBoxLayout(self.widget)
        layout.setContentsMargins(16, 10, 16, 12)
        self.edit = ReplyEdit()
        self.edit.setFixedHeight(72)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primaryButton")
        self.send_button.setToolTip("Send (Ctrl+Enter)")
        self.send_button.clicked.connect(self.edit.submit)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)

    def switch(self, leaving: tuple[str, str] | None, opening: tuple[str, str]) -> None:
        """Another conversation opens: keep the draft of the one left, bring back the one opened's."""
        if leaving is not None:
            self._drafts[leaving] = self.edit.toPlainText()
        self.edit.setPlainText(self._drafts.pop(opening, ""))
