"""Message search in the window, the jump to a result, Escape, and the Ctrl+K quick switcher."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from sync.model import ChangeSet, RowKey
from ui.main_window import MainWindow
from ui.palette import LIGHT
from ui.search_model import SearchRole, excerpt
from ui.search_view import utf16_spans

from .fakes import MINUTE, NOW_MS, FakeInboxReader, make_conversation, make_message


def inbox() -> FakeInboxReader:
    """c0..c4; c3 ("Émile Zola") holds 300 messages, the oldest ones about a résumé; c1 holds a few."""
    reader = FakeInboxReader()
    for n in range(5):
        name = "Émile Zola" if n == 3 else f"Person {n}"
        reader.put_conversation(make_conversation(n, name=name, text=f"latest {n}"))
    for n in range(300):
        text = "here is my résumé, Émile" if n in (3, 4) else f"filler line {n}"
        reader.put_message(
            dataclasses.replace(make_message(n, conversation="c3", text=text), sender_name="Émile Zola")
        )
    for n in range(300, 305):
        reader.put_message(make_message(n, conversation="c1", text=f"short note {n} <b>bold</b>"))
    return reader


@pytest.fixture
def reader() -> FakeInboxReader:
    return inbox()


@pytest.fixture
def window(qtbot: QtBot, reader: FakeInboxReader) -> MainWindow:
    window = MainWindow(reader, style_sheet="")
    qtbot.addWidget(window)
    with qtbot.waitExposed(window):
        window.show()
    return window


def results(window: MainWindow) -> list[tuple[str, str]]:
    """(kind, text) of every result row: a header's title or a message's excerpt."""
    model = window.search_panel.model
    out = []
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        kind = index.data(SearchRole.KIND)
        out.append((kind, index.data(SearchRole.TITLE if kind == "conversation" else SearchRole.EXCERPT)))
    return out


def type_text(widget: QWidget, text: str) -> None:
    """Type ``text`` key by key (QTest's keyClicks takes ASCII only): each key a press and a release."""
    for ch in text:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier, ch))


def type_search(qtbot: QtBot, window: MainWindow, text: str) -> None:
    window.search_edit.setFocus()
    window.search_edit.clear()
    type_text(window.search_edit, text)


def test_typing_finds_a_message_in_another_conversation(qtbot: QtBot, window: MainWindow) -> None:
    window.open_conversation(window._reader.conversation("acc-1", "c1"))  # type: ignore[arg-type]
    type_search(qtbot, window, "résumé")
    assert window.search_panel.widget.isVisible()
    assert results(window) == [
        ("conversation", "Émile Zola"),
        ("message", "here is my résumé, Émile"),
        ("message", "here is my résumé, Émile"),
    ]
    assert "2 found in 1 conversation" in window.search_panel.heading.text()
    # The match is highlighted: its span in the excerpt, and its sender's name where it matched.
    index = window.search_panel.model.index(1, 0)
    text, spans = index.data(SearchRole.EXCERPT), index.data(SearchRole.EXCERPT_SPANS)
    assert [text[a:b] for a, b in spans] == ["résumé"]


def test_a_search_that_finds_only_messages_gives_them_the_empty_lists_height(
    qtbot: QtBot, window: MainWindow
) -> None:
    """Seen under Xvfb: the empty conversation list kept half the sidebar, blank above "No matching
    conversations", and the message results were squeezed into the other half."""
    type_search(qtbot, window, "résumé")
    qtbot.waitUntil(lambda: window.empty_list_label.isVisible())
    assert window.conversation_model.rowCount() == 0
    results_view = window.search_panel.view
    qtbot.waitUntil(lambda: results_view.height() > window.sidebar.widget.height() // 2, timeout=2_000)
    assert window.empty_list_label.height() < window.sidebar.widget.height() // 4
    assert not window.conversation_view.isVisible()
    window.search_edit.clear()
    qtbot.waitUntil(lambda: window.conversation_view.isVisible())
    assert not window.empty_list_label.isVisible() and window.conversation_model.rowCount() == 5


@pytest.mark.parametrize("typed", ["Émile", "emile", "ÉMILE"])
def test_every_spelling_of_a_name_finds_the_same(qtbot: QtBot, window: MainWindow, typed: str) -> None:
    type_search(qtbot, window, typed)
    found = [text for kind, text in results(window) if kind == "message"]
    # Every message of c3 is from Émile (the sender's name is searched): the newest 50.
    assert found == [f"filler line {n}" for n in range(299, 249, -1)]
    assert "50+ found" in window.search_panel.heading.text()
    first = window.search_panel.model.index(1, 0)
    name = first.data(SearchRole.SENDER)
    assert [name[a:b] for a, b in first.data(SearchRole.SENDER_SPANS)] == ["Émile"]
    # The conversation list's filter folds the same way (participants' names).
    qtbot.waitUntil(lambda: window.conversation_model.rowCount() == 1)
    assert window.conversation_model.conversation_at(0).title == "Émile Zola"  # type: ignore[union-attr]


def test_enter_jumps_to_the_message_in_its_thread_loading_older_pages(
    qtbot: QtBot, window: MainWindow
) -> None:
    type_search(qtbot, window, "résumé")
    assert window.message_model.rowCount() == 0
    qtbot.keyClick(window.search_edit, Qt.Key.Key_Return)  # the first (newest) result
    target = ("acc-1", "m4")

    def shown() -> bool:
        current = window.message_view.currentIndex()
        if not current.isValid():
            return False
        message = window.message_model.message_at(current.row())
        if message is None or (message.account_id, message.message_id) != target:
            return False
        rect = window.message_view.visualRect(current)
        return window.message_view.viewport().rect().intersects(rect)

    qtbot.waitUntil(shown)
    assert window.current_conversation().conversation_id == "c3"  # type: ignore[union-attr]
    assert window.message_model.rowCount() >= 296  # read back past 295 newer messages
    # It stays there after the window is resized (held until the user scrolls).
    window.resize(1000, 700)
    qtbot.wait(50)
    assert shown()


def test_down_moves_into_the_results_and_double_click_jumps(qtbot: QtBot, window: MainWindow) -> None:
    type_search(qtbot, window, "note")
    qtbot.keyClick(window.search_edit, Qt.Key.Key_Down)
    view = window.search_results
    assert view.hasFocus() and view.currentIndex().row() == 1  # row 0 is the conversation's header
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == 2
    index = view.model().index(3, 0)
    rect = view.visualRect(index)
    # (QTest's double click alone is no double click to an item view: a click first, as a person makes.)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    expected = view.model().index(3, 0).data(SearchRole.MESSAGE)
    qtbot.waitUntil(lambda: window.message_view.currentIndex().isValid())
    shown = window.message_model.message_at(window.message_view.currentIndex().row())
    assert shown == expected and window.current_conversation().conversation_id == "c1"  # type: ignore[union-attr]


def test_escape_clears_the_search(qtbot: QtBot, window: MainWindow) -> None:
    type_search(qtbot, window, "note")
    assert window.search_panel.widget.isVisible()
    qtbot.keyClick(window.search_edit, Qt.Key.Key_Escape)
    assert window.search_edit.text() == ""
    assert not window.search_panel.widget.isVisible()
    assert window.search_panel.model.rowCount() == 0
    qtbot.waitUntil(lambda: window.conversation_model.rowCount() == 5)
    # Escape in the results clears too, and gives the search box the focus back.
    type_search(qtbot, window, "note")
    qtbot.keyClick(window.search_edit, Qt.Key.Key_Down)
    qtbot.keyClick(window.search_results, Qt.Key.Key_Escape)
    assert window.search_edit.text() == "" and window.search_edit.hasFocus()


def test_a_recalled_message_leaves_the_results_at_once(
    qtbot: QtBot, window: MainWindow, reader: FakeInboxReader
) -> None:
    type_search(qtbot, window, "résumé")
    message = window.search_panel.model.message_at(1)
    assert message is not None
    changes = reader.hide(message)
    window.hide_recalled_now(changes)  # before any coalescing: in the same call
    assert [t for k, t in results(window) if k == "message"] == ["here is my résumé, Émile"]
    # Applying the whole change set afterwards finds it gone; a search again does not find it either.
    window.apply_changes(changes)
    window.flush_changes()
    type_search(qtbot, window, "résumé")
    assert len([k for k, _ in results(window) if k == "message"]) == 1
    other = window.search_panel.model.message_at(1)
    assert other is not None and other.message_id != message.message_id
    # The last one of a conversation takes its header with it.
    window.hide_recalled_now(reader.hide(other))
    assert results(window) == []
    assert window.search_panel.empty_label.text() == "No messages found for “résumé”"


def test_a_new_message_is_found_by_the_search_shown(
    qtbot: QtBot, window: MainWindow, reader: FakeInboxReader
) -> None:
    type_search(qtbot, window, "résumé")
    new = make_message(900, conversation="c2", text="another résumé", sent_at=NOW_MS)
    reader.put_message(new)
    window.apply_changes(ChangeSet(messages_inserted=frozenset({RowKey("acc-1", "c2", "m900")})))
    window.flush_changes()
    qtbot.waitUntil(lambda: ("message", "another résumé") in results(window))
    assert results(window)[0] == ("conversation", "Person 2")  # the newest match's conversation first


def test_message_text_is_plain_and_the_highlight_is_painted(qtbot: QtBot, window: MainWindow) -> None:
    type_search(qtbot, window, "bold")
    found = [t for k, t in results(window) if k == "message"]
    assert found and all(t.endswith("<b>bold</b>") for t in found)  # markup shown as typed
    view = window.search_results
    view.resize(380, 400)
    index = view.model().index(1, 0)
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32)
    image.fill(QColor(LIGHT.surface))
    painter = QPainter(image)
    view.viewport().render(painter, QPoint())
    painter.end()
    rect = view.visualRect(index)
    marked = QColor(LIGHT.warning_border).rgb()
    hits = sum(
        1
        for x in range(rect.left(), rect.right())
        for y in range(rect.top(), rect.bottom())
        if image.pixel(x, y) == marked
    )
    assert hits > 20  # the highlight's background behind "bold"


def test_excerpt_keeps_the_match_in_view_and_spans_follow() -> None:
    text = "x" * 100 + "\nthe résumé\tis here" + "y" * 400
    line, spans = excerpt(text, ((105, 111),))
    assert "\n" not in line and "\t" not in line
    assert line.startswith("…") and line.endswith("…")
    assert [line[a:b] for a, b in spans] == ["résumé"]
    assert excerpt("short", ()) == ("short", ())


def test_utf16_spans_count_an_emoji_as_two() -> None:
    text = "🎉 résumé"
    assert utf16_spans(text, ((2, 8),)) == [(3, 6)]


def test_ctrl_k_opens_the_switcher_and_filters_by_the_caches_rule(
    qtbot: QtBot, window: MainWindow, reader: FakeInboxReader
) -> None:
    switcher = window.quick_switcher
    assert not switcher.isVisible()
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(switcher.isVisible)
    assert switcher.model.rowCount() == 5 and switcher.view.currentIndex().row() == 0
    for typed in ("emile", "ÉMILE", "Émile z"):
        switcher.edit.clear()
        type_text(switcher.edit, typed)
        assert switcher.model.rowCount() == 1, typed
    assert switcher.model.conversation_at(0).title == "Émile Zola"  # type: ignore[union-attr]
    with qtbot.waitSignal(window.conversation_opened) as opened:
        qtbot.keyClick(switcher.edit, Qt.Key.Key_Return)
    assert opened.args[0].conversation_id == "c3"
    assert not switcher.isVisible()


def test_the_switcher_moves_with_the_keys_and_escape_closes_it(qtbot: QtBot, window: MainWindow) -> None:
    switcher = window.quick_switcher
    window.quick_switch_action.trigger()
    qtbot.waitUntil(switcher.isVisible)
    qtbot.keyClick(switcher.edit, Qt.Key.Key_Down)
    qtbot.keyClick(switcher.edit, Qt.Key.Key_Down)
    assert switcher.view.currentIndex().row() == 2
    qtbot.keyClick(switcher.edit, Qt.Key.Key_Up)
    with qtbot.waitSignal(window.conversation_opened) as opened:
        qtbot.keyClick(switcher.edit, Qt.Key.Key_Enter)
    assert opened.args[0].conversation_id == "c1"
    window.quick_switch_action.trigger()
    qtbot.waitUntil(switcher.isVisible)
    assert switcher.edit.text() == ""  # a new start each time
    qtbot.keyClick(switcher.edit, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not switcher.isVisible())
    QApplication.processEvents()
    switcher.edit.setText("nobody at all")
    assert switcher.model.rowCount() == 0 and not switcher.empty_label.isHidden()
    assert MINUTE  # (the fakes' clock)
