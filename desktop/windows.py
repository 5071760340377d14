"""The window manager: opens inbox windows, wires each to the process's InboxService, remembers them.

Every window has its own models and selection; all of them share the service, so a change set applied
once reaches every window within a frame (their models coalesce bursts on a short timer).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from desktop.drafts import DraftFile, PublishedDrafts
from desktop.services import InboxService
from desktop.settings import (
    CTRL_ENTER_SENDS,
    RECALL_GRACE_S,
    THEME,
    WINDOW_COUNT,
    Settings,
)
from desktop.settings_dialogs import SettingsDialogs
from sync.model import (
    AccountIssue,
    ChangeSet,
    Conversation,
    Message,
    RecallState,
    StreamState,
    SyncProgress,
)
from ui.buttons import use_plain_buttons
from ui.main_window import MainWindow
from ui.palette import Palette
from ui.sources import MarkAllRead, RefreshOutcome, ServerFreshness
from ui.status_bar import Following
from ui.style import Theme, ThemeChoice
from ui.views import ScrollAnchor

if TYPE_CHECKING:
    # Imported where used: the first window paints without the network side or the dialogs loaded.
    from sync.recall import RecallStatus

log = logging.getLogger(__name__)

TRAY_PREVIEW_CHARS = 120


class _FirstPaint(QObject):
    """Calls ``then`` once, on the loop pass after ``widget``'s first paint (or after ``fallback_ms`` if
    it is not painted by then: a window opened minimised)."""

    def __init__(self, widget: QWidget, then: Callable[[], None], fallback_ms: int) -> None:
        super().__init__(widget)
        self._widget = widget
        self._then: Callable[[], None] | None = then
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self._then is not None:
            QTimer.singleShot(0, self, self._run)
        return False

    def _run(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            self._widget.removeEventFilter(self)
            then()


def after_first_paint(widget: QWidget, then: Callable[[], None], fallback_ms: int = 1_000) -> None:
    """Run ``then`` right after ``widget`` has painted for the first time."""
    _FirstPaint(widget, then, fallback_ms)


def app_icon() -> QIcon:
    """The app's icon, shipped in resources/ as package data."""
    with resources.as_file(resources.files("resources") / "icon.svg") as path:
        return QIcon(str(path))


class WindowManager(SettingsDialogs, QObject):
    """All inbox windows of the process (Settings and About: ``desktop.settings_dialogs``)."""

    all_closed = Signal()

    def __init__(
        self,
        service: InboxService,
        settings: Settings,
        *,
        sandbox: bool,
        recall_grace_s: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.settings = settings
        self.sandbox = sandbox
        self.recall_grace_s = settings.get_int(RECALL_GRACE_S) if recall_grace_s is None else recall_grace_s
        self.windows: list[MainWindow] = []
        self.drafts = DraftFile(service.data)
        """The reply boxes' drafts, one per conversation, shared by every window and kept across restarts."""
        self._reply_drafts = PublishedDrafts(self.drafts, self._show_drafts)
        """What the reply boxes write to: every window's list shows a draft on its row once it is kept."""
        self._open_at_quit = 0
        self.backend_changed = False
        """Settings chose another service: the app reopens the windows on it."""
        self._ids = itertools.count(1)
        use_plain_buttons()  # no stock icons on dialog buttons (the style sheet gives buttons one shape)
        self._closed = asyncio.Event()
        service.changes_applied.connect(self._on_service_changes_applied)
        service.foreign_commit.connect(self._on_service_foreign_commit)
        service.stream_state_changed.connect(self._on_service_stream_state_changed)
        service.sync_progress_changed.connect(self._on_service_sync_progress_changed)
        service.recall_status_changed.connect(self._on_service_recall_status_changed)
        service.notification_added.connect(self._on_service_notification_added)
        service.notification_removed.connect(self._on_service_notification_removed)
        service.error_raised.connect(self._on_service_error_raised)
        service.recall_log_changed.connect(self._on_service_recall_log_changed)
        service.account_issues_changed.connect(self._on_service_account_issues_changed)
        service.items_skipped.connect(self._on_service_items_skipped)
        service.server_freshness_changed.connect(self._on_service_server_freshness_changed)
        service.refresh_started.connect(self._on_service_refresh_started)
        service.refresh_finished.connect(self._on_service_refresh_finished)
        service.base_url_suggested.connect(self._on_service_base_url_suggested)
        service.mark_all_read_progress.connect(self._on_service_mark_all_read_progress)
        service.following_changed.connect(self._on_service_following_changed)
        service.took_over.connect(self._on_service_took_over)
        self._suggested_base_url = ""
        # One theme for every window: the saved View › Theme choice, or the desktop's colour scheme.
        self.theme = Theme(ThemeChoice.parse(settings.get_str(THEME)), self)
        self.theme.palette_changed.connect(self._on_theme_palette_changed)
        # Polling is quicker while one of the app's windows is active (sync.watcher: focused interval).
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.applicationStateChanged.connect(self._on_application_state_changed)
            self._on_application_state_changed(app.applicationState())
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("ConnectSafely")
            self.tray.show()

    # --- windows ------------------------------------------------------------------------------------

    def open_window(self, slot: int | None = None, *, thread_after_paint: bool = False) -> MainWindow:
        """A new main window; ``slot`` restores the geometry, account filter, conversation and scroll
        position saved under that number. ``thread_after_paint``: the conversation is read and laid out
        right after the window's first paint (its header shows at once)."""
        window = MainWindow(
            self.service.reader,
            sandbox=self.sandbox,
            recall_grace_s=self.recall_grace_s,
            palette=self.theme.palette,
        )
        window.set_theme(self.theme.palette, self.theme.choice)
        window.setObjectName(f"mainWindow{next(self._ids)}")
        index = self._free_slot() if slot is None else slot
        window.setProperty("slot", index)
        window.reply_box.set_drafts(self._reply_drafts)
        window.set_drafts(self.drafts.texts())
        window.reply_box.set_ctrl_enter_sends(self.settings.get_bool(CTRL_ENTER_SENDS))
        geometry = self.settings.window_geometry(index)
        if geometry is not None:
            window.restoreGeometry(geometry)
        elif self.windows:
            last = self.windows[-1]
            window.move(last.x() + 40, last.y() + 40)
        intervals = self.service.poll_intervals()
        if intervals is not None:
            window.set_poll_intervals(*intervals)
        window.set_stream_state(self.service.stream_state)
        window.set_server_freshness(self.service.server_freshness())
        if self._suggested_base_url:
            window.offer_base_url(self._suggested_base_url)
        window.conversation_opened.connect(self._on_window_conversation_opened)
        window.send_requested.connect(self._on_window_send_requested)
        window.recall_requested.connect(lambda message, w=window: self._recall(message, w))
        window.retry_recall_requested.connect(lambda message, w=window: self._recall(message, w))
        window.recall_cancelled.connect(lambda message, w=window: self._recall_cancelled(message, w))
        window.mark_unread_requested.connect(self._on_window_mark_unread_requested)
        window.mark_read_requested.connect(self._on_window_mark_read_requested)
        window.reaction_requested.connect(self._on_window_reaction_requested)
        window.mark_all_read_requested.connect(self._on_window_mark_all_read_requested)
        window.star_toggled.connect(self._on_window_star_toggled)
        window.new_window_requested.connect(self._on_window_new_window_requested)
        window.settings_requested.connect(lambda w=window: self.open_settings(w))
        window.refresh_requested.connect(self._on_window_refresh_requested)
        window.base_url_fix_requested.connect(
            lambda url, w=window: self.open_settings(w, suggested_base_url=url)
        )
        window.older_history_requested.connect(self._on_window_older_history_requested)
        window.theme_requested.connect(self._on_window_theme_requested)
        window.window_closed.connect(lambda w=window: self._on_window_closed(w))
        window.quit_requested.connect(self.close_all)
        window.about_requested.connect(lambda w=window: self.show_about(w))
        self.windows.append(window)
        self._restore_filter(window, index)
        if thread_after_paint:
            self._announce_thread(window, index)
            window.show()
            # The window's own paint: it comes first in the frame that draws the list, and it comes even
            # when the list is empty (hidden then: ui.sidebar).
            after_first_paint(window, lambda: self._restore_thread(window, index))
        else:
            window.show()
            self._restore_thread(window, index)
        if self.service.following is not None:
            window.set_following(self.service.following)
        return window

    def _free_slot(self) -> int:
        """The lowest slot no open window has (a window's state is saved under its slot)."""
        taken = {int(w.property("slot") or 0) for w in self.windows}
        return min(set(range(len(self.windows) + 1)) - taken)

    def _restore_filter(self, window: MainWindow, index: int) -> None:
        """The account the window's list was filtered to (if the account is still there)."""
        account_id = self.settings.account_filter(index)
        if account_id is not None:
            window.show_account(account_id)

    def _announce_thread(self, window: MainWindow, index: int) -> None:
        """The saved conversation's header in place of "Select a conversation" until it is read (one
        row by its key; its messages wait for the first paint)."""
        last_open = self.settings.last_conversation(index)
        conversation = None if last_open is None else self.service.reader.conversation(*last_open)
        if conversation is not None:
            window.thread_pane.show_header(conversation)
            window.thread_stack.setCurrentIndex(1)

    def _restore_thread(self, window: MainWindow, index: int) -> None:
        """The conversation the window had open, scrolled where it was (the newest, or its anchor)."""
        last_open = self.settings.last_conversation(index)
        if last_open is None or window not in self.windows or window.current_conversation() is not None:
            return  # closed meanwhile, or the user opened one first
        conversation = self.service.reader.conversation(*last_open)
        if conversation is None:
            return
        window.open_conversation(conversation)
        saved = self.settings.scroll_anchor(index)
        if saved is not None:
            window.message_view.restore_anchor(ScrollAnchor(*saved))

    def open_saved_windows(self) -> None:
        """The windows open at the last exit, each with its geometry and account filter; each one's
        conversation is read and scrolled right after its first paint, so that the inbox shows as soon
        as without it (figure 5: start to the first painted inbox)."""
        for slot in range(max(1, min(8, self.settings.get_int(WINDOW_COUNT)))):
            self.open_window(slot, thread_after_paint=True)

    def close_all(self) -> None:
        """Close every window (File › Quit, SIGTERM, logout) through its normal close (a window whose
        recall waits for its grace period asks first): each saves its state; the last one ends the app,
        and the next start opens as many windows as were open now."""
        self._open_at_quit = len(self.windows)
        # Saved under slots 0…n-1: the next start opens exactly these.
        for slot, window in enumerate(self.windows):
            window.setProperty("slot", slot)
        for window in list(self.windows):
            window.close()

    async def wait_all_closed(self) -> None:
        await self._closed.wait()

    def _remember(self, window: MainWindow) -> None:
        slot = int(window.property("slot") or 0)
        window.reply_box.save_draft()
        self.settings.set_window_geometry(slot, window.saveGeometry())
        current = window.current_conversation()
        key = None if current is None else (current.account_id, current.conversation_id)
        self.settings.set_last_conversation(slot, key)
        anchor = None if current is None else window.message_view.scroll_anchor()
        self.settings.set_scroll_anchor(slot, None if anchor is None else (anchor.message_id, anchor.offset))
        shown = window.shown_account_ids()
        self.settings.set_account_filter(slot, shown[0] if shown else None)

    def _on_window_closed(self, window: MainWindow) -> None:
        if self.windows == [window] and not self._open_at_quit:
            window.setProperty("slot", 0)  # the last one closed is the one the next start opens
        self._remember(window)
        if window in self.windows:
            self.windows.remove(window)
        window.deleteLater()
        if not self.windows:
            # Closing windows one by one ends with one; quitting with several open keeps them all.
            self.settings.set(WINDOW_COUNT, max(1, self._open_at_quit))
            self.settings.sync()
            self._closed.set()
            self.all_closed.emit()

    # --- service → windows ----------------------------------------------------------------------------

    def _on_application_state_changed(self, state: Qt.ApplicationState) -> None:
        active = state == Qt.ApplicationState.ApplicationActive
        self.service.set_focused(active)
        if active:
            self._show_drafts()  # another process on the same data dir may have kept or sent one

    def _show_drafts(self) -> None:
        texts = self.drafts.texts()
        for window in self.windows:
            window.set_drafts(texts)

    def _on_service_changes_applied(self, changes: ChangeSet) -> None:
        # A recall first, in every window: what each window does with the rest of a change set (its list,
        # header and recall log) would otherwise delay the next window's view of it.
        if changes.messages_hidden or changes.tombstones_added:
            for window in self.windows:
                window.hide_recalled_now(changes)
        for window in self.windows:
            window.apply_changes(changes)

    def _on_service_recall_log_changed(self) -> None:
        for window in self.windows:
            window.refresh_recall_log()

    def _on_service_foreign_commit(self) -> None:
        for window in self.windows:
            window.refresh()

    def _on_service_stream_state_changed(self, state: StreamState) -> None:
        intervals = self.service.poll_intervals()
        for window in self.windows:
            if intervals is not None:
                window.set_poll_intervals(*intervals)
            window.set_stream_state(state)

    def _on_service_account_issues_changed(self, issues: tuple[AccountIssue, ...]) -> None:
        for window in self.windows:
            window.set_account_issues(issues)

    def _on_service_items_skipped(self, count: int) -> None:
        for window in self.windows:
            window.show_skipped_items(count)

    def _on_service_server_freshness_changed(self, freshness: ServerFreshness) -> None:
        for window in self.windows:
            window.set_server_freshness(freshness)

    def _on_service_refresh_started(self) -> None:
        for window in self.windows:
            window.set_refreshing(True)

    def _on_service_refresh_finished(self, outcome: RefreshOutcome) -> None:
        for window in self.windows:
            window.show_refresh_outcome(outcome)

    def _on_service_base_url_suggested(self, url: str) -> None:
        self._suggested_base_url = url
        for window in self.windows:
            window.offer_base_url(url)

    def _on_service_following_changed(self, following: Following | None) -> None:
        for window in self.windows:
            window.set_following(following)

    def _on_service_took_over(self, leader_pid: int | None) -> None:
        for window in self.windows:
            window.show_took_over(leader_pid)

    def _on_service_sync_progress_changed(self, progress: SyncProgress) -> None:
        for window in self.windows:
            window.set_sync_progress(progress)

    def _on_service_recall_status_changed(self, status: RecallStatus) -> None:
        for window in self.windows:
            if status.state is RecallState.PENDING:
                window.mark_recall_pending(status.account_id, status.message_id)
            elif status.state in (RecallState.REFUSED, RecallState.FAILED, RecallState.UNCONFIRMED):
                window.mark_recall_failed(
                    status.account_id, status.message_id, status.user_message, status.can_retry, status.state
                )
            else:
                window.clear_recall_state(status.account_id, status.message_id)
            if status.state is not RecallState.PENDING:
                window.refresh_recall_log()

    def _on_service_notification_added(self, message: Message) -> None:
        shown_open = False
        for window in self.windows:
            current = window.current_conversation()
            if current is None or current.conversation_id != message.conversation_id:
                window.add_notification(message)
            else:
                shown_open = True
        if self.tray is not None and not shown_open:
            # One line, bounded: a balloon is a glance, the message itself is one click away.
            preview = " ".join(message.text.split())[:TRAY_PREVIEW_CHARS]
            self.tray.showMessage(
                message.sender_name or "New message", preview, QSystemTrayIcon.MessageIcon.Information
            )

    def _on_service_notification_removed(self, message_id: str) -> None:
        for window in self.windows:
            window.remove_notification(message_id)

    def _on_service_error_raised(self, text: str, kind: str) -> None:
        for window in self.windows:
            window.show_banner(text, kind)

    # --- windows → service ----------------------------------------------------------------------------

    def _recall(self, message: Message, window: MainWindow) -> None:
        self.service.recall(message, window_id=window.objectName())

    def _recall_cancelled(self, message: Message, window: MainWindow) -> None:
        self.service.log_recall_cancelled(message, window_id=window.objectName())

    def _on_window_conversation_opened(self, conversation: Conversation) -> None:
        self.service.open_conversation(conversation)

    def _on_window_send_requested(self, account_id: str, conversation_urn: str, text: str) -> None:
        self.service.send(account_id, conversation_urn, text)

    def _on_window_mark_unread_requested(self, conversation: Conversation) -> None:
        self.service.mark_unread(conversation)

    def _on_window_reaction_requested(self, message: Message, emoji: str, react: bool) -> None:
        self.service.react(message, emoji, react)

    def _on_window_mark_read_requested(self, conversation: Conversation) -> None:
        self.service.mark_read(conversation)

    def _on_window_mark_all_read_requested(self, account_ids: tuple[str, ...]) -> None:
        self.service.mark_all_read(tuple(account_ids))

    def _on_service_mark_all_read_progress(self, progress: MarkAllRead) -> None:
        for window in self.windows:
            window.show_mark_all_read(progress)

    def _on_window_star_toggled(self, conversation: Conversation, starred: bool) -> None:
        self.service.set_starred(conversation, starred)

    def _on_window_new_window_requested(self) -> None:
        self.open_window()

    def _on_window_older_history_requested(self, account_id: str, conversation_id: str) -> None:
        self.service.load_older(account_id, conversation_id)

    def _on_window_theme_requested(self, value: str) -> None:
        choice = ThemeChoice.parse(value)
        self.settings.set(THEME, choice.value)
        self.settings.sync()
        self.theme.set_choice(choice)
        for window in self.windows:
            window.set_theme(self.theme.palette, choice)

    def _on_theme_palette_changed(self, palette: Palette) -> None:
        for window in self.windows:
            window.set_theme(palette)

    def _on_window_refresh_requested(self, account_ids: tuple[str, ...]) -> None:
        self.service.refresh_from_linkedin(tuple(account_ids))
