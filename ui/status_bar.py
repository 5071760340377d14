"""The window's status bar: sync progress, accounts needing attention, data freshness, sandbox, stream;
and the window's methods that show them (``StatusBarMethods``, a mixin of the main window)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMainWindow, QMenu, QProgressBar, QStatusBar, QToolButton

from sync.model import StreamState, SyncProgress

from .accounts import AccountStates
from .sources import RefreshOutcome, ServerFreshness
from .text import one_line
from .widgets import plain_label, repolish

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance
    from PySide6.QtGui import QAction

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


@dataclass(frozen=True, slots=True)
class Following:
    """This process follows the sync of another one on the same data dir (that one holds its lock): it
    shows that one's changes as they reach the shared cache, and acts (sends, recalls) through its own
    connection to the server."""

    leader_pid: int | None
    """The process that syncs, as its lock file says (None when it could not be read)."""
    reachable: bool | None = None
    """Whether this process's own connection reached the server at its last check (None: not checked
    yet)."""
    detail: str = ""
    """Why it did not, in plain words."""

    @property
    def leader(self) -> str:
        return f"{self.leader_pid}'s" if self.leader_pid is not None else "another window's"

    @property
    def state(self) -> str:
        """The status label's ``state`` property (the style sheet colours it)."""
        if self.reachable is None:
            return "following_checking"
        return "following" if self.reachable else "following_unreachable"

    @property
    def text(self) -> str:
        return f"● Following {self.leader} sync"

    @property
    def tip(self) -> str:
        who = f"process {self.leader_pid}" if self.leader_pid is not None else "another process"
        lead = (
            f"Another copy of ConnectSafely ({who}: a window, or sync --watch) syncs this data folder "
            "with LinkedIn; this window shows its changes as they reach the shared cache, and takes the "
            "sync over if it stops."
        )
        if self.reachable is None:
            return f"{lead}\nChecking this window's own connection to the server…"
        if self.reachable:
            return (
                f"{lead}\nSending and recalling work here: they go to the server over this window's own "
                "connection, which answered at its last check."
            )
        reason = f"\n{self.detail}" if self.detail else ""
        return (
            f"{lead}\nSending and recalling may not work here: this window's own connection to the "
            f"server failed at its last check.{reason}"
        )


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


class StatusPanel(QObject):
    """The status bar's permanent widgets and the state they show.

    ``shown_accounts`` gives the account filter's choice (() for all accounts): freshness is said for the
    accounts shown. Picking an account in the attention menu emits ``account_picked``.
    """

    account_picked = Signal(str)

    def __init__(
        self,
        bar: QStatusBar,
        accounts: AccountStates,
        server_now: Callable[[], int],
        shown_accounts: Callable[[], tuple[str, ...]],
    ) -> None:
        super().__init__(bar)
        self._bar = bar
        self._accounts = accounts
        self._server_now = server_now
        self._shown_accounts = shown_accounts
        self._freshness = ServerFreshness()
        self._refreshing = False
        self._poll_intervals: tuple[float, float] | None = None
        self._stream_state = StreamState.OFFLINE
        self._following: Following | None = None

        self.stream_label = plain_label(object_name="streamState")
        self.sync_progress_bar = QProgressBar()
        self.sync_progress_bar.setObjectName("syncProgress")
        self.sync_progress_bar.setFixedWidth(200)
        self.sync_progress_bar.setTextVisible(True)
        self.sync_progress_bar.hide()
        self.sandbox_label = plain_label("Sandbox", "sandboxBadge")
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
        self.freshness_label = plain_label(object_name="serverFreshness")
        self.freshness_label.hide()
        bar.addPermanentWidget(self.sync_progress_bar)
        bar.addPermanentWidget(self.attention_button)
        bar.addPermanentWidget(self.freshness_label)
        bar.addPermanentWidget(self.sandbox_label)
        bar.addPermanentWidget(self.stream_label)

        self.freshness_timer = QTimer(self)
        self.freshness_timer.setInterval(FRESHNESS_TICK_MS)
        self.freshness_timer.timeout.connect(self.update_freshness_text)

    # -- the event stream ------------------------------------------------------------------------------

    def set_stream_state(self, state: StreamState) -> None:
        self._stream_state = state
        if self._following is not None:
            return  # a follower has no stream of its own: it says whose sync it follows
        self.stream_label.setText(STREAM_STATE_TEXT[state])
        if state is StreamState.POLLING and self._poll_intervals is not None:
            self.stream_label.setToolTip(polling_tip(*self._poll_intervals))
        else:
            self.stream_label.setToolTip(STREAM_STATE_TIP[state])
        self.stream_label.setProperty("state", state.value)
        repolish(self.stream_label)

    # -- another process leads the sync ----------------------------------------------------------------

    @property
    def following(self) -> Following | None:
        return self._following

    def set_following(self, following: Following | None) -> None:
        """Say whose sync this process follows, and whether its own actions work (None: it leads; the
        stream state is shown again)."""
        self._following = following
        if following is None:
            self.set_stream_state(self._stream_state)
            return
        self.stream_label.setText(following.text)
        self.stream_label.setToolTip(following.tip)
        self.stream_label.setProperty("state", following.state)
        repolish(self.stream_label)

    def show_took_over(self, leader_pid: int | None) -> None:
        """The process this one followed stopped: this one syncs now (its stream state comes next)."""
        self._following = None
        who = f"process {leader_pid}" if leader_pid is not None else "the other window"
        self.stream_label.setText("● Took over the sync")
        self.stream_label.setToolTip(f"{who.capitalize()} stopped: this window now syncs this data folder.")
        self.stream_label.setProperty("state", "following_checking")
        repolish(self.stream_label)
        self._bar.showMessage(f"Took over the sync from {who}: this window syncs now.", 15_000)

    def set_poll_intervals(self, focused_s: float, background_s: float) -> None:
        self._poll_intervals = (focused_s, background_s)
        self.set_stream_state(self._stream_state)

    # -- a sync, the sandbox ---------------------------------------------------------------------------

    def set_sync_progress(self, progress: SyncProgress) -> None:
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

    def set_sandbox(self, on: bool) -> None:
        self.sandbox_label.setVisible(on)

    def show_skipped_items(self, count: int) -> None:
        """A sync pass could not use some items the server sent (counted, logged, never silent)."""
        if count > 0:
            self._bar.showMessage(
                f"{count} item{'s' if count != 1 else ''} from the server could not be read and "
                f"{'were' if count != 1 else 'was'} skipped (details in the log).",
                10_000,
            )

    # -- accounts needing attention --------------------------------------------------------------------

    def update_attention(self) -> None:
        entries = self._accounts.needing_attention()
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
            action.setToolTip(self._accounts.tip(account_id))
            action.triggered.connect(lambda _=False, a=account_id: self.account_picked.emit(a))
        menu.setToolTipsVisible(True)
        button.show()

    # -- what the server's copy is worth ---------------------------------------------------------------

    def set_freshness(self, freshness: ServerFreshness) -> None:
        self._freshness = freshness
        self.update_freshness_text()

    @property
    def refreshing(self) -> bool:
        """A "Refresh from LinkedIn" is under way."""
        return self._refreshing

    def set_refreshing(self, on: bool) -> None:
        self._refreshing = on
        self.update_freshness_text()

    def show_refresh_outcome(self, outcome: RefreshOutcome) -> list[str]:
        """Say what a refresh did in one status line; the problems a banner should name."""
        done = [r for r in outcome.accounts if r.ok]
        skipped = [r for r in outcome.accounts if not r.ok and r.skipped]
        failed = [r for r in outcome.accounts if not r.ok and not r.skipped]
        parts = [f"Refreshed from LinkedIn: {len(done)} account{'s' if len(done) != 1 else ''}"]
        if skipped:
            parts.append("skipped " + ", ".join(f"{one_line(r.name, 40)} (no API access)" for r in skipped))
        self._bar.showMessage("; ".join(parts), 15_000)
        problems = [f"{one_line(r.name, 40)}: {r.detail}" for r in failed]
        if outcome.error:
            problems.insert(0, outcome.error)
        return problems

    def update_freshness_text(self) -> None:
        """Bring "as of N min ago" up to date (the freshness timer calls it once a minute)."""
        label = self.freshness_label
        if self._refreshing:
            label.setText("Refreshing from LinkedIn…")
            label.setToolTip("ConnectSafely is reading LinkedIn again for the accounts shown.")
            label.show()
            return
        shown = self._shown_accounts() or None
        entries = [(a, t) for a, t in self._freshness.of(shown) if t is not None]
        if not entries:
            label.hide()
            self.freshness_timer.stop()
            return
        now = self._server_now()
        oldest = min(t for _, t in entries)
        label.setText(f"LinkedIn data as of {ago_text(now, oldest)}")
        names = self._accounts.names()
        lines = [f"{one_line(names.get(a, a), 60)}: {ago_text(now, t)}" for a, t in entries]
        label.setToolTip(
            "When ConnectSafely last read LinkedIn for the accounts shown (the oldest is shown):\n"
            + "\n".join(lines)
            + "\nPress F5 to refresh from LinkedIn."
        )
        label.show()
        if not self.freshness_timer.isActive():
            self.freshness_timer.start()


if TYPE_CHECKING:
    # What the mixin uses of its host, ui.main_window.MainWindow (a QMainWindow): declared for the type
    # checker only.
    _WindowHost = QMainWindow
else:
    _WindowHost = object


class StatusBarMethods(_WindowHost):
    """The status bar as the window's face shows it to the desktop layer, and F5 "Refresh from LinkedIn"
    (a mixin of ``ui.main_window.MainWindow``, which builds the :class:`StatusPanel`)."""

    if TYPE_CHECKING:
        status_panel: StatusPanel
        refresh_action: QAction
        refresh_requested: SignalInstance
        _sandbox: bool

        def show_banner(self, text: str, kind: str = "info") -> None: ...
        def shown_account_ids(self) -> tuple[str, ...]: ...
        def _update_title(self) -> None: ...

    def set_server_freshness(self, freshness: ServerFreshness) -> None:
        """C12's ``lastSyncAt`` per account: "LinkedIn data as of 3 min ago" for the accounts shown."""
        self.status_panel.set_freshness(freshness)

    def update_freshness_text(self) -> None:
        """Bring "as of N min ago" up to date (the freshness timer calls it once a minute)."""
        self.status_panel.update_freshness_text()

    def set_refreshing(self, on: bool) -> None:
        """A "Refresh from LinkedIn" is under way (the action waits for it)."""
        self.refresh_action.setEnabled(not on)
        self.status_panel.set_refreshing(on)

    def show_refresh_outcome(self, outcome: RefreshOutcome) -> None:
        """Say what a refresh did: one status line; a banner when an account (or the whole) failed."""
        self.set_refreshing(False)
        problems = self.status_panel.show_refresh_outcome(outcome)
        if problems:
            self.show_banner("Refresh from LinkedIn: " + "; ".join(problems), "warning")

    def show_skipped_items(self, count: int) -> None:
        """A sync pass could not use some items the server sent (counted, logged, never silent)."""
        self.status_panel.show_skipped_items(count)

    def set_stream_state(self, state: StreamState) -> None:
        self.status_panel.set_stream_state(state)

    def set_following(self, following: Following | None) -> None:
        """Another process leads the sync: say whose it follows and whether this one's actions work."""
        self.status_panel.set_following(following)

    def show_took_over(self, leader_pid: int | None) -> None:
        """The process this one followed stopped and this one took the sync over."""
        self.status_panel.show_took_over(leader_pid)

    def set_poll_intervals(self, focused_s: float, background_s: float) -> None:
        """The polling intervals in use, so that "Polling" can say how late a change may arrive."""
        self.status_panel.set_poll_intervals(focused_s, background_s)

    def set_sync_progress(self, progress: SyncProgress) -> None:
        """Show a long sync's progress; hidden once it is finished (or has no known size)."""
        self.status_panel.set_sync_progress(progress)

    def set_sandbox_mode(self, on: bool) -> None:
        self._sandbox = on
        self.status_panel.set_sandbox(on)
        self._update_title()

    def _on_refresh_action_triggered(self) -> None:
        if not self.status_panel.refreshing:
            self.refresh_requested.emit(self.shown_account_ids())
