"""Composer habits (issue 16): Enter sends and Shift+Enter is a new line (a setting keeps Ctrl+Enter), the
sent message scrolls into view, a draft per conversation survives switching and a restart — against the
real sandbox, the real cache and settings file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QCheckBox, QDialogButtonBox
from pytestqt.qtbot import QtBot

from desktop import drafts as drafts_module
from desktop.drafts import MAX_DRAFT_CHARS, MAX_DRAFTS, DraftFile, drafts_file
from desktop.settings import CTRL_ENTER_SENDS, PREFERENCES, Settings
from desktop.windows import WindowManager
from sync.model import Conversation
from tests.desktop.gui_harness import Gui
from tests.fixtures.exposed import exposed, quiet
from ui.conversation_model import ConversationRole
from ui.main_window import MainWindow

pytestmark = pytest.mark.gui


def conversations(gui: Gui, count: int) -> list[Conversation]:
    """The ``count`` conversations with the most cached messages (the longest threads first)."""
    found: list[tuple[int, Conversation]] = []
    for account in gui.service.reader.accounts():
        for conversation in gui.service.cache.reader.conversations(account.account_id, limit=100):
            if account.api_seat is False:
                continue
            n = len(
                gui.service.cache.reader.messages(account.account_id, conversation.conversation_id, limit=200)
            )
            found.append((n, conversation))
    found.sort(key=lambda item: -item[0])
    assert len(found) >= count
    return [c for _, c in found[:count]]


def type_text(qtbot: QtBot, window: MainWindow, text: str) -> None:
    """Type ``text`` into the reply box key by key; a newline is Shift+Enter."""
    window.reply_edit.setFocus()
    for index, line in enumerate(text.split("\n")):
        if index:
            qtbot.keyClick(window.reply_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        qtbot.keyClicks(window.reply_edit, line)


def in_view(window: MainWindow, account_id: str, message_id: str) -> bool:
    row = window.message_model.row_of(account_id, message_id)
    if row is None:
        return False
    view = window.message_view
    rect = view.visualRect(window.message_model.index(row, 0))
    return QRect(0, 0, view.viewport().width(), view.viewport().height()).contains(rect)


def test_enter_sends_shift_enter_is_a_new_line_and_the_sent_message_scrolls_into_view_from_far_up(
    gui: Gui, qtbot: Any
) -> None:
    window = gui.manager.open_window()
    exposed(gui, window)
    conversation = conversations(gui, 1)[0]
    window.open_conversation(conversation)
    quiet(gui)
    gui.drive_until(lambda: window.message_view.verticalScrollBar().maximum() > 0)
    bar = window.message_view.verticalScrollBar()
    gui.drive_until(lambda: window.message_view.is_at_bottom())
    bar.setValue(bar.maximum() // 3)  # scrolled well up, reading older messages
    gui.run(asyncio.sleep(0.2))
    assert not window.message_view.is_at_bottom()

    type_text(qtbot, window, "Shift+Enter is a new line\nand Enter sends")
    assert window.reply_edit.toPlainText() == "Shift+Enter is a new line\nand Enter sends"  # not sent yet
    before = {
        m.message_id
        for m in gui.service.cache.reader.messages(
            conversation.account_id, conversation.conversation_id, limit=500
        )
    }
    with qtbot.waitSignal(window.send_requested) as sent:
        qtbot.keyClick(window.reply_edit, Qt.Key.Key_Return)
    assert sent.args[2] == "Shift+Enter is a new line\nand Enter sends"
    assert window.reply_edit.toPlainText() == ""

    def arrived() -> str | None:
        for m in gui.service.cache.reader.messages(
            conversation.account_id, conversation.conversation_id, limit=5
        ):
            if m.message_id not in before and m.text == "Shift+Enter is a new line\nand Enter sends":
                return m.message_id
        return None

    gui.drive_until(lambda: arrived() is not None)
    message_id = arrived()
    assert message_id is not None
    gui.drive_until(lambda: window.message_model.row_of(conversation.account_id, message_id) is not None)
    # Scrolling is deferred to the next loop pass after the row arrives; give it a few frames.
    gui.drive_until(lambda: in_view(window, conversation.account_id, message_id), timeout=5)
    gui.run(asyncio.sleep(0.3))
    assert in_view(window, conversation.account_id, message_id)


def test_the_ctrl_enter_setting_is_shown_in_settings_saved_and_applied_to_every_window(
    gui: Gui, qtbot: Any
) -> None:
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    conversation = conversations(gui, 1)[0]
    first.open_conversation(conversation)
    quiet(gui)
    assert CTRL_ENTER_SENDS in PREFERENCES and CTRL_ENTER_SENDS.default is False
    dialog = gui.manager.open_settings(first)
    boxes = [b for b in dialog.findChildren(QCheckBox) if b.property("setting") == CTRL_ENTER_SENDS.key]
    assert len(boxes) == 1 and boxes[0].text() == CTRL_ENTER_SENDS.label and not boxes[0].isChecked()
    boxes[0].setChecked(True)
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    save.click()
    # Only a preference changed: the windows stay open on the same service.
    assert not gui.manager.backend_changed and gui.manager.windows == [first, second]
    assert Settings(gui.data).get_bool(CTRL_ENTER_SENDS) is True
    assert "Ctrl+Enter to send" in second.reply_edit.placeholderText()

    first.reply_edit.setFocus()
    qtbot.keyClicks(first.reply_edit, "two")
    with qtbot.assertNotEmitted(first.send_requested):
        qtbot.keyClick(first.reply_edit, Qt.Key.Key_Return)  # a new line now
        qtbot.keyClicks(first.reply_edit, "lines")
    assert first.reply_edit.toPlainText() == "two\nlines"
    with qtbot.waitSignal(first.send_requested) as sent:
        qtbot.keyClick(first.reply_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert sent.args[2] == "two\nlines"

    # A window opened later (and the next start) reads the setting.
    third = gui.manager.open_window()
    assert third.reply_edit.ctrl_enter_sends


def cache_holds(gui: Gui, text: str) -> list[str]:
    """The tables of the cache file holding ``text`` anywhere."""
    connection = sqlite3.connect(f"file:{gui.service.cache.path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = []
        for table in tables:
            rows = connection.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608 - names from the schema
            if any(isinstance(value, str) and text in value for row in rows for value in row):
                found.append(table)
        return found
    finally:
        connection.close()


def test_a_draft_per_conversation_survives_switching_and_a_restart_and_never_reaches_the_cache(
    gui: Gui, qtbot: Any
) -> None:
    window = gui.manager.open_window()
    one, two = conversations(gui, 2)
    window.open_conversation(one)
    quiet(gui)
    type_text(qtbot, window, "Draft for one <b>plain</b>\nsecond line")
    window.open_conversation(two)
    quiet(gui)
    assert window.reply_edit.toPlainText() == ""
    type_text(qtbot, window, "Draft for two")
    window.open_conversation(one)
    quiet(gui)
    assert window.reply_edit.toPlainText() == "Draft for one <b>plain</b>\nsecond line"

    # Another window opening the same conversation finds the draft too.
    other = gui.manager.open_window()
    other.open_conversation(two)
    quiet(gui)
    assert other.reply_edit.toPlainText() == "Draft for two"
    other.close()

    gui.manager.close_all()  # quit: the open conversation's draft is saved with the window
    path = drafts_file(gui.data)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert {d["text"] for d in saved["drafts"]} == {
        "Draft for one <b>plain</b>\nsecond line",
        "Draft for two",
    }
    assert cache_holds(gui, "Draft for") == []
    assert "Draft for" not in (gui.data / "settings.ini").read_text(encoding="utf-8")

    again = WindowManager(gui.service, Settings(gui.data), sandbox=True, recall_grace_s=0)
    again.open_saved_windows()
    try:
        restored = again.windows[0]
        gui.drive_until(lambda: restored.current_conversation() is not None)
        quiet(gui)
        current = restored.current_conversation()
        assert current is not None and current.conversation_id == one.conversation_id
        assert restored.reply_edit.toPlainText() == "Draft for one <b>plain</b>\nsecond line"
        restored.open_conversation(two)
        assert restored.reply_edit.toPlainText() == "Draft for two"

        # Sending drops the draft at once.
        with qtbot.waitSignal(restored.send_requested):
            qtbot.keyClick(restored.reply_edit, Qt.Key.Key_Return)
        assert DraftFile(gui.data).draft((two.account_id, two.conversation_id)) == ""
        assert DraftFile(gui.data).draft((one.account_id, one.conversation_id)).startswith("Draft for one")
    finally:
        again.close_all()


def test_a_draft_is_saved_shortly_after_typing_stops_so_a_crash_keeps_it(gui: Gui, qtbot: Any) -> None:
    window = gui.manager.open_window()
    one = conversations(gui, 1)[0]
    window.open_conversation(one)
    quiet(gui)
    type_text(qtbot, window, "typed, then the app is killed")
    key = (one.account_id, one.conversation_id)
    assert DraftFile(gui.data).draft(key) == ""  # not at every keystroke
    gui.drive_until(lambda: DraftFile(gui.data).draft(key) == "typed, then the app is killed", timeout=5)


def test_the_draft_file_is_bounded_shared_between_processes_and_tolerates_damage(tmp_path: Any) -> None:
    first, second = DraftFile(tmp_path), DraftFile(tmp_path)  # two processes on one data dir
    first.set_draft(("a", "1"), "x" * (MAX_DRAFT_CHARS + 50))
    assert len(second.draft(("a", "1"))) == MAX_DRAFT_CHARS
    second.set_draft(("a", "2"), "from the second")
    first.set_draft(("a", "3"), "from the first")  # re-reads before writing: the second's draft stays
    assert DraftFile(tmp_path).keys() == [("a", "1"), ("a", "2"), ("a", "3")]
    first.set_draft(("a", "2"), "   ")  # blank: dropped
    assert DraftFile(tmp_path).keys() == [("a", "1"), ("a", "3")]

    many = DraftFile(tmp_path)
    for n in range(MAX_DRAFTS + 10):
        many.set_draft(("b", f"{n:04}"), f"draft {n}")
    kept = DraftFile(tmp_path).keys()
    assert len(kept) == MAX_DRAFTS
    assert ("b", f"{MAX_DRAFTS + 9:04}") in kept  # the most recently edited are kept

    drafts_file(tmp_path).write_text("{not json", encoding="utf-8")
    damaged = DraftFile(tmp_path)
    assert damaged.draft(("a", "3")) == "" and damaged.keys() == []
    damaged.set_draft(("c", "1"), "after the damage")
    assert DraftFile(tmp_path).keys() == [("c", "1")]
    assert json.loads(drafts_file(tmp_path).read_text())["version"] == drafts_module.VERSION


def row_draft(window: MainWindow, conversation: Conversation) -> str | None:
    """What the conversation's row in ``window``'s list shows as its draft (None: the row is not loaded)."""
    model = window.conversation_model
    row = model.row_of(conversation.account_id, conversation.conversation_id)
    return None if row is None else model.index(row, 0).data(ConversationRole.DRAFT)


def test_a_conversation_with_a_draft_says_so_on_its_row_in_every_window_until_it_is_sent(
    gui: Gui, qtbot: Any
) -> None:
    window = gui.manager.open_window()
    other = gui.manager.open_window()
    one, two = conversations(gui, 2)
    window.open_conversation(one)
    quiet(gui)
    assert row_draft(window, one) == "" and row_draft(other, one) == ""
    type_text(qtbot, window, "Half a reply\nwith a second line")
    window.open_conversation(two)  # leaving the conversation keeps its draft at once
    quiet(gui)
    for shown in (window, other):
        assert row_draft(shown, one) == "Half a reply with a second line"
        assert row_draft(shown, two) == ""
        row = shown.conversation_model.row_of(one.account_id, one.conversation_id)
        assert row is not None
        spoken = shown.conversation_model.index(row, 0).data(Qt.ItemDataRole.AccessibleTextRole)
        assert spoken.endswith(": Draft: Half a reply with a second line")

    # Typing in the open conversation shows on its row once the draft is kept (after the pause).
    type_text(qtbot, window, "Next one")
    gui.drive_until(lambda: row_draft(other, two) == "Next one", timeout=5)

    # A restart finds the drafts on the rows before any conversation is opened.
    gui.manager.close_all()
    again = WindowManager(gui.service, Settings(gui.data), sandbox=True, recall_grace_s=0)
    try:
        fresh = again.open_window()
        assert row_draft(fresh, one) == "Half a reply with a second line"
        assert row_draft(fresh, two) == "Next one"
        fresh.open_conversation(two)
        quiet(gui)
        with qtbot.waitSignal(fresh.send_requested):
            qtbot.keyClick(fresh.reply_edit, Qt.Key.Key_Return)
        assert row_draft(fresh, two) == ""  # sent: the row shows the conversation again
        assert row_draft(fresh, one) == "Half a reply with a second line"
    finally:
        again.close_all()
