"""Refresh from LinkedIn (C11) and the server's freshness (C12): F5 asks the server to read LinkedIn
again, then the app re-reads with a sync pass; C12's ``lastSyncAt`` per account is what "LinkedIn data as
of …" says.

A mixin of :class:`desktop.services.InboxService`, which holds the signals these emit.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from sync.errors import KnownError, NoApiAccess, SignedOut, Unreachable
from ui.sources import AccountRefresh, RefreshOutcome, ServerFreshness

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from desktop.loop import TaskGroup
    from sync.api import ApiClient
    from sync.cache import Cache
    from sync.engine import SyncReport

log = logging.getLogger(__name__)

FRESHNESS_EVERY_MS = 5 * 60_000
"""How often C12 is asked again while the app runs: the server reads LinkedIn on its own schedule, and
"LinkedIn data as of …" read once at start would only ever grow older. One read per account every five
minutes is well inside the vendor's 60 requests a minute (spec §8)."""

if TYPE_CHECKING:
    # What the mixin uses of its host, InboxService (a QObject): declared for the type checker only.
    _Host = QObject
else:
    _Host = object


class Freshness(_Host):
    """F5's refresh (one at a time) and the C12 freshness of each account asked."""

    if TYPE_CHECKING:
        cache: Cache
        tasks: TaskGroup
        refresh_started: SignalInstance
        refresh_finished: SignalInstance
        server_freshness_changed: SignalInstance
        _closing: bool

        @property
        def api(self) -> ApiClient: ...
        async def _pass_now(self) -> SyncReport: ...

    def _init_freshness(self) -> None:
        self._refreshing: asyncio.Task[None] | None = None
        self._freshness: dict[str, int | None] = {}
        """C12 ``lastSyncAt`` per account asked (None: the server has not synced it yet)."""
        self._freshness_asking: set[str] = set()
        self._freshness_timer = QTimer(self)
        self._freshness_timer.setInterval(FRESHNESS_EVERY_MS)
        self._freshness_timer.timeout.connect(self._on_freshness_timer_timeout)

    def _on_freshness_timer_timeout(self) -> None:
        """C12 again for every account (seatless ones are never asked): also those it could not tell at
        start, offline then."""
        if not self._closing:
            self.fetch_server_freshness([a.account_id for a in self.cache.reader.accounts()])

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
