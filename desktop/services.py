"""The bridge between ``sync/`` and Qt: one InboxService per process, shared by every window.

It owns the cache, the API client, the sync engine, the recall service and (when this process holds the
data dir's lock) the watcher that follows the event stream. The watcher's sync passes run in a sync
worker process at background priority (``sync.worker``), which sends each change set it commits back
here; the event stream and the user's actions stay in this process. Results reach the windows as Qt
signals carrying frozen values: change sets from the cache writers (marshalled from the writer thread to
the GUI thread, or read from the worker's pipe), stream state, sync progress, recall status,
notifications and errors. A process that does not hold the lock follows the one that does by polling
``PRAGMA data_version`` and takes over the lock when it is freed (ARCHITECTURE.md §4).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.actions import ConversationActions
from desktop.backend import Backend
from desktop.following import Follower
from desktop.freshness import Freshness
from desktop.loop import TaskGroup, current_loop
from desktop.reader import CacheInboxReader
from desktop.recalling import Recalling
from sync.errors import KnownError, NotFound, SignedOut, TimedOut, Unreachable
from sync.lock import DataDirLock
from sync.model import (
    AccountIssue,
    ChangeSet,
    Conversation,
    StreamState,
    SyncProgress,
)

if TYPE_CHECKING:
    # The network side (httpx, websockets) is imported and built only once the inbox has painted.
    from sync.api import ApiClient
    from sync.engine import SyncEngine, SyncReport
    from sync.realtime import AppliedEvent
    from sync.recall import RecallService
    from sync.watcher import SyncPasses, Watcher
    from sync.worker import SyncWorker

log = logging.getLogger(__name__)

DATA_VERSION_POLL_MS: Final = 200


class _ReportedPasses:
    """The watcher's passes (the sync worker's), each pass's report handed to the service on its way back:
    the windows learn which accounts failed alone even when the pass ran in the worker process."""

    def __init__(self, service: InboxService, passes: SyncPasses) -> None:
        self._service = service
        self._passes = passes

    async def sync_once(
        self, *, reconcile: bool = True, accounts_max_age_s: float | None = None
    ) -> SyncReport:
        return await self._service.reported_pass(
            self._passes, reconcile=reconcile, accounts_max_age_s=accounts_max_age_s
        )

    async def reconcile_conversation(self, conversation: Conversation, last_complete: int | None) -> int:
        return await self._passes.reconcile_conversation(conversation, last_complete)


class InboxService(ConversationActions, Recalling, Freshness, Follower, QObject):
    """Process-wide services for the GUI; every window connects to these signals.

    Its jobs beyond this module are mixins, each in its own module: the user's actions on conversations
    and messages (``desktop.actions``), recalls (``desktop.recalling``), Refresh from LinkedIn and the
    server's freshness (``desktop.freshness``), and following another process's sync
    (``desktop.following``). This class owns the cache, the network side, leading, the sync passes'
    reports and the plumbing they share.
    """

    changes_applied = Signal(object)
    """ChangeSet: what one cache write changed (any thread's write, delivered on the GUI thread)."""
    foreign_commit = Signal()
    """Another process committed to the cache: re-read what is shown."""
    stream_state_changed = Signal(object)
    """StreamState."""
    sync_progress_changed = Signal(object)
    """SyncProgress."""
    recall_status_changed = Signal(object)
    """sync.recall.RecallStatus."""
    notification_added = Signal(object)
    """Message: a new inbound message from another session."""
    notification_removed = Signal(str)
    """message id."""
    error_raised = Signal(str, str)
    """(plain-words text, kind "info" | "warning" | "error")."""
    leadership_changed = Signal(bool)
    following_changed = Signal(object)
    """ui.status_bar.Following while another process leads the sync (None once this one leads)."""
    took_over = Signal(object)
    """int | None: the pid of the process this one followed, when it took the sync over from it."""
    recall_log_changed = Signal()
    """The recall log changed other than through a recall's own status (settled, cancelled)."""
    account_issues_changed = Signal(object)
    """tuple[AccountIssue, ...]: the accounts a sync pass could not serve (the others were synced)."""
    items_skipped = Signal(int)
    """A sync pass skipped this many items it could not use (each logged)."""
    server_freshness_changed = Signal(object)
    """ui.sources.ServerFreshness: C12's ``lastSyncAt`` per account."""
    refresh_started = Signal()
    refresh_finished = Signal(object)
    """ui.sources.RefreshOutcome: what "Refresh from LinkedIn" did, account by account."""
    base_url_suggested = Signal(str)
    """A1 answered 404 and the base URL lacks ``/linkedin``: the address the user probably meant."""
    mark_all_read_progress = Signal(object)
    """ui.sources.MarkAllRead: how far "Mark all read" is (sent after each conversation, and at the end)."""

    def __init__(
        self,
        backend: Backend,
        data: Path,
        *,
        on_bug: Callable[[BaseException], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.backend = backend
        self.data = data
        self._on_bug = on_bug
        self.cache = backend.open_cache(data)
        try:
            self.reader = CacheInboxReader(self.cache, self._server_now_ms)
            self.lock = DataDirLock(data)
            self.tasks = TaskGroup(self._on_task_failed)
            self.watcher: Watcher | None = None
            self.unpaced_sync = False
            """Benchmarks against a sandbox without rate limits: the sync worker paces nothing locally."""
            self.stream_state = StreamState.OFFLINE
            # Built on the running loop (the app) or before it runs (tests): the loop the writer's change
            # sets are handed to, never a new one.
            self._loop = current_loop()
            self._closing = False
            self._unsubscribe = self.cache.writer.subscribe(self._on_writer_changes)
            self._data_version = self.cache.reader.data_version()
            self._foreign_commits = self._commits_by_other_processes()
            self._data_version_timer = QTimer(self)
            self._data_version_timer.setInterval(DATA_VERSION_POLL_MS)
            self._data_version_timer.timeout.connect(self._on_data_version_timer_timeout)
            self._init_following()
            self._init_recalling()
            self._init_actions()
            self._init_freshness()
            self._account_issues: tuple[AccountIssue, ...] = tuple(self.cache.reader.account_issues())
            self._suggested_base_url = ""
            self._focused = False
        except BaseException:
            # The cache's writer thread is not a daemon: left open, it would keep the process alive and the
            # file in use while the caller asks the user what to do or exits.
            self._close_cache_after_failed_start()
            raise

    def _close_cache_after_failed_start(self) -> None:
        try:
            self.cache.close()
        except Exception:
            # The error that stopped the start is the one the caller must see.
            log.warning("closing the cache after a failed start failed", exc_info=True)

    @property
    def is_leader(self) -> bool:
        return self.lock.held

    # --- the network side, built on first use (after the first paint: see desktop.app) ---------------

    @functools.cached_property
    def api(self) -> ApiClient:
        from sync.api import ApiClient
        from sync.worker import GUI_BUDGET

        # The sync worker has the rest of the key's budget (sync.worker.WORKER_BUDGET).
        return ApiClient(self.backend.base_url, self.backend.api_key, budget=GUI_BUDGET)

    @functools.cached_property
    def sync_worker(self) -> SyncWorker:
        """The process that runs the background sync passes; started by the first one."""
        from desktop.paths import log_file
        from sync.session import process_session_id
        from sync.worker import WORKER_BUDGET, SyncWorker, WorkerConfig

        log_path = log_file(self.data)
        config = WorkerConfig(
            str(self.data),
            self.backend.base_url,
            self.backend.api_key,
            process_session_id(),  # the GUI's client sends it too (its ApiClient's default)
            budget=None if self.unpaced_sync else WORKER_BUDGET,
            log_path=str(log_path) if log_path.exists() else None,
            cache_file=str(self.cache.path),
        )
        return SyncWorker(
            config,
            on_changes=self._deliver_changes,
            on_progress=self._on_engine_progress,
            on_lost=self._on_sync_worker_lost,
            loop=self._loop,
        )

    @functools.cached_property
    def engine(self) -> SyncEngine:
        from sync.engine import SyncEngine

        return SyncEngine(self.api, self.cache, on_progress=self._on_engine_progress)

    @functools.cached_property
    def recalls(self) -> RecallService:
        from sync.recall import RecallService

        return RecallService(self.api, self.cache)

    def prewarm_sync_worker(self) -> None:
        """Start the sync worker process now, when this process is about to lead the sync (no other
        holds the data dir's lock), so that its interpreter start, imports and cache open (~0.3 s on a
        2-core machine) overlap the window's first paint and the network side's set-up instead of
        delaying the first sync (BENCHMARKS.md figure 8). desktop.app calls it right after opening the
        cache. Neither builds the HTTP client nor waits: a worker that fails to start is started again,
        and reported, by the first sync pass. A process that ends up following leaves it idle; it is
        the worker it uses if it takes the sync over."""
        from sync.worker import WorkerLost
        from sync.worker.proxy import discard_prelaunched

        if self._closing or self.lock.held_elsewhere():
            discard_prelaunched()  # a worker started ahead (desktop.cli) that this process will not use
            return

        # The process is started here, not in the task: the task would run only at the caller's next
        # await, after the window is built (56 ms later on a 2-core machine).
        try:
            self.sync_worker.launch()
        except WorkerLost as exc:
            log.info("the sync worker did not start ahead of the first sync: %s", exc)
            return

        async def prewarm() -> None:
            try:
                await self.sync_worker.start()
            except WorkerLost as exc:
                log.info("the sync worker did not start ahead of the first sync: %s", exc)

        self.tasks.spawn(prewarm(), name="prewarm sync worker")

    async def prepare_network_side(self) -> None:
        """Build the network side in a worker thread: importing httpx's transport stack and the event
        stream, and loading the TLS trust store when the client is made, take tens of milliseconds that
        would otherwise freeze a window that has just painted (desktop.app calls this before start)."""
        await asyncio.to_thread(self._build_network_side)

    def _build_network_side(self) -> None:
        from sync import api, realtime, watcher

        api.preload_transport()
        del realtime, watcher  # imported for their cost only: the watcher is made when leading
        _ = self.api, self.engine, self.recalls

    def _server_now_ms(self) -> int:
        # Before the client exists no Date header has been seen either: local time is the best guess.
        api = self.__dict__.get("api")
        return api.server_now_ms() if api is not None else int(time.time() * 1000)

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin background work: lead (sync + event stream) when the lock is free, else follow."""
        self._data_version_timer.start()
        self._start_settling()
        if not self._try_lead():
            self._follow()
        # How fresh the server's copy is ("LinkedIn data as of …"): the accounts known so far; a first
        # run's accounts are asked after its first pass.
        self.fetch_server_freshness([a.account_id for a in self.cache.reader.accounts()])
        self._freshness_timer.start()

    async def close(self) -> None:
        """Cancel every task, drain the writer, release the lock. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self._data_version_timer.stop()
        self._freshness_timer.stop()
        self._stop_following()
        await self._stop_recalling()
        await self.tasks.close()
        if "sync_worker" in self.__dict__:
            await self.sync_worker.close()
        if "api" in self.__dict__:
            await self.api.aclose()
        self._unsubscribe()
        await asyncio.to_thread(self.cache.close)
        self.lock.release()

    def _try_lead(self) -> bool:
        if not self.lock.try_acquire():
            return False
        from sync.watcher import Watcher

        self._lock_timer.stop()
        self.watcher = Watcher(
            self.api,
            self.cache,
            _ReportedPasses(self, self.sync_worker),
            self.backend.api_key,
            ws_url=self.backend.ws_url,
            on_state=self._on_watcher_state,
            on_event=self._on_watcher_event,
        )
        self.watcher.focused = self._focused
        self.tasks.spawn(self.watcher.run(), name="watcher")
        self.leadership_changed.emit(True)
        return True

    # --- sync passes and their reports ---------------------------------------------------------------

    def sync_now(self) -> asyncio.Task[None]:
        """A full pass now: in the sync worker when this process leads, else here (a follower's pass is
        rare and on request; it must not start a second worker beside the leader's)."""

        async def sync() -> None:
            await self._pass_now()

        return self._spawn_action(sync(), "Sync failed")

    async def _pass_now(self) -> SyncReport:
        return await self.reported_pass(self.sync_worker if self.is_leader else self.engine)

    async def reported_pass(
        self, passes: SyncPasses, *, reconcile: bool = True, accounts_max_age_s: float | None = None
    ) -> SyncReport:
        """One sync pass of ``passes``; its report reaches the windows (the accounts that failed alone,
        the items skipped), and a base URL that answers A1 with 404 is named with a suggestion."""
        try:
            report = await passes.sync_once(reconcile=reconcile, accounts_max_age_s=accounts_max_age_s)
        except NotFound as exc:
            if exc.suggested_base_url:
                self._suggest_base_url(exc.suggested_base_url)
            raise
        if not self._closing:
            self._on_pass_report(report)
        return report

    def _check_account_issues(self) -> None:
        issues = tuple(self.cache.reader.account_issues())
        if issues != self._account_issues:
            self._account_issues = issues
            self.account_issues_changed.emit(issues)

    def _on_pass_report(self, report: SyncReport) -> None:
        # The report names the accounts this pass could not serve (the pass stored the same in the
        # cache); in the cache's order, so that the data_version check finds nothing new after it.
        issues = tuple(sorted(report.account_issues, key=lambda i: (i.name, i.account_id)))
        if issues != self._account_issues:
            self._account_issues = issues
            self.account_issues_changed.emit(issues)
        if report.skipped:
            self.items_skipped.emit(report.skipped)
        refused = {issue.account_id for issue in report.account_issues if issue.refused}
        unasked = [
            a.account_id
            for a in self.cache.reader.accounts()
            if a.account_id not in self._freshness and a.account_id not in refused
        ]
        if unasked:
            self.fetch_server_freshness(unasked)
        if self.cache.reader.open_recalls():
            # A pass may bring the evidence an unconfirmed recall waits for (spec §9).
            self.settle_recalls()

    def _suggest_base_url(self, url: str) -> None:
        if url != self._suggested_base_url:
            self._suggested_base_url = url
            self.base_url_suggested.emit(url)

    def poll_intervals(self) -> tuple[float, float] | None:
        """(focused, background) seconds between polling rounds, when this process polls."""
        if self.watcher is None:
            return None
        return self.watcher.poll_focused_s, self.watcher.poll_background_s

    def set_focused(self, focused: bool) -> None:
        """One of the app's windows is active: poll more often when there is no event stream (the
        watcher polls at once when focus comes back). Remembered for a watcher made later."""
        self._focused = focused
        if self.watcher is not None and not self._closing:
            self.watcher.focused = focused

    # --- plumbing -------------------------------------------------------------------------------------

    def _spawn_action(self, coro: Awaitable[None], failure: str) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await coro
            except KnownError as exc:
                # The environment's fault: shown as state, never as a traceback.
                log.info("%s: %s", failure, exc)
                self.error_raised.emit(f"{failure}: {exc.user_message}", "warning")
                if isinstance(exc, Unreachable | TimedOut | SignedOut):
                    self._note_reachable(False, exc.user_message)

        return self.tasks.spawn(guarded())

    async def _write(self, future: Future[ChangeSet]) -> ChangeSet:
        return await asyncio.wrap_future(future)

    def _on_writer_changes(self, changes: ChangeSet) -> None:
        # Called on the writer thread: hand over to the GUI thread's loop.
        if not self._closing:
            self._loop.call_soon_threadsafe(self._deliver_changes, changes)

    def _deliver_changes(self, changes: ChangeSet) -> None:
        if not self._closing:
            self.changes_applied.emit(changes)

    def _on_data_version_timer_timeout(self) -> None:
        # data_version moves on any other connection's commit, our own writer thread's included; the
        # per-writer commit counters tell whether another process wrote (then re-read what is shown).
        version = self.cache.reader.data_version()
        if version == self._data_version:
            return
        self._data_version = version
        # A pass's account states are stored without a change set (and another process's pass moves no
        # commit counter for them): a short read of a small table tells whether they changed.
        self._check_account_issues()
        foreign = self._commits_by_other_processes()
        if foreign != self._foreign_commits:
            self._foreign_commits = foreign
            self.foreign_commit.emit()

    def _commits_by_other_processes(self) -> int:
        """Commits by writers that are neither ours nor our sync worker's (whose change sets we get)."""
        worker = self.__dict__.get("sync_worker")
        ours = worker.commit_keys if worker is not None else ()
        return self.cache.reader.commits_by_others(self.cache.writer.commit_key, *ours)

    def _on_sync_worker_lost(self) -> None:
        # Its last commits' change sets may never have come: re-read what is shown, as for another process.
        if not self._closing:
            self.foreign_commit.emit()

    def _on_engine_progress(self, progress: SyncProgress) -> None:
        self.sync_progress_changed.emit(progress)

    def _on_watcher_state(self, state: StreamState) -> None:
        self.stream_state = state
        self.stream_state_changed.emit(state)

    def _on_watcher_event(self, event: AppliedEvent) -> None:
        if event.type == "message.recalled":
            self.notification_removed.emit(event.message_id)
        elif (
            event.type == "message.created"
            and event.inbound
            and event.origin_session_id != self.api.session_id
        ):
            message = self.cache.reader.message(event.account_id, event.message_id)
            if message is not None:
                self.notification_added.emit(message)

    def _on_task_failed(self, error: BaseException) -> None:
        if isinstance(error, KnownError):
            self.error_raised.emit(error.user_message, "error")
            return
        self._on_bug(error)
