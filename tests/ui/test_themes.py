"""Themes: a dark palette one can read, the desktop's colour scheme followed, View › Theme, live switching."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ui.conversation_delegate import ConversationDelegate
from ui.main_window import MainWindow
from ui.message_model import MessageRole
from ui.palette import DARK, LIGHT, PALETTES, Palette
from ui.recall_log_model import RecallLogColumn
from ui.style import Theme, ThemeChoice, load_style_sheet, palette_for, qt_palette

from .fakes import demo_reader


def luminance(value: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    color = QColor(value)
    return 0.2126 * channel(color.red()) + 0.7152 * channel(color.green()) + 0.0722 * channel(color.blue())


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


READ_PAIRS = [
    ("text", "surface"),
    ("text", "window"),
    ("text", "subtle"),
    ("text", "selection"),
    ("secondary_text", "surface"),
    ("secondary_text", "subtle"),
    ("muted", "surface"),
    ("muted", "window"),
    ("muted", "subtle"),
    ("muted", "selection"),
    ("muted", "other_bubble"),
    ("muted", "day_fill"),
    ("own_text", "own_bubble"),
    ("own_muted", "own_bubble"),
    ("other_text", "other_bubble"),
    ("accent", "other_bubble"),
    ("accent", "surface"),
    ("on_accent", "accent"),
    ("on_accent", "chip_checked"),
    ("on_accent", "danger"),
    ("text", "reaction_fill"),
    ("danger", "surface"),
    ("success", "surface"),
    ("text", "info_bg"),
    ("text", "warning_bg"),
    ("text", "error_bg"),
    ("sandbox_text", "sandbox_bg"),
]
"""(text role, background role) of every pair a person reads: message text on both bubbles, the muted
times, headlines and date separators, names and links on the other bubble, badges on the accent."""


@pytest.fixture
def app_palette(qapp: QApplication) -> Iterator[None]:
    """A ``Theme`` sets the application's palette: put the test's default back."""
    before = QGuiApplication.palette()
    yield
    QGuiApplication.setPalette(before)


@pytest.mark.parametrize("palette", [LIGHT, DARK], ids=["light", "dark"])
@pytest.mark.parametrize(("fg", "bg"), READ_PAIRS)
def test_every_text_a_person_reads_has_aa_contrast(palette: Palette, fg: str, bg: str) -> None:
    ratio = contrast(getattr(palette, fg), getattr(palette, bg))
    assert ratio >= 4.5, f"{palette.name}: {fg} on {bg} is {ratio:.2f}:1"


@pytest.mark.parametrize("palette", [LIGHT, DARK], ids=["light", "dark"])
def test_initials_on_every_avatar_are_legible(palette: Palette) -> None:
    # Bold initials at 1.05× the base font: large text, whose AA threshold is 3:1.
    worst = min(contrast(palette.avatar_text, avatar) for avatar in palette.avatars)
    assert worst >= 3.0


def test_the_dark_palette_is_dark_and_complete() -> None:
    assert luminance(DARK.surface) < 0.05 < luminance(DARK.text)
    assert set(PALETTES) == {"light", "dark"} and PALETTES["dark"] is DARK
    # No surface is left at a light value by mistake.
    surfaces = ("window", "surface", "subtle", "alternate_row", "search", "selection", "other_bubble")
    surfaces += ("reaction_fill", "day_fill", "info_bg", "warning_bg", "error_bg", "button_hover")
    assert all(luminance(getattr(DARK, role)) < 0.05 for role in surfaces)
    sheet = load_style_sheet(palette=DARK)
    assert "$" not in sheet and DARK.surface in sheet and LIGHT.surface not in sheet


def test_system_follows_the_desktops_scheme_and_a_choice_overrides_it() -> None:
    assert palette_for(ThemeChoice.SYSTEM, Qt.ColorScheme.Dark) is DARK
    assert palette_for(ThemeChoice.SYSTEM, Qt.ColorScheme.Light) is LIGHT
    assert palette_for(ThemeChoice.SYSTEM, Qt.ColorScheme.Unknown) is LIGHT
    assert palette_for(ThemeChoice.LIGHT, Qt.ColorScheme.Dark) is LIGHT
    assert palette_for(ThemeChoice.DARK, Qt.ColorScheme.Light) is DARK
    assert ThemeChoice.parse("dark") is ThemeChoice.DARK
    assert ThemeChoice.parse("purple") is ThemeChoice.SYSTEM  # a hand-edited settings file


def test_the_theme_follows_a_scheme_change_live_and_sets_the_application_palette(
    qtbot: QtBot, app_palette: None
) -> None:
    theme = Theme(ThemeChoice.SYSTEM)
    theme.set_color_scheme(Qt.ColorScheme.Light)
    with qtbot.waitSignal(theme.palette_changed) as changed:
        theme.set_color_scheme(Qt.ColorScheme.Dark)
    assert changed.args == [DARK] and theme.palette is DARK
    # Dialogs and tooltips (not painted by the style sheet) follow through the application's palette.
    window_color = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    assert window_color == QColor(DARK.window)
    assert qt_palette(DARK).color(QPalette.ColorRole.Text) == QColor(DARK.text)
    # A choice wins over the desktop, and the desktop's next change does nothing to it.
    with qtbot.waitSignal(theme.palette_changed):
        theme.set_choice(ThemeChoice.LIGHT)
    with qtbot.assertNotEmitted(theme.palette_changed):
        theme.set_color_scheme(Qt.ColorScheme.Light)
        theme.set_color_scheme(Qt.ColorScheme.Dark)
    assert theme.palette is LIGHT
    # The real style hint's signal reaches it (the scheme is the platform's: only the wiring is checked).
    theme.set_choice(ThemeChoice.SYSTEM)
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.palette is DARK


def bubble_pixel(window: MainWindow) -> QColor:
    """The colour inside the other person's newest bubble, as the thread paints it now."""
    view = window.message_view
    model = window.message_model
    row = next(
        r
        for r in reversed(range(model.rowCount()))
        if not model.index(r, 0).data(MessageRole.MESSAGE).is_sent_by_owner
    )
    index = model.index(row, 0)
    rect = view.visualRect(index)
    image = view.viewport().grab().toImage()
    return image.pixelColor(QPoint(rect.left() + 40, rect.top() + 8))


def test_a_window_switches_live_style_sheet_rows_and_views(qtbot: QtBot) -> None:
    reader = demo_reader()
    window = MainWindow(reader)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    conversation = reader.conversation("acc-1", "c0")
    assert conversation is not None
    window.open_conversation(conversation)
    qtbot.wait(50)
    assert LIGHT.surface in window.styleSheet()
    assert bubble_pixel(window) == QColor(LIGHT.other_bubble)
    conversations = window.conversation_view.itemDelegate()
    assert isinstance(conversations, ConversationDelegate)

    window.set_theme(DARK, ThemeChoice.DARK)
    qtbot.wait(50)
    assert DARK.surface in window.styleSheet() and LIGHT.surface not in window.styleSheet()
    assert conversations.palette is DARK and window.message_view.bubble_delegate.palette is DARK
    # The rows cached in the light palette are not what is shown now.
    assert bubble_pixel(window) == QColor(DARK.other_bubble)
    assert window.theme_actions[ThemeChoice.DARK].isChecked()
    list_pixel = window.conversation_view.viewport().grab().toImage().pixelColor(QPoint(200, 5))
    assert list_pixel != QColor(LIGHT.surface)

    window.set_theme(LIGHT, ThemeChoice.SYSTEM)
    qtbot.wait(50)
    assert bubble_pixel(window) == QColor(LIGHT.other_bubble)
    assert window.theme_actions[ThemeChoice.SYSTEM].isChecked()
    assert not window.theme_actions[ThemeChoice.DARK].isChecked()


def test_view_theme_asks_for_the_choice(qtbot: QtBot) -> None:
    window = MainWindow(demo_reader(), style_sheet="")
    qtbot.addWidget(window)
    assert [a.text() for a in window.theme_actions.values()] == ["System", "Light", "Dark"]
    with qtbot.waitSignal(window.theme_requested) as asked:
        window.theme_actions[ThemeChoice.DARK].trigger()
    assert asked.args == ["dark"]
    # A window made without the app's style sheet stays without one; its delegates still switch.
    window.set_theme(DARK)
    assert window.styleSheet() == "" and window.message_view.bubble_delegate.palette is DARK


def test_the_recall_logs_result_colours_follow_the_palette(qtbot: QtBot) -> None:
    window = MainWindow(demo_reader(), style_sheet="")
    qtbot.addWidget(window)
    model = window.recall_log_model
    recalled = next(
        r for r in range(model.rowCount()) if model.index(r, RecallLogColumn.RESULT).data() == "Recalled"
    )
    index = model.index(recalled, RecallLogColumn.RESULT)
    assert index.data(Qt.ItemDataRole.ForegroundRole) == QColor(LIGHT.success)
    with qtbot.waitSignal(model.dataChanged):
        window.set_theme(DARK)
    assert index.data(Qt.ItemDataRole.ForegroundRole) == QColor(DARK.success)
    green = dataclasses.replace(DARK, name="green", success="#00FF00")
    window.set_theme(green)
    assert index.data(Qt.ItemDataRole.ForegroundRole) == QColor("#00FF00")
