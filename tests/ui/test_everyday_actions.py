"""Everyday actions in the window: the Starred filter, mark read/unread/all read, notifications that clear."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QToolButton, QWidget
from pytestqt.qtbot import QtBot

from sync.model import Account, ChangeSet, Reaction
from ui.conversation_model import ConversationFilter, ConversationRole
from ui.main_window import MainWindow
from ui.reaction_picker import REACTION_EMOJI
from ui.sources import MarkAllRead

from .fakes import FakeInboxReader, make_conversation, make_message


def inbox() -> FakeInboxReader:
    reader = FakeInboxReader()
    reader.add_account(Account("acc-1", "Ada Lovelace"))
    reader.add_account(Account("acc-2", "Recruiting desk"))
    reader.put_conversation(make_conversation(1, unread=2))
    reader.put_conversation(make_conversation(2, starred=True))
    reader.put_conversation(make_conversation(3, account_id="acc-2", unread=1, starred=True))
    reader.put_conversation(make_conversation(4))
    return reader


def shown(window: MainWindow) -> list[str]:
    model = window.conversation_model
    return [model.index(r, 0).data(ConversationRole.KEY)[1] for r in range(model.rowCount())]


def make_window(qtbot: QtBot, reader: FakeInboxReader) -> MainWindow:
    window = MainWindow(reader, style_sheet="")
    qtbot.addWidget(window)
    return window


def test_the_starred_chip_lists_starred_conversations_with_the_other_filters(qtbot: QtBot) -> None:
    reader = inbox()
    window = make_window(qtbot, reader)
    assert shown(window) == ["c1", "c2", "c3", "c4"]
    assert window.starred_button.text() == "★ Starred" and window.starred_button.isCheckable()
    window.starred_button.setChecked(True)
    assert shown(window) == ["c2", "c3"]
    assert window.conversation_model.filter == ConversationFilter(starred_only=True)
    window.unread_button.setChecked(True)
    assert shown(window) == ["c3"]
    window.show_account("acc-1")
    assert shown(window) == []
    assert window.empty_list_label.text() == "No matching conversations"
    window.unread_button.setChecked(False)
    assert shown(window) == ["c2"]
    window.show_account("acc-2")
    window.account_combo.setCurrentIndex(0)
    window.starred_button.setChecked(False)
    assert shown(window) == ["c1", "c2", "c3", "c4"]


def test_starring_and_unstarring_moves_rows_in_and_out_of_the_starred_list(qtbot: QtBot) -> None:
    reader = inbox()
    window = make_window(qtbot, reader)
    window.starred_button.setChecked(True)
    c4 = reader.conversation("acc-1", "c4")
    assert c4 is not None
    reader.put_conversation(dataclasses.replace(c4, starred=True))
    window.apply_changes(ChangeSet(conversations_changed=frozenset({("acc-1", "c4")})))
    window.flush_changes()
    assert shown(window) == ["c2", "c3", "c4"]
    c2 = reader.conversation("acc-1", "c2")
    assert c2 is not None
    reader.put_conversation(dataclasses.replace(c2, starred=False))
    window.apply_changes(ChangeSet(conversations_changed=frozenset({("acc-1", "c2")})))
    window.flush_changes()
    assert shown(window) == ["c3", "c4"]


def test_no_starred_conversation_says_so(qtbot: QtBot) -> None:
    reader = FakeInboxReader()
    reader.add_account(Account("acc-1", "Ada Lovelace"))
    reader.put_conversation(make_conversation(1))
    window = make_window(qtbot, reader)
    window.starred_button.setChecked(True)
    assert window.empty_list_label.text() == "No starred conversations"
    assert not window.empty_list_label.isHidden()


def menu_actions(window: MainWindow, account: str, conversation: str) -> dict[str, object]:
    found = window._reader.conversation(account, conversation)
    assert found is not None
    return {a.objectName(): a for a in window.conversation_menu(found).actions() if a.objectName()}


def test_the_conversation_menu_marks_read_or_unread_and_all_read(qtbot: QtBot) -> None:
    reader = inbox()
    window = make_window(qtbot, reader)
    unread = menu_actions(window, "acc-1", "c1")
    assert "markUnreadAction" not in unread
    action = unread["markReadAction"]
    assert action.text() == "Mark as read"  # type: ignore[attr-defined]
    with qtbot.waitSignal(window.mark_read_requested) as asked:
        action.trigger()  # type: ignore[attr-defined]
    assert asked.args[0].conversation_id == "c1"

    read = menu_actions(window, "acc-1", "c2")
    assert "markReadAction" not in read
    assert read["markUnreadAction"].text() == "Mark as unread"  # type: ignore[attr-defined]
    with qtbot.waitSignal(window.mark_all_read_requested) as everything:
        read["markAllReadAction"].trigger()  # type: ignore[attr-defined]
    assert everything.args == [()]  # All accounts
    window.show_account("acc-2")
    with qtbot.waitSignal(window.mark_all_read_requested) as one_account:
        window.mark_all_read_action.trigger()
    assert one_account.args == [("acc-2",)]
    assert window.mark_all_read_action.shortcut() == QKeySequence("Shift+Esc")
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus.index("&Conversations") < menus.index("&View")


def test_mark_all_read_says_how_far_it_is_and_waits_for_its_end(qtbot: QtBot) -> None:
    window = make_window(qtbot, inbox())
    window.show_mark_all_read(MarkAllRead(total=3, done=1))
    assert window.statusBar().currentMessage() == "Marking conversations read: 1 of 3…"
    assert not window.mark_all_read_action.isEnabled()
    with qtbot.assertNotEmitted(window.mark_all_read_requested):
        window.mark_all_read()
    window.show_mark_all_read(MarkAllRead(total=3, done=3, finished=True))
    assert window.statusBar().currentMessage() == "Marked 3 conversations read."
    assert window.mark_all_read_action.isEnabled()
    assert window.banner.isHidden()
    window.show_mark_all_read(MarkAllRead(total=3, done=3, failed=1, error="Not found", finished=True))
    assert window.statusBar().currentMessage() == "Marked 2 of 3 conversations read: Not found"
    assert not window.banner.isHidden()


def test_mark_all_read_words() -> None:
    assert MarkAllRead(total=0, finished=True).text == "No unread conversations."
    assert MarkAllRead(total=1, done=1, finished=True).text == "Marked 1 conversation read."
    stopped = MarkAllRead(total=5, done=2, error="No connection", finished=True)
    assert stopped.text == "Marked 2 of 5 conversations read: No connection"


def test_notification_items_clear_once_their_conversation_is_read(qtbot: QtBot) -> None:
    reader = inbox()
    window = make_window(qtbot, reader)
    first = make_message(10, conversation="c1")
    second = make_message(11, conversation="c1")
    other = make_message(12, conversation="c3", account_id="acc-2")
    for message in (first, second, other):
        reader.put_message(message)
        window.add_notification(message)
    assert window.notifications.count() == 3
    # Read elsewhere (another window, another process, LinkedIn itself): a change set of the conversation.
    c1 = reader.conversation("acc-1", "c1")
    assert c1 is not None
    reader.put_conversation(dataclasses.replace(c1, unread_count=0))
    window.apply_changes(ChangeSet(conversations_changed=frozenset({("acc-1", "c1")})))
    window.flush_changes()
    assert window.notifications.message_ids() == ["m12"]
    # A change that leaves it unread keeps its item.
    window.apply_changes(ChangeSet(conversations_changed=frozenset({("acc-2", "c3")})))
    window.flush_changes()
    assert window.notifications.message_ids() == ["m12"]
    # Opening it here reads it: its item goes at once.
    c3 = reader.conversation("acc-2", "c3")
    assert c3 is not None
    window.open_conversation(c3)
    assert window.notifications.count() == 0


def test_the_accessible_row_text_of_an_unread_conversation_still_says_unread(qtbot: QtBot) -> None:
    window = make_window(qtbot, inbox())
    text = window.conversation_model.index(0, 0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert "2 unread" in text


def test_the_bubble_menu_has_an_emoji_picker_with_your_reactions_checked(qtbot: QtBot) -> None:
    reader = inbox()
    message = make_message(20, conversation="c1", reactions=(Reaction("👍", 2, True), Reaction("❤️", 1)))
    reader.put_message(message)
    window = make_window(qtbot, reader)
    menu = window.message_menu(message)
    assert menu.actions()[0].objectName() == "reactionPickerAction"
    picker = menu.findChild(QWidget, "reactionPicker")
    assert picker is not None
    buttons = {b.text(): b for b in picker.findChildren(QToolButton)}
    assert list(buttons) == [emoji for emoji, _ in REACTION_EMOJI]
    assert buttons["👍"].isChecked() and not buttons["❤️"].isChecked()
    assert buttons["👍"].accessibleName() == "Remove your reaction: Thumbs up"
    with qtbot.waitSignal(window.reaction_requested) as added:
        buttons["❤️"].click()
    assert added.args == [message, "❤️", True]
    with qtbot.waitSignal(window.reaction_requested) as removed:
        buttons["👍"].click()
    assert removed.args == [message, "👍", False]
    # The same from the keyboard: React › checkable emoji.
    react = next(a.menu() for a in menu.actions() if a.menu() is not None and a.text() == "React")
    actions = {a.text().split()[0]: a for a in react.actions()}
    assert actions["👍"].isChecked() and not actions["😂"].isChecked()
    with qtbot.waitSignal(window.reaction_requested) as keyboard:
        actions["😂"].trigger()
    assert keyboard.args == [message, "😂", True]
    # The rest of the menu is still there, under the picker.
    names = [a.objectName() for a in menu.actions()]
    assert "recallAction" in names and "copyTextAction" in names


def test_your_own_reaction_makes_the_chip_stand_out(qtbot: QtBot) -> None:
    reader = inbox()
    reader.put_message(make_message(21, conversation="c1", reactions=(Reaction("👍", 2),)))
    reader.put_message(make_message(22, conversation="c1", reactions=(Reaction("👍", 2, True),)))
    window = make_window(qtbot, reader)
    c1 = reader.conversation("acc-1", "c1")
    assert c1 is not None
    window.open_conversation(c1)
    model = window.message_model
    theirs, mine = (model.bubble_data(model.row_of("acc-1", m) or 0) for m in ("m21", "m22"))
    assert theirs is not None and mine is not None
    assert not theirs.reacted and mine.reacted
    assert theirs.reactions == mine.reactions == "👍 2"
