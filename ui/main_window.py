"""The inbox window: conversation list, thread, reply box, recall flow, docks, menus and status bar."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator

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

from sync.model import (
    Account,
    AccountIssue,
    ChangeSet,
    Conversation,
    Message,
    RecallState,
    StreamState,
    SyncProgress,
)
from sync.recall_rules import UNCONFIRMED_CHECKING, Eligibility, eligibility

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
from .sources import InboxReader, RefreshOutcome, ServerFreshness
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
    StreamState.LIVE: "Connected to the event stream: changes made elsewhere arrive at once.",
    StreamState.POLLING: (
        "No event stream (the ConnectSafely service has none): the app asks the server for changes "
        "at regular intervals. New messages and recalls made in other sessions (LinkedIn itself, "
        "another computer) appear here within one polling interval."
    ),
    StreamState.RECONNECTING: "The event stream dropped; reconnecting.",
    StreamState.OFFLINE: "Offline: showing the local copy. Sending and recalling need a connection.",
}
BANNER_KINDS = ("info", "warning", "error")

NO_API_ACCESS = "no API access on your plan"
"""How an account without an API seat (A1 ``apiSeatAllocated: false``, or a 403) is named everywhere."""
FRESHNESS_TICK_MS = 60_000
""""LinkedIn data as of 3 min ago" is written in minutes: it is brought up to date once a minute."""


def _seconds_text(seconds: float) -> str:
    if seconds < 60:
        return f"{math.ceil(seconds)} s"
    return f"{seconds / 60:.1f}".rstrip("0").rstrip(".") + " min"


def polling_tip(focused_s: float | None = None, background_s: float | None = None) -> str:
    """The "Polling" tooltip; with the watcher's intervals, it says how late a change can be."""
    if focused_s is None or background_s is None:
        return STREAM_STATE_TIP[StreamState.POLLING]
    return (
        "No event stream (the ConnectSafely service has none): the app asks the server for changes every "
        f"{_seconds_text(focused_s)} while a window is active, every {_seconds_text(background_s)} "
        "otherwise, within the service's rate limit. New messages and recalls made in other sessions "
        "(LinkedIn itself, another computer) appear here within one polling interval."
    )


def ago_text(now_ms: int, then_ms: int) -> str:
    """ "just now" (under a minute), "3 min ago", "2 h ago", "4 days ago" (whole units, rounded down)."""
    minutes = max(0, now_ms - then_ms) // 60_000
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h ago"
    days = hours // 24
    return "1 day ago" if days == 1 else f"{days} days ago"


def account_problem(account: Account | None, issue: AccountIssue | None) -> str:
    """Why an account is not (fully) synced, in a few words ("" when nothing is wrong): a seatless
    account is never synced; any other issue is what the last sync pass met for that account."""
    if (account is not None and account.api_seat is False) or (
        issue is not None and issue.kind == "no_api_access"
    ):
        return NO_API_ACCESS
    if issue is not None:
        return f"sync failed: {one_line(issue.message, 120).rstrip('.')}"
    return ""


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
    action_clicked = Signal()
    """The banner's one action button (shown only when ``show_message`` was given its text)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        self.label = _plain_label(object_name="bannerText")
        self.label.setWordWrap(True)
        self.action_button = QPushButton()
        self.action_button.setObjectName("bannerAction")
        self.action_button.clicked.connect(self.action_clicked)
        self.action_button.hide()
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setObjectName("bannerClose")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self._on_close_button_clicked)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.hide()

    def show_message(self, text: str, kind: str = "info", action_text: str = "") -> None:
        self.setProperty("kind", kind if kind in BANNER_KINDS else "info")
        # One bounded line: whatever the caller passes, a banner never becomes a traceback dump.
        self.label.setText(one_line(text, 300))
        self.action_button.setText(action_text)
        self.action_button.setVisible(bool(action_text))
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
    refresh_requested = Signal(object)
    """tuple[str, ...]: "Refresh from LinkedIn" (F5) for these accounts (the account filter's choice);
    empty: every account."""
    base_url_fix_requested = Signal(str)
    """The user wants to fix the server address in Settings; the suggested address (may be "")."""
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
        self._accounts: list[Account] = []
        self._account_issues: dict[str, AccountIssue] = {}
        self._freshness = ServerFreshness()
        self._refreshing = False
        self._poll_intervals: tuple[float, float] | None = None
        self._stream_state = StreamState.OFFLINE
        self._grace_ended_while_asking: Message | None = None
        """A recall whose grace period ran out while the close question was open: held until answered."""
        self._suggested_base_url = ""

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
        self.freshness_timer = QTimer(self)
        self.freshness_timer.setInterval(FRESHNESS_TICK_MS)
        self.freshness_timer.timeout.connect(self.update_freshness_text)

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
        self.banner.action_clicked.connect(self._on_banner_action_clicked)
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
        # An account's state makes its row long ("… — no API access on your plan"): the sidebar keeps its
        # width (the current text is elided) and the list that drops down is as wide as its rows.
        self.account_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.account_combo.setMinimumContentsLength(14)
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
        self.refresh_action = view_menu.addAction("Refresh from LinkedIn")
        self.refresh_action.setObjectName("refreshAction")
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.setStatusTip(
            "Ask ConnectSafely to read LinkedIn again for the accounts shown, then update this window"
        )
        self.refresh_action.triggered.connect(self._on_refresh_action_triggered)
        self.addAction(self.refresh_action)  # F5 works while the menu bar is hidden too
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
        # Accounts that fail alone: one compact indicator; its menu picks the account in the filter.
        self.attention_button = QToolButton()
        self.attention_button.setObjectName("accountAttention")
        self.attention_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.attention_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.attention_menu = QMenu(self.attention_button)
        self.attention_menu.setObjectName("accountAttentionMenu")
        self.attention_button.setMenu(self.attention_menu)
        self.attention_button.hide()
        self.freshness_label = _plain_label(object_name="serverFreshness")
        self.freshness_label.hide()
        bar.addPermanentWidget(self.sync_progress_bar)
        bar.addPermanentWidget(self.attention_button)
        bar.addPermanentWidget(self.freshness_label)
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
        """Re-read everything shown (another process changed the cache in ways no change set names,
        e.g. the accounts its sync pass could not serve)."""
        self.conversation_model.reload()
        self.message_model.reload()
        self.refresh_recall_log()
        self.reload_accounts()

    # -- accounts and their states -------------------------------------------------------------------

    def reload_accounts(self) -> None:
        """Re-read the accounts and the problems the last sync pass stored for them."""
        self._accounts = self._reader.accounts()
        self._account_issues = {issue.account_id: issue for issue in self._reader.account_issues()}
        self._show_account_states()

    def set_account_issues(self, issues: Iterable[AccountIssue]) -> None:
        """A sync pass reported the accounts it could not serve (the others are fine again)."""
        fresh = {issue.account_id: issue for issue in issues}
        if fresh != self._account_issues:
            self._account_issues = fresh
            self._show_account_states()

    def account_state(self, account_id: str) -> str:
        """What is wrong with one account, in a few words ("" when nothing is)."""
        account = next((a for a in self._accounts if a.account_id == account_id), None)
        return account_problem(account, self._account_issues.get(account_id))

    def accounts_needing_attention(self) -> list[tuple[str, str, str]]:
        """(account id, name, problem) of every account that is not synced or whose sync failed."""
        names = {a.account_id: a.name or a.account_id for a in self._accounts}
        for issue in self._account_issues.values():
            names.setdefault(issue.account_id, issue.name or issue.account_id)
        found = [(account_id, name, self.account_state(account_id)) for account_id, name in names.items()]
        return sorted((entry for entry in found if entry[2]), key=lambda e: (e[1].casefold(), e[0]))

    def _account_tip(self, account_id: str) -> str:
        account = next((a for a in self._accounts if a.account_id == account_id), None)
        issue = self._account_issues.get(account_id)
        problem = account_problem(account, issue)
        if problem == NO_API_ACCESS:
            tip = (
                "Your ConnectSafely plan has no API seat for this account, so it is shown but never "
                "synced. Add a seat for it on your ConnectSafely plan."
            )
            return f"{tip}\n{issue.message}" if issue is not None and issue.message else tip
        if issue is not None:
            retry = "" if issue.refused else " The next sync tries again."
            return f"The last sync could not read this account: {issue.message}{retry}"
        return ""

    def _show_account_states(self) -> None:
        combo = self.account_combo
        current = combo.currentData()
        combo.blockSignals(True)
        try:
            combo.clear()
            combo.addItem("All accounts", None)
            for account in self._accounts:
                name = account.name or account.account_id
                problem = self.account_state(account.account_id)
                combo.addItem(f"{name} — {problem}" if problem else name, account.account_id)
                tip = self._account_tip(account.account_id)
                if tip:
                    combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
            found = combo.findData(current)
            combo.setCurrentIndex(max(0, found))
            # The drop-down list shows each row whole, even where the combo itself is narrower.
            view = combo.view()
            view.setMinimumWidth(view.sizeHintForColumn(0) + 24)
        finally:
            combo.blockSignals(False)
        self._update_attention()
        if combo.currentData() != current:
            self._apply_filter()
        self._update_empty_list_label()
        self.update_freshness_text()

    def _update_attention(self) -> None:
        entries = self.accounts_needing_attention()
        button, menu = self.attention_button, self.attention_menu
        menu.clear()
        if not entries:
            button.hide()
            return
        count = len(entries)
        button.setText(f"⚠ {count} account{'s need' if count > 1 else ' needs'} attention")
        button.setToolTip("\n".join(f"{name} — {problem}" for _, name, problem in entries))
        for account_id, name, problem in entries:
            action = menu.addAction(f"{one_line(name, 60)} — {problem}")
            action.setToolTip(self._account_tip(account_id))
            action.triggered.connect(lambda _=False, a=account_id: self.show_account(a))
        menu.setToolTipsVisible(True)
        button.show()

    def show_account(self, account_id: str) -> None:
        """Filter the list to one account (the attention menu's choice)."""
        index = self.account_combo.findData(account_id)
        if index >= 0:
            self.account_combo.setCurrentIndex(index)

    def shown_account_ids(self) -> tuple[str, ...]:
        """The account filter's choice: one account, or () for all of them."""
        current = self.account_combo.currentData()
        return (current,) if isinstance(current, str) else ()

    # -- what the server's copy is worth ------------------------------------------------------------

    def set_server_freshness(self, freshness: ServerFreshness) -> None:
        """C12's ``lastSyncAt`` per account: "LinkedIn data as of 3 min ago" for the accounts shown."""
        self._freshness = freshness
        self.update_freshness_text()

    def update_freshness_text(self) -> None:
        """Bring "as of N min ago" up to date (the freshness timer calls it once a minute)."""
        label = self.freshness_label
        if self._refreshing:
            label.setText("Refreshing from LinkedIn…")
            label.setToolTip("ConnectSafely is reading LinkedIn again for the accounts shown.")
            label.show()
            return
        shown = self.shown_account_ids() or None
        entries = [(a, t) for a, t in self._freshness.of(shown) if t is not None]
        if not entries:
            label.hide()
            self.freshness_timer.stop()
            return
        now = self._reader.server_now_ms()
        oldest = min(t for _, t in entries)
        label.setText(f"LinkedIn data as of {ago_text(now, oldest)}")
        names = {a.account_id: a.name or a.account_id for a in self._accounts}
        lines = [f"{one_line(names.get(a, a), 60)}: {ago_text(now, t)}" for a, t in entries]
        label.setToolTip(
            "When ConnectSafely last read LinkedIn for the accounts shown (the oldest is shown):\n"
            + "\n".join(lines)
            + "\nPress F5 to refresh from LinkedIn."
        )
        label.show()
        if not self.freshness_timer.isActive():
            self.freshness_timer.start()

    def set_refreshing(self, on: bool) -> None:
        """A "Refresh from LinkedIn" is under way (the action waits for it)."""
        self._refreshing = on
        self.refresh_action.setEnabled(not on)
        self.update_freshness_text()

    def show_refresh_outcome(self, outcome: RefreshOutcome) -> None:
        """Say what a refresh did: one status line; a banner when an account (or the whole) failed."""
        self.set_refreshing(False)
        done = [r for r in outcome.accounts if r.ok]
        skipped = [r for r in outcome.accounts if not r.ok and r.skipped]
        failed = [r for r in outcome.accounts if not r.ok and not r.skipped]
        parts = [f"Refreshed from LinkedIn: {len(done)} account{'s' if len(done) != 1 else ''}"]
        if skipped:
            parts.append("skipped " + ", ".join(f"{one_line(r.name, 40)} (no API access)" for r in skipped))
        self.statusBar().showMessage("; ".join(parts), 15_000)
        problems = [f"{one_line(r.name, 40)}: {r.detail}" for r in failed]
        if outcome.error:
            problems.insert(0, outcome.error)
        if problems:
            self.show_banner("Refresh from LinkedIn: " + "; ".join(problems), "warning")

    def offer_base_url(self, url: str) -> None:
        """Nothing answers at the configured address (A1 404): say so, with a one-click way to Settings."""
        self._suggested_base_url = url
        self.banner.show_message(
            f"Nothing was found at the server address in Settings (404). Did you mean {url}?",
            "warning",
            action_text="Fix in Settings…",
        )

    def show_skipped_items(self, count: int) -> None:
        """A sync pass could not use some items the server sent (counted, logged, never silent)."""
        if count > 0:
            self.statusBar().showMessage(
                f"{count} item{'s' if count != 1 else ''} from the server could not be read and "
                f"{'were' if count != 1 else 'was'} skipped (details in the log).",
                10_000,
            )

    def refresh_recall_log(self) -> None:
        """Re-read the recall log if its dock is shown (showing the dock reads it)."""
        if self.recall_log_dock.isVisible():
            self.recall_log_model.refresh()

    def set_stream_state(self, state: StreamState) -> None:
        self._stream_state = state
        self.stream_label.setText(STREAM_STATE_TEXT[state])
        if state is StreamState.POLLING and self._poll_intervals is not None:
            self.stream_label.setToolTip(polling_tip(*self._poll_intervals))
        else:
            self.stream_label.setToolTip(STREAM_STATE_TIP[state])
        self.stream_label.setProperty("state", state.value)
        _repolish(self.stream_label)

    def set_poll_intervals(self, focused_s: float, background_s: float) -> None:
        """The polling intervals in use, so that "Polling" can say how late a change may arrive."""
        self._poll_intervals = (focused_s, background_s)
        self.set_stream_state(self._stream_state)

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
        self._suggested_base_url = ""
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
        ``reason_text`` (plain words) under the bubble, and "Retry" when it helps.

        An unconfirmed recall always says "Recall not confirmed — checking…" on its bubble (spec §9: never
        "recalled", never "failed" until evidence says so); the detail goes to the status bar and the
        recall log."""
        if state is RecallState.UNCONFIRMED and reason_text and reason_text != UNCONFIRMED_CHECKING:
            self.statusBar().showMessage(reason_text, 10_000)
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
        if self.close_question is not None:
            # The user is being asked what to do with this very recall: nothing is sent before they
            # answer (a "Cancel the recall" must still be able to cancel it).
            self._grace_ended_while_asking = message
            return
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
        text = "No matching conversations" if (f.search or f.unread_only) else "No conversations yet"
        if f.account_id is not None and not (f.search or f.unread_only):
            problem = self.account_state(f.account_id)
            account = next((a for a in self._accounts if a.account_id == f.account_id), None)
            name = (account.name if account is not None else "") or "This account"
            if problem == NO_API_ACCESS:
                text = (
                    f"{name} has no API access on your ConnectSafely plan, so its conversations are not "
                    "synced."
                )
            elif problem:
                text = f"No conversations yet: {problem}."
        self.empty_list_label.setWordWrap(True)
        self.empty_list_label.setText(text)
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
        box.setTextFormat(Qt.TextFormat.PlainText)
        waiting = self.grace_bar.message
        preview = f"“{one_line(waiting.text, 60)}”" if waiting is not None else "A message"
        box.setText(f"{preview} is about to be recalled for everyone. What should happen to the recall?")
        box.setInformativeText(
            "Recall now: send it at once, then close.\n"
            "Cancel the recall: nothing is sent, then close.\n"
            "Don't close: keep this window; the recall goes out when its countdown ends."
        )
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
            held, self._grace_ended_while_asking = self._grace_ended_while_asking, None
            clicked = box.clickedButton()
            if clicked is cancel:
                if held is not None:
                    self.recall_cancelled.emit(held)
                self.grace_bar.cancel()
                self.close()
                return
            if held is not None:
                # Its grace period ran out while asking: "Recall now" and "Don't close" both let it go.
                self._finish_recall(held)
            if clicked is now:
                self.grace_bar.finish_now()
                self.close()
            # "Don't close" (or Escape): the window stays and the grace period goes on.

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
        self.update_freshness_text()

    def _on_refresh_action_triggered(self) -> None:
        if not self._refreshing:
            self.refresh_requested.emit(self.shown_account_ids())

    def _on_banner_action_clicked(self) -> None:
        if self._suggested_base_url:
            self.base_url_fix_requested.emit(self._suggested_base_url)

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
