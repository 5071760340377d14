"""RecallLogModel: time, result, latency and error per attempt, newest first."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester

from sync.model import RecallAttempt, RecallOutcome
from ui.recall_log_model import ATTEMPT_ROLE, RecallLogColumn, RecallLogModel

from .fakes import NOW_MS, FakeInboxReader


def attempt(n: int, outcome: RecallOutcome, **kw: object) -> RecallAttempt:
    return RecallAttempt(
        attempt_id=n,
        account_id="acc-1",
        conversation_urn="urn:c",
        message_urn=f"urn:m{n}",
        message_id=f"m{n}",
        started_at=NOW_MS + n,
        outcome=outcome,
        **kw,  # type: ignore[arg-type]
    )


def test_shows_each_attempt_and_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    reader = FakeInboxReader()
    reader.add_recall_attempt(attempt(1, RecallOutcome.SUCCEEDED, latency_ms=1234))
    reader.add_recall_attempt(
        attempt(
            2,
            RecallOutcome.FAILED,
            latency_ms=80,
            error_kind="RECALL_WINDOW_EXPIRED",
            error_message="too late",
        )
    )
    model = RecallLogModel(reader)
    qtmodeltester.check(model)
    assert model.rowCount() == 2
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Time"
    newest = [model.index(0, c).data() for c in range(model.columnCount())]
    assert newest[RecallLogColumn.RESULT] == "Failed"
    assert newest[RecallLogColumn.LATENCY] == "80 ms"
    assert newest[RecallLogColumn.ERROR] == "RECALL_WINDOW_EXPIRED: too late"
    assert model.index(1, RecallLogColumn.LATENCY).data() == "1,234 ms"
    assert model.index(1, 0).data(ATTEMPT_ROLE).attempt_id == 1

    reader.add_recall_attempt(attempt(3, RecallOutcome.PENDING))
    model.refresh()
    qtmodeltester.check(model)
    assert model.index(0, RecallLogColumn.RESULT).data() == "In progress"
    assert model.index(0, RecallLogColumn.LATENCY).data() == ""
