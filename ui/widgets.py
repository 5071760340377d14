"""Small widgets the window's parts share: plain-text labels, restyling on a property change, the banner."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from .text import one_line

BANNER_KINDS = ("info", "warning", "error")


def plain_label(text: str = "", object_name: str = "") -> QLabel:
    """A label that shows its text as typed: never rich text."""
    label = QLabel(text)
    # QLabel guesses rich text from the content: names and messages must never be interpreted.
    label.setTextFormat(Qt.TextFormat.PlainText)
    if object_name:
        label.setObjectName(object_name)
    return label


def repolish(widget: QWidget) -> None:
    """Apply the style sheet again after a property its rules select on changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class Banner(QFrame):
    """A dismissible one-line message above the panes: known errors and notices, in plain words."""

    dismissed = Signal()
    action_clicked = Signal()
    """The banner's one action button (shown only when ``show_message`` was given its text)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        self.label = plain_label(object_name="bannerText")
        self.label.setWordWrap(True)
        self.action_button = QPushButton()
        self.action_button.setObjectName("bannerAction")
        self.action_button.clicked.connect(self.action_clicked)
        self.action_button.hide()
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setObjectName("bannerClose")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self._on_close_button_clicked)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.hide()

    def show_message(self, text: str, kind: str = "info", action_text: str = "") -> None:
        self.setProperty("kind", kind if kind in BANNER_KINDS else "info")
        # One bounded line: whatever the caller passes, a banner never becomes a traceback dump.
        self.label.setText(one_line(text, 300))
        self.action_button.setText(action_text)
        self.action_button.setVisible(bool(action_text))
        repolish(self)
        self.show()

    def _on_close_button_clicked(self) -> None:
        self.hide()
        self.dismissed.emit()
