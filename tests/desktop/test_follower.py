"""A second copy of the app on the same data dir (issue 16, Why §2): it says whose sync it follows, green
while its own connection reaches the server (its sends and recalls work), red with the reason when it does
not, and says so when it takes the sync over — a real process holding the lock, the real sandbox."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette

from sync.model import StreamState
from tests.desktop.gui_harness import Gui
from tests.fixtures.exposed import quiet
from ui.palette import LIGHT

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
HOLD = (
    "import sys\n"
    "from sync.lock import DataDirLock\n"
    "lock = DataDirLock(sys.argv[1])\n"
    "assert lock.try_acquire()\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture
def leader(gui: Gui) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the data dir's lock (as another copy of the app's GUI would)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(gui.data)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def text_colour(widget: object) -> QColor:
    from PySide6.QtWidgets import QWidget

    assert isinstance(widget, QWidget)
    widget.ensurePolished()
    return widget.palette().color(QPalette.ColorRole.WindowText)


def test_a_follower_says_whose_sync_it_follows_and_is_green_while_its_own_actions_work(
    gui: Gui, leader: subprocess.Popen[str], qtbot: object
) -> None:
    from pytestqt.qtbot import QtBot

    assert isinstance(qtbot, QtBot)
    gui.service.start()
    assert not gui.service.is_leader
    window = gui.manager.open_window()
    quiet(gui)  # the first connection check and the freshness (C12) requests
    label = window.stream_label
    assert label.text() == f"● Following {leader.pid}'s sync"
    assert "Offline" not in label.text()
    assert gui.service.following is not None and gui.service.following.reachable is not None
    assert label.property("state") == "following"
    assert text_colour(label) == QColor(LIGHT.success)
    tip = label.toolTip()
    assert f"process {leader.pid}" in tip and "Sending and recalling work here" in tip

    # And they do: a message sent from the follower reaches the server and its thread.
    conversation = gui.conversation_of(gui.own_recallable())
    window.open_conversation(conversation)
    quiet(gui)
    window.reply_edit.setPlainText("sent by the follower")
    qtbot.keyClick(window.reply_edit, Qt.Key.Key_Return)

    def sent() -> bool:
        messages = gui.service.cache.reader.messages(
            conversation.account_id, conversation.conversation_id, limit=5
        )
        return any(m.text == "sent by the follower" for m in messages)

    gui.drive_until(sent)
    quiet(gui)

    # The server stops answering this process: red, with the reason; back to green when it answers.
    gui.sandbox.control(
        "POST", "faults", {"method": "GET", "path": "/accounts$", "count": 100, "status": 500}
    )
    gui.service.check_connection()
    gui.drive_until(lambda: label.property("state") == "following_unreachable")
    assert label.text() == f"● Following {leader.pid}'s sync"
    assert text_colour(label) == QColor(LIGHT.danger)
    assert "Sending and recalling may not work here" in label.toolTip()
    assert "Server error (500)" in label.toolTip()
    gui.sandbox.control("DELETE", "faults")
    gui.service.check_connection()
    gui.drive_until(lambda: label.property("state") == "following")
    quiet(gui)


def test_a_follower_says_when_it_takes_the_sync_over(gui: Gui, leader: subprocess.Popen[str]) -> None:
    gui.service.start()
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    quiet(gui)
    assert first.stream_label.property("state") == "following"
    assert first.stream_label.text() == second.stream_label.text() == f"● Following {leader.pid}'s sync"

    leader.kill()  # the leading copy quits (or dies): the lock frees, this one takes over
    leader.communicate()
    # One run of the loop (the watcher's requests are never cut off between two): it takes over, then
    # shows what its own sync does, the event stream.
    said: list[str] = []
    first.statusBar().messageChanged.connect(said.append)
    gui.drive_until(
        lambda: gui.service.is_leader and gui.service.stream_state is StreamState.LIVE, timeout=30
    )
    assert f"Took over the sync from process {leader.pid}: this window syncs now." in said
    assert f"Took over the sync from process {leader.pid}" in second.statusBar().currentMessage()
    assert first.stream_label.text() == "● Live"
    assert gui.service.following is None
