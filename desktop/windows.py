"""The window manager: opens inbox windows, wires each to the process's InboxService, remembers them.

Every window has its own models and selection; all of them share the service, so a change set applied
once reaches every window within a frame (their models coalesce bursts on a short timer).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from importlib import resources
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QSystemTrayIcon

from desktop import backend as backends
from desktop import credentials
from desktop.services import InboxService
from desktop.settings import RECALL_GRACE_S, WINDOW_COUNT, Settings
from sync.errors import KnownError
from sync.model import ChangeSet, Conversation, Message, RecallState, StreamState, SyncProgress
from ui.main_window import MainWindow

if TYPE_CHECKING:
    # Imported where used: the first window paints without the network side or the dialogs loaded.
    from sync.recall import RecallStatus
    from ui.dialogs import SettingsDialog

log = logging.getLogger(__name__)

TRAY_PREVIEW_CHARS = 120


def app_icon() -> QIcon:
    """The app's icon, shipped in resources/ as package data."""
    with resources.as_file(resources.files("resources") / "icon.svg") as path:
        return QIcon(str(path))


class WindowManager(QObject):
    """All inbox windows of the process."""

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
        self._open_at_quit = 0
        self.backend_changed = False
        """Settings chose another service: the app reopens the windows on it."""
        self._ids = itertools.count(1)
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
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("ConnectSafely")
            self.tray.show()

    # --- windows ------------------------------------------------------------------------------------

    def open_window(self, slot: int | None = None) -> MainWindow:
        """A new main window; ``slot`` restores the geometry and conversation saved under that number."""
        window = MainWindow(self.service.reader, sandbox=self.sandbox, recall_grace_s=self.recall_grace_s)
        window.setObjectName(f"mainWindow{next(self._ids)}")
        index = len(self.windows) if slot is None else slot
        window.setProperty("slot", index)
        geometry = self.settings.window_geometry(index)
        if geometry is not None:
            window.restoreGeometry(geometry)
        elif self.windows:
            last = self.windows[-1]
            window.move(last.x() + 40, last.y() + 40)
        window.set_stream_state(self.service.stream_state)
        window.conversation_opened.connect(self._on_window_conversation_opened)
        window.send_requested.connect(self._on_window_send_requested)
        window.recall_requested.connect(lambda message, w=window: self._recall(message, w))
        window.retry_recall_requested.connect(lambda message, w=window: self._recall(message, w))
        window.recall_cancelled.connect(lambda message, w=window: self._recall_cancelled(message, w))
        window.mark_unread_requested.connect(self._on_window_mark_unread_requested)
        window.star_toggled.connect(self._on_window_star_toggled)
        window.new_window_requested.connect(self._on_window_new_window_requested)
        window.settings_requested.connect(lambda w=window: self.open_settings(w))
        window.sync_requested.connect(self._on_window_sync_requested)
        window.older_history_requested.connect(self._on_window_older_history_requested)
        window.window_closed.connect(lambda w=window: self._on_window_closed(w))
        self.windows.append(window)
        window.show()
        last_open = self.settings.last_conversation(index)
        if last_open is not None:
            conversation = self.service.reader.conversation(*last_open)
            if conversation is not None:
                window.open_conversation(conversation)
        return window

    def open_saved_windows(self) -> None:
        for slot in range(max(1, min(8, self.settings.get_int(WINDOW_COUNT)))):
            self.open_window(slot)

    def close_all(self) -> None:
        """Close every window (SIGTERM, logout): each saves its state; the last one ends the app, and
        the next start opens as many windows as were open now."""
        self._open_at_quit = len(self.windows)
        for window in list(self.windows):
            window.close()

    async def wait_all_closed(self) -> None:
        await self._closed.wait()

    def _remember(self, window: MainWindow) -> None:
        slot = int(window.property("slot") or 0)
        self.settings.set_window_geometry(slot, window.saveGeometry())
        current = window.current_conversation()
        key = None if current is None else (current.account_id, current.conversation_id)
        self.settings.set_last_conversation(slot, key)

    def _on_window_closed(self, window: MainWindow) -> None:
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

    # --- settings -------------------------------------------------------------------------------------

    def open_settings(self, window: MainWindow) -> SettingsDialog:
        from ui.dialogs import SettingsDialog

        location = (
            "the system keyring"
            if credentials.keyring_available()
            else (f"no keyring on this system: set {credentials.KEY_ENV} in the environment instead")
        )
        dialog = SettingsDialog(
            base_url="" if self.sandbox else self.service.backend.base_url,
            key_location=location,
            parent=window,
        )
        dialog.test_connection_requested.connect(
            lambda key, url, d=dialog: self._test_connection(d, key, url)
        )
        dialog.save_requested.connect(lambda key, url, w=window: self._save_settings(w, key, url))
        dialog.open()
        return dialog

    def _test_connection(self, dialog: SettingsDialog, key: str, base_url: str) -> None:
        from sync.api import ApiClient

        async def test() -> None:
            try:
                async with ApiClient(base_url or self.service.backend.base_url, key, budget=None) as api:
                    accounts = await api.accounts()
                names = ", ".join(a.name for a in accounts.accounts) or "no accounts"
                dialog.set_test_result(True, f"Connected: {names}")
            except KnownError as exc:
                dialog.set_test_result(False, exc.user_message)

        self.service.tasks.spawn(test())

    def _save_settings(self, window: MainWindow, key: str, base_url: str) -> None:
        """Store the key in the keyring (or forget it: back to the sandbox), then reopen every window
        on the backend it selects."""
        from desktop.settings import BASE_URL

        target = base_url or backends.DEFAULT_BASE_URL
        if key:
            try:
                credentials.store_key(target, key)
            except Exception as exc:  # no keyring backend, or it refused: say where the key must go instead
                window.show_banner(
                    f"The key was not stored ({type(exc).__name__}). Set {credentials.KEY_ENV} instead.",
                    "warning",
                )
                return
        else:
            credentials.forget_key(self.service.backend.base_url if not self.sandbox else target)
        self.settings.set(BASE_URL, base_url)
        self.settings.sync()
        self.backend_changed = True
        self.close_all()

    # --- service → windows ----------------------------------------------------------------------------

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
        for window in self.windows:
            window.set_stream_state(state)

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

    def _on_window_star_toggled(self, conversation: Conversation, starred: bool) -> None:
        self.service.set_starred(conversation, starred)

    def _on_window_new_window_requested(self) -> None:
        self.open_window()

    def _on_window_older_history_requested(self, account_id: str, conversation_id: str) -> None:
        self.service.load_older(account_id, conversation_id)

    def _on_window_sync_requested(self) -> None:
        self.service.sync_now()
