"""The inbox window: conversation list, thread, reply box, recall flow, docks, menus and status bar."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from PySide6.QtCore import QElapsedTimer, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sync.model import ChangeSet, Conversation, Message, RecallState, StreamState, SyncProgress
from sync.recall_rules import Eligibility, eligibility

from .conversation_model import ConversationFilter, ConversationListModel, ConversationRole
from .message_model import MessageListModel, MessageRole
from .notifications import NotificationList
from .recall import (
    REASON_IN_PROGRESS,
    REASON_OTHER_WAITING,
    RecallConfirmDialog,
    RecallGraceBar,
)
from .recall_log_model import RecallLogModel
from .sources import InboxReader
from .style import load_style_sheet
from .text import one_line, primary_participant
from .views import ConversationListView, MessageListView, ReplyEdit

APP_TITLE = "ConnectSafely"
DEFAULT_SIZE = (1200, 760)
SEARCH_DEBOUNCE_MS = 200
CHANGES_COALESCE_MS = 16
"""One frame: a burst of change sets becomes one model update (DESIGN.md, "Threads and loops")."""

STREAM_STATE_TEXT = {
    StreamState.LIVE: "● Live",
    StreamState.POLLING: "● Polling",
    StreamState.RECONNECTING: "● Reconnecting…",
    StreamState.OFFLINE: "● Offline",
}
STREAM_STATE_TIP = {
    StreamState.LIVE: "Connected to the event stream: changes arrive at once.",
    StreamState.POLLING: "No event stream: checking for changes every few seconds.",
    StreamState.RECONNECTING: "The event stream dropped; reconnecting.",
    StreamState.OFFLINE: "Offline: showing the local copy. Sending and recalling need a connection.",
}
BANNER_KINDS = ("info", "warning", "error")


def _plain_label(text: str = "", object_name: str = "") -> QLabel:
    label = QLabel(text)
    # QLabel guesses rich text from the content: names and messages must never be interpreted.
    label.setTextFormat(Qt.TextFormat.PlainText)
    if object_name:
        label.setObjectName(object_name)
    return label


def _repolish(widget: QWidget) -> None:
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class Banner(QFrame):
    """A dismissible one-line message above the panes: known errors and notices, in plain words."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        self.label = _plain_label(object_name="bannerText")
        self.label.setWordWrap(True)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setObjectName("bannerClose")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self._on_close_button_clicked)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button)
        self.hide()

    def show_message(self, text: str, kind: str = "info") -> None:
        self.setProperty("kind", kind if kind in BANNER_KINDS else "info")
        # One bounded line: whatever the caller passes, a banner never becomes a traceback dump.
        self.label.setText(one_line(text, 300))
        _repolish(self)
        self.show()

    def _on_close_button_clicked(self) -> None:
        self.hide()
        self.dismissed.emit()


class MainWindow(QMainWindow):
    """One inbox window with its own models and selection, over a reader shared by every window."""

    conversation_opened = Signal(Conversation)
    """The user opened a conversation (the desktop layer marks it read)."""
    send_requested = Signal(str, str, str)
    """(account id, conversation URN, text)."""
    recall_requested = Signal(Message)
    """Confirmed, grace period over, eligibility re-checked: recall this message for everyone now."""
    retry_recall_requested = Signal(Message)
    recall_cancelled = Signal(Message)
    """Cancelled during its grace period: nothing was sent (the recall log still shows it)."""
    mark_unread_requested = Signal(Conversation)
    star_toggled = Signal(Conversation, bool)
    """(conversation, the starred state the user asked for)."""
    new_window_requested = Signal()
    settings_requested = Signal()
    sync_requested = Signal()
    older_history_requested = Signal(str, str)
    """(account id, conversation id): the cache has nothing older than what the thread shows."""
    window_closed = Signal()

    def __init__(
        self,
        reader: InboxReader,
        *,
        sandbox: bool = False,
        recall_grace_s: int = 3,
        style_sheet: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._reader = reader
        self._sandbox = False
        self._recall_grace_s = recall_grace_s
        self._open: Conversation | None = None
        self._drafts: dict[tuple[str, str], str] = {}
        self._pending_changes = ChangeSet()
        self.confirm_dialog: RecallConfirmDialog | None = None

        self.setObjectName("mainWindow")
        self.resize(*DEFAULT_SIZE)
        self.setMinimumSize(720, 480)

        self.conversation_model = ConversationListModel(reader, parent=self)
        self.message_model = MessageListModel(reader, parent=self)
        self.recall_log_model = RecallLogModel(reader, parent=self)

        self._build_central()
        self._build_docks()
        self._build_menus()
        self._build_status_bar()

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)
        self._changes_timer = QTimer(self)
        self._changes_timer.setSingleShot(True)
        self._changes_timer.setInterval(CHANGES_COALESCE_MS)
        self._changes_timer.timeout.connect(self.flush_changes)
        self._last_flush = QElapsedTimer()

        self.reload_accounts()
        self.set_sandbox_mode(sandbox)
        self.set_stream_state(StreamState.OFFLINE)
        self._show_thread(None)
        self._update_empty_list_label()
        # Keyboard first: Up/Down move through conversations straight away, Enter opens one.
        self.conversation_view.setFocus()
        self.setStyleSheet(load_style_sheet() if style_sheet is None else style_sheet)

    # -- construction ------------------------------------------------------------------------------------

    def _build_central(self) -> None:
        central = QWidget()
        central.setObjectName("central")
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.banner = Banner()
        outer.addWidget(self.banner)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        outer.addWidget(self.splitter, 1)

        # Left: filters over the conversation list.
        left = QWidget()
        left.setObjectName("sidebar")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(0)
        filters = QWidget()
        filters.setObjectName("filterBar")
        filters_layout = QVBoxLayout(filters)
        filters_layout.setContentsMargins(12, 12, 12, 10)
        filters_layout.setSpacing(8)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("searchEdit")
        self.search_edit.setPlaceholderText("Search conversations")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._on_search_edit_text_changed)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.account_combo = QComboBox()
        self.account_combo.setObjectName("accountCombo")
        self.account_combo.currentIndexChanged.connect(self._on_account_combo_current_index_changed)
        self.unread_button = QPushButton("Unread only")
        self.unread_button.setObjectName("filterChip")
        self.unread_button.setCheckable(True)
        self.unread_button.toggled.connect(self._on_unread_button_toggled)
        row.addWidget(self.account_combo, 1)
        row.addWidget(self.unread_button)
        filters_layout.addWidget(self.search_edit)
        filters_layout.addLayout(row)
        self.conversation_view = ConversationListView()
        self.conversation_view.setModel(self.conversation_model)
        self.conversation_view.activated.connect(self._on_conversation_view_activated)
        self.conversation_view.clicked.connect(self._on_conversation_view_activated)
        self.conversation_view.customContextMenuRequested.connect(
            self._on_conversation_view_custom_context_menu_requested
        )
        self.empty_list_label = _plain_label("No conversations", "emptyListLabel")
        self.empty_list_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        left_layout.addWidget(filters)
        left_layout.addWidget(self.conversation_view, 1)
        left_layout.addWidget(self.empty_list_label)
        for signal in (self.conversation_model.modelReset, self.conversation_model.rowsInserted):
            signal.connect(self._update_empty_list_label)
        self.conversation_model.modelReset.connect(self._select_open_conversation)
        self.conversation_model.rowsRemoved.connect(self._update_empty_list_label)

        # Right: a placeholder, or the open thread.
        self.thread_stack = QStackedWidget()
        self.placeholder = _plain_label("Select a conversation to read it here.", "placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        thread = QWidget()
        thread.setObjectName("thread")
        thread_layout = QVBoxLayout(thread)
        thread_layout.setContentsMargins(0, 0, 0, 0)
        thread_layout.setSpacing(0)
        header = QWidget()
        header.setObjectName("threadHeader")
        header_layout = QVBoxLayout(header)
        header_layout.setContentsMargins(20, 12, 20, 12)
        header_layout.setSpacing(2)
        self.contact_label = _plain_label(object_name="contactName")
        self.headline_label = _plain_label(object_name="contactHeadline")
        header_layout.addWidget(self.contact_label)
        header_layout.addWidget(self.headline_label)
        self.message_view = MessageListView()
        self.message_view.set_message_model(self.message_model)
        self.message_view.older_history_wanted.connect(self._on_message_view_older_history_wanted)
        self.message_view.customContextMenuRequested.connect(
            self._on_message_view_custom_context_menu_requested
        )
        self.message_view.bubble_delegate.retry_clicked.connect(self._on_bubble_delegate_retry_clicked)
        self.grace_bar = RecallGraceBar()
        self.grace_bar.elapsed.connect(self._on_grace_bar_elapsed)
        self.grace_bar.cancelled.connect(self.recall_cancelled)
        self.close_question: QMessageBox | None = None
        """Asked when the window is closed during a recall's grace period."""
        reply = QWidget()
        reply.setObjectName("replyBar")
        reply_layout = QHBoxLayout(reply)
        reply_layout.setContentsMargins(16, 10, 16, 12)
        self.reply_edit = ReplyEdit()
        self.reply_edit.setFixedHeight(72)
        self.reply_edit.submitted.connect(self._on_reply_edit_submitted)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primaryButton")
        self.send_button.setToolTip("Send (Ctrl+Enter)")
        self.send_button.clicked.connect(self.reply_edit.submit)
        reply_layout.addWidget(self.reply_edit, 1)
        reply_layout.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        thread_layout.addWidget(header)
        thread_layout.addWidget(self.message_view, 1)
        thread_layout.addWidget(self.grace_bar)
        thread_layout.addWidget(reply)
        self.thread_stack.addWidget(self.placeholder)
        self.thread_stack.addWidget(thread)

        self.splitter.addWidget(left)
        self.splitter.addWidget(self.thread_stack)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([390, DEFAULT_SIZE[0] - 390])
        self.setCentralWidget(central)

        # Recall from the keyboard: Delete only while the thread has focus (it edits text elsewhere).
        self.recall_shortcut_action = QAction("Recall for everyone", self.message_view)
        self.recall_shortcut_action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        self.recall_shortcut_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.recall_shortcut_action.triggered.connect(self.recall_current_message)
        self.message_view.addAction(self.recall_shortcut_action)

    def _build_docks(self) -> None:
        self.recall_log_view = QTableView()
        self.recall_log_view.setObjectName("recallLogView")
        self.recall_log_view.setModel(self.recall_log_model)
        self.recall_log_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.recall_log_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.recall_log_view.verticalHeader().hide()
        self.recall_log_view.horizontalHeader().setStretchLastSection(True)
        self.recall_log_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.recall_log_view.setAlternatingRowColors(True)
        self.recall_log_dock = QDockWidget("Recall log", self)
        self.recall_log_dock.setObjectName("recallLogDock")
        self.recall_log_dock.setWidget(self.recall_log_view)
        self.recall_log_dock.visibilityChanged.connect(self._on_recall_log_dock_visibility_changed)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.recall_log_dock)
        self.recall_log_dock.hide()

        self.notifications = NotificationList()
        self.notifications.notification_activated.connect(self._on_notifications_notification_activated)
        self.notifications.count_changed.connect(self._on_notifications_count_changed)
        self.notifications_dock = QDockWidget("Notifications", self)
        self.notifications_dock.setObjectName("notificationsDock")
        self.notifications_dock.setWidget(self.notifications)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.notifications_dock)
        self.notifications_dock.hide()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.new_window_action = file_menu.addAction("New Window")
        self.new_window_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_window_action.triggered.connect(self.new_window_requested)
        self.settings_action = file_menu.addAction("Settings…")
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.settings_requested)
        file_menu.addSeparator()
        self.close_action = file_menu.addAction("Close Window")
        self.close_action.setShortcut(QKeySequence.StandardKey.Close)
        self.close_action.triggered.connect(self.close)

        message_menu = self.menuBar().addMenu("&Message")
        self.recall_action = message_menu.addAction("Recall for everyone")
        self.recall_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.recall_action.triggered.connect(self.recall_current_message)
        message_menu.aboutToShow.connect(self._on_message_menu_about_to_show)
        message_menu.aboutToHide.connect(self._on_message_menu_about_to_hide)

        view_menu = self.menuBar().addMenu("&View")
        self.recall_log_action = self.recall_log_dock.toggleViewAction()
        self.recall_log_action.setText("Recall log")
        self.recall_log_action.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(self.recall_log_action)
        self.notifications_action = self.notifications_dock.toggleViewAction()
        self.notifications_action.setText("Notifications")
        view_menu.addAction(self.notifications_action)
        view_menu.addSeparator()
        self.sync_action = view_menu.addAction("Sync now")
        self.sync_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.sync_action.triggered.connect(self.sync_requested)
        self.find_action = view_menu.addAction("Find conversation")
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.triggered.connect(self._on_find_action_triggered)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.stream_label = _plain_label(object_name="streamState")
        self.sync_progress_bar = QProgressBar()
        self.sync_progress_bar.setObjectName("syncProgress")
        self.sync_progress_bar.setFixedWidth(200)
        self.sync_progress_bar.setTextVisible(True)
        self.sync_progress_bar.hide()
        self.sandbox_label = _plain_label("Sandbox", "sandboxBadge")
        self.sandbox_label.setToolTip("Running against the local sandbox with demo data (no API key set).")
        self.sandbox_label.hide()
        bar.addPermanentWidget(self.sync_progress_bar)
        bar.addPermanentWidget(self.sandbox_label)
        bar.addPermanentWidget(self.stream_label)

    # -- public API for the desktop layer ----------------------------------------------------------------

    def current_conversation(self) -> Conversation | None:
        return self._open

    def apply_changes(self, changes: ChangeSet) -> None:
        """Apply a change set; bursts within a frame are merged and applied once.

        Leading edge: a change after a quiet frame is applied at once, and so is any change that hides
        messages (a recall shows in every window without waiting a frame); what follows within a frame is
        merged and applied when it ends.
        """
        self._pending_changes = self._pending_changes.merged(changes)
        if changes.messages_hidden or changes.tombstones_added:
            # A recall is what the user waits to see: it never waits for the frame to end.
            self.flush_changes()
            return
        if self._changes_timer.isActive():
            return
        if self._last_flush.isValid() and self._last_flush.elapsed() < CHANGES_COALESCE_MS:
            self._changes_timer.start()
        else:
            self.flush_changes()

    def hide_recalled_now(self, changes: ChangeSet) -> None:
        """Take the messages a change set hides out of the open thread at once, and nothing else.

        The window manager calls this on every window before any of them applies the whole change set,
        so the second window does not wait for the first one's list, header and recall-log updates to
        show a recall. Applying the change set afterwards finds these rows gone already."""
        if changes.messages_hidden or changes.tombstones_added:
            self.message_model.apply_changes(
                ChangeSet(messages_hidden=changes.messages_hidden, tombstones_added=changes.tombstones_added)
            )

    def flush_changes(self) -> None:
        """Apply queued change sets now (the timer calls it; tests may too)."""
        self._changes_timer.stop()
        self._last_flush.start()
        changes, self._pending_changes = self._pending_changes, ChangeSet()
        if not changes:
            return
        if changes.accounts_changed:
            self.reload_accounts()
        self.conversation_model.apply_changes(changes)
        self.message_model.apply_changes(changes)
        for message_id in changes.tombstones_added | {k.message_id for k in changes.messages_hidden}:
            self.notifications.remove_notification(message_id)
        if self._open is not None:
            key = (self._open.account_id, self._open.conversation_id)
            if key in changes.conversations_changed:
                fresh = self._reader.conversation(*key)
                if fresh is None:
                    self._show_thread(None)
                else:
                    self._open = fresh
                    self._update_header(fresh)
        if changes.tombstones_added:
            self._refresh_visible_recall_log()

    def refresh(self) -> None:
        """Re-read everything shown (another process changed the cache in ways no change set names)."""
        self.conversation_model.reload()
        self.message_model.reload()
        self.refresh_recall_log()

    def reload_accounts(self) -> None:
        current = self.account_combo.currentData()
        self.account_combo.blockSignals(True)
        try:
            self.account_combo.clear()
            self.account_combo.addItem("All accounts", None)
            for account in self._reader.accounts():
                self.account_combo.addItem(account.name or account.account_id, account.account_id)
            found = self.account_combo.findData(current)
            self.account_combo.setCurrentIndex(max(0, found))
        finally:
            self.account_combo.blockSignals(False)
        if self.account_combo.currentData() != current:
            self._apply_filter()

    def refresh_recall_log(self) -> None:
        """Re-read the recall log if its dock is shown (showing the dock reads it)."""
        if self.recall_log_dock.isVisible():
            self.recall_log_model.refresh()

    def set_stream_state(self, state: StreamState) -> None:
        self.stream_label.setText(STREAM_STATE_TEXT[state])
        self.stream_label.setToolTip(STREAM_STATE_TIP[state])
        self.stream_label.setProperty("state", state.value)
        _repolish(self.stream_label)

    def set_sync_progress(self, progress: SyncProgress) -> None:
        """Show a long sync's progress; hidden once it is finished (or has no known size)."""
        if progress.total <= 0 or progress.finished:
            self.sync_progress_bar.hide()
            return
        bar = self.sync_progress_bar
        # With "%v" in its format a QProgressBar repaints itself synchronously on every setValue (~0.6 ms
        # on the GUI thread, ten times a second during a sync); with updates off meanwhile, turning them
        # back on schedules one ordinary update, painted with the next frame.
        bar.setUpdatesEnabled(False)
        try:
            bar.setRange(0, progress.total)
            bar.setValue(min(progress.done, progress.total))
            phase = one_line(progress.phase, 40) if progress.phase else "Syncing"
            bar.setFormat(f"{phase} %v/%m")
            errors = len(progress.errors)
            bar.setToolTip(f"{errors} item(s) could not be synced" if errors else "")
        finally:
            bar.setUpdatesEnabled(True)
        bar.show()

    def set_sandbox_mode(self, on: bool) -> None:
        self._sandbox = on
        self.sandbox_label.setVisible(on)
        self._update_title()

    def show_banner(self, text: str, kind: str = "info") -> None:
        """A dismissible message above the panes; ``kind`` is "info", "warning" or "error"."""
        self.banner.show_message(text, kind)

    def clear_banner(self) -> None:
        self.banner.hide()

    def set_recall_grace_seconds(self, seconds: int) -> None:
        """The pause between confirming and sending a recall (0 sends at once)."""
        self._recall_grace_s = max(0, seconds)

    def mark_recall_pending(self, account_id: str, message_id: str) -> None:
        """The request is in flight: the bubble shows "Recalling…" (nothing is removed yet). In its header,
        where the time was: the row keeps its height, so nothing else moves."""
        self.message_model.mark_recall_pending(account_id, message_id)
        self._refresh_visible_recall_log()

    def mark_recall_failed(
        self,
        account_id: str,
        message_id: str,
        reason_text: str,
        can_retry: bool,
        state: RecallState = RecallState.FAILED,
    ) -> None:
        """The recall did not remove the message (refused, failed, or not confirmed yet: ``state``):
        ``reason_text`` (plain words) under the bubble, and "Retry" when it helps."""
        with self._keeping_the_newest_in_view():
            self.message_model.mark_recall_failed(account_id, message_id, reason_text, can_retry, state)
        self._refresh_visible_recall_log()

    @contextlib.contextmanager
    def _keeping_the_newest_in_view(self) -> Iterator[None]:
        """A status line that grows the newest bubble must not push it below the view's edge."""
        at_bottom = self.message_view.is_at_bottom()
        yield
        if at_bottom:
            QTimer.singleShot(0, self.message_view, self.message_view.scroll_to_newest)

    def clear_recall_state(self, account_id: str, message_id: str) -> None:
        self.message_model.clear_recall_state(account_id, message_id)
        self._refresh_visible_recall_log()

    def _refresh_visible_recall_log(self) -> None:
        # Every attempt changes the log; reading it costs nothing worth saving while the dock is hidden.
        if self.recall_log_dock.isVisible():
            self.refresh_recall_log()

    def add_notification(self, message: Message) -> None:
        self.notifications.add_notification(message)

    def remove_notification(self, message_id: str) -> None:
        self.notifications.remove_notification(message_id)

    def open_conversation(self, conversation: Conversation) -> None:
        """Show a conversation's thread, select its row and emit ``conversation_opened``."""
        previous = self._open
        if previous is not None:
            self._drafts[(previous.account_id, previous.conversation_id)] = self.reply_edit.toPlainText()
        key = (conversation.account_id, conversation.conversation_id)
        self.conversation_model.keep_visible(key)
        self._show_thread(conversation)
        self.reply_edit.setPlainText(self._drafts.pop(key, ""))
        row = self.conversation_model.row_of(*key)
        if row is not None:
            index = self.conversation_model.index(row, 0)
            if self.conversation_view.currentIndex() != index:
                self.conversation_view.setCurrentIndex(index)
        self.conversation_opened.emit(conversation)

    # -- recall ------------------------------------------------------------------------------------------

    def recall_eligibility_for(self, message: Message) -> Eligibility:
        """Whether "Recall for everyone" is enabled for this message now, and why not."""
        return eligibility(message, self._reader.server_now_ms(), busy_reason=self._busy_reason(message))

    def _busy_reason(self, message: Message) -> str:
        state = self.message_model.recall_state(message.account_id, message.message_id)
        waiting = self.grace_bar.message
        if (state is not None and state.in_flight) or (
            waiting is not None and waiting.message_id == message.message_id
        ):
            return REASON_IN_PROGRESS
        if waiting is not None:
            return REASON_OTHER_WAITING
        return ""

    def message_menu(self, message: Message) -> QMenu:
        """The context menu of one bubble (built, not shown: the caller execs it)."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        eligibility = self.recall_eligibility_for(message)
        recall = menu.addAction(eligibility.menu_text)
        recall.setObjectName("recallAction")
        recall.setEnabled(eligibility.allowed)
        recall.setToolTip(eligibility.reason or "Remove this message for you and every recipient")
        recall.setStatusTip(eligibility.reason)
        recall.triggered.connect(lambda: self.request_recall(message))
        state = self.message_model.recall_state(message.account_id, message.message_id)
        if state is not None and state.has_line and state.can_retry:
            retry = menu.addAction("Retry recall")
            retry.setObjectName("retryRecallAction")
            retry.triggered.connect(lambda: self.retry_recall(message))
        menu.addSeparator()
        copy = menu.addAction("Copy text")
        copy.setObjectName("copyTextAction")
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(message.text))
        return menu

    def conversation_menu(self, conversation: Conversation) -> QMenu:
        """The context menu of one conversation row."""
        menu = QMenu(self)
        open_action = menu.addAction("Open")
        open_action.triggered.connect(lambda: self.open_conversation(conversation))
        unread = menu.addAction("Mark unread")
        unread.setObjectName("markUnreadAction")
        unread.setEnabled(conversation.unread_count == 0)
        unread.triggered.connect(lambda: self.mark_unread_requested.emit(conversation))
        star = menu.addAction("Unstar" if conversation.starred else "Star")
        star.setObjectName("starAction")
        star.triggered.connect(lambda: self.star_toggled.emit(conversation, not conversation.starred))
        return menu

    def current_message(self) -> Message | None:
        message = self.message_view.currentIndex().data(MessageRole.MESSAGE)
        return message if isinstance(message, Message) else None

    def recall_current_message(self) -> None:
        message = self.current_message()
        if message is None:
            self.statusBar().showMessage("Select one of your messages to recall it.", 4000)
            return
        self.request_recall(message)

    def request_recall(self, message: Message) -> None:
        """Step 2 of the recall flow: the confirmation dialog (window-modal, not blocking the loop)."""
        eligibility = self.recall_eligibility_for(message)
        if not eligibility.allowed:
            self.statusBar().showMessage(eligibility.reason, 6000)
            return
        dialog = RecallConfirmDialog(
            message, eligibility.left_ms, self, server_now=self._reader.server_now_ms
        )
        dialog.accepted.connect(lambda: self._on_recall_confirmed(message))
        dialog.finished.connect(self._on_confirm_dialog_finished)
        self.confirm_dialog = dialog
        dialog.open()

    def _on_confirm_dialog_finished(self, _result: int) -> None:
        # Not WA_DeleteOnClose: with PySide6 6.11 that crashed a later event loop pass (offscreen, shown
        # window-modal dialog: "shared QObject was deleted directly"). deleteLater after finished is safe.
        dialog, self.confirm_dialog = self.confirm_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _on_recall_confirmed(self, message: Message) -> None:
        # Step 3: the grace period. Nothing is sent until it ends.
        if self._recall_grace_s <= 0:
            self._finish_recall(message)
        else:
            self.grace_bar.start(message, self._recall_grace_s)

    def _on_grace_bar_elapsed(self, message: Message) -> None:
        self._finish_recall(message)

    def _finish_recall(self, message: Message) -> None:
        """Check again (time passed, another window may have recalled it), then hand it over."""
        fresh = self._reader.message(message.account_id, message.message_id)
        if fresh is None:
            self.show_banner("That message is already gone; there is nothing to recall.", "info")
            return
        eligibility = self.recall_eligibility_for(fresh)
        if not eligibility.allowed:
            self.show_banner(f"Not recalled: {eligibility.reason}.", "warning")
            return
        self.recall_requested.emit(fresh)

    def retry_recall(self, message: Message) -> None:
        state = self.message_model.recall_state(message.account_id, message.message_id)
        if state is None or not state.has_line:
            return
        verdict = eligibility(message, self._reader.server_now_ms())
        if not verdict.allowed:
            self.mark_recall_failed(message.account_id, message.message_id, verdict.reason, False)
            return
        self.retry_recall_requested.emit(message)

    # -- internals ---------------------------------------------------------------------------------------

    def _update_title(self) -> None:
        parts = [APP_TITLE]
        if self._open is not None:
            parts.insert(0, one_line(self._open.title, 60))
        if self._sandbox:
            parts.append("Sandbox")
        self.setWindowTitle(" — ".join(parts))

    def _update_header(self, conversation: Conversation) -> None:
        self.contact_label.setText(one_line(conversation.title, 120))
        person = primary_participant(conversation)
        headline = person.headline if person is not None and len(conversation.participants) == 1 else ""
        if len(conversation.participants) > 1:
            headline = f"{len(conversation.participants)} participants"
        self.headline_label.setText(one_line(headline, 200))
        self.headline_label.setVisible(bool(headline))
        self._update_title()

    def _show_thread(self, conversation: Conversation | None) -> None:
        self._open = conversation
        if conversation is None:
            self.message_model.set_conversation(None, None)
            self.thread_stack.setCurrentIndex(0)
            self._update_title()
            return
        self.message_model.set_conversation(conversation.account_id, conversation.conversation_id)
        self._update_header(conversation)
        self.thread_stack.setCurrentIndex(1)

    def _apply_filter(self) -> None:
        self.conversation_model.set_filter(
            ConversationFilter(
                account_id=self.account_combo.currentData(),
                unread_only=self.unread_button.isChecked(),
                search=self.search_edit.text(),
            )
        )

    def _select_open_conversation(self) -> None:
        """After the list was re-read, the open conversation's row is selected again."""
        if self._open is None:
            return
        row = self.conversation_model.row_of(self._open.account_id, self._open.conversation_id)
        if row is not None:
            self.conversation_view.setCurrentIndex(self.conversation_model.index(row, 0))

    def _update_empty_list_label(self) -> None:
        empty = self.conversation_model.rowCount() == 0
        f = self.conversation_model.filter
        self.empty_list_label.setText(
            "No matching conversations" if (f.search or f.unread_only) else "No conversations yet"
        )
        self.empty_list_label.setVisible(empty)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.grace_bar.is_active():
            # A recall waits for its grace period: closing must not decide for the user (nor drop it
            # silently). Asked window-modally, without a nested event loop; the answer closes again.
            event.ignore()
            self._ask_about_waiting_recall()
            return
        super().closeEvent(event)
        if event.isAccepted():
            self.window_closed.emit()

    def _ask_about_waiting_recall(self) -> None:
        if self.close_question is not None:
            self.close_question.raise_()
            return
        box = QMessageBox(self)
        box.setObjectName("closeDuringGraceQuestion")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("A recall is about to start")
        box.setText("A recall is waiting for its grace period to end. What should happen to it?")
        box.setTextFormat(Qt.TextFormat.PlainText)
        now = box.addButton("Recall now", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton("Cancel the recall", QMessageBox.ButtonRole.DestructiveRole)
        stay = box.addButton("Don't close", QMessageBox.ButtonRole.RejectRole)
        now.setObjectName("recallNowButton")
        cancel.setObjectName("cancelRecallButton")
        stay.setObjectName("dontCloseButton")
        box.setDefaultButton(stay)
        box.setEscapeButton(stay)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered() -> None:
            self.close_question = None
            clicked = box.clickedButton()
            if clicked is now:
                self.grace_bar.finish_now()
            elif clicked is cancel:
                self.grace_bar.cancel()
            else:
                return
            self.close()

        box.finished.connect(answered)
        self.close_question = box
        box.open()

    # -- slots -------------------------------------------------------------------------------------------

    def _on_message_view_older_history_wanted(self) -> None:
        if self._open is not None:
            self.older_history_requested.emit(self._open.account_id, self._open.conversation_id)

    def _on_search_edit_text_changed(self, _text: str) -> None:
        self._search_timer.start()

    def _on_search_timer_timeout(self) -> None:
        self._apply_filter()

    def _on_account_combo_current_index_changed(self, _index: int) -> None:
        self._apply_filter()

    def _on_unread_button_toggled(self, _checked: bool) -> None:
        self._apply_filter()

    def _on_find_action_triggered(self) -> None:
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    def _on_conversation_view_activated(self, index: QModelIndex) -> None:
        conversation = index.data(ConversationRole.CONVERSATION)
        if not isinstance(conversation, Conversation):
            return
        # On single-click styles a click is both `clicked` and `activated`: open once.
        current = self._open
        if current is not None and (current.account_id, current.conversation_id) == (
            conversation.account_id,
            conversation.conversation_id,
        ):
            return
        self.open_conversation(conversation)

    def _on_conversation_view_custom_context_menu_requested(self, pos: QPoint) -> None:
        conversation = self.conversation_view.indexAt(pos).data(ConversationRole.CONVERSATION)
        if isinstance(conversation, Conversation):
            self.conversation_menu(conversation).exec(self.conversation_view.viewport().mapToGlobal(pos))

    def _on_message_view_custom_context_menu_requested(self, pos: QPoint) -> None:
        index = self.message_view.indexAt(pos)
        message = index.data(MessageRole.MESSAGE)
        if isinstance(message, Message):
            self.message_view.setCurrentIndex(index)
            self.message_menu(message).exec(self.message_view.viewport().mapToGlobal(pos))

    def _on_message_menu_about_to_show(self) -> None:
        message = self.current_message()
        if message is None:
            self.recall_action.setText("Recall for everyone")
            self.recall_action.setEnabled(False)
            return
        eligibility = self.recall_eligibility_for(message)
        self.recall_action.setText(eligibility.menu_text)
        self.recall_action.setEnabled(eligibility.allowed)

    def _on_message_menu_about_to_hide(self) -> None:
        # The shortcut shares this action: leave it enabled, recall_current_message checks and explains.
        self.recall_action.setText("Recall for everyone")
        self.recall_action.setEnabled(True)

    def _on_bubble_delegate_retry_clicked(self, message: Message) -> None:
        self.retry_recall(message)

    def _on_reply_edit_submitted(self, text: str) -> None:
        conversation = self._open
        if conversation is None:
            return
        self.send_requested.emit(conversation.account_id, conversation.conversation_urn, text)
        self.reply_edit.clear()

    def _on_recall_log_dock_visibility_changed(self, visible: bool) -> None:
        if visible:
            self.refresh_recall_log()

    def _on_notifications_notification_activated(self, message: Message) -> None:
        conversation = self._reader.conversation(message.account_id, message.conversation_id)
        if conversation is not None:
            self.open_conversation(conversation)

    def _on_notifications_count_changed(self, count: int) -> None:
        self.notifications_dock.setWindowTitle(f"Notifications ({count})" if count else "Notifications")
