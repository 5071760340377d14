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
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.backend import Backend
from desktop.loop import TaskGroup, current_loop
from desktop.reader import CacheInboxReader
from sync.errors import KnownError, NoApiAccess, NotFound, RateLimited, SignedOut, TimedOut, Unreachable
from sync.lock import DataDirLock
from sync.model import (
    AccountIssue,
    ChangeSet,
    Conversation,
    Message,
    RecallState,
    StreamState,
    SyncProgress,
)
from ui.sources import AccountRefresh, MarkAllRead, RefreshOutcome, ServerFreshness
from ui.status_bar import Following

if TYPE_CHECKING:
    # The network side (httpx, websockets) is imported and built only once the inbox has painted.
    from sync.api import ApiClient
    from sync.engine import SyncEngine, SyncReport
    from sync.realtime import AppliedEvent
    from sync.recall import RecallService, RecallStatus
    from sync.watcher import SyncPasses, Watcher
    from sync.worker import SyncWorker

log = logging.getLogger(__name__)

DATA_VERSION_POLL_MS: Final = 200
LOCK_RETRY_MS: Final = 2_000
FOLLOWER_CHECK_MS: Final = 60_000
"""How often a follower checks that its own connection reaches the server (one A1 a minute)."""
FOLLOWER_RECHECK_MS: Final = 15_000
"""…and how often while it does not."""
SETTLE_RECALLS_MS: Final = 30_000
"""How often unconfirmed recalls are checked again while any is open."""
MARK_ALL_READ_BURST: Final = 8
"""M1 calls "Mark all read" sends at once; then one every :data:`MARK_ALL_READ_EVERY_S`. With the GUI's
budget (``sync.worker.GUI_BUDGET``: 30 requests at once, 0.2/s; 13 writes per account, 0.22/s) a run
leaves at least 5 writes of each account and 22 requests for the user's sends and recalls, and takes at
most 0.125 of the 0.2 requests a second this process may send."""
MARK_ALL_READ_EVERY_S: Final = 8.0
MARK_ALL_READ_LIMIT: Final = 1_000
"""Unread conversations one "Mark all read" reads (the oldest beyond it stay unread: run it again)."""
RECALLS_AT_CLOSE_S: Final = 15.0
"""How long closing waits for recalls in flight ("Recall now" from a closing window) before cancelling
them (a cancelled one is logged unconfirmed and settled at the next start)."""


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


class InboxService(QObject):
    """Process-wide services for the GUI; every window connects to these signals."""

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
            self._loading_older: set[tuple[str, str]] = set()
            self._unsubscribe = self.cache.writer.subscribe(self._on_writer_changes)
            self._data_version = self.cache.reader.data_version()
            self._foreign_commits = self._commits_by_other_processes()
            self._data_version_timer = QTimer(self)
            self._data_version_timer.setInterval(DATA_VERSION_POLL_MS)
            self._data_version_timer.timeout.connect(self._on_data_version_timer_timeout)
            self._lock_timer = QTimer(self)
            self._lock_timer.setInterval(LOCK_RETRY_MS)
            self._lock_timer.timeout.connect(self._on_lock_timer_timeout)
            self.following: Following | None = None
            """Set while another process leads the sync (this one follows it)."""
            self._follower_check: asyncio.Task[None] | None = None
            self._follower_timer = QTimer(self)
            self._follower_timer.setSingleShot(True)
            self._follower_timer.timeout.connect(self.check_connection)
            self._settling: asyncio.Task[None] | None = None
            self._settle_timer = QTimer(self)
            self._settle_timer.setInterval(SETTLE_RECALLS_MS)
            self._settle_timer.timeout.connect(self.settle_recalls)
            self._recalling: set[asyncio.Task[RecallStatus]] = set()
            self._refreshing: asyncio.Task[None] | None = None
            self._marking_all_read: asyncio.Task[None] | None = None
            self._reactions_lock = asyncio.Lock()
            self._freshness: dict[str, int | None] = {}
            """C12 ``lastSyncAt`` per account asked (None: the server has not synced it yet)."""
            self._freshness_asking: set[str] = set()
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
        from sync.worker import WORKER_BUDGET, SyncWorker, WorkerConfig

        log_path = log_file(self.data)
        config = WorkerConfig(
            str(self.data),
            self.backend.base_url,
            self.backend.api_key,
            self.api.session_id,
            budget=None if self.unpaced_sync else WORKER_BUDGET,
            log_path=str(log_path) if log_path.exists() else None,
            cache_file=str(self.cache.path),
        )
        return SyncWorker(
            config,
            on_changes=self._deliver_changes,
            on_progress=self._on_engine_progress,
            on_lost=self._on_sync_worker_lost,
        )

    @functools.cached_property
    def engine(self) -> SyncEngine:
        from sync.engine import SyncEngine

        return SyncEngine(self.api, self.cache, on_progress=self._on_engine_progress)

    @functools.cached_property
    def recalls(self) -> RecallService:
        from sync.recall import RecallService

        return RecallService(self.api, self.cache)

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
        if self.cache.reader.open_recalls():
            # Unconfirmed recalls, or pending ones a crash cut short: settle them by evidence.
            self.settle_recalls()
            self._settle_timer.start()
        if not self._try_lead():
            log.info("another process holds %s: following its changes", self.lock.path)
            self._lock_timer.start()
            self._set_following(Following(self.lock.holder_pid()))
            self.check_connection()
        # How fresh the server's copy is ("LinkedIn data as of …"): the accounts known so far; a first
        # run's accounts are asked after its first pass.
        self.fetch_server_freshness([a.account_id for a in self.cache.reader.accounts()])

    async def close(self) -> None:
        """Cancel every task, drain the writer, release the lock. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self._data_version_timer.stop()
        self._lock_timer.stop()
        self._follower_timer.stop()
        self._settle_timer.stop()
        recalling = [task for task in self._recalling if not task.done()]
        if recalling:
            # A recall the user let go ("Recall now" while closing) is seen to its end, not cut off.
            log.info("waiting for %d recall(s) in flight before closing", len(recalling))
            await asyncio.wait(recalling, timeout=RECALLS_AT_CLOSE_S)
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

    # --- actions the windows ask for ------------------------------------------------------------------

    def recall(self, message: Message, window_id: str = "") -> asyncio.Task[RecallStatus]:
        """Recall now (the window has done the confirmation and the grace period). An attempt that ends
        unconfirmed is settled later by :meth:`settle_recalls` (spec §9)."""

        async def recall() -> RecallStatus:
            conversation = self.cache.reader.conversation(message.account_id, message.conversation_id)
            status = await self.recalls.recall(
                message,
                window_id=window_id,
                on_status=self.recall_status_changed.emit,
                conversation_title="" if conversation is None else conversation.title,
            )
            if status.state is RecallState.UNCONFIRMED:
                self._settle_timer.start()
            return status

        task = self.tasks.spawn(recall(), name=f"recall {message.message_id}")
        self._recalling.add(task)
        task.add_done_callback(self._recalling.discard)
        return task

    def log_recall_cancelled(self, message: Message, window_id: str = "") -> asyncio.Task[None]:
        """A recall cancelled in its grace period: nothing was sent; the recall log shows it."""

        async def cancelled() -> None:
            conversation = self.cache.reader.conversation(message.account_id, message.conversation_id)
            title = "" if conversation is None else conversation.title
            await self.recalls.log_cancelled(message, window_id=window_id, conversation_title=title)
            self.recall_log_changed.emit()

        return self._spawn_action(cancelled(), "Could not log the cancelled recall")

    def settle_recalls(self) -> asyncio.Task[None] | None:
        """Settle unconfirmed recalls (and pending ones a crash left) by the evidence rule (spec §9):
        each that changes is announced like a recall's own status. Runs at start, after sync passes and
        on a timer while any is open; one at a time."""
        if self._settling is not None and not self._settling.done():
            return None

        async def settle() -> None:
            from sync.recall import RecallStatus

            changed = await self.recalls.settle_open()
            for attempt in changed:
                self.recall_status_changed.emit(
                    RecallStatus(
                        attempt.account_id,
                        attempt.message_id,
                        attempt.outcome,
                        error_kind=attempt.error_kind,
                        user_message=attempt.error_message,
                        can_retry=attempt.outcome is RecallState.UNCONFIRMED,
                        attempt=attempt,
                    )
                )
            if changed:
                self.recall_log_changed.emit()
            if not self.cache.reader.open_recalls():
                self._settle_timer.stop()

        self._settling = self._spawn_action(settle(), "Could not check an unconfirmed recall")
        return self._settling

    def send(self, account_id: str, conversation_urn: str, text: str) -> asyncio.Task[None]:
        async def send() -> None:
            from sync.engine import message_in

            result = await self.api.send(account_id, text, conversation_urn=conversation_urn)
            if result.sent_message is not None:
                await self._write(self.cache.writer.upsert_messages([message_in(result.sent_message)]))

        return self._spawn_action(send(), "Not sent")

    def open_conversation(self, conversation: Conversation) -> asyncio.Task[None] | None:
        """Mark read on the server, then locally; reads the newest page if none is cached yet."""

        async def opened() -> None:
            state = self.cache.reader.conversation_sync(conversation.account_id, conversation.conversation_id)
            if state is None or state.newest_synced_at is None:
                await self.engine.sync_new_messages(conversation)
            if conversation.unread_count > 0:
                await self.api.mark_seen(conversation.account_id, conversation.conversation_urn)
                await self._write(
                    self.cache.writer.mark_read(conversation.account_id, conversation.conversation_id)
                )

        return self._spawn_action(opened(), "Could not update the conversation")

    def mark_unread(self, conversation: Conversation) -> asyncio.Task[None]:
        async def unread() -> None:
            await self.api.mark_unread(conversation.conversation_urn, account_id=conversation.account_id)
            await self._write(
                self.cache.writer.update_conversation(
                    conversation.account_id,
                    conversation.conversation_id,
                    unread_count=max(1, conversation.unread_count),
                )
            )

        return self._spawn_action(unread(), "Could not mark it unread")

    def mark_read(self, conversation: Conversation) -> asyncio.Task[None]:
        """M1, then the cache: every window (and process) sees the conversation read."""

        async def read() -> None:
            await self.api.mark_seen(conversation.account_id, conversation.conversation_urn)
            await self._write(
                self.cache.writer.mark_read(conversation.account_id, conversation.conversation_id)
            )

        return self._spawn_action(read(), "Could not mark it read")

    def mark_all_read(self, account_ids: tuple[str, ...] = ()) -> asyncio.Task[None] | None:
        """M1 for every unread conversation of ``account_ids`` (every account when empty), one at a time,
        each written to the cache as soon as the server said yes; one run at a time (None while one runs).

        Paced by :data:`MARK_ALL_READ_BURST` and :data:`MARK_ALL_READ_EVERY_S` on top of the client's own
        budget, so that a long run never spends the writes a send or a recall needs (spec §1: 15 writes
        per account, one more every 4 s). Accounts without an API seat are skipped; the key or the network
        failing ends the run; one conversation the server refuses is counted and the others go on."""
        if self._marking_all_read is not None and not self._marking_all_read.done():
            return None
        from sync.pacing import TokenBucket

        seatless = {a.account_id for a in self.cache.reader.accounts() if a.api_seat is False}
        wanted = [a for a in account_ids if a not in seatless] if account_ids else None
        unread = [
            c
            for c in self.cache.reader.unread_conversations(wanted, limit=MARK_ALL_READ_LIMIT)
            if c.account_id not in seatless
        ]
        bucket = TokenBucket(MARK_ALL_READ_BURST, 1 / MARK_ALL_READ_EVERY_S)

        async def read_all() -> None:
            progress = MarkAllRead(total=len(unread))
            self.mark_all_read_progress.emit(progress)
            try:
                for conversation in unread:
                    key = (conversation.account_id, conversation.conversation_id)
                    fresh = self.cache.reader.conversation(*key)
                    if fresh is None or fresh.unread_count == 0:
                        progress = dataclasses.replace(progress, done=progress.done + 1)  # read meanwhile
                        continue
                    wait = bucket.reserve()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    try:
                        await self.api.mark_seen(fresh.account_id, fresh.conversation_urn)
                    except (SignedOut, Unreachable) as exc:
                        progress = dataclasses.replace(progress, error=exc.user_message)
                        return
                    except KnownError as exc:
                        log.info("mark all read: %s: %s", fresh.conversation_id, exc)
                        failed = progress.failed + 1
                        progress = dataclasses.replace(
                            progress, done=progress.done + 1, failed=failed, error=exc.user_message
                        )
                    else:
                        await self._write(self.cache.writer.mark_read(*key))
                        progress = dataclasses.replace(progress, done=progress.done + 1)
                    self.mark_all_read_progress.emit(progress)
            finally:
                if not self._closing:
                    self.mark_all_read_progress.emit(dataclasses.replace(progress, finished=True))

        self._marking_all_read = self._spawn_action(read_all(), "Could not mark all read")
        return self._marking_all_read

    def react(self, message: Message, emoji: str, react: bool) -> asyncio.Task[None]:
        """C7, then the message's totals in the cache, worked out from the cached ones (the answer has
        none: ``sync.reactions``); every window and process sees them through the change set. Reactions
        are written one at a time, so two quick clicks never both start from the same totals."""

        async def reacted() -> None:
            from sync.reactions import toggled_reactions

            await self.api.react(
                message.account_id, message.conversation_urn, message.message_urn, emoji, react=react
            )
            async with self._reactions_lock:
                current = self.cache.reader.message(message.account_id, message.message_id)
                if current is None:
                    return  # recalled meanwhile: nothing left to show it on
                totals = toggled_reactions(current.reactions, emoji, react)
                if totals != current.reactions:
                    await self._write(
                        self.cache.writer.set_reactions(message.account_id, message.message_urn, totals)
                    )

        failure = "Could not react" if react else "Could not remove the reaction"
        return self._spawn_action(reacted(), failure)

    def set_starred(self, conversation: Conversation, starred: bool) -> asyncio.Task[None]:
        async def star() -> None:
            if starred:
                await self.api.star(conversation.conversation_urn, account_id=conversation.account_id)
            else:
                await self.api.unstar(conversation.conversation_urn, account_id=conversation.account_id)
            await self._write(
                self.cache.writer.update_conversation(
                    conversation.account_id, conversation.conversation_id, starred=starred
                )
            )

        return self._spawn_action(star(), "Could not change the star")

    def load_older(self, account_id: str, conversation_id: str) -> asyncio.Task[None] | None:
        """The next older page from the server; one at a time per conversation (scrolling repeats)."""
        key = (account_id, conversation_id)
        if key in self._loading_older:
            return None
        self._loading_older.add(key)

        async def older() -> None:
            try:
                await self.engine.load_older(account_id, conversation_id)
            finally:
                self._loading_older.discard(key)

        return self._spawn_action(older(), "Could not load older messages")

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

    # --- Refresh from LinkedIn (C11) and the server's freshness (C12) -----------------------------------

    def refresh_from_linkedin(self, account_ids: tuple[str, ...] = ()) -> asyncio.Task[None] | None:
        """F5: ask the server to read LinkedIn again (C11) for ``account_ids`` (every account when
        empty), then re-read with a sync pass, then ask how fresh its copy is now (C12). Accounts fail
        alone: a seatless one is skipped with its reason, a failing one does not stop the others. One
        refresh at a time (None while one runs)."""
        if self._refreshing is not None and not self._refreshing.done():
            return None

        async def refresh() -> None:
            self.refresh_started.emit()
            outcome = RefreshOutcome(error="The refresh stopped before it finished.")
            try:
                outcome = await self._refresh(account_ids)
            finally:
                if not self._closing:
                    self.refresh_finished.emit(outcome)

        self._refreshing = self.tasks.spawn(refresh(), name="refresh from LinkedIn")
        return self._refreshing

    async def _refresh(self, account_ids: tuple[str, ...]) -> RefreshOutcome:
        accounts = [a for a in self.cache.reader.accounts() if not account_ids or a.account_id in account_ids]
        results: list[AccountRefresh] = []
        for index, account in enumerate(accounts):
            name = account.name or account.account_id
            if account.api_seat is False:
                seatless = NoApiAccess("A1 says apiSeatAllocated: false").user_message
                results.append(AccountRefresh(account.account_id, name, False, seatless, skipped=True))
                continue
            try:
                result = await self.api.server_sync(account.account_id)
            except (SignedOut, Unreachable) as exc:
                # The key or the network, not this account: the others would fail the same way.
                log.info("refresh stopped at %s: %s", account.account_id, exc)
                results += [
                    AccountRefresh(a.account_id, a.name or a.account_id, False, exc.user_message)
                    for a in accounts[index:]
                ]
                return RefreshOutcome(tuple(results))
            except NoApiAccess as exc:
                log.info("refresh of %s skipped: %s", account.account_id, exc)
                results.append(
                    AccountRefresh(account.account_id, name, False, exc.user_message, skipped=True)
                )
                continue
            except KnownError as exc:
                log.info("refresh of %s failed: %s", account.account_id, exc)
                results.append(AccountRefresh(account.account_id, name, False, exc.user_message))
                continue
            results.append(AccountRefresh(account.account_id, name, True, result.error or ""))
        error = ""
        try:
            await self._pass_now()
        except KnownError as exc:
            log.info("refresh: the re-read failed: %s", exc)
            error = f"the re-read failed: {exc.user_message}"
        await self._ask_freshness([r.account_id for r in results if r.ok])
        return RefreshOutcome(tuple(results), error=error)

    def fetch_server_freshness(self, account_ids: list[str]) -> asyncio.Task[None] | None:
        """Ask C12 how fresh the server's copy is for these accounts (seatless ones are never asked)."""
        if not account_ids:
            return None
        return self.tasks.spawn(self._ask_freshness(account_ids), name="server freshness")

    async def _ask_freshness(self, account_ids: list[str]) -> None:
        seatless = {a.account_id for a in self.cache.reader.accounts() if a.api_seat is False}
        wanted = [a for a in account_ids if a not in seatless and a not in self._freshness_asking]
        if not wanted:
            return
        self._freshness_asking.update(wanted)
        changed = False
        try:
            for account_id in wanted:
                try:
                    status = await self.api.server_sync_status(account_id)
                except SignedOut:
                    raise
                except KnownError as exc:
                    # Unknown freshness is shown as nothing, not as an error: the inbox itself is fine.
                    log.info("server sync status of %s: %s", account_id, exc)
                    continue
                for entry in status.accounts:
                    if entry.account_id == account_id:
                        state = entry.sync_state
                        self._freshness[account_id] = None if state is None else state.last_sync_at
                        changed = True
        finally:
            self._freshness_asking.difference_update(wanted)
        if changed and not self._closing:
            self.server_freshness_changed.emit(self.server_freshness())

    def server_freshness(self) -> ServerFreshness:
        return ServerFreshness(tuple(sorted(self._freshness.items())))

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

    def _on_lock_timer_timeout(self) -> None:
        if self._try_lead():
            log.info("took over %s: this process now syncs", self.lock.path)
            previous = self.following
            self._follower_timer.stop()
            self._set_following(None)
            self.took_over.emit(None if previous is None else previous.leader_pid)

    # --- following another process's sync -------------------------------------------------------------

    def _set_following(self, following: Following | None) -> None:
        if following != self.following:
            self.following = following
            self.following_changed.emit(following)

    def check_connection(self) -> asyncio.Task[None] | None:
        """A follower checks that its own client reaches the server (A1): its windows say whether
        sending and recalling work here. Again every minute (every 15 s while it does not)."""
        if self.following is None or self._closing:
            return None
        if self._follower_check is not None and not self._follower_check.done():
            return self._follower_check

        async def check() -> None:
            try:
                await self.api.accounts()
            except RateLimited:
                self._note_reachable(True)  # the server answered
            except KnownError as exc:
                log.info("a follower's connection check failed: %s", exc)
                self._note_reachable(False, exc.user_message)
            else:
                self._note_reachable(True)

        self._follower_check = self.tasks.spawn(check(), name="follower connection check")
        return self._follower_check

    def _note_reachable(self, reachable: bool, detail: str = "") -> None:
        """What this follower's own connection did (a check, or an action that could not reach the
        server); checked again later."""
        current = self.following
        if current is None or self._closing:
            return
        self._set_following(Following(current.leader_pid, reachable, "" if reachable else detail))
        self._follower_timer.start(FOLLOWER_CHECK_MS if reachable else FOLLOWER_RECHECK_MS)

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
