"""Message search in the whole GUI, over the real cache and sandbox: a recalled message is not found by
search in any window — recalled in one of two windows, recalled elsewhere and learnt from the event
stream, or found gone by reconciliation."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

from sync.model import Message, RecallState
from tests.desktop.gui_harness import Gui
from ui.main_window import MainWindow

pytestmark = pytest.mark.gui


def type_text(widget: QWidget, text: str) -> None:
    """Type ``text`` key by key (QTest's keyClicks takes ASCII only)."""
    for ch in text:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier, ch))


def search(window: MainWindow, text: str) -> None:
    window.search_edit.clear()
    type_text(window.search_edit, text)


def found_ids(window: MainWindow) -> set[str]:
    """The message ids the window's search results show now."""
    model = window.search_panel.model
    return {m.message_id for row in range(model.rowCount()) if (m := model.message_at(row)) is not None}


def finds(window: MainWindow, text: str, message: Message) -> bool:
    """A new search for ``text`` in ``window`` shows ``message``."""
    search(window, text)
    return message.message_id in found_ids(window)


def words_of(message: Message) -> str:
    """A search that finds ``message`` (its text's first words)."""
    return " ".join(message.text.split()[:3])


def test_a_recall_in_one_window_is_found_by_no_search_in_any_window(gui: Gui) -> None:
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    message = gui.own_recallable()
    query = words_of(message)
    assert finds(first, query, message) and finds(second, query, message)
    first.jump_to_message(message)
    gui.drive_until(lambda: first.message_model.row_of(message.account_id, message.message_id) is not None)

    first.request_recall(message)
    dialog = first.confirm_dialog
    assert dialog is not None
    dialog.accept()
    gui.drive_until(lambda: not (found_ids(first) | found_ids(second)) & {message.message_id})

    # Gone from the results both windows were showing, and no new search finds it, in either window.
    assert not finds(first, query, message) and not finds(second, query, message)
    assert gui.service.cache.reader.search_messages(message.text) == () or all(
        h.message.message_id != message.message_id
        for g in gui.service.cache.reader.search_messages(message.text)
        for h in g.hits
    )
    gui.drive_until(lambda: gui.service.reader.recall_log(1)[0].outcome is RecallState.RECALLED)


def inject(gui: Gui, text: str) -> None:
    account = gui.service.reader.accounts()[0]
    conversation = gui.service.cache.reader.conversations(account.account_id, limit=3)[2]
    gui.sandbox.control(
        "POST",
        "inject",
        {"accountId": account.account_id, "conversationUrn": conversation.conversation_urn, "text": text},
    )


def test_a_message_recalled_elsewhere_leaves_every_windows_results_by_the_event_stream(gui: Gui) -> None:
    gui.service.start()
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    gui.drive_until(lambda: gui.service.stream_state.value == "live")
    inject(gui, "the Zürich quarterly figures")
    gui.drive_until(lambda: bool(found_ids_after(first, "zurich quarterly")))
    [message_id] = found_ids(first)
    search(second, "ZÜRICH QUARTERLY")
    assert found_ids(second) == {message_id}

    gui.sandbox.control("POST", "recall", {"messageId": message_id, "emitEvent": True})
    gui.drive_until(lambda: not found_ids(first) and not found_ids(second))
    search(first, "zurich")
    search(second, "Zürich quarterly")
    assert not found_ids(first) and not found_ids(second)


def found_ids_after(window: MainWindow, text: str) -> set[str]:
    search(window, text)
    return found_ids(window)


def test_a_message_recalled_elsewhere_leaves_the_results_when_reconciliation_finds_it_gone(gui: Gui) -> None:
    window = gui.manager.open_window()
    inject(gui, "the Malmö offsite agenda")
    account = gui.service.reader.accounts()[0]
    conversation = gui.service.cache.reader.conversations(account.account_id, limit=3)[2]
    gui.run(gui.service.engine.sync_new_messages(conversation))
    search(window, "malmo offsite")
    [message_id] = found_ids(window)

    # Recalled on LinkedIn with no event: only a re-read of the conversation can tell.
    gui.sandbox.control("POST", "recall", {"messageId": message_id, "emitEvent": False})
    gui.run(gui.service.engine.reconcile())
    gui.drive_until(lambda: not found_ids(window))
    search(window, "MALMÖ")
    assert not found_ids(window)
    assert gui.service.cache.reader.is_tombstoned(message_id)
