"""The recall flow in the window: menu eligibility, confirmation, grace period, re-check, states, retry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox, QPushButton, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from sync.model import Message, RecallState
from sync.recall_rules import REASON_WINDOW_CLOSED
from ui.main_window import MainWindow
from ui.message_delegate import AnyIndex, MessageDelegate
from ui.message_model import SAME_SIZE_CHANGE, MessageRole
from ui.recall import REASON_IN_PROGRESS, RecallConfirmDialog

from .fakes import MINUTE, NOW_MS, FakeInboxReader, make_message, reader_with

MakeWindow = Callable[..., MainWindow]
UNCONFIRMED = RecallState.UNCONFIRMED


@pytest.fixture
def inbox() -> FakeInboxReader:
    reader = reader_with(conversations=3, messages=3)
    reader.put_message(make_message(10, own=True, sent_at=NOW_MS - 23 * MINUTE, text="sent just now"))
    reader.put_message(make_message(11, own=True, sent_at=NOW_MS - 60 * MINUTE, text="an hour ago"))
    return reader


@pytest.fixture
def make_window(qtbot: QtBot, inbox: FakeInboxReader) -> MakeWindow:
    def make(grace: int = 0) -> MainWindow:
        window = MainWindow(inbox, recall_grace_s=grace, style_sheet="")
        qtbot.addWidget(window)
        conversation = inbox.conversation("acc-1", "c1")
        assert conversation is not None
        window.open_conversation(conversation)
        return window

    return make


def message(inbox: FakeInboxReader, message_id: str) -> Message:
    found = inbox.message("acc-1", message_id)
    assert found is not None
    return found


def recall_action(menu: QMenu) -> QAction:
    [action] = [a for a in menu.actions() if a.objectName() == "recallAction"]
    return action


def test_recall_is_enabled_with_minutes_left_on_an_own_message_in_the_window(
    make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window()
    action = recall_action(window.message_menu(message(inbox, "m10")))
    assert action.isEnabled()
    assert action.text() == "Recall for everyone (37 min left)"


def test_recall_is_disabled_with_the_reason_on_someone_elses_message(
    make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window()
    action = recall_action(window.message_menu(message(inbox, "m1")))
    assert not action.isEnabled()
    # The words the user reads, written out: a check against the constant itself could never fail.
    assert action.text() == "Recall for everyone — Only messages you sent can be recalled"
    assert action.toolTip() == "Only messages you sent can be recalled"


def test_recall_is_disabled_once_the_window_has_closed(
    make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window()
    # Exactly 60 minutes: the window is `now − sentAt < 60 min`, so it is closed.
    action = recall_action(window.message_menu(message(inbox, "m11")))
    assert not action.isEnabled()
    assert action.text() == "Recall for everyone — The 60-minute recall window has closed"
    # One millisecond earlier the same message is still recallable: the boundary is exact.
    inbox.now_ms = NOW_MS - 1
    assert recall_action(window.message_menu(message(inbox, "m11"))).isEnabled()
    inbox.now_ms = NOW_MS + 37 * MINUTE
    assert not recall_action(window.message_menu(message(inbox, "m10"))).isEnabled()


def test_the_confirmation_says_everyone_irreversible_and_time_left(
    make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window()
    recall_action(window.message_menu(message(inbox, "m10"))).trigger()
    dialog = window.confirm_dialog
    assert isinstance(dialog, RecallConfirmDialog)
    assert dialog.isVisible()
    body = dialog.body_label.text()
    assert "every recipient" in body
    assert "cannot be undone" in body
    assert "37 min left" in body
    assert dialog.body_label.textFormat() == Qt.TextFormat.PlainText
    # Left open until the window closes: it says so and will not recall.
    inbox.now_ms = NOW_MS + 40 * MINUTE
    dialog._on_timer_timeout()
    assert REASON_WINDOW_CLOSED in dialog.body_label.text()
    assert not dialog.recall_button.isEnabled()


def test_confirming_with_no_grace_period_emits_recall_requested_once(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window(grace=0)
    emitted: list[Message] = []
    window.recall_requested.connect(emitted.append)
    recall_action(window.message_menu(message(inbox, "m10"))).trigger()
    assert window.confirm_dialog is not None
    with qtbot.waitSignal(window.recall_requested, timeout=1000) as blocker:
        window.confirm_dialog.accept()
    assert blocker.args[0] == message(inbox, "m10")
    qtbot.wait(50)
    assert len(emitted) == 1


def test_declining_the_confirmation_sends_nothing(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window(grace=0)
    window.request_recall(message(inbox, "m10"))
    assert window.confirm_dialog is not None
    with qtbot.assertNotEmitted(window.recall_requested, wait=100):
        window.confirm_dialog.reject()


def test_cancel_during_the_grace_period_sends_nothing(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window(grace=1)
    window.request_recall(message(inbox, "m10"))
    assert window.confirm_dialog is not None
    with qtbot.assertNotEmitted(window.recall_requested, wait=1_300):
        window.confirm_dialog.accept()
        assert window.grace_bar.isVisibleTo(window)
        assert window.grace_bar.label.text() == "Recalling “sent just now” in 1 s"
        # While it waits, the same message cannot be recalled twice.
        assert REASON_IN_PROGRESS in recall_action(window.message_menu(message(inbox, "m10"))).text()
        qtbot.mouseClick(window.grace_bar.cancel_button, Qt.MouseButton.LeftButton)
    assert not window.grace_bar.isVisibleTo(window)


def test_the_grace_period_ends_in_a_recall(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window(grace=1)
    window.request_recall(message(inbox, "m10"))
    assert window.confirm_dialog is not None
    with qtbot.assertNotEmitted(window.recall_requested, wait=0):
        window.confirm_dialog.accept()
    with qtbot.waitSignal(window.recall_requested, timeout=3_000) as blocker:
        pass
    assert blocker.args[0].message_id == "m10"


def test_eligibility_is_checked_again_when_the_grace_period_ends(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window(grace=1)
    window.request_recall(message(inbox, "m10"))
    assert window.confirm_dialog is not None
    window.confirm_dialog.accept()
    inbox.now_ms = NOW_MS + 40 * MINUTE
    with qtbot.assertNotEmitted(window.recall_requested, wait=1_300):
        pass
    assert window.banner.isVisibleTo(window)
    assert REASON_WINDOW_CLOSED in window.banner.label.text()


def close_question_during_grace(qtbot: QtBot, window: MainWindow, inbox: FakeInboxReader) -> QMessageBox:
    window.show()
    qtbot.waitExposed(window)
    window.request_recall(message(inbox, "m10"))
    assert window.confirm_dialog is not None
    window.confirm_dialog.accept()
    assert window.grace_bar.is_active()
    with qtbot.assertNotEmitted(window.window_closed, wait=0):
        window.close()
    box = window.close_question
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert {b.text() for b in box.buttons()} == {"Recall now", "Cancel the recall", "Don't close"}
    return box


def answer(box: QMessageBox, name: str) -> None:
    button = box.findChild(QPushButton, name)
    assert button is not None, name
    button.click()


def test_closing_during_the_grace_period_asks_and_recall_now_sends_it_and_closes(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window(grace=5)
    box = close_question_during_grace(qtbot, window, inbox)
    with (
        qtbot.waitSignal(window.recall_requested, timeout=1_000) as sent,
        qtbot.waitSignal(window.window_closed, timeout=1_000),
    ):
        answer(box, "recallNowButton")
    assert sent.args[0].message_id == "m10"
    assert not window.isVisible()


def test_closing_during_the_grace_period_cancel_the_recall_sends_nothing_and_closes(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window(grace=1)
    box = close_question_during_grace(qtbot, window, inbox)
    sent: list[Message] = []
    window.recall_requested.connect(sent.append)
    with (
        qtbot.waitSignal(window.recall_cancelled, timeout=1_000) as cancelled,
        qtbot.waitSignal(window.window_closed, timeout=1_000),
    ):
        answer(box, "cancelRecallButton")
    assert cancelled.args[0].message_id == "m10"
    qtbot.wait(1_500)  # past the 1 s grace period: nothing goes out later either
    assert sent == []


def test_closing_during_the_grace_period_dont_close_keeps_the_window_and_the_grace_period(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window(grace=2)
    box = close_question_during_grace(qtbot, window, inbox)
    with (
        qtbot.assertNotEmitted(window.window_closed, wait=0),
        qtbot.assertNotEmitted(window.recall_requested, wait=0),
    ):
        answer(box, "dontCloseButton")
    assert window.isVisible() and window.close_question is None
    assert window.grace_bar.is_active() and window.grace_bar.isVisible()
    # The grace period goes on and ends in the recall, as if nobody had tried to close.
    with qtbot.waitSignal(window.recall_requested, timeout=4_000) as sent:
        pass
    assert sent.args[0].message_id == "m10"
    assert window.isVisible()


def test_a_grace_period_that_ends_while_the_question_is_open_waits_for_the_answer(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    """Cancel must still cancel when the user took longer to answer than the grace period lasts."""
    window = make_window(grace=1)
    box = close_question_during_grace(qtbot, window, inbox)
    with qtbot.assertNotEmitted(window.recall_requested, wait=1_500):
        pass  # the grace period runs out while the question is open
    assert not window.grace_bar.is_active()
    with (
        qtbot.waitSignal(window.recall_cancelled, timeout=1_000),
        qtbot.assertNotEmitted(window.recall_requested, wait=300),
    ):
        answer(box, "cancelRecallButton")
    assert not window.isVisible()


def test_the_keyboard_shortcut_opens_the_confirmation_for_the_selected_message(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    window = make_window()
    with qtbot.waitExposed(window):
        window.show()
    with qtbot.waitActive(window):
        window.activateWindow()
    view = window.message_view
    row = window.message_model.row_of("acc-1", "m10")
    assert row is not None
    view.setCurrentIndex(window.message_model.index(row, 0))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert isinstance(window.confirm_dialog, RecallConfirmDialog)
    assert window.confirm_dialog.message.message_id == "m10"
    window.confirm_dialog.reject()
    assert window.confirm_dialog is None
    qtbot.keyClick(
        view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert isinstance(window.confirm_dialog, RecallConfirmDialog)
    assert window.confirm_dialog.message.message_id == "m10"


def test_pending_and_failed_states_reach_the_row_and_retry_emits(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window()
    model = window.message_model
    row = model.row_of("acc-1", "m10")
    assert row is not None
    window.mark_recall_pending("acc-1", "m10")
    assert model.index(row, 0).data(MessageRole.RECALL_STATUS_TEXT) == "Recalling…"
    assert not recall_action(window.message_menu(message(inbox, "m10"))).isEnabled()

    window.mark_recall_failed("acc-1", "m10", "LinkedIn refused the recall", True)
    display = model.index(row, 0).data()
    assert "Not recalled: LinkedIn refused the recall" in display
    assert display.endswith("Retry")
    menu = window.message_menu(message(inbox, "m10"))
    [retry] = [a for a in menu.actions() if a.objectName() == "retryRecallAction"]
    with qtbot.waitSignal(window.retry_recall_requested) as blocker:
        retry.trigger()
    assert blocker.args[0].message_id == "m10"

    window.clear_recall_state("acc-1", "m10")
    assert model.index(row, 0).data(MessageRole.RECALL_STATUS) == "none"


def test_an_unconfirmed_recall_says_checking_with_retry_and_the_detail_in_the_status_bar(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window()
    model = window.message_model
    row = model.row_of("acc-1", "m10")
    assert row is not None
    window.mark_recall_failed(
        "acc-1",
        "m10",
        "Recall not confirmed: LinkedIn still shows the message.",
        True,
        RecallState.UNCONFIRMED,
    )
    assert model.index(row, 0).data(MessageRole.RECALL_STATUS_TEXT) == "Recall not confirmed — checking…"
    assert model.index(row, 0).data().endswith("Recall not confirmed — checking… — Retry")
    assert window.statusBar().currentMessage() == "Recall not confirmed: LinkedIn still shows the message."
    menu = window.message_menu(message(inbox, "m10"))
    [retry] = [a for a in menu.actions() if a.objectName() == "retryRecallAction"]
    with qtbot.waitSignal(window.retry_recall_requested) as blocker:
        retry.trigger()
    assert blocker.args[0].message_id == "m10"


def test_retry_after_the_window_closed_explains_instead_of_sending(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window()
    window.mark_recall_failed("acc-1", "m10", "offline", True)
    inbox.now_ms = NOW_MS + 40 * MINUTE
    with qtbot.assertNotEmitted(window.retry_recall_requested):
        window.retry_recall(message(inbox, "m10"))
    state = window.message_model.recall_state("acc-1", "m10")
    assert state is not None and not state.can_retry
    assert state.reason == REASON_WINDOW_CLOSED


def test_a_successful_recall_removes_the_row_when_the_change_set_arrives(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window()
    window.mark_recall_pending("acc-1", "m10")
    changes = inbox.hide(message(inbox, "m10"))
    with qtbot.waitSignal(window.message_model.rowsRemoved, timeout=1_000):
        window.apply_changes(changes)
    assert window.message_model.row_of("acc-1", "m10") is None


class _CountingDelegate(MessageDelegate):
    """Counts the rows the view measures: a layout pass measures every row of the thread."""

    measured = 0

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        self.measured += 1
        return super().sizeHint(option, index)


def test_a_recall_in_flight_repaints_its_row_without_laying_the_thread_out_again(
    qtbot: QtBot, make_window: MakeWindow, inbox: FakeInboxReader
) -> None:
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    view, model = window.message_view, window.message_model
    counting = _CountingDelegate(view)
    view.bubble_delegate = counting
    view.setItemDelegate(counting)
    qtbot.wait(50)
    assert model.rowCount() >= 5 and model.row_of("acc-1", "m10") is not None
    changes: list[list[int]] = []
    model.dataChanged.connect(lambda _a, _b, roles: changes.append(list(roles)))

    counting.measured = 0
    window.mark_recall_pending("acc-1", "m10")
    qtbot.wait(50)
    assert changes == [SAME_SIZE_CHANGE]
    assert counting.measured <= 2  # the row's own rectangle at most, not every row again

    window.mark_recall_failed("acc-1", "m10", "offline", True)
    qtbot.wait(50)
    assert changes[-1] == []  # the failure line makes the row taller: the thread is laid out again
    assert counting.measured >= model.rowCount()
    window.clear_recall_state("acc-1", "m10")
    assert changes[-1] == []
