"""The recall log a person can read: conversation, message, result and error in words; CSV export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sync.model import Account, RecallAttempt, RecallState
from ui.main_window import MainWindow
from ui.recall_log_model import (
    CSV_HEADER,
    NO_PREVIEW,
    UNKNOWN_CONVERSATION,
    RecallLogColumn,
    RecallLogModel,
    csv_text,
)
from ui.recall_log_panel import RecallLogPanel

from .fakes import NOW_MS, FakeInboxReader


def attempt(n: int, outcome: RecallState, **kw: object) -> RecallAttempt:
    return RecallAttempt(
        attempt_id=n,
        account_id="acc-1",
        conversation_urn="urn:li:msg_conversation:(urn:li:fsd_profile:acc-1,2-Yw==)",
        message_urn=f"urn:li:msg_message:(urn:li:fsd_profile:acc-1,2-bTE{n}=)",
        message_id=f"2-bTE{n}=",
        started_at=NOW_MS + n * 1000,
        outcome=outcome,
        **kw,  # type: ignore[arg-type]
    )


def log_reader() -> FakeInboxReader:
    reader = FakeInboxReader()
    reader.add_account(Account("acc-1", "Ada Lovelace"))
    reader.add_recall_attempt(
        attempt(
            1,
            RecallState.RECALLED,
            latency_ms=312,
            conversation_title="Grace Hopper",
            message_preview="Thursday at 10 works for me.",
        )
    )
    reader.add_recall_attempt(
        attempt(
            2,
            RecallState.REFUSED,
            latency_ms=80,
            error_kind="recall_window_expired",
            error_message="The 60-minute recall window has closed",
            conversation_title='=HYPERLINK("http://evil")',
            message_preview="-1+2 <b>not bold</b>",
        )
    )
    reader.add_recall_attempt(
        attempt(
            3,
            RecallState.CANCELLED,
            latency_ms=0,  # as the log stores a cancelled attempt: nothing was sent, nothing to time
            conversation_title="Alan Turing",
            message_preview="Oops, wrong",
        )
    )
    reader.add_recall_attempt(attempt(4, RecallState.FAILED, error_kind="unreachable"))
    return reader


def row_texts(model: RecallLogModel, row: int) -> dict[RecallLogColumn, str]:
    return {column: model.index(row, column).data() for column in RecallLogColumn}


def test_each_row_says_when_where_what_and_how_it_went(qtmodeltester: ModelTester) -> None:
    model = RecallLogModel(log_reader())
    qtmodeltester.check(model)
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers == ["Time", "Conversation", "Message", "Result", "Latency", "Error"]
    failed, cancelled, refused, recalled = (row_texts(model, r) for r in range(4))
    assert recalled[RecallLogColumn.CONVERSATION] == "Grace Hopper"
    assert recalled[RecallLogColumn.MESSAGE] == "Thursday at 10 works for me."
    assert recalled[RecallLogColumn.RESULT] == "Recalled"
    assert recalled[RecallLogColumn.LATENCY] == "312 ms"
    assert recalled[RecallLogColumn.ERROR] == ""
    # Cancelled attempts are listed, with what they would have recalled.
    assert cancelled[RecallLogColumn.RESULT] == "Cancelled"
    assert cancelled[RecallLogColumn.MESSAGE] == "Oops, wrong"
    assert cancelled[RecallLogColumn.LATENCY] == ""
    # The error in the server's words, never a code; the code is in the tooltip for the curious.
    assert refused[RecallLogColumn.ERROR] == "The 60-minute recall window has closed"
    tip = model.index(2, RecallLogColumn.ERROR).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == "Error kind: recall_window_expired"
    # No message of its own: the kind in words.
    assert failed[RecallLogColumn.ERROR] == "No connection to the server"
    # An attempt logged before the log kept names and text says so, rather than a bare id.
    assert failed[RecallLogColumn.CONVERSATION] == UNKNOWN_CONVERSATION
    assert failed[RecallLogColumn.MESSAGE] == NO_PREVIEW
    assert not any("2-bTE" in text for row in range(4) for text in row_texts(model, row).values())


def test_message_text_is_shown_as_typed_and_kept_to_one_line() -> None:
    reader = FakeInboxReader()
    reader.add_recall_attempt(
        attempt(1, RecallState.RECALLED, message_preview="line one\nline two", conversation_title="A\nB")
    )
    model = RecallLogModel(reader)
    assert model.index(0, RecallLogColumn.MESSAGE).data() == "line one line two"
    assert model.index(0, RecallLogColumn.CONVERSATION).data() == "A B"
    # Never a tooltip of user text (Qt would guess rich text from markup).
    for column in (RecallLogColumn.MESSAGE, RecallLogColumn.CONVERSATION):
        assert model.index(0, column).data(Qt.ItemDataRole.ToolTipRole) is None


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_csv_has_a_header_every_attempt_and_no_formula() -> None:
    reader = log_reader()
    rows = parse(csv_text(reader.recall_log(100), {"acc-1": "Ada Lovelace"}))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == 5
    by_result = {row[4]: row for row in rows[1:]}
    assert set(by_result) == {"Recalled", "Refused", "Cancelled", "Not recalled"}
    recalled = by_result["Recalled"]
    assert recalled[1:4] == ["Ada Lovelace", "Grace Hopper", "Thursday at 10 works for me."]
    assert recalled[5] == "312"
    refused = by_result["Refused"]
    # Other people's words that a spreadsheet would run as a formula are kept as text.
    assert refused[2] == '\'=HYPERLINK("http://evil")'
    assert refused[3] == "'-1+2 <b>not bold</b>"
    assert refused[6] == "The 60-minute recall window has closed"
    assert by_result["Cancelled"][5] == ""
    text = csv_text(reader.recall_log(100))
    assert "urn:li:" not in text and "2-bTE" not in text


def test_export_through_the_file_dialog_writes_the_whole_log(qtbot: QtBot, tmp_path: Path) -> None:
    reader = log_reader()
    window = MainWindow(reader, style_sheet="")
    qtbot.addWidget(window)
    window.recall_log_dock.show()
    panel = window.docks.recall_log_panel
    assert isinstance(panel, RecallLogPanel)
    assert panel.export_button.isEnabled()
    assert panel.summary_label.text() == "4 recall attempts"
    target = tmp_path / "log.csv"
    panel.export_button.click()
    dialog = panel.dialog
    assert isinstance(dialog, QFileDialog)
    assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    with qtbot.waitSignal(panel.exported) as said:
        dialog.fileSelected.emit(str(target))
    assert said.args[0] == f"Saved 4 recall attempts to {target}"
    dialog.reject()
    assert panel.dialog is None or not panel.dialog.isVisible()
    rows = parse(target.read_text(encoding="utf-8-sig"))
    assert tuple(rows[0]) == CSV_HEADER and len(rows) == 5
    assert window.statusBar().currentMessage() == said.args[0]


def test_an_export_that_cannot_be_written_says_why(qtbot: QtBot, tmp_path: Path) -> None:
    panel = RecallLogPanel(RecallLogModel(log_reader()))
    with qtbot.waitSignal(panel.exported) as said:
        assert not panel.export_to(str(tmp_path / "no such folder" / "log.csv"))
    assert said.args[0].startswith("The recall log was not saved: ")


def test_an_empty_log_has_nothing_to_export(qtbot: QtBot) -> None:
    panel = RecallLogPanel(RecallLogModel(FakeInboxReader()))
    assert not panel.export_button.isEnabled()
    assert panel.summary_label.text() == "No recall attempts yet"
