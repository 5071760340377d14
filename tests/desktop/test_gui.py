"""The whole GUI, offscreen, against the real sandbox: recall end to end, failures, windows, processes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAction

from sync.model import Message, RecallState
from sync.recall_rules import UNCONFIRMED_CHECKING
from tests.desktop.gui_harness import Gui
from tests.fixtures.exposed import exposed
from tests.fixtures.sandbox import SandboxHandle
from ui.main_window import MainWindow
from ui.message_model import MessageRole

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]


def row_of(window: MainWindow, message: Message) -> int | None:
    return window.message_model.row_of(message.account_id, message.message_id)


def recall_action(window: MainWindow, message: Message) -> QAction:
    [action] = [a for a in window.message_menu(message).actions() if a.objectName() == "recallAction"]
    return action


def confirm_recall(gui: Gui, window: MainWindow, message: Message) -> None:
    action = recall_action(window, message)
    assert action.isEnabled(), action.text()
    action.trigger()
    dialog = window.confirm_dialog
    assert dialog is not None
    assert "cannot be undone" in dialog_text(dialog)
    dialog.accept()


def dialog_text(dialog: Any) -> str:
    from PySide6.QtWidgets import QLabel

    return " ".join(label.text() for label in dialog.findChildren(QLabel))


def test_recall_through_the_context_menu_updates_both_windows_and_the_preview(gui: Gui) -> None:
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    message = gui.own_recallable()
    conversation = gui.conversation_of(message)
    first.open_conversation(conversation)
    second.open_conversation(conversation)
    assert row_of(first, message) is not None and row_of(second, message) is not None
    assert "min left" in recall_action(first, message).text()

    confirm_recall(gui, first, message)
    gui.drive_until(lambda: row_of(first, message) is None and row_of(second, message) is None)

    assert gui.service.cache.reader.message(message.account_id, message.message_id) is None
    latest = gui.service.reader.conversation(message.account_id, message.conversation_id)
    assert latest is not None and (latest.latest is None or latest.latest.message_urn != message.message_urn)
    row = second.conversation_model.row_of(message.account_id, message.conversation_id)
    assert row is not None
    shown = second.conversation_model.conversation_at(row)
    assert shown is not None and shown.latest == latest.latest  # the preview in the other window moved on
    # The windows update on the tombstone's change set; the attempt is logged as finished right after.
    gui.drive_until(lambda: gui.service.reader.recall_log(1)[0].outcome is not RecallState.PENDING)
    log = gui.service.reader.recall_log(5)
    assert log[0].message_id == message.message_id and log[0].outcome is RecallState.RECALLED


FAILURES = {
    # A 5xx, a 429 or a dropped answer proves nothing: the re-read still lists the message, so the recall
    # is unconfirmed (spec §9), never "failed". A 404 is the server's refusal, with its reason.
    "500": ({"status": 500}, RecallState.UNCONFIRMED, UNCONFIRMED_CHECKING),
    "429": ({"status": 429, "code": "RATE_LIMITED"}, RecallState.UNCONFIRMED, UNCONFIRMED_CHECKING),
    "404": (
        {"status": 404, "code": "CONVERSATION_NOT_FOUND"},
        RecallState.REFUSED,
        "Not recalled: This conversation no longer exists on LinkedIn.",
    ),
    "dropped": ({"drop": True}, RecallState.UNCONFIRMED, UNCONFIRMED_CHECKING),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_a_failed_recall_leaves_the_bubble_and_shows_its_reason(name: str, gui: Gui) -> None:
    fault, expected_state, expected_text = FAILURES[name]
    window = gui.manager.open_window()
    message = gui.own_recallable()
    window.open_conversation(gui.conversation_of(message))
    gui.sandbox.control("POST", "faults", {"method": "DELETE", "path": "/messages/", "count": 20, **fault})
    confirm_recall(gui, window, message)

    def ended() -> bool:
        state = window.message_model.recall_state(message.account_id, message.message_id)
        return state is not None and state.has_line

    gui.drive_until(ended, timeout=30)
    row = row_of(window, message)
    assert row is not None  # the bubble stays
    state = window.message_model.recall_state(message.account_id, message.message_id)
    assert state is not None and state.state is expected_state
    shown = window.message_model.index(row, 0).data(MessageRole.RECALL_STATUS_TEXT)
    assert shown == expected_text
    assert state.can_retry is (expected_state is RecallState.UNCONFIRMED)
    assert gui.service.cache.reader.message(message.account_id, message.message_id) is not None
    [attempt] = gui.service.reader.recall_log(5)
    assert attempt.message_id == message.message_id and attempt.outcome is expected_state


def delete_count(gui: Gui) -> int:
    routes = gui.sandbox.control("GET", "requests")["routes"]
    return sum(count for route, count in routes.items() if route.startswith("DELETE"))


def test_the_grace_period_cancel_sends_nothing(gui: Gui) -> None:
    gui.manager.recall_grace_s = 2
    window = gui.manager.open_window()
    message = gui.own_recallable()
    window.open_conversation(gui.conversation_of(message))
    before = delete_count(gui)
    confirm_recall(gui, window, message)
    assert window.grace_bar.isVisible()
    window.grace_bar.cancel()
    gui.run(asyncio.sleep(3.0))  # past the 2 s grace period: a Cancel that did not stop the timer shows
    assert delete_count(gui) == before
    assert row_of(window, message) is not None
    gui.drive_until(lambda: bool(gui.service.reader.recall_log(1)))
    [attempt] = gui.service.reader.recall_log(5)
    assert attempt.message_id == message.message_id and attempt.outcome is RecallState.CANCELLED


@pytest.mark.parametrize("role", ["leader", "follower"])
def test_a_recall_made_by_another_process_disappears_from_the_open_thread(role: str, gui: Gui) -> None:
    """As the lock holder the GUI learns it from the event stream or the shared cache; as a follower
    (another process holds the data dir's lock) from ``PRAGMA data_version`` on the shared cache."""
    from sync.lock import DataDirLock

    other = DataDirLock(gui.data)
    if role == "follower":
        assert other.try_acquire()
    gui.service.start()
    assert gui.service.is_leader is (role == "leader")
    window = gui.manager.open_window()
    message = gui.own_recallable()
    window.open_conversation(gui.conversation_of(message))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTSAFELY_")}
    env.update({"CONNECTSAFELY_API_KEY": gui.sandbox.key, "CONNECTSAFELY_BASE_URL": gui.sandbox.base_url})
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "desktop.cli",
            "recall",
            message.conversation_urn,
            message.message_urn,
            "--data-dir",
            str(gui.data),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        gui.drive_until(lambda: process.poll() is not None, timeout=30)
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""
        gui.drive_until(lambda: row_of(window, message) is None)
    finally:
        other.release()
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_message_markup_is_shown_literally(gui: Gui) -> None:
    window = gui.manager.open_window()
    account = gui.service.reader.accounts()[0]
    conversation = gui.service.cache.reader.conversations(account.account_id, limit=1)[0]
    markup = "<b>bold</b> <script>alert(1)</script> &amp;"
    gui.sandbox.control(
        "POST",
        "inject",
        {"accountId": account.account_id, "conversationUrn": conversation.conversation_urn, "text": markup},
    )
    window.open_conversation(conversation)
    gui.run(gui.service.engine.sync_new_messages(conversation))
    gui.drive_until(
        lambda: any(
            window.message_model.message_at(r) is not None
            and window.message_model.message_at(r).text == markup  # type: ignore[union-attr]
            for r in range(window.message_model.rowCount())
        )
    )
    row = next(
        r for r in range(window.message_model.rowCount()) if window.message_model.message_at(r).text == markup
    )  # type: ignore[union-attr]
    assert window.message_model.index(row, 0).data() == markup


def test_closing_the_last_window_leaves_no_task_and_no_child(gui: Gui) -> None:
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    gui.service.start()
    gui.drive_until(lambda: gui.service.watcher is not None)
    gui.drive_until(lambda: gui.service.sync_worker.running)  # the stream's first catch-up started it
    worker_pid = gui.service.sync_worker.pid
    first.close()
    assert not gui.manager._closed.is_set()
    second.close()
    gui.drive_until(gui.manager._closed.is_set)
    gui.run(gui.service.close())
    assert gui.service.tasks.running == 0
    assert not gui.service.lock.held
    assert not gui.service.sync_worker.running
    assert not Path(f"/proc/{worker_pid}").exists()


def test_the_leaders_sync_runs_in_a_background_process_and_reaches_every_window_as_diffs(
    gui_factory: Callable[[SandboxHandle], Gui], sandbox_factory: Callable[..., SandboxHandle]
) -> None:
    from tests.fixtures.processes import in_background

    gui = gui_factory(sandbox_factory("--no-events"))  # only a sync can bring the new message
    gui.service.start()
    assert gui.service.is_leader
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    account = gui.service.reader.accounts()[0]
    conversation = gui.service.cache.reader.conversations(account.account_id, limit=1)[0]
    first.open_conversation(conversation)
    before = {
        row: first.conversation_model.conversation_at(row)
        for row in range(first.conversation_model.rowCount())
    }
    foreign: list[bool] = []
    resets: list[bool] = []
    gui.service.foreign_commit.connect(lambda: foreign.append(True))
    second.conversation_model.modelReset.connect(lambda: resets.append(True))
    gui.sandbox.control(
        "POST",
        "inject",
        {
            "accountId": account.account_id,
            "conversationUrn": conversation.conversation_urn,
            "text": "from afar",
        },
    )
    gui.run(gui.service.sync_now())

    worker = gui.service.sync_worker
    assert worker.pid is not None and worker.pid != os.getpid() and in_background(worker.pid)
    gui.drive_until(
        lambda: any(
            (m := first.message_model.message_at(r)) is not None and m.text == "from afar"
            for r in range(first.message_model.rowCount())
        )
    )
    top = second.conversation_model.conversation_at(0)
    assert top is not None and top.conversation_id == conversation.conversation_id
    assert top.latest is not None and top.latest.text == "from afar"
    gui.run(asyncio.sleep(0.5))  # several data_version polls: the worker's commits are not another process's
    assert foreign == [] and resets == []
    current = first.conversation_view.currentIndex()
    assert current.isValid()
    assert (
        first.conversation_model.conversation_at(current.row()).conversation_id
        == conversation.conversation_id
    )  # type: ignore[union-attr]
    assert len(before) == first.conversation_model.rowCount()


def test_older_history_loads_from_the_server_as_you_scroll_up(
    gui_factory: Callable[[SandboxHandle], Gui], sandbox_factory: Callable[..., SandboxHandle]
) -> None:
    from tests.sync.core.helpers import server_ids

    big = sandbox_factory("--conversations", "4", "--messages-per-conversation", "130")
    gui = gui_factory(big)
    window = gui.manager.open_window()
    account = gui.service.reader.accounts()[0]
    conversation = gui.service.cache.reader.conversations(account.account_id, limit=1)[0]
    window.open_conversation(conversation)
    gui.drive_until(lambda: window.message_model.rowCount() > 0)
    expected = server_ids(big, account.account_id, conversation.conversation_urn)
    assert window.message_model.rowCount() < len(expected)

    def scrolled_to_all() -> bool:
        bar = window.message_view.verticalScrollBar()
        bar.setValue(bar.maximum())
        bar.setValue(bar.minimum())  # the top edge: the view asks for older history
        return window.message_model.rowCount() >= len(expected)

    gui.drive_until(scrolled_to_all, timeout=30)
    model = window.message_model
    shown = {m.message_id for r in range(model.rowCount()) if (m := model.message_at(r)) is not None}
    assert shown == expected


def test_an_inbound_message_is_notified_and_its_recall_removes_the_notification(gui: Gui) -> None:
    gui.service.start()
    window = gui.manager.open_window()
    gui.drive_until(lambda: gui.service.stream_state.value == "live")
    account = gui.service.reader.accounts()[0]
    conversations = gui.service.cache.reader.conversations(account.account_id, limit=2)
    window.open_conversation(conversations[0])
    quiet = conversations[1]
    injected = gui.sandbox.control(
        "POST",
        "inject",
        {
            "accountId": account.account_id,
            "conversationUrn": quiet.conversation_urn,
            "text": "are you there?",
        },
    )
    gui.drive_until(lambda: window.notifications.count() == 1)
    [message_id] = window.notifications.message_ids()
    assert "are you there?" in " ".join(window.notifications.item_texts())
    assert message_id in str(injected)
    gui.sandbox.control("POST", "recall", {"messageId": message_id, "emitEvent": True})
    gui.drive_until(lambda: window.notifications.count() == 0)


def test_our_own_writes_never_look_like_another_processes_and_keep_the_selection(gui: Gui) -> None:
    """Only another process's commits re-read the lists; our own arrive as change sets. A re-read on
    our own commits would reset the views (the open conversation would lose its selection)."""
    gui.service.start()
    window = gui.manager.open_window()
    account = gui.service.reader.accounts()[0]
    conversation = gui.service.cache.reader.conversations(account.account_id, limit=1)[0]
    window.open_conversation(conversation)
    foreign: list[bool] = []
    gui.service.foreign_commit.connect(lambda: foreign.append(True))
    gui.sandbox.control(
        "POST",
        "inject",
        {"accountId": account.account_id, "conversationUrn": conversation.conversation_urn, "text": "hi"},
    )
    gui.run(gui.service.engine.sync_once())
    gui.drive_until(
        lambda: any(
            (m := window.message_model.message_at(r)) is not None and m.text == "hi"
            for r in range(window.message_model.rowCount())
        )
    )
    gui.run(asyncio.sleep(0.5))  # several data_version polls
    assert foreign == []
    current = window.conversation_view.currentIndex()
    assert current.isValid()
    assert (
        window.conversation_model.conversation_at(current.row()).conversation_id
        == conversation.conversation_id
    )  # type: ignore[union-attr]

    # Another process's write is noticed.
    from sync.cache import Cache

    other = Cache.open_file(gui.service.cache.path)
    try:
        other.writer.update_conversation(
            account.account_id, conversation.conversation_id, starred=True
        ).result()
    finally:
        other.close()
    gui.drive_until(lambda: bool(foreign))


def test_window_geometry_and_the_last_open_conversation_are_remembered(gui: Gui) -> None:
    from desktop.windows import WindowManager

    window = gui.manager.open_window()
    window.resize(730, 520)  # inside the offscreen screen (800×600), which restoreGeometry clamps to
    window.move(33, 44)
    account = gui.service.reader.accounts()[1]
    conversation = gui.service.cache.reader.conversations(account.account_id, limit=3)[2]
    window.open_conversation(conversation)
    window.close()
    again = WindowManager(gui.service, gui.manager.settings, sandbox=True, recall_grace_s=0)
    restored = again.open_window()
    try:
        assert (restored.width(), restored.height()) == (730, 520)
        current = restored.current_conversation()
        assert current is not None
        assert (current.account_id, current.conversation_id) == (
            account.account_id,
            conversation.conversation_id,
        )
    finally:
        restored.close()


def test_quitting_with_two_windows_open_reopens_two(gui: Gui) -> None:
    from desktop.windows import WindowManager

    gui.manager.open_window()
    gui.manager.open_window()
    gui.manager.close_all()  # what SIGTERM or a logout does
    again = WindowManager(gui.service, gui.manager.settings, sandbox=True, recall_grace_s=0)
    again.open_saved_windows()
    try:
        assert len(again.windows) == 2
    finally:
        again.close_all()
    third = WindowManager(gui.service, gui.manager.settings, sandbox=True, recall_grace_s=0)
    third.open_saved_windows()  # the two were then closed all at once too
    assert len(third.windows) == 2
    for window in list(third.windows)[1:]:
        window.close()  # one by one: the last one standing is what the next start opens
    third.windows[0].close()
    fourth = WindowManager(gui.service, gui.manager.settings, sandbox=True, recall_grace_s=0)
    fourth.open_saved_windows()
    try:
        assert len(fourth.windows) == 1
    finally:
        fourth.close_all()


# --- a recall whose answer was lost: unconfirmed until evidence settles it (spec §9) -------------------


def recall_row_state(window: MainWindow, message: Message) -> RecallState | None:
    state = window.message_model.recall_state(message.account_id, message.message_id)
    return None if state is None else state.state


def test_an_unconfirmed_recall_says_checking_with_retry_in_every_window_until_evidence_settles_it(
    gui: Gui, qtbot: Any
) -> None:
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    message = gui.own_recallable()
    for window in (first, second):
        window.open_conversation(gui.conversation_of(message))
    # LinkedIn takes the recall but its answer is lost, and the re-read that could prove it fails too.
    gui.sandbox.control(
        "POST",
        "faults",
        {"method": "DELETE", "path": "/messages/", "count": 20, "status": 500, "phase": "after"},
    )
    gui.sandbox.control("POST", "faults", {"method": "GET", "path": "/messages$", "count": 50, "status": 500})
    confirm_recall(gui, first, message)
    gui.drive_until(
        lambda: all(recall_row_state(w, message) is RecallState.UNCONFIRMED for w in (first, second)),
        timeout=40,
    )
    for window in (first, second):
        row = row_of(window, message)
        assert row is not None  # still shown: nothing proves it gone yet
        index = window.message_model.index(row, 0)
        assert index.data(MessageRole.RECALL_STATUS_TEXT) == "Recall not confirmed — checking…"
        assert index.data(MessageRole.RECALL_CAN_RETRY) is True
        menu_names = [a.objectName() for a in window.message_menu(message).actions()]
        assert "retryRecallAction" in menu_names
    gui.drive_until(lambda: gui.service.reader.recall_log(1)[0].outcome is RecallState.UNCONFIRMED)
    assert gui.service.cache.reader.message(message.account_id, message.message_id) is not None

    # The server can be read again: settling re-reads the conversation, finds the message gone and
    # only then hides it, in every window.
    gui.sandbox.control("DELETE", "faults")
    with qtbot.waitSignal(gui.service.recall_log_changed, timeout=20_000):
        task = gui.service.settle_recalls()
        assert task is not None
        gui.run(task)
    gui.drive_until(lambda: row_of(first, message) is None and row_of(second, message) is None)
    assert recall_row_state(first, message) is None and recall_row_state(second, message) is None
    assert gui.service.reader.recall_log(1)[0].outcome is RecallState.RECALLED
    assert gui.service.cache.reader.message(message.account_id, message.message_id) is None


# --- closing a window while a recall waits for its grace period --------------------------------------


def close_during_grace(gui: Gui, window: MainWindow, message: Message) -> Any:
    from PySide6.QtWidgets import QMessageBox

    confirm_recall(gui, window, message)
    assert window.grace_bar.is_active()
    window.close()
    box = window.close_question
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert window in gui.manager.windows  # not closed: it asks first
    return box


def click(box: Any, name: str) -> None:
    from PySide6.QtWidgets import QPushButton

    button = box.findChild(QPushButton, name)
    assert button is not None, name
    button.click()


def server_lists(gui: Gui, message: Message) -> bool:
    from tests.sync.core.helpers import server_ids

    return message.message_id in server_ids(gui.sandbox, message.account_id, message.conversation_urn)


def test_closing_during_the_grace_period_recall_now_sends_it_at_once(gui: Gui) -> None:
    gui.manager.recall_grace_s = 60  # far longer than the test may take: "now" must not wait for it
    window = gui.manager.open_window()
    other = gui.manager.open_window()
    message = gui.own_recallable()
    window.open_conversation(gui.conversation_of(message))
    other.open_conversation(gui.conversation_of(message))
    before = delete_count(gui)
    click(close_during_grace(gui, window, message), "recallNowButton")
    assert window not in gui.manager.windows  # closed
    gui.drive_until(lambda: row_of(other, message) is None, timeout=30)
    assert delete_count(gui) == before + 1
    assert not server_lists(gui, message)
    gui.drive_until(lambda: gui.service.reader.recall_log(1)[0].outcome is RecallState.RECALLED)


def test_closing_during_the_grace_period_cancel_the_recall_sends_nothing_and_logs_it(gui: Gui) -> None:
    gui.manager.recall_grace_s = 2
    window = gui.manager.open_window()
    message = gui.own_recallable()
    window.open_conversation(gui.conversation_of(message))
    before = delete_count(gui)
    click(close_during_grace(gui, window, message), "cancelRecallButton")
    assert window not in gui.manager.windows
    gui.run(asyncio.sleep(3.0))  # past the grace period: nothing goes out later either
    assert delete_count(gui) == before
    assert server_lists(gui, message)
    assert gui.service.cache.reader.message(message.account_id, message.message_id) is not None
    gui.drive_until(lambda: bool(gui.service.reader.recall_log(1)))
    [attempt] = gui.service.reader.recall_log(5)
    assert attempt.message_id == message.message_id and attempt.outcome is RecallState.CANCELLED


def test_closing_during_the_grace_period_dont_close_keeps_the_window_and_the_grace_period(gui: Gui) -> None:
    gui.manager.recall_grace_s = 2
    window = gui.manager.open_window()
    message = gui.own_recallable()
    window.open_conversation(gui.conversation_of(message))
    before = delete_count(gui)
    click(close_during_grace(gui, window, message), "dontCloseButton")
    assert window in gui.manager.windows and window.isVisible()
    assert window.grace_bar.is_active() and delete_count(gui) == before
    # The grace period runs to its end and the recall goes out, as if nobody had tried to close.
    gui.drive_until(lambda: row_of(window, message) is None, timeout=30)
    assert delete_count(gui) == before + 1
    # The log's outcome is its own write after the tombstone's: the row can go first.
    gui.drive_until(lambda: gui.service.reader.recall_log(1)[0].outcome is RecallState.RECALLED)


def test_recall_now_from_the_last_window_finishes_before_the_app_closes(gui: Gui) -> None:
    """Closing the last window ends the session; the recall the user just let go is seen through."""
    from sync.cache import Cache

    gui.manager.recall_grace_s = 60
    window = gui.manager.open_window()
    message = gui.own_recallable()
    window.open_conversation(gui.conversation_of(message))
    # A slow answer: the recall is still in flight when the app closes.
    gui.sandbox.control(
        "POST",
        "faults",
        {"method": "DELETE", "path": "/messages/", "count": 1, "delay_s": 1.5, "phase": "after"},
    )
    click(close_during_grace(gui, window, message), "recallNowButton")
    assert gui.manager.windows == []
    gui.run(gui.service.close())
    assert not server_lists(gui, message)
    cache = Cache.open_file(gui.service.cache.path)
    try:
        [attempt] = cache.reader.recall_log(limit=5)
        assert attempt.outcome is RecallState.RECALLED
        assert cache.reader.message(message.account_id, message.message_id) is None
    finally:
        cache.close()


# --- against the real service's shape (spec §8): accounts that fail alone, polling, F5 ------------------


def combo_texts(window: MainWindow) -> list[str]:
    return [window.account_combo.itemText(i) for i in range(window.account_combo.count())]


def seatless_and_served(gui: Gui) -> tuple[Any, list[Any]]:
    accounts = gui.service.reader.accounts()
    [seatless] = [a for a in accounts if a.api_seat is False]
    return seatless, [a for a in accounts if a.api_seat is not False]


def test_a_seatless_account_is_shown_not_synced_and_says_why(gui_factory: Any, vendor_sandbox: Any) -> None:
    gui = gui_factory(vendor_sandbox)
    window = gui.manager.open_window()
    seatless, served = seatless_and_served(gui)
    assert f"{seatless.name} — no API access on your plan" in combo_texts(window)
    assert all(a.name in combo_texts(window) for a in served)  # the others have nothing to say
    assert window.attention_button.isVisibleTo(window)
    assert window.attention_button.text() == "⚠ 1 account needs attention"
    assert seatless.name in window.attention_button.toolTip()
    # It is never synced: no conversation of it is expected, and its empty list says why.
    assert gui.service.cache.reader.conversations(seatless.account_id, limit=5) == []
    window.show_account(seatless.account_id)
    assert window.empty_list_label.isVisibleTo(window)
    assert "no API access on your ConnectSafely plan" in window.empty_list_label.text()
    requests = gui.sandbox.control("GET", "requests")["routes"]
    assert requests.get("GET /conversations", 0) == len(served)  # none for the seatless account


def test_an_account_that_fails_in_the_workers_pass_is_marked_in_every_window_and_cleared_by_the_next(
    gui_factory: Any, vendor_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leader's passes run in the sync worker process (polling: the vendor has no stream); their
    reports still reach the windows."""
    monkeypatch.setenv("CONNECTSAFELY_POLL_S", "0.5")
    gui = gui_factory(vendor_sandbox)
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    _, served = seatless_and_served(gui)
    # The next C1 fails once, for whichever served account the pass reads first; the other carries on.
    gui.sandbox.control(
        "POST", "faults", {"method": "GET", "path": "/conversations$", "count": 1, "status": 500}
    )
    gui.service.start()
    assert gui.service.is_leader

    def failing() -> list[str]:
        return [t for t in combo_texts(first) if "sync failed" in t]

    gui.drive_until(lambda: len(failing()) == 1, timeout=40)
    [text] = failing()
    assert gui.service.sync_worker.running  # the pass ran in the worker process
    assert any(text.startswith(f"{a.name} — sync failed: Server error (500)") for a in served)
    assert failing() == [t for t in combo_texts(second) if "sync failed" in t]
    assert first.attention_button.text() == "⚠ 2 accounts need attention"
    assert first.stream_label.text() == "● Polling"
    # The next round reads it again and it is fine: the mark goes.
    gui.drive_until(lambda: not failing() and first.attention_button.text() == "⚠ 1 account needs attention")


def test_another_processes_pass_changes_the_account_states_shown(
    gui_factory: Any, vendor_sandbox: Any
) -> None:
    from sync.cache import Cache
    from sync.model import AccountSyncState

    gui = gui_factory(vendor_sandbox)
    _, served = seatless_and_served(gui)
    reader = gui.service.cache.reader
    first = reader.account_sync(served[0].account_id)
    assert first is not None
    gui.service.start()
    window = gui.manager.open_window()

    def after_this_processs_pass() -> AccountSyncState | None:
        state = reader.account_sync(served[0].account_id)
        return state if state is not None and state.last_sync_at != first.last_sync_at else None

    # This process's worker starts with a pass that writes the account's state when it ends: the other
    # process writes after it (a pass still running would overwrite the error before the window shows it).
    gui.drive_until(lambda: after_this_processs_pass() is not None, timeout=30)
    done = after_this_processs_pass()
    assert done is not None
    other = Cache.open_file(gui.service.cache.path)
    try:
        state = dataclasses.replace(
            done, last_error="Server error (503); try again later.", last_error_kind="server_error"
        )
        other.writer.set_account_sync(state).result()
    finally:
        other.close()
    gui.drive_until(
        lambda: f"{served[0].name} — sync failed: Server error (503); try again later" in combo_texts(window)
    )


def test_without_an_event_stream_the_status_says_polling_and_what_that_means(
    gui_factory: Any, vendor_sandbox: Any
) -> None:
    gui = gui_factory(vendor_sandbox)
    window = gui.manager.open_window()
    gui.service.start()
    gui.drive_until(lambda: gui.service.stream_state.value == "polling", timeout=30)
    assert window.stream_label.text() == "● Polling"
    tip = window.stream_label.toolTip()
    assert "no event stream" in tip.lower() and "within one polling interval" in tip
    watcher = gui.service.watcher
    assert watcher is not None
    assert f"every {watcher.poll_focused_s:g} s while a window is active" in tip
    late = gui.manager.open_window()  # a window opened later says the same at once
    assert late.stream_label.toolTip() == tip


def c11_calls(gui: Gui) -> int:
    return int(gui.sandbox.control("GET", "requests")["routes"].get("POST /conversations/sync", 0))


def test_f5_refreshes_the_served_accounts_from_linkedin_and_shows_how_fresh_the_servers_copy_is(
    gui_factory: Any, vendor_sandbox: Any, qtbot: Any
) -> None:
    from PySide6.QtCore import Qt as QtKeys

    gui = gui_factory(vendor_sandbox)
    window = gui.manager.open_window()
    with qtbot.waitExposed(window):
        window.show()
    with qtbot.waitActive(window):
        window.activateWindow()
    seatless, served = seatless_and_served(gui)
    assert not window.freshness_label.isVisibleTo(window)  # the server has not read LinkedIn yet
    with qtbot.waitSignal(gui.service.refresh_finished, timeout=30_000) as finished:
        qtbot.keyClick(window.conversation_view, QtKeys.Key.Key_F5)
        task = gui.service._refreshing
        assert task is not None
        gui.run(task)
    outcome = finished.args[0]
    assert {r.account_id for r in outcome.accounts if r.ok} == {a.account_id for a in served}
    [skipped] = [r for r in outcome.accounts if not r.ok]
    assert skipped.account_id == seatless.account_id and skipped.skipped
    assert c11_calls(gui) == len(served)  # never for the seatless account
    assert window.statusBar().currentMessage() == (
        f"Refreshed from LinkedIn: {len(served)} accounts; skipped {seatless.name} (no API access)"
    )
    gui.drive_until(lambda: window.freshness_label.isVisibleTo(window))
    assert window.freshness_label.text() == "LinkedIn data as of just now"
    assert window.refresh_action.isEnabled()

    # Three minutes later (the server's clock), the same copy is three minutes old.
    gui.sandbox.control("POST", "clock/advance", {"ms": 3 * 60_000 + 5_000})
    gui.run(gui.service.api.accounts())  # any answer's Date header moves the client's server clock
    window.freshness_timer.timeout.emit()
    assert window.freshness_label.text() == "LinkedIn data as of 3 min ago"

    # F5 with one account chosen in the filter refreshes that one only.
    window.show_account(served[1].account_id)
    before = c11_calls(gui)
    window.refresh_action.trigger()
    task = gui.service._refreshing
    assert task is not None
    gui.run(task)
    assert c11_calls(gui) == before + 1
    gui.drive_until(lambda: window.freshness_label.text() == "LinkedIn data as of just now")


def test_how_fresh_the_servers_copy_is_is_asked_again_while_the_app_runs(
    gui_factory: Any, vendor_sandbox: Any, qtbot: Any
) -> None:
    """Found by hand under Xvfb: C12 was asked at start and after F5 only, so "LinkedIn data as of …" grew
    older all session long while the server kept reading LinkedIn on its own schedule."""
    from desktop.freshness import FRESHNESS_EVERY_MS

    gui = gui_factory(vendor_sandbox)
    window = gui.manager.open_window()
    exposed(gui, window)
    _, served = seatless_and_served(gui)
    client = vendor_sandbox.client()
    for account in served:  # the server reads LinkedIn for each account (on its own, not asked by the app)
        assert client.post("/conversations/sync", json={"accountId": account.account_id}).status_code == 200
    gui.service.start()
    timer = gui.service._freshness_timer
    assert timer.isActive() and timer.interval() == FRESHNESS_EVERY_MS == 5 * 60_000
    gui.drive_until(lambda: window.freshness_label.text() == "LinkedIn data as of just now")

    # Ten minutes on, the copy the app was told about is ten minutes old...
    vendor_sandbox.control("POST", "clock/advance", {"ms": 10 * 60_000 + 5_000})
    gui.run(gui.service.api.accounts())  # any answer's Date header moves the client's server clock
    window.freshness_timer.timeout.emit()
    assert window.freshness_label.text() == "LinkedIn data as of 10 min ago"
    # ...but the server has read LinkedIn again meanwhile: the next periodic C12 says so.
    for account in served:
        assert client.post("/conversations/sync", json={"accountId": account.account_id}).status_code == 200
    asked = c12_calls(gui)
    timer.timeout.emit()
    gui.drive_until(lambda: window.freshness_label.text() == "LinkedIn data as of just now")
    assert c12_calls(gui) == asked + len(served)  # one per served account, never the seatless one


def c12_calls(gui: Gui) -> int:
    return int(gui.sandbox.control("GET", "requests")["routes"].get("GET /conversations/sync/status", 0))


@pytest.mark.parametrize(
    ("status", "skipped", "detail"),
    [
        (403, True, "No API access for this account on your ConnectSafely plan"),
        (500, False, "Server error (500); try again later."),
    ],
)
def test_a_refresh_error_of_one_account_does_not_stop_the_others(
    status: int, skipped: bool, detail: str, gui_factory: Any, vendor_sandbox: Any
) -> None:
    gui = gui_factory(vendor_sandbox)
    window = gui.manager.open_window()
    _, served = seatless_and_served(gui)
    gui.sandbox.control(
        "POST", "faults", {"method": "POST", "path": "/conversations/sync$", "count": 1, "status": status}
    )
    task = gui.service.refresh_from_linkedin()
    assert task is not None
    gui.run(task)
    assert c11_calls(gui) == len(served)  # the failing one, then the others
    gui.drive_until(lambda: window.refresh_action.isEnabled())
    message = window.statusBar().currentMessage()
    assert message.startswith(f"Refreshed from LinkedIn: {len(served) - 1} account")
    if skipped:
        assert f"{served[0].name} (no API access)" in message.partition("skipped ")[2]
        assert not window.banner.isVisibleTo(window) or "Refresh" not in window.banner.label.text()
    else:
        assert window.banner.isVisibleTo(window)
        assert window.banner.label.text() == f"Refresh from LinkedIn: {served[0].name}: {detail}"


def test_polling_is_quicker_while_a_window_of_the_app_is_active(
    gui_factory: Any, vendor_sandbox: Any, qtbot: Any, qapp: Any
) -> None:
    from PySide6.QtCore import Qt as QtStates

    gui = gui_factory(vendor_sandbox)
    gui.service.start()
    watcher = gui.service.watcher
    assert watcher is not None
    window = gui.manager.open_window()
    with qtbot.waitExposed(window):
        window.show()
    with qtbot.waitActive(window):
        window.activateWindow()
    gui.drive_until(lambda: watcher.focused)
    assert watcher.interval_s == watcher.poll_focused_s < watcher.poll_background_s
    qapp.applicationStateChanged.emit(QtStates.ApplicationState.ApplicationInactive)  # another app's window
    assert not watcher.focused and watcher.interval_s == watcher.poll_background_s
