"""The inbox window: the sidebar, thread, docks, menus, status bar and recall flow put together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtCore import QEvent, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from sync.model import (
    AccountIssue,
    ChangeSet,
    Conversation,
    Message,
    StreamState,
)

from .accounts import AccountStates
from .coalesce import ChangeCoalescer
from .conversation_delegate import ConversationDelegate
from .conversation_model import ConversationListModel, ConversationRole
from .docks import Docks
from .links import WindowLinks
from .menus import (
    build_menu_bar,
    conversation_menu,
    conversations_menu,
    quit_and_about,
    recall_shortcut,
    theme_menu,
)
from .message_model import MessageListModel
from .palette import LIGHT, Palette
from .recall_flow import RecallFlow, RecallWindowMethods
from .recall_log_model import RecallLogModel
from .search import WindowSearch
from .sidebar import Sidebar
from .sources import InboxReader, MarkAllRead
from .status_bar import StatusBarMethods, StatusPanel
from .style import ThemeChoice, load_style_sheet
from .text import one_line
from .thread_pane import ThreadPane
from .widgets import Banner

APP_TITLE = "ConnectSafely"
DEFAULT_SIZE = (1200, 760)


class MainWindow(StatusBarMethods, RecallWindowMethods, WindowSearch, WindowLinks, QMainWindow):
    """One inbox window with its own models and selection, over a reader shared by every window.

    Its parts live in their own modules: the sidebar (``ui.sidebar``), the thread and reply bar
    (``ui.thread_pane``, ``ui.reply_box``), the docks (``ui.docks``), the menus (``ui.menus``), the status
    bar (``ui.status_bar``), the recall flow (``ui.recall_flow``), the message search (``ui.search``) and
    the Ctrl+K switcher (``ui.quick_switcher``). This class builds them, wires them to each other, applies
    change sets, and is the one face the desktop layer sees. The parts of that face that only pass through
    to one part are mixins beside it: the status bar's (``ui.status_bar.StatusBarMethods``), the recall's
    (``ui.recall_flow.RecallWindowMethods``), the search's (``ui.search.WindowSearch``) and the link
    question's (``ui.links.WindowLinks``).
    """

    conversation_opened = Signal(Conversation)
    """The user opened a conversation (the desktop layer marks it read)."""
    send_requested = Signal(str, str, str)
    """(account id, conversation URN, text)."""
    recall_requested = Signal(Message)
    """Confirmed, grace period over, eligibility re-checked: recall this message for everyone now."""
    retry_recall_requested = Signal(Message)
    recall_cancelled = Signal(Message)
    """Cancelled during its grace period: nothing was sent (the recall log still shows it)."""
    reaction_requested = Signal(Message, str, bool)
    """(message, emoji, True to add it or False to take it back), from the bubble menu's emoji picker."""
    mark_unread_requested = Signal(Conversation)
    mark_read_requested = Signal(Conversation)
    mark_all_read_requested = Signal(object)
    """tuple[str, ...]: "Mark all read" for these accounts (the account filter's choice); empty: every
    account."""
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
    theme_requested = Signal(str)
    """A ``ThemeChoice`` value: the user picked View › Theme › System, Light or Dark."""
    quit_requested = Signal()
    """File › Quit: close every window."""
    about_requested = Signal()
    window_closed = Signal()

    def __init__(
        self,
        reader: InboxReader,
        *,
        sandbox: bool = False,
        recall_grace_s: int = 3,
        style_sheet: str | None = None,
        palette: Palette = LIGHT,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._reader = reader
        self._palette = palette
        self._styled = style_sheet is None
        """The window wears the app's style sheet (tests may give "" for none): a theme change refills it."""
        self._sandbox = False
        self._open: Conversation | None = None
        self._unread_arrivals = False
        """A message came into the open conversation while this window was not the active one: it is read
        once the user comes back to the window."""
        self._accounts = AccountStates()
        self._suggested_base_url = ""

        self.setObjectName("mainWindow")
        self.resize(*DEFAULT_SIZE)
        self.setMinimumSize(720, 480)

        self.conversation_model = ConversationListModel(reader, parent=self)
        self.message_model = MessageListModel(reader, parent=self)
        self.recall_log_model = RecallLogModel(reader, parent=self)

        self._build_central(recall_grace_s)
        self._build_docks()
        self._build_menus()
        self._build_status_bar()
        self._build_search()

        self._changes = ChangeCoalescer(self.flush_changes, self)

        self.reload_accounts()
        self.set_sandbox_mode(sandbox)
        self.set_stream_state(StreamState.OFFLINE)
        self._show_thread(None)
        self.sidebar.update_empty_label()
        # Keyboard first: Up/Down move through conversations straight away, Enter opens one.
        self.conversation_view.setFocus()
        self._apply_palette()
        if style_sheet is not None:
            self.setStyleSheet(style_sheet)

    # -- construction ------------------------------------------------------------------------------------

    def _build_central(self, recall_grace_s: int) -> None:
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
        self.sidebar = Sidebar(self.conversation_model, self._accounts, self)
        self.sidebar.account_filter_changed.connect(self.update_freshness_text)
        self.search_edit = self.sidebar.search_edit
        self.account_combo = self.sidebar.account_combo
        self.unread_button = self.sidebar.unread_button
        self.starred_button = self.sidebar.starred_button
        self.conversation_view = self.sidebar.conversation_view
        self.empty_list_label = self.sidebar.empty_list_label
        self.conversation_view.activated.connect(self._on_conversation_view_activated)
        self.conversation_view.clicked.connect(self._on_conversation_view_activated)
        self.conversation_view.customContextMenuRequested.connect(
            self._on_conversation_view_custom_context_menu_requested
        )
        self.conversation_model.modelReset.connect(self._select_open_conversation)

        # Right: a placeholder, or the open thread.
        self._recall = RecallFlow(
            self,
            self._reader,
            self.message_model,
            grace_s=recall_grace_s,
            show_banner=self.show_banner,
            show_failed=self.mark_recall_failed,
        )
        self._recall.recall_requested.connect(self.recall_requested)
        self._recall.retry_requested.connect(self.retry_recall_requested)
        self._recall.cancelled.connect(self.recall_cancelled)
        self._recall.reaction_requested.connect(self.reaction_requested)
        self._recall.link_requested.connect(self.open_link)
        self.grace_bar = self._recall.grace_bar
        self.thread_pane = ThreadPane(self.message_model, self.grace_bar)
        self.thread_stack = self.thread_pane.stack
        self.placeholder = self.thread_pane.placeholder
        self.contact_label = self.thread_pane.contact_label
        self.headline_label = self.thread_pane.headline_label
        self.message_view = self.thread_pane.message_view
        self.message_view.older_history_wanted.connect(self._on_message_view_older_history_wanted)
        self.message_view.customContextMenuRequested.connect(
            self._on_message_view_custom_context_menu_requested
        )
        self.message_view.bubble_delegate.retry_clicked.connect(self._on_bubble_delegate_retry_clicked)
        self.message_view.bubble_delegate.link_clicked.connect(self.open_link)
        self.link_question: QMessageBox | None = None
        """The question before a link is opened, while it is asked."""
        self.reply_box = self.thread_pane.reply_box
        self.reply_edit = self.reply_box.edit
        self.reply_edit.submitted.connect(self._on_reply_edit_submitted)
        self.send_button = self.reply_box.send_button

        self.splitter.addWidget(self.sidebar.widget)
        self.splitter.addWidget(self.thread_stack)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([390, DEFAULT_SIZE[0] - 390])
        self.setCentralWidget(central)

        self.recall_shortcut_action = recall_shortcut(self.message_view)
        self.recall_shortcut_action.triggered.connect(self.recall_current_message)

    def _build_docks(self) -> None:
        self.docks = Docks(self, self.recall_log_model, self._on_notifications_notification_activated)
        self.recall_log_view = self.docks.recall_log_view
        self.recall_log_dock = self.docks.recall_log_dock
        self.notifications = self.docks.notifications
        self.notifications_dock = self.docks.notifications_dock

    def _build_menus(self) -> None:
        actions = build_menu_bar(self, self.recall_log_dock, self.notifications_dock)
        self.new_window_action = actions.new_window
        self.new_window_action.triggered.connect(self.new_window_requested)
        self.settings_action = actions.settings
        self.settings_action.triggered.connect(self.settings_requested)
        self.close_action = actions.close
        self.close_action.triggered.connect(self.close)
        self.recall_action = actions.recall
        self.recall_action.triggered.connect(self.recall_current_message)
        actions.message_menu.aboutToShow.connect(self._on_message_menu_about_to_show)
        actions.message_menu.aboutToHide.connect(self._on_message_menu_about_to_hide)
        self.recall_log_action = actions.recall_log
        self.notifications_action = actions.notifications
        self.refresh_action = actions.refresh
        self.refresh_action.triggered.connect(self._on_refresh_action_triggered)
        self.find_action = actions.find
        self.find_action.triggered.connect(self.sidebar.focus_search)
        self.mark_all_read_action, self.next_conversation_action, self.previous_conversation_action = (
            conversations_menu(self, actions.view_menu)
        )
        self.mark_all_read_action.triggered.connect(self.mark_all_read)
        self.next_conversation_action.triggered.connect(lambda: self.open_adjacent(1))
        self.previous_conversation_action.triggered.connect(lambda: self.open_adjacent(-1))
        self.theme_actions = theme_menu(actions.view_menu)
        for choice, action in self.theme_actions.items():
            action.triggered.connect(lambda _checked=False, c=choice: self.theme_requested.emit(c.value))
        self.theme_actions[ThemeChoice.SYSTEM].setChecked(True)
        self.quit_action, self.about_action = quit_and_about(self)
        self.quit_action.triggered.connect(self.quit_requested)
        self.about_action.triggered.connect(self.about_requested)

    def _build_status_bar(self) -> None:
        self.status_panel = StatusPanel(
            self.statusBar(), self._accounts, self._reader.server_now_ms, self.sidebar.shown_account_ids
        )
        self.status_panel.account_picked.connect(self.show_account)
        self.stream_label = self.status_panel.stream_label
        self.sync_progress_bar = self.status_panel.sync_progress_bar
        self.sandbox_label = self.status_panel.sandbox_label
        self.attention_button = self.status_panel.attention_button
        self.attention_menu = self.status_panel.attention_menu
        self.freshness_label = self.status_panel.freshness_label
        self.freshness_timer = self.status_panel.freshness_timer

    # -- public API for the desktop layer ----------------------------------------------------------------

    def current_conversation(self) -> Conversation | None:
        return self._open

    def apply_changes(self, changes: ChangeSet) -> None:
        """Apply a change set; bursts within a frame are merged and applied once (``ChangeCoalescer``)."""
        self._changes.add(changes)

    def hide_recalled_now(self, changes: ChangeSet) -> None:
        """Take the messages a change set hides out of the open thread at once, and nothing else.

        The window manager calls this on every window before any of them applies the whole change set,
        so the second window does not wait for the first one's list, header and recall-log updates to
        show a recall. Applying the change set afterwards finds these rows gone already."""
        self.search_panel.hide_now(changes)
        if changes.messages_hidden or changes.tombstones_added:
            self.message_model.apply_changes(
                ChangeSet(messages_hidden=changes.messages_hidden, tombstones_added=changes.tombstones_added)
            )

    def flush_changes(self) -> None:
        """Apply queued change sets now (the timer calls it; tests may too)."""
        changes = self._changes.take()
        if not changes:
            return
        if changes.accounts_changed:
            self.reload_accounts()
        self.conversation_model.apply_changes(changes)
        self.message_model.apply_changes(changes)
        self.search_panel.apply_changes(changes)
        for message_id in changes.tombstones_added | {k.message_id for k in changes.messages_hidden}:
            self.notifications.remove_notification(message_id)
        if changes.conversations_changed and self.notifications.count():
            self._clear_read_notifications(changes.conversations_changed)
        if self._open is not None:
            key = (self._open.account_id, self._open.conversation_id)
            if key in changes.conversations_changed:
                fresh = self._reader.conversation(*key)
                if fresh is None:
                    self._show_thread(None)
                else:
                    self._open = fresh
                    self.thread_pane.show_header(fresh)
                    self._update_title()
                    self._read_arrivals(fresh, changes)
        if changes.tombstones_added:
            self.refresh_recall_log()

    def refresh(self) -> None:
        """Re-read everything shown (another process changed the cache in ways no change set names,
        e.g. the accounts its sync pass could not serve)."""
        self.conversation_model.reload()
        self.message_model.reload()
        self.search_panel.refresh()
        self.refresh_recall_log()
        self.reload_accounts()

    # -- drafts ----------------------------------------------------------------------------------------

    def set_drafts(self, drafts: Mapping[tuple[str, str], str]) -> None:
        """The reply boxes' drafts by (account id, conversation id): the list shows them on their rows."""
        self.conversation_model.set_drafts(drafts)

    # -- theme -----------------------------------------------------------------------------------------

    @property
    def palette_in_use(self) -> Palette:
        return self._palette

    def set_theme(self, palette: Palette, choice: ThemeChoice | None = None) -> None:
        """Show ``palette`` now (the style sheet, the rows the delegates had painted, every view), and
        check ``choice`` in View › Theme when given."""
        if choice is not None:
            self.theme_actions[choice].setChecked(True)
        if palette is self._palette:
            return
        self._palette = palette
        self._apply_palette()

    def _apply_palette(self) -> None:
        palette = self._palette
        if self._styled:
            self.setStyleSheet(load_style_sheet(palette=palette))
        delegate = self.conversation_view.itemDelegate()
        if isinstance(delegate, ConversationDelegate):
            delegate.set_palette(palette)
        self.message_view.bubble_delegate.set_palette(palette)
        self.recall_log_model.set_palette(palette)
        self.search_panel.set_palette(palette)
        self.quick_switcher.set_palette(palette)
        for view in (self.conversation_view, self.message_view):
            view.viewport().update()

    # -- accounts and their states -------------------------------------------------------------------

    def reload_accounts(self) -> None:
        """Re-read the accounts and the problems the last sync pass stored for them."""
        self._accounts.reload(self._reader)
        self._show_account_states()

    def set_account_issues(self, issues: Iterable[AccountIssue]) -> None:
        """A sync pass reported the accounts it could not serve (the others are fine again)."""
        if self._accounts.set_issues(issues):
            self._show_account_states()

    def account_state(self, account_id: str) -> str:
        """What is wrong with one account, in a few words ("" when nothing is)."""
        return self._accounts.problem(account_id)

    def accounts_needing_attention(self) -> list[tuple[str, str, str]]:
        """(account id, name, problem) of every account that is not synced or whose sync failed."""
        return self._accounts.needing_attention()

    def _show_account_states(self) -> None:
        changed = self.sidebar.show_accounts()
        self.status_panel.update_attention()
        if changed:
            self.sidebar.apply_filter()
        self.sidebar.update_empty_label()
        self.update_freshness_text()

    def show_account(self, account_id: str) -> None:
        """Filter the list to one account (the attention menu's choice)."""
        self.sidebar.show_account(account_id)

    def shown_account_ids(self) -> tuple[str, ...]:
        """The account filter's choice: one account, or () for all of them."""
        return self.sidebar.shown_account_ids()

    # -- banner, recall log, notifications -----------------------------------------------------------

    def offer_base_url(self, url: str) -> None:
        """Nothing answers at the configured address (A1 404): say so, with a one-click way to Settings."""
        self._suggested_base_url = url
        self.banner.show_message(
            f"Nothing was found at the server address in Settings (404). Did you mean {url}?",
            "warning",
            action_text="Fix in Settings…",
        )

    def show_banner(self, text: str, kind: str = "info") -> None:
        """A dismissible message above the panes; ``kind`` is "info", "warning" or "error"."""
        self._suggested_base_url = ""
        self.banner.show_message(text, kind)

    def clear_banner(self) -> None:
        self.banner.hide()

    def refresh_recall_log(self) -> None:
        """Re-read the recall log if its dock is shown (showing the dock reads it; every attempt changes
        it)."""
        self.docks.refresh_recall_log()

    def add_notification(self, message: Message) -> None:
        self.notifications.add_notification(message)

    def remove_notification(self, message_id: str) -> None:
        self.notifications.remove_notification(message_id)

    # -- conversations ---------------------------------------------------------------------------------

    def open_conversation(self, conversation: Conversation) -> None:
        """Show a conversation's thread, select its row and emit ``conversation_opened``."""
        previous = self._open
        self._unread_arrivals = False
        key = (conversation.account_id, conversation.conversation_id)
        self.notifications.remove_conversation(*key)  # read now: its items have done their job
        self.conversation_model.keep_visible(key)
        self._show_thread(conversation)
        self.reply_box.switch(
            (previous.account_id, previous.conversation_id) if previous is not None else None, key
        )
        row = self.conversation_model.row_of(*key)
        if row is not None:
            index = self.conversation_model.index(row, 0)
            if self.conversation_view.currentIndex() != index:
                self.conversation_view.setCurrentIndex(index)
        self.conversation_opened.emit(conversation)

    def conversation_menu(self, conversation: Conversation) -> QMenu:
        """The context menu of one conversation row."""
        return conversation_menu(
            self,
            conversation,
            open_it=self.open_conversation,
            mark_unread=self.mark_unread_requested.emit,
            star=self.star_toggled.emit,
            mark_read=self.mark_read_requested.emit,
            mark_all_read=self.mark_all_read,
        )

    def mark_all_read(self) -> None:
        """Ask for every unread conversation of the accounts the list shows to be marked read."""
        if self.mark_all_read_action.isEnabled():
            self.mark_all_read_requested.emit(self.shown_account_ids())

    def show_mark_all_read(self, progress: MarkAllRead) -> None:
        """How far "Mark all read" is, on the status bar; the action waits for the run to end."""
        self.mark_all_read_action.setEnabled(progress.finished)
        self.statusBar().showMessage(progress.text, 10_000 if progress.finished else 0)
        if progress.finished and progress.failed:
            self.show_banner(progress.text, "warning")

    def _clear_read_notifications(self, changed: Iterable[tuple[str, str]]) -> None:
        """Notification items of conversations that are read now go (read here, elsewhere, or by
        another process: each is a change set of the conversation)."""
        shown = self.notifications.conversation_keys()
        for key in shown & set(changed):
            conversation = self._reader.conversation(*key)
            if conversation is None or conversation.unread_count == 0:
                self.notifications.remove_conversation(*key)

    # -- internals ---------------------------------------------------------------------------------------

    def _read_arrivals(self, conversation: Conversation, changes: ChangeSet) -> None:
        """A message that comes into the open conversation is read: at once when this window is the active
        one (the user sees it arrive, as in Signal, Slack and LinkedIn), else when the user comes back to
        it. Only an arrival does this: "Mark unread" on the open conversation stays unread."""
        key = (conversation.account_id, conversation.conversation_id)
        arrived = False
        for inserted in changes.messages_inserted:
            if (inserted.account_id, inserted.conversation_id) != key:
                continue
            row = self.message_model.row_of(inserted.account_id, inserted.message_id)
            message = None if row is None else self.message_model.message_at(row)
            arrived = arrived or (message is not None and not message.is_sent_by_owner)
        if conversation.unread_count <= 0:
            self._unread_arrivals = False  # read meanwhile: in another window, or elsewhere
            return
        if not arrived:
            return
        self._unread_arrivals = True
        if self.isActiveWindow():
            self._mark_arrivals_read()

    def _mark_arrivals_read(self) -> None:
        conversation, arrivals = self._open, self._unread_arrivals
        self._unread_arrivals = False
        if arrivals and conversation is not None and conversation.unread_count > 0:
            self.mark_read_requested.emit(conversation)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self._mark_arrivals_read()

    def _update_title(self) -> None:
        parts = [APP_TITLE]
        if self._open is not None:
            parts.insert(0, one_line(self._open.title, 60))
        if self._sandbox:
            parts.append("Sandbox")
        self.setWindowTitle(" — ".join(parts))

    def _show_thread(self, conversation: Conversation | None) -> None:
        self._open = conversation
        self.thread_pane.show_conversation(conversation)
        self._update_title()

    def _select_open_conversation(self) -> None:
        """After the list was re-read, the open conversation's row is selected again."""
        if self._open is None:
            return
        row = self.conversation_model.row_of(self._open.account_id, self._open.conversation_id)
        if row is not None:
            self.conversation_view.setCurrentIndex(self.conversation_model.index(row, 0))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._recall.holds_close():
            event.ignore()
            return
        super().closeEvent(event)
        if event.isAccepted():
            self.window_closed.emit()

    # -- slots -------------------------------------------------------------------------------------------

    def _on_message_view_older_history_wanted(self) -> None:
        if self._open is not None:
            self.older_history_requested.emit(self._open.account_id, self._open.conversation_id)

    def _on_banner_action_clicked(self) -> None:
        if self._suggested_base_url:
            self.base_url_fix_requested.emit(self._suggested_base_url)

    def _on_conversation_view_activated(self, index: QModelIndex) -> None:
        conversation = index.data(ConversationRole.CONVERSATION)
        if not isinstance(conversation, Conversation):
            return
        # On single-click styles a click is both `clicked` and `activated`: open once.
        current = self._open
        if current is None or (current.account_id, current.conversation_id) != (
            conversation.account_id,
            conversation.conversation_id,
        ):
            self.open_conversation(conversation)
        self.focus_reply()

    def open_adjacent(self, step: int) -> None:
        """Open the conversation ``step`` rows below (or above, when negative) the open one in the list, or
        the first row when none is open. The keyboard stays where it is: in the reply box, the next
        conversation's draft is there to type on."""
        model = self.conversation_model
        current = self._open
        row = None if current is None else model.row_of(current.account_id, current.conversation_id)
        target = (0 if step > 0 else model.rowCount() - 1) if row is None else row + step
        if target >= model.rowCount() and model.canFetchMore():
            model.fetchMore()  # the next page of the list
        if not 0 <= target < model.rowCount():
            return
        conversation = model.index(target, 0).data(ConversationRole.CONVERSATION)
        if isinstance(conversation, Conversation):
            self.open_conversation(conversation)

    def open_to_reply(self, conversation: Conversation) -> None:
        """Open ``conversation`` because the user chose it (Ctrl+K, a notification): ready to reply."""
        self.open_conversation(conversation)
        self.focus_reply()

    def focus_reply(self) -> None:
        """The keyboard goes to the reply box: a conversation the user picks is one they are about to answer
        (Signal, Slack and LinkedIn do this), and keys typed into the list would only jump between rows
        by their first letter, and Enter would open another conversation."""
        if self.reply_edit.isVisible():
            self.reply_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_conversation_view_custom_context_menu_requested(self, pos: QPoint) -> None:
        conversation = self.conversation_view.indexAt(pos).data(ConversationRole.CONVERSATION)
        if isinstance(conversation, Conversation):
            self.conversation_menu(conversation).exec(self.conversation_view.viewport().mapToGlobal(pos))

    def _on_reply_edit_submitted(self, text: str) -> None:
        conversation = self._open
        if conversation is None:
            return
        self.send_requested.emit(conversation.account_id, conversation.conversation_urn, text)
        self.reply_box.sent()
        self.message_view.follow_own_message()

    def _on_notifications_notification_activated(self, message: Message) -> None:
        conversation = self._reader.conversation(message.account_id, message.conversation_id)
        if conversation is not None:
            self.open_to_reply(conversation)
