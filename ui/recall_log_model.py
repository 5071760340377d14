"""The "Recall log" table: every recall attempt — when, in which conversation, which message, the result in
words, how long it took and why it failed — and its export as a CSV file."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from sync.model import RecallAttempt, RecallState
from sync.recall_rules import STATE_WORDS

from .palette import LIGHT, Palette, qcolor
from .sources import InboxReader
from .text import format_clock, one_line

AnyIndex = QModelIndex | QPersistentModelIndex
LOG_LIMIT = 500
EXPORT_LIMIT = 100_000
"""Attempts written to a CSV export (the whole log, in practice)."""


def result_colors(palette: Palette) -> dict[RecallState, QColor]:
    """The Result column's colour per state in ``palette`` (the others: the table's text colour)."""
    return {
        RecallState.RECALLED: qcolor(palette.success),
        RecallState.REFUSED: qcolor(palette.danger),
        RecallState.FAILED: qcolor(palette.danger),
        RecallState.UNCONFIRMED: qcolor(palette.uncertain),
    }


class RecallLogColumn(enum.IntEnum):
    TIME = 0
    CONVERSATION = 1
    MESSAGE = 2
    RESULT = 3
    LATENCY = 4
    ERROR = 5


HEADERS = {
    RecallLogColumn.TIME: "Time",
    RecallLogColumn.CONVERSATION: "Conversation",
    RecallLogColumn.MESSAGE: "Message",
    RecallLogColumn.RESULT: "Result",
    RecallLogColumn.LATENCY: "Latency",
    RecallLogColumn.ERROR: "Error",
}

ATTEMPT_ROLE = Qt.ItemDataRole.UserRole + 1
"""Returns the row's ``RecallAttempt``, on every column."""

UNKNOWN_CONVERSATION = "(unknown conversation)"
"""An attempt logged before the log kept conversation names (or of a conversation never cached)."""
NO_PREVIEW = "(no text kept)"
"""An attempt logged before the log kept the first line of the message."""

_KIND_WORDS: Final[dict[str, str]] = {
    "unreachable": "No connection to the server",
    "timed_out": "The server did not answer in time",
    "server_error": "The server had a problem",
    "rate_limited": "Too many requests; try again shortly",
    "signed_out": "The API key was rejected",
    "no_api_access": "No API access on your ConnectSafely plan",
    "recall_window_expired": "The 60-minute recall window had closed",
    "recall_not_own": "Only messages you sent can be recalled",
    "message_not_found": "LinkedIn does not know this message",
}
"""Plain words for an error kind logged without a message of its own."""

CSV_HEADER: Final = ("time", "account", "conversation", "message", "result", "latency_ms", "error")
"""The export's columns: what the table shows, the latency as a number, and the account's name. No key,
no URN: nothing but what a person reads in the log."""

_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def error_words(attempt: RecallAttempt) -> str:
    """Why an attempt did not recall, in plain words ("" when nothing went wrong)."""
    if attempt.error_message:
        return one_line(attempt.error_message, 200)
    if attempt.error_kind:
        return _KIND_WORDS.get(attempt.error_kind, attempt.error_kind.replace("_", " ").capitalize())
    return ""


def _latency(attempt: RecallAttempt) -> int | None:
    """How long the server took, in ms; none for an attempt cancelled in its grace period (nothing was
    sent)."""
    return None if attempt.outcome is RecallState.CANCELLED else attempt.latency_ms


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: conversation names and messages are other people's words,
    and a cell starting with ``=``, ``+``, ``-`` or ``@`` would be run as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(attempts: Iterable[RecallAttempt], account_names: Mapping[str, str] | None = None) -> str:
    """The attempts as CSV (a header, then one line per attempt, newest first as given)."""
    names = account_names or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for attempt in attempts:
        writer.writerow(
            (
                format_clock(attempt.started_at),
                _cell(names.get(attempt.account_id, attempt.account_id)),
                _cell(one_line(attempt.conversation_title, 300)),
                _cell(one_line(attempt.message_preview, 300)),
                STATE_WORDS.get(attempt.outcome, str(attempt.outcome)),
                "" if _latency(attempt) is None else str(_latency(attempt)),
                _cell(error_words(attempt)),
            )
        )
    return out.getvalue()


class RecallLogModel(QAbstractTableModel):
    """Newest attempt first; ``refresh()`` re-reads the (short, bounded) log from the reader.

    The conversation's name and the first line of the message are the ones kept in the log when the
    attempt started: a recalled message is gone from the cache, and the log is the one place that still
    says what was recalled (spec §9; shown here only)."""

    def __init__(self, reader: InboxReader, *, limit: int = LOG_LIMIT, parent: QObject | None = None):
        super().__init__(parent)
        self._reader = reader
        self._limit = limit
        self._rows: list[RecallAttempt] = []
        self._colors = result_colors(LIGHT)
        self.refresh()

    def set_palette(self, palette: Palette) -> None:
        """Colour the Result column from ``palette``."""
        colors = result_colors(palette)
        if colors == self._colors:
            return
        self._colors = colors
        if self._rows:
            column = RecallLogColumn.RESULT
            self.dataChanged.emit(
                self.index(0, column),
                self.index(len(self._rows) - 1, column),
                [Qt.ItemDataRole.ForegroundRole],
            )

    def refresh(self) -> None:
        rows = self._reader.recall_log(self._limit)
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def attempt_at(self, row: int) -> RecallAttempt | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def export_csv(self, path: Path) -> int:
        """Write the whole log (not only the rows shown) to ``path`` as CSV; returns how many attempts.
        ``OSError`` when the file cannot be written."""
        attempts = self._reader.recall_log(EXPORT_LIMIT)
        account_names = {a.account_id: a.name or a.account_id for a in self._reader.accounts()}
        # newline="": the csv module writes its own line ends; utf-8-sig so spreadsheets read the emoji.
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            handle.write(csv_text(attempts, account_names))
        return len(attempts)

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
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(attempt, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == RecallLogColumn.RESULT:
            return self._colors.get(attempt.outcome)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == RecallLogColumn.LATENCY:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(attempt: RecallAttempt, column: RecallLogColumn) -> str:
        if column == RecallLogColumn.TIME:
            return format_clock(attempt.started_at)
        if column == RecallLogColumn.CONVERSATION:
            return one_line(attempt.conversation_title, 80) or UNKNOWN_CONVERSATION
        if column == RecallLogColumn.MESSAGE:
            return one_line(attempt.message_preview, 80) or NO_PREVIEW
        if column == RecallLogColumn.RESULT:
            return STATE_WORDS.get(attempt.outcome, str(attempt.outcome))
        if column == RecallLogColumn.LATENCY:
            latency = _latency(attempt)
            return "" if latency is None else f"{latency:,} ms"
        return error_words(attempt)

    @staticmethod
    def _tooltip(attempt: RecallAttempt, column: RecallLogColumn) -> str | None:
        # Plain strings: a tooltip that looks like markup is shown as rich text, so user text is never
        # given one (the message and the conversation's name are elided in the cell, not explained).
        if column == RecallLogColumn.TIME and attempt.finished_at is not None:
            return f"Finished {format_clock(attempt.finished_at)}"
        if column == RecallLogColumn.ERROR and attempt.error_kind:
            return f"Error kind: {attempt.error_kind}"
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
