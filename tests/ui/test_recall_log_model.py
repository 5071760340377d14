"""RecallLogModel: time, result, latency and error per attempt, newest first."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester

from sync.model import RecallAttempt, RecallState
from ui.recall_log_model import ATTEMPT_ROLE, RecallLogColumn, RecallLogModel

from .fakes import NOW_MS, FakeInboxReader


def attempt(n: int, outcome: RecallState, **kw: object) -> RecallAttempt:
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
    reader.add_recall_attempt(attempt(1, RecallState.RECALLED, latency_ms=1234))
    reader.add_recall_attempt(
        attempt(
            2,
            RecallState.REFUSED,
            latency_ms=80,
            error_kind="recall_window_expired",
            error_message="too late",
        )
    )
    model = RecallLogModel(reader)
    qtmodeltester.check(model)
    assert model.rowCount() == 2
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Time"
    newest = [model.index(0, c).data() for c in range(model.columnCount())]
    assert newest[RecallLogColumn.RESULT] == "Refused"
    assert newest[RecallLogColumn.LATENCY] == "80 ms"
    assert newest[RecallLogColumn.ERROR] == "too late"  # plain words; the kind is in the tooltip
    assert model.index(1, RecallLogColumn.RESULT).data() == "Recalled"
    assert model.index(1, RecallLogColumn.LATENCY).data() == "1,234 ms"
    assert model.index(1, 0).data(ATTEMPT_ROLE).attempt_id == 1

    reader.add_recall_attempt(attempt(3, RecallState.PENDING))
    model.refresh()
    qtmodeltester.check(model)
    assert model.index(0, RecallLogColumn.RESULT).data() == "Recalling…"
    assert model.index(0, RecallLogColumn.LATENCY).data() == ""


def test_every_state_has_its_own_words_in_the_result_column() -> None:
    """The words a user reads for each state of the one vocabulary (spec §9): an unconfirmed recall is
    never shown as recalled or failed."""
    reader = FakeInboxReader()
    expected = {
        RecallState.PENDING: "Recalling…",
        RecallState.RECALLED: "Recalled",
        RecallState.REFUSED: "Refused",
        RecallState.UNCONFIRMED: "Not confirmed",
        RecallState.FAILED: "Not recalled",
        RecallState.CANCELLED: "Cancelled",
    }
    for n, state in enumerate(expected):
        reader.add_recall_attempt(attempt(n, state))
    model = RecallLogModel(reader)
    shown = {
        model.index(r, 0).data(ATTEMPT_ROLE).outcome: model.index(r, RecallLogColumn.RESULT).data()
        for r in range(model.rowCount())
    }
    assert shown == expected
