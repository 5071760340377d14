"""The recall log's dock content: a bar with "Export as CSV…" over the table of attempts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .recall_log_model import RecallLogColumn, RecallLogModel
from .widgets import plain_label

EXPORT_NAME = "recall-log.csv"


class RecallLogPanel(QObject):
    """The table (one row per attempt, newest first) under a bar whose button exports the whole log.

    The file dialog is opened window-modally (``open``, not ``exec``: no nested event loop under qasync);
    ``exported`` says how it went, in words for the status bar."""

    exported = Signal(str)
    """What the export did ("Saved 12 recall attempts to …" or why it could not)."""

    def __init__(self, model: RecallLogModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.widget = QWidget()
        self.widget.setObjectName("recallLogPanel")
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        bar = QWidget()
        bar.setObjectName("recallLogBar")
        bar_layout = QHBoxLayout(bar)
        bar_layout.setContentsMargins(10, 4, 10, 4)
        self.summary_label = plain_label("", "mutedLabel")
        self.export_button = QPushButton("Export as CSV…")
        self.export_button.setObjectName("exportRecallLogButton")
        self.export_button.setToolTip("Save every recall attempt of this log as a CSV file")
        self.export_button.clicked.connect(self.ask_where_to_export)
        bar_layout.addWidget(self.summary_label, 1)
        bar_layout.addWidget(self.export_button)
        self.view = QTableView()
        self.view.setObjectName("recallLogView")
        self.view.setModel(model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The conversation's name and the message take what is left (elided), the error the rest.
        for column in (RecallLogColumn.CONVERSATION, RecallLogColumn.MESSAGE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, 200)
        header.setStretchLastSection(True)
        self.view.setAlternatingRowColors(True)
        layout.addWidget(bar)
        layout.addWidget(self.view, 1)
        self.dialog: QFileDialog | None = None
        """The export's file dialog while it is open."""
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            signal.connect(self._update_summary)
        self._update_summary()

    def ask_where_to_export(self) -> None:
        if self.dialog is not None:
            self.dialog.raise_()
            return
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        dialog = QFileDialog(self.widget.window(), "Export the recall log", str(Path(folder) / EXPORT_NAME))
        dialog.setObjectName("exportRecallLogDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setNameFilters(["CSV files (*.csv)", "All files (*)"])
        dialog.setDefaultSuffix("csv")
        dialog.fileSelected.connect(self.export_to)
        dialog.finished.connect(self._on_dialog_finished)
        self.dialog = dialog
        dialog.open()

    def export_to(self, path: str) -> bool:
        """Write the log to ``path``; says how it went through ``exported``."""
        try:
            count = self._model.export_csv(Path(path))
        except OSError as exc:
            self.exported.emit(f"The recall log was not saved: {exc.strerror or exc}")
            return False
        self.exported.emit(f"Saved {count} recall attempt{'s' if count != 1 else ''} to {path}")
        return True

    def _on_dialog_finished(self, _result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _update_summary(self) -> None:
        n = self._model.rowCount()
        self.summary_label.setText(
            f"{n} recall attempt{'s' if n != 1 else ''}" if n else "No recall attempts yet"
        )
        self.export_button.setEnabled(n > 0)
