"""The recall service: DESIGN "Recall, as the user sees it" as an API a GUI or the command line drives.

The order is strict: the DELETE goes to the API first; only a 200 writes the tombstone (through the
cache writer, which returns the change set every window applies). Any failure deletes nothing and
reports a typed reason. A lost answer (no response, timeout, 5xx, 429) is resolved by repeating the
DELETE — safe because a recall is idempotent — and, when that still fails, by re-reading the
conversation: a message the server no longer lists is recalled; one it still lists is not. Nothing is
ever guessed. Every attempt is written to the recall log with its latency and result.

Test hook (the only one): with ``CONNECTSAFELY_TEST_CRASH_AFTER_RECALL_ANSWER=1`` in the environment, the
process kills itself with ``SIGKILL`` right after the server accepted a recall and before the tombstone
is written — the one moment where a crash leaves the cache behind the server, which reconciliation
must then repair (``tests/stress/test_crash.py``). Never set it outside tests.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from sync.api import ApiClient
from sync.cache import Cache
from sync.errors import (
    KnownError,
    RateLimited,
    RecallNotOwn,
    RecallWindowExpired,
    ServerError,
    TimedOut,
    Unreachable,
)
from sync.model import ChangeSet, Message, RecallAttempt, RecallOutcome, TombstoneReason

log = logging.getLogger(__name__)

AMBIGUOUS: Final = (Unreachable, TimedOut, ServerError, RateLimited)
"""Failures after which the recall may or may not have happened upstream."""
CRASH_AFTER_ANSWER_ENV: Final = "CONNECTSAFELY_TEST_CRASH_AFTER_RECALL_ANSWER"
"""Test hook: see the module docstring."""


def _crash_point_after_answer() -> None:
    """``kill -9`` this process here when the test hook asks for it (module docstring)."""
    if os.environ.get(CRASH_AFTER_ANSWER_ENV) == "1":
        os.kill(os.getpid(), signal.SIGKILL)


class Ineligible(enum.StrEnum):
    NOT_OWN = "not_own"
    WINDOW_CLOSED = "window_closed"


@dataclass(frozen=True, slots=True)
class Eligibility:
    allowed: bool
    ms_left: int
    reason: Ineligible | None = None

    @property
    def minutes_left(self) -> int:
        return -(-self.ms_left // 60_000)  # round up: "1 min left" until the very end

    @property
    def explanation(self) -> str:
        if self.reason is Ineligible.NOT_OWN:
            return "Only messages you sent can be recalled."
        if self.reason is Ineligible.WINDOW_CLOSED:
            return "The 60-minute recall window has closed."
        return f"Recall for everyone ({self.minutes_left} min left)"


def eligibility(message: Message, server_now_ms: int) -> Eligibility:
    """Own message and inside the window by the server's clock (DESIGN recall item 1)."""
    left = message.recall_window_left_ms(server_now_ms)
    if not message.is_sent_by_owner:
        return Eligibility(False, left, Ineligible.NOT_OWN)
    if left <= 0:
        return Eligibility(False, 0, Ineligible.WINDOW_CLOSED)
    return Eligibility(True, left)


class RecallPhase(enum.StrEnum):
    GRACE = "grace"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class RecallStatus:
    """One step of one recall, as the UI shows it."""

    account_id: str
    message_id: str
    phase: RecallPhase
    error_kind: str = ""
    user_message: str = ""
    can_retry: bool = False
    changes: ChangeSet = field(default_factory=ChangeSet)
    attempt: RecallAttempt | None = None
    error: KnownError | None = None
    """The typed cause of a failure."""


class RecallService:
    """Recalls messages through one API client into one cache."""

    def __init__(
        self,
        api: ApiClient,
        cache: Cache,
        *,
        retry_attempts: int = 3,
        retry_backoff_s: float = 0.5,
    ) -> None:
        self.api = api
        self.cache = cache
        self._retry_attempts = retry_attempts
        self._retry_backoff_s = retry_backoff_s

    def eligibility(self, message: Message) -> Eligibility:
        return eligibility(message, self.api.server_now_ms())

    async def recall(
        self,
        message: Message,
        *,
        grace_s: float = 0.0,
        window_id: str = "",
        on_status: Callable[[RecallStatus], None] | None = None,
        check_eligibility: bool = True,
    ) -> RecallStatus:
        """The whole lifecycle; returns the final status. Cancel the task during the grace period to
        send nothing (the status is then CANCELLED and re-raised as ``CancelledError``).

        ``check_eligibility=False`` leaves the judgement to the server, for a message not cached (the
        command line recalling by URN): LinkedIn is the source of truth either way."""

        def report(status: RecallStatus) -> RecallStatus:
            if on_status is not None:
                on_status(status)
            return status

        key = (message.account_id, message.message_id)
        if grace_s > 0:
            report(RecallStatus(*key, RecallPhase.GRACE))
            try:
                await asyncio.sleep(grace_s)
            except asyncio.CancelledError:
                report(RecallStatus(*key, RecallPhase.CANCELLED))
                raise
        attempt = await self._log_begin(message, window_id)
        started = time.monotonic()
        try:
            if check_eligibility:
                # Eligibility again when the grace period ends (DESIGN recall item 3), on the server's
                # clock: without a Date header seen yet, one cheap read gives it.
                if not self.api.server_clock.known:
                    await self.api.account_status(message.account_id)
                verdict = self.eligibility(message)
                if not verdict.allowed:
                    raise (
                        RecallNotOwn(verdict.explanation)
                        if verdict.reason is Ineligible.NOT_OWN
                        else RecallWindowExpired(verdict.explanation)
                    )
            report(RecallStatus(*key, RecallPhase.PENDING))
            await self._delete(message)
        except KnownError as exc:
            latency = int((time.monotonic() - started) * 1000)
            attempt = await self._log_finish(attempt, RecallOutcome.FAILED, exc, latency)
            log.info("recall of %s failed: %s", message.message_id, exc.kind)
            return report(
                RecallStatus(
                    *key,
                    RecallPhase.FAILED,
                    exc.kind,
                    exc.user_message,
                    exc.retryable,
                    attempt=attempt,
                    error=exc,
                )
            )
        latency = int((time.monotonic() - started) * 1000)
        _crash_point_after_answer()
        # Only now, after LinkedIn accepted it, does anything local change.
        changes = await asyncio.wrap_future(
            self.cache.writer.tombstone([message.message_id], TombstoneReason.RECALLED_HERE)
        )
        attempt = await self._log_finish(attempt, RecallOutcome.SUCCEEDED, None, latency)
        return report(RecallStatus(*key, RecallPhase.SUCCEEDED, changes=changes, attempt=attempt))

    async def _delete(self, message: Message) -> None:
        """C6, with the lost-answer resolution of DESIGN; raises the typed cause when not recalled."""
        try:
            await self.api.retry_recall(
                message.account_id,
                message.conversation_urn,
                message.message_urn,
                attempts=self._retry_attempts,
                backoff_s=self._retry_backoff_s,
            )
            return
        except AMBIGUOUS as exc:
            if await self._gone_upstream(message):
                log.info("recall of %s: answer lost, the conversation shows it gone", message.message_id)
                return
            raise exc

    async def _gone_upstream(self, message: Message) -> bool:
        """Re-read the newest page: True only when the page covers the message and it is absent."""
        try:
            page = await self.api.messages(message.account_id, message.conversation_urn, count=50)
        except KnownError:
            return False
        if any(m.message_id == message.message_id for m in page.messages):
            return False
        covered = (not page.has_more) or (bool(page.messages) and page.messages[-1].sent_at < message.sent_at)
        return covered

    async def _log_begin(self, message: Message, window_id: str) -> RecallAttempt:
        return await asyncio.wrap_future(
            self.cache.writer.begin_recall(
                message.account_id, message.conversation_urn, message.message_urn, window_id=window_id
            )
        )

    async def _log_finish(
        self, attempt: RecallAttempt, outcome: RecallOutcome, error: KnownError | None, latency_ms: int
    ) -> RecallAttempt:
        return await asyncio.wrap_future(
            self.cache.writer.finish_recall(
                attempt.attempt_id,
                outcome,
                latency_ms=latency_ms,
                error_kind="" if error is None else error.kind,
                error_message="" if error is None else error.user_message,
            )
        )
