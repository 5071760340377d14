"""Help › About and File › Quit (issue 16, Why §5), on the real app's windows over the sandbox."""

from __future__ import annotations

from importlib import metadata

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from desktop.backend import Backend
from desktop.paths import log_file
from desktop.settings import WINDOW_COUNT, Settings
from desktop.windows import WindowManager
from tests.desktop.gui_harness import Gui
from tests.fixtures.exposed import quiet
from ui.dialogs import AboutDialog

pytestmark = pytest.mark.gui


def about_of(gui: Gui) -> AboutDialog:
    window = gui.manager.windows[0]
    window.about_action.trigger()  # Help › About
    [dialog] = [d for d in window.findChildren(AboutDialog) if d.isVisible()]
    return dialog


def everything_said(dialog: AboutDialog) -> str:
    return "\n".join(label.text() for label in dialog.findChildren(QLabel)) + dialog.text()


def test_about_says_the_version_where_the_files_are_and_the_service_never_the_key(gui: Gui) -> None:
    gui.manager.open_window()
    help_menu = [a.text() for a in gui.manager.windows[0].menuBar().actions()]
    assert help_menu[-1] == "&Help"
    dialog = about_of(gui)
    said = everything_said(dialog)
    assert f"ConnectSafely {metadata.version('connectsafely-desktop')}" in said
    assert str(gui.data) in said and str(log_file(gui.data)) in said
    assert gui.service.cache.path.name in said
    assert "sandbox" in dialog.fact_labels["Service"].text() and gui.sandbox.base_url in said
    assert gui.sandbox.key not in said
    copy = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Copy")
    copy.click()
    copied = QApplication.clipboard().text()
    assert str(gui.data) in copied and gui.sandbox.key not in copied
    dialog.accept()

    # Against a real service: its address and where the key comes from; still never the key.
    gui.service.backend = Backend(
        "https://api.example.test/linkedin", None, gui.sandbox.key, False, "keyring"
    )
    dialog = about_of(gui)
    said = everything_said(dialog)
    assert "https://api.example.test/linkedin\nAPI key from the system keyring" in said
    assert gui.sandbox.key not in said
    dialog.accept()


def test_file_quit_closes_every_window_through_its_normal_close_and_the_next_start_reopens_them(
    gui: Gui,
) -> None:
    first = gui.manager.open_window()
    second = gui.manager.open_window()
    assert first.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    # A recall waiting for its grace period in the second window: quitting asks there, as closing does.
    message = gui.own_recallable()
    second.open_conversation(gui.conversation_of(message))
    quiet(gui)
    second.set_recall_grace_seconds(30)
    second.request_recall(message)
    assert second.confirm_dialog is not None
    second.confirm_dialog.accept()
    closed: list[bool] = []
    gui.manager.all_closed.connect(lambda: closed.append(True))

    first.quit_action.trigger()  # File › Quit
    assert first not in gui.manager.windows and first.isHidden()
    question = second.close_question
    assert question is not None and question.isVisible()
    assert second in gui.manager.windows and not closed
    [stay] = [b for b in question.buttons() if b.text() == "Don't close"]
    stay.click()
    gui.drive_until(lambda: second.close_question is None)
    assert second.isVisible() and not closed  # "Don't close": the app keeps running with it

    second.quit_action.trigger()
    question = second.close_question
    assert question is not None
    [cancel] = [b for b in question.buttons() if b.text() == "Cancel the recall"]
    cancel.click()
    gui.drive_until(lambda: bool(closed))
    assert gui.manager.windows == []
    # The windows open at the last Quit: the second, with its conversation.
    assert Settings(gui.data).get_int(WINDOW_COUNT) == 1
    again = WindowManager(gui.service, Settings(gui.data), sandbox=True, recall_grace_s=0)
    again.open_saved_windows()
    try:
        [window] = again.windows
        gui.drive_until(lambda: window.current_conversation() is not None)
        current = window.current_conversation()
        assert current is not None and current.conversation_id == message.conversation_id
        quiet(gui)
    finally:
        again.close_all()
