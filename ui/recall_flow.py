"""The recall as one window runs it: menus, confirmation, grace period, re-check, retry, closing meanwhile;
and the window's recall methods the desktop layer calls (``RecallWindowMethods``, a mixin of the main
window)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from sync.model import Message, RecallState
from sync.recall_rules import RECALL_ACTION_TEXT, UNCONFIRMED_CHECKING, Eligibility, eligibility

from .links import find_links
from .message_model import MessageListModel, MessageRole
from .reaction_picker import add_reaction_picker
from .recall import REASON_IN_PROGRESS, REASON_OTHER_WAITING, RecallConfirmDialog, RecallGraceBar
from .sources import InboxReader
from .text import one_line

if TYPE_CHECKING:
    from .views import MessageListView

MENU_LINKS = 3
"""Links of a message the bubble menu offers to open (the rest are a click away in the bubble)."""


class RecallFlow(QObject):
    """The window's part of the recall path (ARCHITECTURE.md §7, step 1), and a retry; it builds the
    bubble's context menu, whose emoji picker asks for reactions.

    The menus offer the recall only while the rules allow it (``sync.recall_rules``, plus what only the
    window knows: a recall of the message already under way, or another one waiting); a confirmation says
    what happens; the grace bar counts down; when it ends the message is read and judged again, then handed
    over with ``recall_requested``. Closing the window during the countdown asks what to do with it.
    """

    recall_requested = Signal(Message)
    """Confirmed, grace period over, eligibility re-checked: recall this message for everyone now."""
    retry_requested = Signal(Message)
    cancelled = Signal(Message)
    """Cancelled during its grace period: nothing was sent."""
    reaction_requested = Signal(Message, str, bool)
    """(message, emoji, True to add it or False to take it back): the bubble menu's emoji picker."""
    link_requested = Signal(str)
    """"Open link" in the bubble menu: the address (the window asks before opening it)."""

    def __init__(
        self,
        window: QMainWindow,
        reader: InboxReader,
        messages: MessageListModel,
        *,
        grace_s: int,
        show_banner: Callable[[str, str], None],
        show_failed: Callable[[str, str, str, bool], None],
    ) -> None:
        super().__init__(window)
        self._window = window
        self._reader = reader
        self._messages = messages
        self._grace_s = grace_s
        self._show_banner = show_banner
        self._show_failed = show_failed
        """(account id, message id, reason, can retry): a recall that cannot go out, under its bubble."""
        self.confirm_dialog: RecallConfirmDialog | None = None
        self.close_question: QMessageBox | None = None
        """Asked when the window is closed during a recall's grace period."""
        self._grace_ended_while_asking: Message | None = None
        """A recall whose grace period ran out while the close question was open: held until answered."""
        self.grace_bar = RecallGraceBar()
        self.grace_bar.elapsed.connect(self._on_grace_bar_elapsed)
        self.grace_bar.cancelled.connect(self.cancelled)

    def set_grace_seconds(self, seconds: int) -> None:
        """The pause between confirming and sending a recall (0 sends at once)."""
        self._grace_s = max(0, seconds)

    # -- eligibility and the menus ---------------------------------------------------------------------

    def eligibility_for(self, message: Message) -> Eligibility:
        """Whether "Recall for everyone" is enabled for this message now, and why not."""
        return eligibility(message, self._reader.server_now_ms(), busy_reason=self._busy_reason(message))

    def _busy_reason(self, message: Message) -> str:
        state = self._messages.recall_state(message.account_id, message.message_id)
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
        menu = QMenu(self._window)
        menu.setToolTipsVisible(True)
        verdict = self.eligibility_for(message)
        recall = menu.addAction(verdict.menu_text)
        recall.setObjectName("recallAction")
        recall.setEnabled(verdict.allowed)
        recall.setToolTip(verdict.reason or "Remove this message for you and every recipient")
        recall.setStatusTip(verdict.reason)
        recall.triggered.connect(lambda: self.request(message))
        state = self._messages.recall_state(message.account_id, message.message_id)
        if state is not None and state.has_line and state.can_retry:
            retry = menu.addAction("Retry recall")
            retry.setObjectName("retryRecallAction")
            retry.triggered.connect(lambda: self.retry(message))
        menu.addSeparator()
        for _start, _end, url in find_links(message.text)[:MENU_LINKS]:
            shown = url if len(url) <= 60 else url[:59] + "…"
            open_link = menu.addAction(f"Open link {shown}…")
            open_link.setObjectName("openLinkAction")
            open_link.triggered.connect(lambda _checked=False, u=url: self.link_requested.emit(u))
            copy_link = menu.addAction(f"Copy link {shown}")
            copy_link.setObjectName("copyLinkAction")
            copy_link.triggered.connect(lambda _checked=False, u=url: QGuiApplication.clipboard().setText(u))
        copy = menu.addAction("Copy text")
        copy.setObjectName("copyTextAction")
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(message.text))
        add_reaction_picker(menu, message, self.reaction_requested.emit)
        return menu

    def show_eligibility(self, action: QAction, message: Message | None) -> None:
        """The Message menu opens: its recall action says what it would do to the selected message."""
        if message is None:
            action.setText(RECALL_ACTION_TEXT)
            action.setEnabled(False)
            return
        verdict = self.eligibility_for(message)
        action.setText(verdict.menu_text)
        action.setEnabled(verdict.allowed)

    def reset_action(self, action: QAction) -> None:
        """The Message menu closed. The shortcut shares its action: leave it enabled, ``request`` checks
        and explains."""
        action.setText(RECALL_ACTION_TEXT)
        action.setEnabled(True)

    # -- confirmation, grace period, re-check ----------------------------------------------------------

    def request(self, message: Message) -> None:
        """Step 2: the confirmation dialog (window-modal, not blocking the loop)."""
        verdict = self.eligibility_for(message)
        if not verdict.allowed:
            self._window.statusBar().showMessage(verdict.reason, 6000)
            return
        dialog = RecallConfirmDialog(
            message, verdict.left_ms, self._window, server_now=self._reader.server_now_ms
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
        if self._grace_s <= 0:
            self._finish(message)
        else:
            self.grace_bar.start(message, self._grace_s)

    def _on_grace_bar_elapsed(self, message: Message) -> None:
        if self.close_question is not None:
            # The user is being asked what to do with this very recall: nothing is sent before they
            # answer (a "Cancel the recall" must still be able to cancel it).
            self._grace_ended_while_asking = message
            return
        self._finish(message)

    def _finish(self, message: Message) -> None:
        """Check again (time passed, another window may have recalled it), then hand it over."""
        fresh = self._reader.message(message.account_id, message.message_id)
        if fresh is None:
            self._show_banner("That message is already gone; there is nothing to recall.", "info")
            return
        verdict = self.eligibility_for(fresh)
        if not verdict.allowed:
            self._show_banner(f"Not recalled: {verdict.reason}.", "warning")
            return
        self.recall_requested.emit(fresh)

    def retry(self, message: Message) -> None:
        """ "Retry" under a failed recall: asked again at once if the window is still open."""
        state = self._messages.recall_state(message.account_id, message.message_id)
        if state is None or not state.has_line:
            return
        verdict = eligibility(message, self._reader.server_now_ms())
        if not verdict.allowed:
            self._show_failed(message.account_id, message.message_id, verdict.reason, False)
            return
        self.retry_requested.emit(message)

    # -- closing the window meanwhile ------------------------------------------------------------------

    def holds_close(self) -> bool:
        """Whether the window must stay open for now: a recall waits for its grace period, so closing
        must not decide for the user (nor drop it silently). Asked window-modally, without a nested event
        loop; the answer closes the window again."""
        if not self.grace_bar.is_active():
            return False
        self._ask_about_waiting_recall()
        return True

    def _ask_about_waiting_recall(self) -> None:
        if self.close_question is not None:
            self.close_question.raise_()
            return
        box = QMessageBox(self._window)
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
                    self.cancelled.emit(held)
                self.grace_bar.cancel()
                self._window.close()
                return
            if held is not None:
                # Its grace period ran out while asking: "Recall now" and "Don't close" both let it go.
                self._finish(held)
            if clicked is now:
                self.grace_bar.finish_now()
                self._window.close()
            # "Don't close" (or Escape): the window stays and the grace period goes on.

        box.finished.connect(answered)
        self.close_question = box
        box.open()


if TYPE_CHECKING:
    # What the mixin uses of its host, ui.main_window.MainWindow (a QMainWindow): declared for the type
    # checker only.
    _WindowHost = QMainWindow
else:
    _WindowHost = object


class RecallWindowMethods(_WindowHost):
    """The recall as the window's face shows it: the dialogs while open, the bubble menu, recalling the
    selected message, and each recall's state on its bubble (a mixin of ``ui.main_window.MainWindow``,
    which builds the :class:`RecallFlow`)."""

    if TYPE_CHECKING:
        _recall: RecallFlow
        message_model: MessageListModel
        message_view: MessageListView
        recall_action: QAction

        def refresh_recall_log(self) -> None: ...

    @property
    def confirm_dialog(self) -> RecallConfirmDialog | None:
        """The recall confirmation while it is open."""
        return self._recall.confirm_dialog

    @property
    def close_question(self) -> QMessageBox | None:
        """Asked when the window is closed during a recall's grace period, while it is open."""
        return self._recall.close_question

    def set_recall_grace_seconds(self, seconds: int) -> None:
        """The pause between confirming and sending a recall (0 sends at once)."""
        self._recall.set_grace_seconds(seconds)

    def recall_eligibility_for(self, message: Message) -> Eligibility:
        """Whether "Recall for everyone" is enabled for this message now, and why not."""
        return self._recall.eligibility_for(message)

    def message_menu(self, message: Message) -> QMenu:
        """The context menu of one bubble (built, not shown: the caller execs it)."""
        return self._recall.message_menu(message)

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
        self._recall.request(message)

    def retry_recall(self, message: Message) -> None:
        self._recall.retry(message)

    def mark_recall_pending(self, account_id: str, message_id: str) -> None:
        """The request is in flight: the bubble shows "Recalling…" (nothing is removed yet). In its header,
        where the time was: the row keeps its height, so nothing else moves."""
        self.message_model.mark_recall_pending(account_id, message_id)
        self.refresh_recall_log()

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
        with self.message_view.keeping_the_newest_in_view():
            self.message_model.mark_recall_failed(account_id, message_id, reason_text, can_retry, state)
        self.refresh_recall_log()

    def clear_recall_state(self, account_id: str, message_id: str) -> None:
        self.message_model.clear_recall_state(account_id, message_id)
        self.refresh_recall_log()

    def _on_message_view_custom_context_menu_requested(self, pos: QPoint) -> None:
        index = self.message_view.indexAt(pos)
        message = index.data(MessageRole.MESSAGE)
        if isinstance(message, Message):
            self.message_view.setCurrentIndex(index)
            self.message_menu(message).exec(self.message_view.viewport().mapToGlobal(pos))

    def _on_message_menu_about_to_show(self) -> None:
        self._recall.show_eligibility(self.recall_action, self.current_message())

    def _on_message_menu_about_to_hide(self) -> None:
        self._recall.reset_action(self.recall_action)

    def _on_bubble_delegate_retry_clicked(self, message: Message) -> None:
        self.retry_recall(message)
