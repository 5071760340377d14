"""The recall service: ARCHITECTURE.md §7 as an API a GUI or the command line drives.

The order is strict. The DELETE goes to the API first; only **evidence** (spec §9) makes a recall
``recalled`` and writes its tombstone: a 200, the ``message.recalled`` event (the tombstone write then
confirms the log row, :mod:`sync.cache.recall_log`), or a clean re-read of the message's own conversation
that covers its time and lacks it (:mod:`sync.evidence`). The server saying no is ``refused``, with its
reason — but only when it said so to the first DELETE: a *repeat* DELETE after a lost answer proves
nothing (the vendor refuses repeats, spec §8), so it leads to the re-read like any other doubt. When
nothing proves either way the attempt is ``unconfirmed``: the message stays, the log says so, and
:meth:`RecallService.settle_open` settles it later by the same rule (the GUI runs it on a timer and after
each sync; ``sync --once`` after its pass). Every attempt ends in a logged state, whatever is raised.

Test hook (the only one): with ``CONNECTSAFELY_TEST_CRASH_AFTER_RECALL_ANSWER=1`` in the environment, the
process kills itself with ``SIGKILL`` right after the server accepted a recall and before the tombstone
is written — the one moment where a crash leaves the cache behind the server, which the next start's
settling must repair (``tests/stress/test_crash.py``). Never set it outside tests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from sync import evidence
from sync.api import ApiClient
from sync.cache import Cache, recall_log
from sync.errors import (
    KnownError,
    ProtocolError,
    RateLimited,
    RecallNotOwn,
    RecallWindowExpired,
    ServerError,
    SignedOut,
    TimedOut,
    Unreachable,
)
from sync.evidence import Verdict
from sync.model import (
    RECALL_WINDOW_MS,
    ChangeSet,
    Message,
    RecallAttempt,
    RecallState,
    TombstoneReason,
)
from sync.recall_rules import UNCONFIRMED_CHECKING, Eligibility, Ineligible, eligibility

log = logging.getLogger(__name__)

AMBIGUOUS: Final = (Unreachable, TimedOut, ServerError, RateLimited, ProtocolError)
"""Failures after which the DELETE may or may not have been applied upstream: only evidence tells."""
CRASH_AFTER_ANSWER_ENV: Final = "CONNECTSAFELY_TEST_CRASH_AFTER_RECALL_ANSWER"
"""Test hook: see the module docstring."""
STILL_THERE: Final = "Recall not confirmed: LinkedIn still shows the message."
NOT_RECALLED_WINDOW_CLOSED: Final = (
    "Not recalled: LinkedIn still shows the message and the 60-minute recall window has closed."
)
CLOCK_MARGIN_MS: Final = 5_000
MAX_REPEAT_WAIT_S: Final = 10.0
EVIDENCE_READ_S: Final = 10.0
"""How long a recall waits for its confirming re-read before it says "not confirmed" (and settles later)."""
LOCAL_FAILURE: Final = "Recalled on LinkedIn, but this computer could not record it yet; checking again…"


def _crash_point_after_answer() -> None:
    """``kill -9`` this process here when the test hook asks for it (module docstring)."""
    if os.environ.get(CRASH_AFTER_ANSWER_ENV) == "1":
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class RecallStatus:
    """One step of one recall, as the UI shows it."""

    account_id: str
    message_id: str
    state: RecallState
    error_kind: str = ""
    user_message: str = ""
    can_retry: bool = False
    changes: ChangeSet = field(default_factory=ChangeSet)
    attempt: RecallAttempt | None = None
    error: KnownError | None = None
    """The typed cause of a refusal or failure (None for unconfirmed: there is no cause, only doubt)."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    state: RecallState
    error: KnownError | None = None
    detail: str = ""


def _unconfirmed(detail: str = UNCONFIRMED_CHECKING) -> _Outcome:
    return _Outcome(RecallState.UNCONFIRMED, None, detail)


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
        self._in_flight: set[int] = set()
        """Attempt ids this process is working on (their rows say pending and must stay so)."""

    def eligibility(self, message: Message) -> Eligibility:
        return eligibility(message, self.api.server_now_ms())

    async def recall(
        self,
        message: Message,
        *,
        window_id: str = "",
        on_status: Callable[[RecallStatus], None] | None = None,
        check_eligibility: bool = True,
        conversation_title: str = "",
    ) -> RecallStatus:
        """The whole lifecycle after the grace period (the UI runs that); returns the final status.

        ``check_eligibility=False`` leaves the judgement to the server, for a message not cached (the
        command line recalling by URN): LinkedIn is the source of truth either way, and nothing can then
        prove the recall by re-reading, so a lost answer stays unconfirmed."""

        def report(status: RecallStatus) -> RecallStatus:
            if on_status is not None:
                try:
                    on_status(status)
                except Exception:  # a listener's bug must not leave the attempt unfinished
                    log.exception("recall status listener failed")
            return status

        key = (message.account_id, message.message_id)
        attempt = await self._log_begin(message, window_id, conversation_title)
        self._in_flight.add(attempt.attempt_id)
        started = time.monotonic()
        changes = ChangeSet()
        try:
            try:
                if check_eligibility:
                    await self._check_eligibility(message)
                report(RecallStatus(*key, RecallState.PENDING, attempt=attempt))
                outcome = await self._delete(message, known_in_cache=check_eligibility)
            except KnownError as exc:
                outcome = _Outcome(_state_of_failure(exc), exc)
            if outcome.state is RecallState.RECALLED:
                try:
                    changes = await self._apply(message)
                except Exception:
                    log.exception("recall of %s: accepted, but the tombstone could not be written", key[1])
                    outcome = _unconfirmed(LOCAL_FAILURE)
        except asyncio.CancelledError:
            # The window or the app is closing mid-flight: the answer is unknown; settled later.
            await self._finish_quietly(attempt, _unconfirmed(), started)
            raise
        except Exception as exc:
            log.exception("recall of %s: unexpected error", key[1])
            outcome = _unconfirmed(f"{UNCONFIRMED_CHECKING} ({type(exc).__name__})")
        attempt = await self._finish_quietly(attempt, outcome, started)
        error = outcome.error
        log.info("recall of %s: %s%s", key[1], outcome.state, f" ({error.kind})" if error else "")
        return report(
            RecallStatus(
                *key,
                outcome.state,
                error_kind="" if error is None else error.kind,
                user_message=outcome.detail or ("" if error is None else error.user_message),
                can_retry=_can_retry(outcome),
                changes=changes,
                attempt=attempt,
                error=error,
            )
        )

    async def log_cancelled(
        self, message: Message, *, window_id: str = "", conversation_title: str = ""
    ) -> None:
        """Record a recall cancelled during its grace period (nothing was sent)."""
        await self.cache.writer.run(
            recall_log.log_cancelled,
            message.account_id,
            message.conversation_urn,
            message.message_urn,
            window_id=window_id,
            conversation_title=conversation_title,
            message_text=message.text,
        )

    # --- settling unconfirmed attempts --------------------------------------------------------------

    async def settle_open(self) -> list[RecallAttempt]:
        """Settle every attempt that is not final, by the evidence rule; returns those that changed.

        Pending rows no process is working on (a crash) become unconfirmed first. An attempt is
        ``recalled`` when its message is tombstoned or a clean re-read lacks it; ``failed`` when a clean
        re-read still lists it after the recall window closed; otherwise it stays unconfirmed."""
        await self.cache.writer.run(recall_log.take_over_stale, tuple(self._in_flight))
        open_ = await self.cache.writer.run(recall_log.open_attempts)
        changed: list[RecallAttempt] = []
        judged: dict[tuple[str, str], tuple[RecallState, str]] = {}
        for attempt in open_:
            if attempt.attempt_id in self._in_flight or attempt.outcome is not RecallState.UNCONFIRMED:
                continue
            key = (attempt.account_id, attempt.message_id)
            if key not in judged:
                judged[key] = await self._settle_one(attempt)
            state, detail = judged[key]
            if state is RecallState.UNCONFIRMED and detail == attempt.error_message:
                continue
            done = await self.cache.writer.run(
                recall_log.finish_recall,
                attempt.attempt_id,
                state,
                latency_ms=attempt.latency_ms,
                error_kind=attempt.error_kind if state is not RecallState.RECALLED else "",
                error_message=detail,
            )
            changed.append(done)
        return changed

    async def _settle_one(self, attempt: RecallAttempt) -> tuple[RecallState, str]:
        reader = self.cache.reader
        if reader.is_tombstoned(attempt.message_id):
            return RecallState.RECALLED, recall_log.CONFIRMED_LATER
        message = reader.message(attempt.account_id, attempt.message_id)
        if message is None:
            return RecallState.UNCONFIRMED, attempt.error_message
        verdict, _ = await evidence.judge(self.api, message, known_in_cache=True)
        if verdict is Verdict.GONE:
            await self._apply(message)
            return RecallState.RECALLED, "Confirmed by re-reading the conversation."
        if verdict is Verdict.PRESENT:
            closed_at = message.sent_at + RECALL_WINDOW_MS + CLOCK_MARGIN_MS
            if self.api.server_now_ms() >= closed_at:
                return RecallState.FAILED, NOT_RECALLED_WINDOW_CLOSED
            return RecallState.UNCONFIRMED, STILL_THERE
        return RecallState.UNCONFIRMED, attempt.error_message

    # --- pieces -------------------------------------------------------------------------------------

    async def _check_eligibility(self, message: Message) -> None:
        """Eligibility again when the grace period has ended (ARCHITECTURE.md §7, step 2), on the server's
        clock: without a ``Date`` header seen yet, one cheap read gives it."""
        if not self.api.server_clock.known:
            await self.api.account_status(message.account_id)
        verdict = self.eligibility(message)
        if verdict.why_not is Ineligible.NOT_OWN:
            raise RecallNotOwn(verdict.reason)
        if not verdict.allowed:
            raise RecallWindowExpired(verdict.reason)

    async def _delete(self, message: Message, *, known_in_cache: bool) -> _Outcome:
        """C6, then, after a lost answer, repeats and evidence. Raises the first DELETE's refusal."""
        try:
            await self.api.recall(message.account_id, message.conversation_urn, message.message_urn)
            return _Outcome(RecallState.RECALLED)
        except AMBIGUOUS as exc:
            doubt: KnownError = exc
        repeat_refusal: KnownError | None = None
        delay = self._retry_backoff_s
        # A server that let the DELETE time out is frozen or far behind: repeats would wait as long
        # again each while the message says "Recalling…". The re-read (bounded), then settling, decide.
        repeats = 1 if isinstance(doubt, TimedOut) else self._retry_attempts
        for _ in range(1, repeats):
            wait = doubt.retry_after_s if isinstance(doubt, RateLimited) and doubt.retry_after_s else delay
            if wait > MAX_REPEAT_WAIT_S:
                break  # not worth holding the user up: the re-read (or a later settling) decides
            await asyncio.sleep(wait)
            delay *= 2
            try:
                await self.api.recall(message.account_id, message.conversation_urn, message.message_urn)
                return _Outcome(RecallState.RECALLED)
            except AMBIGUOUS as exc:
                doubt = exc
            except SignedOut:
                raise
            except KnownError as exc:
                # The first DELETE may have done it: a repeat's refusal proves nothing (spec §8).
                repeat_refusal = exc
                break
        try:
            async with asyncio.timeout(EVIDENCE_READ_S):
                verdict, _ = await evidence.judge(self.api, message, known_in_cache=known_in_cache)
        except TimeoutError:
            verdict = Verdict.UNKNOWN  # settled later, by the same rule, without holding the user up
        if verdict is Verdict.GONE:
            log.info("recall of %s: answer lost; a clean re-read shows it gone", message.message_id)
            return _Outcome(RecallState.RECALLED)
        if verdict is Verdict.PRESENT and repeat_refusal is not None:
            # Still listed, and the server, answering, said no: a refusal, with its reason.
            return _Outcome(RecallState.REFUSED, repeat_refusal)
        return _unconfirmed(STILL_THERE if verdict is Verdict.PRESENT else UNCONFIRMED_CHECKING)

    async def _apply(self, message: Message) -> ChangeSet:
        _crash_point_after_answer()
        # Only now, on evidence, does anything local change.
        return await asyncio.wrap_future(
            self.cache.writer.tombstone([message.message_id], TombstoneReason.RECALLED_HERE)
        )

    async def _log_begin(self, message: Message, window_id: str, conversation_title: str) -> RecallAttempt:
        return await asyncio.wrap_future(
            self.cache.writer.begin_recall(
                message.account_id,
                message.conversation_urn,
                message.message_urn,
                window_id=window_id,
                conversation_title=conversation_title,
                message_text=message.text,
            )
        )

    async def _finish_quietly(
        self, attempt: RecallAttempt, outcome: _Outcome, started: float
    ) -> RecallAttempt:
        """Write the attempt's state; a failure to write it (a full disk) is logged, and the row, left
        pending, is taken over by :meth:`settle_open` (it is no longer in flight)."""
        self._in_flight.discard(attempt.attempt_id)
        latency = int((time.monotonic() - started) * 1000)
        error = outcome.error
        try:
            return await asyncio.wrap_future(
                self.cache.writer.finish_recall(
                    attempt.attempt_id,
                    outcome.state,
                    latency_ms=latency,
                    error_kind="" if error is None else error.kind,
                    error_message=outcome.detail or ("" if error is None else error.user_message),
                )
            )
        except Exception:
            log.exception("could not record the end of recall attempt %d", attempt.attempt_id)
            return attempt


def _state_of_failure(exc: KnownError) -> RecallState:
    """A failure of the *first* DELETE (or of the checks before it): refused when the server said no;
    failed when nothing was done (signed out, a local check); unconfirmed is decided by ``_delete``."""
    if isinstance(exc, SignedOut):
        return RecallState.FAILED
    if isinstance(exc, AMBIGUOUS):
        # Raised before the DELETE went out (the eligibility read failed): nothing was sent.
        return RecallState.FAILED
    return RecallState.REFUSED


def _can_retry(outcome: _Outcome) -> bool:
    if outcome.state is RecallState.UNCONFIRMED:
        return True
    if outcome.state is RecallState.FAILED:
        return outcome.error is not None and outcome.error.retryable
    return False
