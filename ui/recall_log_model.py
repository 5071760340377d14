"""The "Recall log" table: every recall attempt with its time, result, latency and error."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from sync.model import RecallAttempt, RecallState
from sync.recall_rules import STATE_WORDS

from .palette import LIGHT, qcolor
from .sources import InboxReader
from .text import format_clock, one_line

AnyIndex = QModelIndex | QPersistentModelIndex
LOG_LIMIT = 500

RESULT_COLOR = {
    RecallState.RECALLED: qcolor(LIGHT.success),
    RecallState.REFUSED: qcolor(LIGHT.danger),
    RecallState.FAILED: qcolor(LIGHT.danger),
    RecallState.UNCONFIRMED: qcolor(LIGHT.uncertain),
}


class RecallLogColumn(enum.IntEnum):
    TIME = 0
    RESULT = 1
    LATENCY = 2
    ERROR = 3
    MESSAGE = 4


HEADERS = {
    RecallLogColumn.TIME: "Time",
    RecallLogColumn.RESULT: "Result",
    RecallLogColumn.LATENCY: "Latency",
    RecallLogColumn.ERROR: "Error",
    RecallLogColumn.MESSAGE: "Message",
}

ATTEMPT_ROLE = Qt.ItemDataRole.UserRole + 1
"""Returns the row's ``RecallAttempt``, on every column."""


class RecallLogModel(QAbstractTableModel):
    """Newest attempt first; ``refresh()`` re-reads the (short, bounded) log from the reader."""

    def __init__(self, reader: InboxReader, *, limit: int = LOG_LIMIT, parent: QObject | None = None):
        super().__init__(parent)
        self._reader = reader
        self._limit = limit
        self._rows: list[RecallAttempt] = []
        self.refresh()

    def refresh(self) -> None:
        rows = self._reader.recall_log(self._limit)
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def attempt_at(self, row: int) -> RecallAttempt | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(RecallLogColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
        if horizontal and 0 <= section < len(RecallLogColumn):
            return HEADERS[RecallLogColumn(section)]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(RecallLogColumn):
            return None
        attempt = self._rows[index.row()]
        column = RecallLogColumn(index.column())
        if role == ATTEMPT_ROLE:
            return attempt
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(attempt, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (RecallLogColumn.ERROR, RecallLogColumn.MESSAGE):
            return attempt.error_message if column == RecallLogColumn.ERROR else attempt.message_urn
        if role == Qt.ItemDataRole.ForegroundRole and column == RecallLogColumn.RESULT:
            return RESULT_COLOR.get(attempt.outcome)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == RecallLogColumn.LATENCY:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(attempt: RecallAttempt, column: RecallLogColumn) -> str:
        if column == RecallLogColumn.TIME:
            return format_clock(attempt.started_at)
        if column == RecallLogColumn.RESULT:
            return STATE_WORDS.get(attempt.outcome, str(attempt.outcome))
        if column == RecallLogColumn.LATENCY:
            return "" if attempt.latency_ms is None else f"{attempt.latency_ms:,} ms"
        if column == RecallLogColumn.ERROR:
            parts = [p for p in (attempt.error_kind, one_line(attempt.error_message, 200)) if p]
            return ": ".join(parts)
        return attempt.message_id

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
