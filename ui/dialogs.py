"""The settings dialog, the About box, the crash dialog, and the dialog for a cache or data dir that cannot
be used.

The crash dialog is the one place an unexpected error (a bug) is shown, never a traceback in the face; an
unusable cache or data dir is a known error, shown with what the user can do about it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .buttons import without_icons
from .text import one_line


def _plain_label(text: str = "", object_name: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if object_name:
        label.setObjectName(object_name)
    return label


class CrashDialog(QDialog):
    """A short apology, the log file's path, and the details folded away.

    Use ``CrashDialog.report()``: a burst of errors adds to the open dialog instead of stacking new ones.
    """

    _open: CrashDialog | None = None

    def __init__(self, summary: str, details: str, log_path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle("Something went wrong")
        self.log_path = log_path
        layout = QVBoxLayout(self)
        layout.addWidget(_plain_label("Something went wrong", "dialogTitle"))
        layout.addWidget(
            _plain_label(
                "ConnectSafely hit an unexpected problem. Your messages and recalls are safe; you can keep "
                "working, or restart the app if something looks wrong."
            )
        )
        self.summary_label = _plain_label(one_line(summary, 200), "crashSummary")
        layout.addWidget(self.summary_label)
        layout.addWidget(_plain_label("The full report is in the log file:"))
        self.path_label = _plain_label(log_path, "logPath")
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.path_label)
        self.details_button = QPushButton("Show details")
        self.details_button.setCheckable(True)
        self.details_button.setObjectName("flatButton")
        self.details_button.toggled.connect(self._on_details_button_toggled)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlainText(details)
        self.details.setMinimumHeight(180)
        self.details.hide()
        buttons = QDialogButtonBox()
        copy = buttons.addButton("Copy report", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self._on_copy_clicked)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.accept)
        without_icons(buttons)
        row = QHBoxLayout()
        row.addWidget(self.details_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)
        self.finished.connect(self._on_finished)

    @classmethod
    def report(cls, summary: str, details: str, log_path: str, parent: QWidget | None = None) -> CrashDialog:
        """Show the crash dialog (non-modal, non-blocking), or add to the one already open."""
        dialog = cls._open
        if dialog is not None and dialog.isVisible():
            dialog.add_report(summary, details)
        else:
            dialog = cls(summary, details, log_path, parent)
            cls._open = dialog
            dialog.show()
        dialog.raise_()
        return dialog

    def add_report(self, summary: str, details: str) -> None:
        self.summary_label.setText(one_line(summary, 200) + " (and earlier errors)")
        self.details.appendPlainText("\n" + "-" * 60 + "\n" + details)

    def _on_details_button_toggled(self, checked: bool) -> None:
        self.details.setVisible(checked)
        self.details_button.setText("Hide details" if checked else "Show details")
        self.adjustSize()

    def _on_copy_clicked(self) -> None:
        text = f"{self.summary_label.text()}\nLog: {self.log_path}\n\n{self.details.toPlainText()}"
        QGuiApplication.clipboard().setText(text)

    def _on_finished(self, _result: int) -> None:
        if CrashDialog._open is self:
            CrashDialog._open = None


class SettingsDialog(QDialog):
    """API key and base URL; the desktop layer tests the connection and stores the values.

    "Test connection" is answered with :meth:`set_test_result`: a one-line summary and, when it got that
    far, one plain line per account (seat, status). When the server address is probably missing its
    ``/linkedin`` path, :meth:`offer_base_url` shows "Did you mean …?" with a button that puts it in the
    field and tests again.
    """

    test_connection_requested = Signal(str, str)
    """(api key, base URL) as typed: the desktop layer answers with ``set_test_result``."""
    save_requested = Signal(str, str)
    """(api key, base URL) when the user pressed Save; an empty key means "use the local sandbox"."""
    preferences_saved = Signal(object)
    """dict[str, bool]: each preference's key and whether it is on, when the user pressed Save (emitted
    before ``save_requested``)."""

    def __init__(
        self,
        *,
        api_key: str = "",
        base_url: str = "",
        key_location: str = "the system keyring",
        default_base_url: str = "",
        key_placeholder: str = "Leave empty to use the local sandbox",
        preferences: Sequence[tuple[str, str, bool]] = (),
        parent: QWidget | None = None,
    ) -> None:
        """``preferences``: (key, label, on) of each on/off setting to show under "Preferences"."""
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        layout = QVBoxLayout(self)
        layout.addWidget(_plain_label("Connection", "dialogTitle"))
        form = QFormLayout()
        self.api_key_edit = QLineEdit(api_key)
        self.api_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key_edit.setPlaceholderText(key_placeholder)
        self.api_key_edit.setObjectName("apiKeyEdit")
        self.show_key_button = QPushButton("Show")
        self.show_key_button.setObjectName("flatButton")
        self.show_key_button.setCheckable(True)
        self.show_key_button.setToolTip("Show the key as typed")
        self.show_key_button.toggled.connect(self._on_show_key_button_toggled)
        key_row = QHBoxLayout()
        key_row.setSpacing(4)
        key_row.addWidget(self.api_key_edit, 1)
        key_row.addWidget(self.show_key_button)
        self.base_url_edit = QLineEdit(base_url)
        self.base_url_edit.setPlaceholderText(default_base_url)
        self.base_url_edit.setObjectName("baseUrlEdit")
        if default_base_url:
            self.base_url_edit.setToolTip(f"Empty: {default_base_url}")
        form.addRow("API key", key_row)
        form.addRow("Base URL", self.base_url_edit)
        layout.addLayout(form)
        self.key_location_label = _plain_label(f"Your API key is stored in {key_location}.", "mutedLabel")
        layout.addWidget(self.key_location_label)
        test_row = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self._on_test_button_clicked)
        self.test_result_label = _plain_label("", "testResult")
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result_label, 1)
        layout.addLayout(test_row)
        # One line per account, as plain text (names come from the server).
        self.test_details_label = _plain_label("", "testDetails")
        self.test_details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_details_label.hide()
        layout.addWidget(self.test_details_label)
        suggestion_row = QHBoxLayout()
        self.suggestion_label = _plain_label("", "suggestionLabel")
        self.suggestion_button = QPushButton("Use this address")
        self.suggestion_button.setObjectName("suggestionButton")
        self.suggestion_button.clicked.connect(self._on_suggestion_button_clicked)
        suggestion_row.addWidget(self.suggestion_label, 1)
        suggestion_row.addWidget(self.suggestion_button)
        self.suggestion = QWidget()
        self.suggestion.setObjectName("baseUrlSuggestion")
        self.suggestion.setLayout(suggestion_row)
        self.suggestion.hide()
        layout.addWidget(self.suggestion)
        self._suggested_url = ""
        self.preference_boxes: dict[str, QCheckBox] = {}
        if preferences:
            layout.addSpacing(8)
            layout.addWidget(_plain_label("Preferences", "dialogTitle"))
            for key, label, on in preferences:
                box = QCheckBox(label)
                box.setObjectName("preferenceBox")
                box.setProperty("setting", key)
                box.setChecked(on)
                self.preference_boxes[key] = box
                layout.addWidget(box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        without_icons(buttons)
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    def preferences(self) -> dict[str, bool]:
        """Each preference's key and whether its box is ticked."""
        return {key: box.isChecked() for key, box in self.preference_boxes.items()}

    def api_key(self) -> str:
        return self.api_key_edit.text().strip()

    def base_url(self) -> str:
        return self.base_url_edit.text().strip()

    def set_test_result(self, ok: bool, text: str, details: Sequence[str] = ()) -> None:
        """Show the outcome of a connection test: a summary in plain words ("Connected: 3 accounts") and
        one line per account in ``details``."""
        self.test_button.setEnabled(True)
        self.test_result_label.setProperty("ok", ok)
        self.test_result_label.setText(("✓ " if ok else "✗ ") + one_line(text, 200))
        self.test_result_label.style().unpolish(self.test_result_label)
        self.test_result_label.style().polish(self.test_result_label)
        lines = [one_line(line, 200) for line in details][:50]
        self.test_details_label.setText("\n".join(lines))
        self.test_details_label.setVisible(bool(lines))
        self.adjustSize()  # grow to show every line: a dialog keeps the size it was opened with

    def offer_base_url(self, url: str) -> None:
        """The server answered 404 where the accounts should be: offer the address it probably is."""
        self._suggested_url = url
        self.suggestion_label.setText(f"Did you mean {url}?")
        self.suggestion_button.setToolTip(f"Use {url} and test again")
        self.suggestion.setVisible(bool(url))
        self.adjustSize()

    def test_results_text(self) -> str:
        """Everything the last test said, as shown (summary, then the per-account lines)."""
        details = self.test_details_label.text() if self.test_details_label.isVisibleTo(self) else ""
        return "\n".join(t for t in (self.test_result_label.text(), details) if t)

    def _on_show_key_button_toggled(self, checked: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if checked else QLineEdit.EchoMode.Password
        self.api_key_edit.setEchoMode(mode)
        self.show_key_button.setText("Hide" if checked else "Show")

    def _on_test_button_clicked(self) -> None:
        self.test_button.setEnabled(False)
        self.test_result_label.setProperty("ok", None)
        self.test_result_label.setText("Testing…")
        self.test_details_label.hide()
        self.suggestion.hide()
        self.test_connection_requested.emit(self.api_key(), self.base_url())

    def _on_suggestion_button_clicked(self) -> None:
        if self._suggested_url:
            self.base_url_edit.setText(self._suggested_url)
            self._on_test_button_clicked()

    def _on_buttons_accepted(self) -> None:
        if self.preference_boxes:
            self.preferences_saved.emit(self.preferences())
        self.save_requested.emit(self.api_key(), self.base_url())
        self.accept()


class AboutDialog(QDialog):
    """Help › About: the version, where the data folder and the log are, and which service is in use (the
    sandbox, or the base URL; never the key). Every line is plain, selectable text."""

    def __init__(
        self,
        *,
        version: str,
        facts: Mapping[str, str],
        parent: QWidget | None = None,
    ) -> None:
        """``facts``: label → value, shown in order (e.g. "Data folder" → its path)."""
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About ConnectSafely")
        layout = QVBoxLayout(self)
        layout.addWidget(_plain_label(f"ConnectSafely {version}", "dialogTitle"))
        layout.addWidget(
            _plain_label(
                "A desktop inbox for LinkedIn messages through the ConnectSafely API, with Recall.",
                "mutedLabel",
            )
        )
        form = QFormLayout()
        self.fact_labels: dict[str, QLabel] = {}
        for name, value in facts.items():
            label = _plain_label(value, "aboutValue")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fact_labels[name] = label
            form.addRow(name, label)
        layout.addLayout(form)
        layout.addStretch(1)  # room a wrapped line asked for goes below the facts, not between the titles
        buttons = QDialogButtonBox()
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setToolTip("Copy these lines (for a bug report)")
        copy.clicked.connect(self._on_copy_clicked)
        close = buttons.addButton("Close", QDialogButtonBox.ButtonRole.AcceptRole)
        close.setDefault(True)
        close.clicked.connect(self.accept)
        layout.addWidget(buttons)
        self._version = version
        self.setMinimumWidth(560)

    def text(self) -> str:
        """Everything it says, one line a fact."""
        lines = [f"ConnectSafely {self._version}"]
        lines += [f"{name}: {label.text()}".replace("\n", " — ") for name, label in self.fact_labels.items()]
        return "\n".join(lines)

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.text())


class StorageProblemDialog(QDialog):
    """The cache or the data dir cannot be used: what happened, in plain words, and what the user can do.

    The desktop layer fills in the words; the dialog offers up to three choices, given as button texts:
    ``fresh_start`` (for a damaged cache: move it aside and start a fresh one), ``retry`` (for a busy
    cache or a full disk) and always Quit. ``chosen`` says which (``"fresh"``, ``"retry"``, ``"quit"``);
    closing the dialog is Quit.
    """

    chosen = Signal(str)

    FRESH = "fresh"
    RETRY = "retry"
    QUIT = "quit"

    def __init__(
        self,
        title: str,
        message: str,
        *,
        path: str = "",
        explanation: str = "",
        fresh_start: str = "",
        retry: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("storageProblemDialog")
        self.setWindowTitle(title)
        self._choice = self.QUIT
        layout = QVBoxLayout(self)
        layout.addWidget(_plain_label(title, "dialogTitle"))
        self.message_label = _plain_label(message, "storageMessage")
        layout.addWidget(self.message_label)
        self.path_label = _plain_label(path, "storagePath")
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_label.setVisible(bool(path))
        layout.addWidget(self.path_label)
        self.explanation_label = _plain_label(explanation, "mutedLabel")
        self.explanation_label.setVisible(bool(explanation))
        layout.addWidget(self.explanation_label)
        buttons = QDialogButtonBox()
        self.fresh_button: QPushButton | None = None
        self.retry_button: QPushButton | None = None
        if fresh_start:
            self.fresh_button = buttons.addButton(fresh_start, QDialogButtonBox.ButtonRole.AcceptRole)
            self.fresh_button.clicked.connect(self._on_fresh_button_clicked)
        if retry:
            self.retry_button = buttons.addButton(retry, QDialogButtonBox.ButtonRole.AcceptRole)
            self.retry_button.clicked.connect(self._on_retry_button_clicked)
        self.quit_button = buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        self.quit_button.clicked.connect(self.reject)
        default = self.fresh_button or self.retry_button or self.quit_button
        default.setDefault(True)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)
        self.finished.connect(self._on_finished)

    def _on_fresh_button_clicked(self) -> None:
        self._choice = self.FRESH
        self.accept()

    def _on_retry_button_clicked(self) -> None:
        self._choice = self.RETRY
        self.accept()

    def _on_finished(self, _result: int) -> None:
        self.chosen.emit(self._choice)
