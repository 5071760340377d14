"""Restarting restores the windows (count, geometry), each one's open conversation scrolled where it was,
and its account filter (issue 16, "Stable identity") — over the real sandbox, cache and settings file."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from desktop.settings import Settings
from desktop.windows import WindowManager
from sync.model import Conversation
from tests.desktop.gui_harness import Gui
from tests.fixtures.exposed import exposed, quiet
from ui.main_window import MainWindow
from ui.views import ScrollAnchor

pytestmark = pytest.mark.gui


def long_threads(gui: Gui) -> list[Conversation]:
    """Conversations of seated accounts, the longest first, at most one per account first."""
    found: list[tuple[int, Conversation]] = []
    for account in gui.service.reader.accounts():
        if account.api_seat is False:
            continue
        for conversation in gui.service.cache.reader.conversations(account.account_id, limit=100):
            n = len(
                gui.service.cache.reader.messages(account.account_id, conversation.conversation_id, limit=200)
            )
            found.append((n, conversation))
    found.sort(key=lambda item: -item[0])
    return [c for _, c in found]


def restored(gui: Gui, manager: WindowManager) -> None:
    """Run the loop until every window opened from the saved state has its conversation back."""
    gui.drive_until(lambda: all(w.current_conversation() is not None for w in manager.windows))


def scrolled_up(gui: Gui, window: MainWindow) -> ScrollAnchor:
    """Scroll the open thread a third of the way down and say where it is."""
    view = window.message_view
    gui.drive_until(lambda: view.verticalScrollBar().maximum() > 0 and view.is_at_bottom())
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 3 + 7)  # mid-row: the anchor has an offset
    gui.run(asyncio.sleep(0.2))
    anchor = view.scroll_anchor()
    assert anchor is not None and anchor.offset > 0
    return anchor


def test_a_restart_restores_windows_conversations_scroll_positions_and_account_filters(
    gui: Gui, qtbot: Any
) -> None:
    threads = long_threads(gui)
    first_thread = threads[0]
    second_thread = next(c for c in threads if c.account_id != first_thread.account_id)
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    # Inside the offscreen screen (800×600), which restoreGeometry clamps to.
    first.resize(730, 520)
    first.move(33, 44)
    second.resize(725, 500)
    second.move(50, 60)
    first.show_account(first_thread.account_id)
    first.open_conversation(first_thread)
    second.open_conversation(second_thread)
    quiet(gui)
    exposed(gui, first)
    exposed(gui, second)
    anchor = scrolled_up(gui, first)
    gui.drive_until(second.message_view.is_at_bottom)

    gui.manager.close_all()  # File › Quit, or a logout
    again = WindowManager(gui.service, Settings(gui.data), sandbox=True, recall_grace_s=0)
    again.open_saved_windows()
    try:
        assert len(again.windows) == 2
        one, two = again.windows
        # The inbox paints first: the thread is read and scrolled right after (figure 5), its header
        # standing in meanwhile.
        assert one.current_conversation() is None and one.message_model.rowCount() == 0
        assert one.thread_stack.currentIndex() == 1 and one.contact_label.text() == first_thread.title
        restored(gui, again)
        quiet(gui)
        assert (one.width(), one.height(), two.width(), two.height()) == (730, 520, 725, 500)
        assert one.shown_account_ids() == (first_thread.account_id,)
        assert two.shown_account_ids() == ()
        for window, thread in ((one, first_thread), (two, second_thread)):
            current = window.current_conversation()
            assert current is not None
            assert (current.account_id, current.conversation_id) == (
                thread.account_id,
                thread.conversation_id,
            )
        exposed(gui, one)
        exposed(gui, two)

        gui.drive_until(lambda: one.message_view.scroll_anchor() == anchor, timeout=5)
        gui.run(asyncio.sleep(0.3))  # and it stays there (nothing scrolls it to the newest afterwards)
        assert one.message_view.scroll_anchor() == anchor
        assert two.message_view.is_at_bottom() and two.message_view.scroll_anchor() is None
        quiet(gui)
    finally:
        again.close_all()


def test_an_anchor_at_the_oldest_message_is_restored_and_a_vanished_one_opens_at_the_newest(
    gui: Gui, qtbot: Any
) -> None:
    thread = long_threads(gui)[0]
    cached = gui.service.cache.reader.messages(thread.account_id, thread.conversation_id, limit=500)
    window = gui.manager.open_window()
    exposed(gui, window)
    window.open_conversation(thread)
    quiet(gui)
    scrolled_up(gui, window)
    window.close()
    settings = Settings(gui.data)
    oldest = min(cached, key=lambda m: (m.sent_at, m.message_id))
    settings.set_scroll_anchor(0, (oldest.message_id, 3))
    again = WindowManager(gui.service, settings, sandbox=True, recall_grace_s=0)
    again.open_saved_windows()
    restored(gui, again)
    quiet(gui)
    window = again.windows[0]
    exposed(gui, window)
    gui.drive_until(
        lambda: window.message_view.scroll_anchor() == ScrollAnchor(oldest.message_id, 3), timeout=5
    )
    window.close()

    settings.set_scroll_anchor(0, ("2-bm8tc3VjaC1tZXNzYWdl", 10))  # a message no longer cached
    third = WindowManager(gui.service, settings, sandbox=True, recall_grace_s=0)
    third.open_saved_windows()
    restored(gui, third)
    quiet(gui)
    window = third.windows[0]
    exposed(gui, window)
    gui.drive_until(lambda: window.message_model.rowCount() > 0 and window.message_view.is_at_bottom())
    gui.run(asyncio.sleep(0.2))
    assert window.message_view.is_at_bottom()
    quiet(gui)
    window.close()


def test_closing_windows_one_by_one_keeps_the_last_one_closed_for_the_next_start(
    gui: Gui, qtbot: Any
) -> None:
    threads = long_threads(gui)
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    second.resize(725, 500)
    second.open_conversation(threads[1])
    first.open_conversation(threads[0])
    quiet(gui)
    first.close()
    third = gui.manager.open_window()  # takes the free slot 0, not slot 1 (the second's)
    assert third.property("slot") == 0 and second.property("slot") == 1
    third.close()
    second.close()  # the last one standing: the next start opens it
    again = WindowManager(gui.service, Settings(gui.data), sandbox=True, recall_grace_s=0)
    again.open_saved_windows()
    restored(gui, again)
    quiet(gui)
    try:
        assert len(again.windows) == 1
        window = again.windows[0]
        current = window.current_conversation()
        assert current is not None and current.conversation_id == threads[1].conversation_id
        assert (window.width(), window.height()) == (725, 500)
        quiet(gui)
    finally:
        again.close_all()
