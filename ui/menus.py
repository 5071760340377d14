"""The window's menu bar and shortcuts, and the context menu of a conversation row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget

from sync.model import Conversation
from sync.recall_rules import RECALL_ACTION_TEXT

from .style import THEME_CHOICE_TEXT, ThemeChoice


@dataclass(slots=True)
class WindowActions:
    """The menu bar's actions (the window connects them)."""

    new_window: QAction
    settings: QAction
    close: QAction
    message_menu: QMenu
    recall: QAction
    recall_log: QAction
    notifications: QAction
    refresh: QAction
    find: QAction
    view_menu: QMenu


def build_menu_bar(
    window: QMainWindow, recall_log_dock: QDockWidget, notifications_dock: QDockWidget
) -> WindowActions:
    """File, Message and View, with their shortcuts."""
    file_menu = window.menuBar().addMenu("&File")
    file_menu.setObjectName("fileMenu")
    new_window = file_menu.addAction("New Window")
    new_window.setShortcut(QKeySequence.StandardKey.New)
    settings = file_menu.addAction("Settings…")
    settings.setShortcut(QKeySequence("Ctrl+,"))
    settings.setMenuRole(QAction.MenuRole.PreferencesRole)
    file_menu.addSeparator()
    close = file_menu.addAction("Close Window")
    close.setShortcut(QKeySequence.StandardKey.Close)

    message_menu = window.menuBar().addMenu("&Message")
    recall = message_menu.addAction(RECALL_ACTION_TEXT)
    recall.setShortcut(QKeySequence("Ctrl+Shift+R"))

    view_menu = window.menuBar().addMenu("&View")
    recall_log = recall_log_dock.toggleViewAction()
    recall_log.setText("Recall log")
    recall_log.setShortcut(QKeySequence("Ctrl+L"))
    view_menu.addAction(recall_log)
    notifications = notifications_dock.toggleViewAction()
    notifications.setText("Notifications")
    view_menu.addAction(notifications)
    view_menu.addSeparator()
    refresh = view_menu.addAction("Refresh from LinkedIn")
    refresh.setObjectName("refreshAction")
    refresh.setShortcut(QKeySequence(Qt.Key.Key_F5))
    refresh.setStatusTip(
        "Ask ConnectSafely to read LinkedIn again for the accounts shown, then update this window"
    )
    window.addAction(refresh)  # F5 works while the menu bar is hidden too
    find = view_menu.addAction("Find conversation")
    find.setShortcut(QKeySequence.StandardKey.Find)
    return WindowActions(
        new_window, settings, close, message_menu, recall, recall_log, notifications, refresh, find, view_menu
    )


def theme_menu(view_menu: QMenu) -> dict[ThemeChoice, QAction]:
    """View › Theme: System (the desktop's light or dark), Light, Dark — one checked at a time."""
    view_menu.addSeparator()
    menu = view_menu.addMenu("Theme")
    menu.setObjectName("themeMenu")
    group = QActionGroup(menu)
    group.setExclusive(True)
    actions: dict[ThemeChoice, QAction] = {}
    for choice in ThemeChoice:
        action = menu.addAction(THEME_CHOICE_TEXT[choice])
        action.setObjectName(f"theme{choice.value.capitalize()}Action")
        action.setCheckable(True)
        action.setData(choice.value)
        group.addAction(action)
        actions[choice] = action
    actions[ThemeChoice.SYSTEM].setStatusTip("Follow the desktop's light or dark colours")
    return actions


def quit_and_about(window: QMainWindow) -> tuple[QAction, QAction]:
    """File › Quit (Ctrl+Q) at the end of the File menu, and Help › About as the menu bar's last menu."""
    file_menu = window.menuBar().findChild(QMenu, "fileMenu")
    if not isinstance(file_menu, QMenu):  # pragma: no cover - build_menu_bar made it
        raise RuntimeError("no File menu to add Quit to")
    file_menu.addSeparator()
    quit_action = file_menu.addAction("Quit")
    quit_action.setObjectName("quitAction")
    # Ctrl+Q (⌘Q on a Mac) whatever the platform theme says: some (the offscreen one) bind Quit to nothing.
    quit_action.setShortcut(QKeySequence("Ctrl+Q"))
    quit_action.setMenuRole(QAction.MenuRole.QuitRole)
    quit_action.setStatusTip("Close every window and quit")
    help_menu = window.menuBar().addMenu("&Help")
    help_menu.setObjectName("helpMenu")
    about = help_menu.addAction("About ConnectSafely")
    about.setObjectName("aboutAction")
    about.setMenuRole(QAction.MenuRole.AboutRole)
    return quit_action, about


MARK_ALL_READ_TEXT = "Mark all read"


def conversations_menu(window: QMainWindow, view_menu: QMenu) -> tuple[QAction, QAction, QAction]:
    """A Conversations menu before View: "Mark all read" (Shift+Esc, as in Slack), every unread
    conversation of the accounts the list shows; "Next conversation" and "Previous conversation"
    (Alt+Down, Alt+Up, as in Signal and Slack), from anywhere in the window, the reply box included.
    Returns (mark all read, next, previous)."""
    menu = QMenu("&Conversations", window)
    menu.setObjectName("conversationsMenu")
    window.menuBar().insertMenu(view_menu.menuAction(), menu)
    following = menu.addAction("Next conversation")
    following.setShortcut(QKeySequence("Alt+Down"))
    following.setStatusTip("Open the conversation below the open one in the list")
    preceding = menu.addAction("Previous conversation")
    preceding.setShortcut(QKeySequence("Alt+Up"))
    preceding.setStatusTip("Open the conversation above the open one in the list")
    menu.addSeparator()
    action = menu.addAction(MARK_ALL_READ_TEXT)
    action.setObjectName("markAllReadMenuAction")
    action.setShortcut(QKeySequence("Shift+Esc"))
    action.setStatusTip("Mark every unread conversation of the accounts shown as read, on LinkedIn too")
    return action, following, preceding


def recall_shortcut(message_view: QWidget) -> QAction:
    """Recall from the keyboard: Delete, only while the thread has focus (it edits text elsewhere)."""
    action = QAction(RECALL_ACTION_TEXT, message_view)
    action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
    action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
    message_view.addAction(action)
    return action


def conversation_menu(
    parent: QWidget,
    conversation: Conversation,
    *,
    open_it: Callable[[Conversation], None],
    mark_unread: Callable[[Conversation], None],
    star: Callable[[Conversation, bool], None],
    mark_read: Callable[[Conversation], None] | None = None,
    mark_all_read: Callable[[], None] | None = None,
) -> QMenu:
    """The context menu of one conversation row (built, not shown: the caller execs it)."""
    menu = QMenu(parent)
    open_action = menu.addAction("Open")
    open_action.triggered.connect(lambda: open_it(conversation))
    if conversation.unread_count > 0 and mark_read is not None:
        read = menu.addAction("Mark as read")
        read.setObjectName("markReadAction")
        read.triggered.connect(lambda: mark_read(conversation))
    else:
        unread = menu.addAction("Mark as unread")
        unread.setObjectName("markUnreadAction")
        unread.setEnabled(conversation.unread_count == 0)
        unread.triggered.connect(lambda: mark_unread(conversation))
    if mark_all_read is not None:
        everything = menu.addAction(MARK_ALL_READ_TEXT)
        everything.setObjectName("markAllReadAction")
        everything.triggered.connect(lambda: mark_all_read())
    starred = menu.addAction("Unstar" if conversation.starred else "Star")
    starred.setObjectName("starAction")
    starred.triggered.connect(lambda: star(conversation, not conversation.starred))
    return menu
