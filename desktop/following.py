"""Following another process's sync: while another process holds the data dir's lock, this one retries the
lock every few seconds and takes the sync over when it frees; meanwhile its windows say whose sync they
follow and whether this process's own connection reaches the server (ARCHITECTURE.md §4).

A mixin of :class:`desktop.services.InboxService`, which holds the signals these emit and leads.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject, QTimer

from sync.errors import KnownError, RateLimited
from ui.status_bar import Following

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from desktop.loop import TaskGroup
    from sync.api import ApiClient
    from sync.lock import DataDirLock

log = logging.getLogger(__name__)

LOCK_RETRY_MS: Final = 2_000
FOLLOWER_CHECK_MS: Final = 60_000
"""How often a follower checks that its own connection reaches the server (one A1 a minute)."""
FOLLOWER_RECHECK_MS: Final = 15_000
"""…and how often while it does not."""

if TYPE_CHECKING:
    # What the mixin uses of its host, InboxService (a QObject): declared for the type checker only.
    _Host = QObject
else:
    _Host = object


class Follower(_Host):
    """The follower's state, its connection checks, and taking the lock over."""

    if TYPE_CHECKING:
        lock: DataDirLock
        tasks: TaskGroup
        following_changed: SignalInstance
        took_over: SignalInstance
        _closing: bool

        @property
        def api(self) -> ApiClient: ...
        def _try_lead(self) -> bool: ...

    def _init_following(self) -> None:
        self._lock_timer = QTimer(self)
        self._lock_timer.setInterval(LOCK_RETRY_MS)
        self._lock_timer.timeout.connect(self._on_lock_timer_timeout)
        self.following: Following | None = None
        """Set while another process leads the sync (this one follows it)."""
        self._follower_check: asyncio.Task[None] | None = None
        self._follower_timer = QTimer(self)
        self._follower_timer.setSingleShot(True)
        self._follower_timer.timeout.connect(self.check_connection)

    def _follow(self) -> None:
        log.info("another process holds %s: following its changes", self.lock.path)
        self._lock_timer.start()
        self._set_following(Following(self.lock.holder_pid()))
        self.check_connection()

    def _stop_following(self) -> None:
        self._lock_timer.stop()
        self._follower_timer.stop()

    def _on_lock_timer_timeout(self) -> None:
        if self._try_lead():
            log.info("took over %s: this process now syncs", self.lock.path)
            previous = self.following
            self._follower_timer.stop()
            self._set_following(None)
            self.took_over.emit(None if previous is None else previous.leader_pid)

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
