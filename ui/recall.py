"""Recall as the user sees it: the confirmation dialog and the grace bar (rules: sync.recall_rules)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sync.model import Message
from sync.recall_rules import REASON_WINDOW_CLOSED, RECALL_ACTION_TEXT, minutes_left_text

from .text import one_line

# What only the UI knows makes a recall wait: another one of it in flight, or in its grace period.
REASON_IN_PROGRESS = "A recall of this message is already in progress"
REASON_OTHER_WAITING = "Another recall is about to start — wait for it or cancel it"


class RecallConfirmDialog(QDialog):
    """Says what a recall does (everyone, cannot be undone) and how long the window has left.

    Given ``server_now``, the time left stays current while the dialog is open, and the recall button
    is disabled if the window closes meanwhile.
    """

    REFRESH_MS = 10_000

    def __init__(
        self,
        message: Message,
        left_ms: int,
        parent: QWidget | None = None,
        *,
        server_now: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(parent)
        self.message = message
        self._server_now = server_now
        self.setObjectName("recallConfirmDialog")
        self.setWindowTitle("Recall message")
        layout = QVBoxLayout(self)
        title = QLabel("Recall this message for everyone?")
        title.setObjectName("dialogTitle")
        title.setTextFormat(Qt.TextFormat.PlainText)
        preview = QLabel(f"“{one_line(message.text, 160)}”")
        preview.setObjectName("recallPreview")
        preview.setTextFormat(Qt.TextFormat.PlainText)
        preview.setWordWrap(True)
        self.body_label = QLabel()
        self.body_label.setTextFormat(Qt.TextFormat.PlainText)
        self.body_label.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        accept = QDialogButtonBox.ButtonRole.AcceptRole
        self.recall_button = self.buttons.addButton(RECALL_ACTION_TEXT, accept)
        self.recall_button.setObjectName("dangerButton")
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        # A destructive, irreversible action is never the default: Enter cancels.
        cancel.setDefault(True)
        cancel.setAutoDefault(True)
        self.recall_button.setAutoDefault(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(title)
        layout.addWidget(preview)
        layout.addWidget(self.body_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)
        self._show_left(left_ms)
        if server_now is not None:
            self._timer = QTimer(self)
            self._timer.setInterval(self.REFRESH_MS)
            self._timer.timeout.connect(self._on_timer_timeout)
            self._timer.start()

    def _show_left(self, left_ms: int) -> None:
        what = (
            "It will be removed for you and for every recipient, in every window and on every device. "
            "This cannot be undone.\n\n"
        )
        if left_ms > 0:
            self.body_label.setText(what + f"Recall window: {minutes_left_text(left_ms)}.")
        else:
            self.body_label.setText(what + REASON_WINDOW_CLOSED + ".")
        self.recall_button.setEnabled(left_ms > 0)

    def _on_timer_timeout(self) -> None:
        if self._server_now is not None:
            self._show_left(self.message.recall_window_left_ms(self._server_now()))


class RecallGraceBar(QFrame):
    """ "Recalling in 3 s — Cancel": the last chance to change one's mind; nothing is sent meanwhile."""

    elapsed = Signal(Message)
    """The grace period ran out without Cancel: the caller re-checks eligibility and recalls."""
    cancelled = Signal(Message)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recallGraceBar")
        self._message: Message | None = None
        self._remaining_s = 0
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._on_timer_timeout)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 8, 6)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("graceCancelButton")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.cancel_button)
        # Escape cancels too; the action only fires while the bar is shown.
        escape = QAction("Cancel recall", self)
        escape.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        escape.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        escape.triggered.connect(self._on_cancel_button_clicked)
        self.addAction(escape)
        self.cancel_button.setToolTip("Cancel the recall (Esc)")
        self.hide()

    @property
    def message(self) -> Message | None:
        """The message waiting for its grace period to end, if any."""
        return self._message

    def is_active(self) -> bool:
        return self._message is not None

    def start(self, message: Message, seconds: int) -> None:
        self._message = message
        self._remaining_s = max(1, seconds)
        self._refresh_label()
        self.show()
        self._timer.start()

    def cancel(self) -> None:
        """Cancel without asking (Cancel button, Escape, window closing): nothing is sent."""
        message = self._stop()
        if message is not None:
            self.cancelled.emit(message)

    def finish_now(self) -> None:
        """End the grace period at once, as if it had run out (the window is closing: "Recall now")."""
        message = self._stop()
        if message is not None:
            self.elapsed.emit(message)

    def _stop(self) -> Message | None:
        self._timer.stop()
        message, self._message = self._message, None
        self.hide()
        return message

    def _refresh_label(self) -> None:
        if self._message is not None:
            self.label.setText(f"Recalling “{one_line(self._message.text, 40)}” in {self._remaining_s} s")

    def _on_timer_timeout(self) -> None:
        self._remaining_s -= 1
        if self._remaining_s > 0:
            self._refresh_label()
            return
        message = self._stop()
        if message is not None:
            self.elapsed.emit(message)

    def _on_cancel_button_clicked(self) -> None:
        self.cancel()
