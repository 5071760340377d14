"""Recalls as the GUI process runs them: a recall now (the window has done the confirmation and the grace
period), a recall cancelled in its grace period (logged), and the settling of unconfirmed recalls by the
evidence rule on a timer while any is open (ARCHITECTURE.md §7, steps 2-6; spec §9).

A mixin of :class:`desktop.services.InboxService`, which holds the signals these emit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject, QTimer

from sync.model import Message, RecallState

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from desktop.loop import TaskGroup
    from sync.cache import Cache
    from sync.recall import RecallService, RecallStatus

log = logging.getLogger(__name__)

SETTLE_RECALLS_MS: Final = 30_000
"""How often unconfirmed recalls are checked again while any is open."""
RECALLS_AT_CLOSE_S: Final = 15.0
"""How long closing waits for recalls in flight ("Recall now" from a closing window) before cancelling
them (a cancelled one is logged unconfirmed and settled at the next start)."""

if TYPE_CHECKING:
    # What the mixin uses of its host, InboxService (a QObject): declared for the type checker only.
    _Host = QObject
else:
    _Host = object


class Recalling(_Host):
    """Recall, log a cancelled recall, settle the open ones; closing waits for those in flight."""

    if TYPE_CHECKING:
        cache: Cache
        tasks: TaskGroup
        recall_status_changed: SignalInstance
        recall_log_changed: SignalInstance

        @property
        def recalls(self) -> RecallService: ...
        def _spawn_action(self, coro: Awaitable[None], failure: str) -> asyncio.Task[None]: ...

    def _init_recalling(self) -> None:
        self._settling: asyncio.Task[None] | None = None
        self._settle_timer = QTimer(self)
        self._settle_timer.setInterval(SETTLE_RECALLS_MS)
        self._settle_timer.timeout.connect(self.settle_recalls)
        self._recalling: set[asyncio.Task[RecallStatus]] = set()

    def _start_settling(self) -> None:
        if self.cache.reader.open_recalls():
            # Unconfirmed recalls, or pending ones a crash cut short: settle them by evidence.
            self.settle_recalls()
            self._settle_timer.start()

    async def _stop_recalling(self) -> None:
        self._settle_timer.stop()
        recalling = [task for task in self._recalling if not task.done()]
        if recalling:
            # A recall the user let go ("Recall now" while closing) is seen to its end, not cut off.
            log.info("waiting for %d recall(s) in flight before closing", len(recalling))
            await asyncio.wait(recalling, timeout=RECALLS_AT_CLOSE_S)

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
