"""What every part of a sync pass shares: the API and the cache, the pass's counters, progress, marks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace

from sync.api import ApiClient
from sync.cache import Cache
from sync.engine.values import SyncReport, merge_all
from sync.errors import (
    KnownError,
    LocalStorageError,
    NoApiAccess,
    NotFound,
    Refused,
    SignedOut,
    Unreachable,
)
from sync.errors import RateLimited as RateLimitedError
from sync.model import Account, AccountIssue, AccountSyncState, ChangeSet, SyncProgress

__all__ = [
    "INITIAL_MESSAGE_CONVERSATIONS",
    "KEY_WIDE",
    "PAGE_MESSAGES",
    "PROGRESS_INTERVAL_S",
    "EngineCore",
    "ProgressCallback",
]

PAGE_MESSAGES = 50
INITIAL_MESSAGE_CONVERSATIONS = 50
"""First run: the newest message page of this many conversations per account; the rest on demand."""

PROGRESS_INTERVAL_S = 0.25
"""Progress is reported at most this often (and at the end of each phase): each report repaints the
window's progress bar, which costs its event loop more than it tells the user (figure 3)."""

ProgressCallback = Callable[[SyncProgress], None]

KEY_WIDE = (SignedOut, RateLimitedError, Unreachable, LocalStorageError)
"""Failures of the key, the network or this computer's disk, not of one account: they end the pass."""


class EngineCore:
    """The state of one :class:`~sync.engine.passes.SyncEngine` and the helpers all its passes use: the
    queued writes awaited (and collected for the report), throttled progress, an account's failure
    marked."""

    def __init__(
        self,
        api: ApiClient,
        cache: Cache,
        *,
        on_progress: ProgressCallback | None = None,
        initial_message_conversations: int = INITIAL_MESSAGE_CONVERSATIONS,
    ) -> None:
        self.api = api
        self.cache = cache
        self._on_progress = on_progress
        self._initial_message_conversations = initial_message_conversations
        self._change_sets: list[ChangeSet] = []
        """What the current :meth:`sync_once` changed, for its report. Only a pass collects: a long-running
        app calls the other methods for months, and kept change sets are memory (and work for every
        full garbage collection) that nothing reads."""
        self._in_pass = False
        self._message_pages = 0
        self._other_requests = 0
        """A1, A2 and C1 requests of the current pass (C2 pages are ``_message_pages``)."""
        self._skipped = 0
        self._tombstoned = 0
        self._conversations_seen = 0
        self._last_progress = 0.0
        self._issues: list[AccountIssue] = []
        self._accounts: tuple[float, frozenset[str]] | None = None
        """When A1 was last asked by a pass, and the accounts it listed."""
        self._status_asked: set[str] = set()
        """Accounts whose A2 was asked by this engine (a prefix-less answer is not asked again)."""

    async def _mark_account(self, account: Account, exc: KnownError) -> None:
        """Remember why ``account`` could not be served (the report, and the cache for every window)."""
        refused = isinstance(exc, Refused | NotFound | NoApiAccess)
        issue = AccountIssue(account.account_id, account.name, exc.kind, exc.user_message, refused)
        if all(i.account_id != issue.account_id for i in self._issues):
            self._issues.append(issue)
        state = self.cache.reader.account_sync(account.account_id) or AccountSyncState(account.account_id)
        await self._write(
            self.cache.writer.set_account_sync(
                replace(
                    state, last_error=issue.message, last_error_kind=issue.kind, last_error_refused=refused
                )
            )
        )

    async def _write(self, future: Future[ChangeSet]) -> ChangeSet:
        """Await a queued write without blocking the loop, and remember what it changed."""
        result = await asyncio.wrap_future(future)
        if result and self._in_pass:
            # Kept, not merged: merging per page would copy every set so far (quadratic over a sync).
            self._change_sets.append(result)
        return result

    def _progress(self, done: int, total: int, phase: str) -> None:
        """Report progress at most every :data:`PROGRESS_INTERVAL_S` (the end of a phase always): a
        progress bar repainted per conversation costs the GUI thread more than the sync step it reports."""
        if self._on_progress is None:
            return
        now = time.monotonic()
        if done < total and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        self._on_progress(SyncProgress(done=done, total=total, phase=phase))

    def _reset_counters(self) -> None:
        self._change_sets = []
        self._message_pages = 0
        self._other_requests = 0
        self._skipped = 0
        self._tombstoned = 0
        self._conversations_seen = 0
        self._issues = []

    def _report(self, accounts: int) -> SyncReport:
        changes = merge_all(self._change_sets)
        return SyncReport(
            changes=changes,
            accounts=accounts,
            conversations_seen=self._conversations_seen,
            message_pages=self._message_pages,
            requests=self._other_requests + self._message_pages,
            tombstoned_by_reconciliation=self._tombstoned,
            skipped=self._skipped + changes.skipped,
            account_issues=tuple(self._issues),
        )
