"""Everyday actions, the readable recall log and themes, through the real service and windows, against the
real sandbox (both profiles where the API differs)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

from desktop.settings import THEME, Settings
from sync.model import RecallState
from tests.desktop.gui_harness import Gui
from ui.palette import DARK, LIGHT
from ui.recall_log_model import CSV_HEADER, RecallLogColumn
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
