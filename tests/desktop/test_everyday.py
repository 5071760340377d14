"""Everyday actions, the readable recall log and themes, through the real service and windows, against the
real sandbox (both profiles where the API differs)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QToolButton, QWidget

from desktop import actions as service_actions
from desktop.settings import THEME, Settings
from sync.model import Conversation, Message, RecallState
from tests.desktop.gui_harness import Gui
from tests.fixtures.sandbox import SandboxHandle
from ui.conversation_model import ConversationRole
from ui.palette import DARK, LIGHT
from ui.recall_log_model import CSV_HEADER, RecallLogColumn
from ui.sources import MarkAllRead
from ui.style import ThemeChoice

pytestmark = pytest.mark.gui


@pytest.fixture
def app_palette() -> Iterator[None]:
    before = QGuiApplication.palette()
    yield
    QGuiApplication.setPalette(before)


def test_view_theme_switches_every_window_live_and_is_remembered(gui: Gui, app_palette: None) -> None:
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    assert first.palette_in_use is LIGHT or first.palette_in_use is DARK  # the desktop's, whichever
    gui.manager.theme.set_color_scheme(Qt.ColorScheme.Light)
    assert first.palette_in_use is LIGHT and second.palette_in_use is LIGHT

    first.theme_actions[ThemeChoice.DARK].trigger()
    for window in (first, second):
        assert window.palette_in_use is DARK
        assert DARK.surface in window.styleSheet()
        assert window.theme_actions[ThemeChoice.DARK].isChecked()
        assert window.message_view.bubble_delegate.palette is DARK
    assert QGuiApplication.palette().color(QPalette.ColorRole.Window) == QColor(DARK.window)
    assert Settings(gui.data).get_str(THEME) == "dark"
    # The desktop turning light does not override a choice.
    gui.manager.theme.set_color_scheme(Qt.ColorScheme.Light)
    assert second.palette_in_use is DARK
    third = gui.manager.open_window()
    assert third.palette_in_use is DARK and third.theme_actions[ThemeChoice.DARK].isChecked()

    # Back to System: the desktop's scheme again, followed live.
    second.theme_actions[ThemeChoice.SYSTEM].trigger()
    assert first.palette_in_use is LIGHT
    gui.manager.theme.set_color_scheme(Qt.ColorScheme.Dark)
    assert all(w.palette_in_use is DARK for w in (first, second, third))
    assert Settings(gui.data).get_str(THEME) == "system"


def test_the_recall_log_names_the_conversation_and_message_and_exports_without_the_key(
    gui: Gui, tmp_path: Path
) -> None:
    window = gui.manager.open_window()
    window.recall_log_dock.show()
    message = gui.own_recallable()
    conversation = gui.conversation_of(message)
    window.open_conversation(conversation)
    # One cancelled in its grace period, one done.
    window.recall_cancelled.emit(message)
    gui.drive_until(lambda: window.recall_log_model.rowCount() == 1)
    window.recall_requested.emit(message)
    gui.drive_until(
        lambda: (
            window.recall_log_model.rowCount() == 2
            and window.recall_log_model.index(0, RecallLogColumn.RESULT).data() == "Recalled"
        )
    )
    model = window.recall_log_model
    first_line = message.text.strip().splitlines()[0]
    for row, result in ((0, "Recalled"), (1, "Cancelled")):
        shown = {column: model.index(row, column).data() for column in RecallLogColumn}
        assert shown[RecallLogColumn.CONVERSATION] == conversation.title
        assert shown[RecallLogColumn.MESSAGE] == first_line[:80] or shown[RecallLogColumn.MESSAGE].startswith(
            first_line[:70]
        )
        assert shown[RecallLogColumn.RESULT] == result
    assert model.index(0, RecallLogColumn.LATENCY).data().endswith(" ms")

    target = tmp_path / "recalls.csv"
    assert window.docks.recall_log_panel.export_to(str(target))
    text = target.read_text(encoding="utf-8-sig")
    assert gui.sandbox.key not in text and gui.service.backend.api_key not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_HEADER
    assert [r[4] for r in rows[1:]] == ["Recalled", "Cancelled"]
    assert rows[1][2] == conversation.title
    assert gui.service.reader.recall_log(5)[0].outcome is RecallState.RECALLED


def server_unread(gui: Gui, account_id: str) -> dict[str, int]:
    """C1 as the server lists it now: conversation id → unread count."""
    found: dict[str, int] = {}
    cursor = None
    with gui.sandbox.client() as client:
        while True:
            params = {"accountId": account_id, "count": 100}
            if cursor:
                params["nextCursor"] = cursor
            page = client.get("/conversations", params=params).json()
            for item in page["conversations"]:
                found[item["conversationId"]] = item["unreadCount"]
            cursor = page.get("nextCursor")
            if not page.get("hasMore") or not cursor:
                return found


def unread_in_cache(gui: Gui, account_id: str | None = None) -> list[Conversation]:
    return gui.service.cache.reader.unread_conversations(
        None if account_id is None else [account_id], limit=1000
    )


def test_mark_as_read_and_unread_from_the_menu_reach_the_server_and_every_window(
    gui_factory: Any, sandbox_any_profile: SandboxHandle
) -> None:
    gui = gui_factory(sandbox_any_profile)
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    [conversation, *_] = unread_in_cache(gui)
    key = (conversation.account_id, conversation.conversation_id)
    assert server_unread(gui, conversation.account_id)[conversation.conversation_id] > 0

    actions = {a.objectName(): a for a in first.conversation_menu(conversation).actions()}
    actions["markReadAction"].trigger()
    gui.drive_until(lambda: gui.service.reader.conversation(*key).unread_count == 0)  # type: ignore[union-attr]
    assert server_unread(gui, conversation.account_id)[conversation.conversation_id] == 0

    def row_unread(window: Any) -> int:
        row = window.conversation_model.row_of(*key)
        return int(window.conversation_model.index(row, 0).data(ConversationRole.UNREAD_COUNT))

    gui.drive_until(lambda: row_unread(first) == 0 and row_unread(second) == 0)

    read = gui.service.reader.conversation(*key)
    assert read is not None
    actions = {a.objectName(): a for a in second.conversation_menu(read).actions()}
    actions["markUnreadAction"].trigger()
    gui.drive_until(lambda: row_unread(first) > 0 and row_unread(second) > 0)
    assert server_unread(gui, conversation.account_id)[conversation.conversation_id] > 0


def mark_unread_on_the_server(sandbox: SandboxHandle, count: int) -> str:
    """C8 on ``count`` conversations of the first account with an API seat; its id."""
    with sandbox.client() as client:
        accounts = [a for a in client.get("/accounts").json() if a.get("apiSeatAllocated", True)]
        account_id = accounts[0]["id"]
        page = client.get("/conversations", params={"accountId": account_id, "count": count}).json()
        for item in page["conversations"]:
            urn = quote(item["conversationUrn"], safe="")
            assert client.patch(f"/conversations/{urn}/mark-unread").status_code == 200
    return str(account_id)


def test_mark_all_read_reads_every_unread_conversation_of_the_accounts_shown_paced(
    gui_factory: Any, sandbox_any_profile: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_actions, "MARK_ALL_READ_BURST", 2)
    monkeypatch.setattr(service_actions, "MARK_ALL_READ_EVERY_S", 0.25)
    shown_id = mark_unread_on_the_server(sandbox_any_profile, 6)
    gui = gui_factory(sandbox_any_profile)
    window = gui.manager.open_window()
    window.show_account(shown_id)
    before = unread_in_cache(gui, shown_id)
    assert len(before) >= 6
    others = [a.account_id for a in gui.service.reader.accounts() if a.account_id != shown_id]
    others_before = {a: len(unread_in_cache(gui, a)) for a in others}
    progress: list[MarkAllRead] = []
    gui.service.mark_all_read_progress.connect(progress.append)

    started = time.monotonic()
    window.mark_all_read_action.trigger()
    gui.drive_until(lambda: bool(progress) and progress[-1].finished, timeout=60)
    elapsed = time.monotonic() - started

    assert progress[-1] == MarkAllRead(total=len(before), done=len(before), finished=True)
    assert [p.done for p in progress if not p.finished] == list(range(len(before) + 1))
    assert unread_in_cache(gui, shown_id) == []
    assert all(n == 0 for n in server_unread(gui, shown_id).values())
    # Only the accounts shown.
    assert {a: len(unread_in_cache(gui, a)) for a in others} == others_before
    # Two at once, then one every 0.25 s.
    assert elapsed >= (len(before) - 2) * 0.25 * 0.9
    assert window.statusBar().currentMessage() == f"Marked {len(before)} conversations read."
    assert window.mark_all_read_action.isEnabled()


def test_mark_all_read_skips_an_account_without_api_access(gui_factory: Any, vendor_sandbox: Any) -> None:
    gui = gui_factory(vendor_sandbox)
    window = gui.manager.open_window()
    seatless = [a for a in gui.service.reader.accounts() if a.api_seat is False]
    assert seatless, "the vendor profile has an account without a seat"
    progress: list[MarkAllRead] = []
    gui.service.mark_all_read_progress.connect(progress.append)
    window.mark_all_read()
    gui.drive_until(lambda: bool(progress) and progress[-1].finished, timeout=120)
    assert progress[-1].failed == 0 and progress[-1].error == ""
    assert unread_in_cache(gui) == []


def test_the_starred_filter_follows_a_star_given_in_another_window(
    gui_factory: Any, sandbox_any_profile: SandboxHandle
) -> None:
    gui = gui_factory(sandbox_any_profile)
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    second.starred_button.setChecked(True)
    starred_before = second.conversation_model.rowCount()
    seated = {a.account_id for a in gui.service.reader.accounts() if a.api_seat is not False}
    conversation = next(
        c
        for c in gui.service.cache.reader.conversations(None, limit=50)
        if not c.starred and c.account_id in seated
    )
    actions = {a.objectName(): a for a in first.conversation_menu(conversation).actions()}
    actions["starAction"].trigger()
    key = (conversation.account_id, conversation.conversation_id)
    gui.drive_until(lambda: second.conversation_model.row_of(*key) is not None)
    assert second.conversation_model.rowCount() == starred_before + 1
    starred = gui.service.reader.conversation(*key)
    assert starred is not None and starred.starred
    actions = {a.objectName(): a for a in second.conversation_menu(starred).actions()}
    actions["starAction"].trigger()
    gui.drive_until(lambda: second.conversation_model.row_of(*key) is None)


def bubble(window: Any, message: Message) -> Any:
    row = window.message_model.row_of(message.account_id, message.message_id)
    return None if row is None else window.message_model.bubble_data(row)


def picker_button(window: Any, message: Message, emoji: str) -> QToolButton:
    """The picker's button in the bubble menu, as the window builds it now (from the row's current value)."""
    row = window.message_model.row_of(message.account_id, message.message_id)
    menu = window.message_menu(window.message_model.message_at(row))
    picker = menu.findChild(QWidget, "reactionPicker")
    return next(b for b in picker.findChildren(QToolButton) if b.text() == emoji)


def reread_from_the_server(gui: Gui, conversation: Conversation) -> None:
    """C2 again, stored as every sync pass stores it (the vendor's has no reactions field at all)."""
    from sync.engine import message_in

    async def reread() -> None:
        page = await gui.service.api.messages(conversation.account_id, conversation.conversation_urn)
        await gui.service._write(
            gui.service.cache.writer.upsert_messages([message_in(m) for m in page.messages])
        )

    gui.run(reread())


def test_a_reaction_goes_to_linkedin_shows_in_every_window_and_survives_a_reread(
    gui_factory: Any, sandbox_any_profile: SandboxHandle
) -> None:
    gui = gui_factory(sandbox_any_profile)
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    seated = {a.account_id for a in gui.service.reader.accounts() if a.api_seat is not False}
    conversation = next(
        c for c in gui.service.cache.reader.conversations(None, limit=50) if c.account_id in seated
    )
    first.open_conversation(conversation)
    second.open_conversation(conversation)
    message = first.message_model.message_at(first.message_model.rowCount() - 1)
    assert message is not None
    before = {r.emoji: r.count for r in message.reactions}
    assert not any(r.reacted_by_owner and r.emoji == "🎉" for r in message.reactions)

    picker_button(first, message, "🎉").click()

    def shows(window: Any, emoji: str, mine: bool) -> bool:
        data = bubble(window, message)
        return data is not None and (emoji in data.reactions) is mine and data.reacted is mine

    gui.drive_until(lambda: shows(first, "🎉", True) and shows(second, "🎉", True))
    stored = gui.service.cache.reader.message(message.account_id, message.message_id)
    assert stored is not None
    assert {r.emoji: (r.count, r.reacted_by_owner) for r in stored.reactions}["🎉"] == (
        before.get("🎉", 0) + 1,
        True,
    )
    routes = gui.sandbox.control("GET", "requests")["routes"]
    assert sum(n for route, n in routes.items() if route.startswith("POST") and "react" in route) == 1
    # The next read of the conversation keeps it: the server's totals (contract) or, where C2 has no
    # reactions at all (vendor), the ones worked out here.
    reread_from_the_server(gui, conversation)
    fresh = gui.service.cache.reader.message(message.account_id, message.message_id)
    assert fresh is not None and any(r.emoji == "🎉" and r.reacted_by_owner for r in fresh.reactions)
    assert shows(first, "🎉", True)

    # Checked in the picker now; a click takes it back, everywhere.
    button = picker_button(second, message, "🎉")
    assert button.isChecked()
    button.click()
    gui.drive_until(lambda: shows(first, "🎉", False) and shows(second, "🎉", False))
    gone = gui.service.cache.reader.message(message.account_id, message.message_id)
    assert gone is not None and "🎉" not in {r.emoji for r in gone.reactions if r.reacted_by_owner}


def test_another_sessions_reaction_arrives_with_the_servers_totals(gui: Gui) -> None:
    """Where there is a stream, ``message.reacted`` carries the totals: applied as they are."""
    gui.service.start()
    window = gui.manager.open_window()
    gui.drive_until(lambda: gui.service.stream_state.value == "live")
    conversation = gui.service.cache.reader.conversations(None, limit=1)[0]
    window.open_conversation(conversation)
    message = window.message_model.message_at(window.message_model.rowCount() - 1)
    assert message is not None
    with gui.sandbox.client(session="another-session") as client:
        path = (
            f"/conversations/{quote(message.conversation_urn, safe='')}"
            f"/messages/{quote(message.message_urn, safe='')}/react"
        )
        answer = client.post(
            path, params={"accountId": message.account_id}, json={"emoji": "😮", "react": True}
        )
        assert answer.status_code == 200
    gui.drive_until(lambda: "😮" in (bubble(window, message).reactions if bubble(window, message) else ""))
    stored = gui.service.cache.reader.message(message.account_id, message.message_id)
    assert stored is not None and any(r.emoji == "😮" and r.reacted_by_owner for r in stored.reactions)


def test_a_thread_from_the_cache_has_a_separator_above_each_days_first_message(gui: Gui) -> None:
    from ui.days import local_day

    window = gui.manager.open_window()
    conversation = max(
        gui.service.cache.reader.conversations(None, limit=50),
        key=lambda c: len(gui.service.cache.reader.messages(c.account_id, c.conversation_id, limit=50)),
    )
    window.open_conversation(conversation)
    model = window.message_model
    rows = [model.message_at(r) for r in range(model.rowCount())]
    days = [local_day(m.sent_at) for m in rows if m is not None]
    assert len(set(days)) > 1, "the seeded thread spans several days"
    expected = [day if i == 0 or days[i - 1] != day else 0 for i, day in enumerate(days)]
    shown = [model.bubble_data(r).day for r in range(model.rowCount())]  # type: ignore[union-attr]
    assert shown == expected
