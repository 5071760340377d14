"""Keeps one data dir in step with the server: the event stream when there is one, polling when not.

Run by the process that holds the data dir's lock (``sync --watch`` or a GUI), ARCHITECTURE.md §6:

- It follows the event stream (:class:`sync.realtime.EventStream`). The first connection has no
  ``since`` (or the server cannot resume it), so the stream's catch-up runs a full sync with
  reconciliation; a stream that resumes gap-free from the stored ``last_applied_seq`` needs none.
- When the server has no stream (:class:`~sync.realtime.StreamAbsent`: anything but a ``hello`` within
  10 s of the handshake) it polls — the normal path against the real service (spec §8) — and tries the
  stream again every ``stream_retry_s`` (10 minutes). Against a remote server whose stream URL was only
  derived from the base URL (no ``--ws-url``), the stream is tried once: the vendor documents none, so
  probing again would only spend the rate limit. When a stream is back it resumes with ``since``, so
  every event that happened meanwhile is applied once (idempotently).
- The mode is reported through ``on_state``: ``live``, ``polling``, ``reconnecting`` (the stream is
  temporarily away or catching up), ``offline`` (the server cannot be reached).

**A polling round** is: A1, C1 per account until the first unchanged conversation, C2 ``since`` for
the conversations whose activity changed (``SyncEngine.sync_once(reconcile=False)``: new activity and
new messages), then reconciliation of the recall-window horizon for recalls made elsewhere.

**Why rounds stay cheap, and what is guaranteed.** The incremental part costs a few requests. The
reconciliation costs one C2 page per conversation holding a message sent within an hour of its last
complete view L, and with many recently active conversations that would be most of the rate limit every
round. So the poller spends from its own token bucket (``poll_burst`` requests, refilled at
``poll_rate_per_s``; by default 60 and 0.85/s of requests as the bucket counts them, which over-counts
the incremental part — at most about 0.65/s of real ones with 10 conversations in the horizon: below
the local budget of the client that runs the passes — 0.7/s for a GUI's sync worker, whose user actions
have a budget of their own, 0.9/s for ``sync --watch`` — so that budget refills while polling and
nothing the user does queues behind a round), and:

- a round starts when its interval has passed and the bucket holds the incremental part's cost plus
  one reconciliation. When the bucket cannot pay for a whole round (the incremental part plus every
  conversation of the horizon), rounds are also spaced so that the incremental part spends at most
  half of the refill (:data:`INCREMENTAL_SHARE`): under pressure rounds stretch instead of exceeding
  the rate limit, and reconciliation is never starved by frequent cheap rounds;
- reconciliation takes the candidates whose complete view is oldest first, as many as the bucket allows (at
  least one per round). With the usual handful of conversations inside the horizon the bucket covers all of
  them, every round — exactly ARCHITECTURE.md §6's rule. With more, they rotate, and because
  ``SyncEngine.reconcile_conversation`` reads down to *that conversation's own* horizon (L − 60 min, L being
  when it was last read completely), a deferred conversation is read further back — no recall is missed, and
  nothing older than the horizon is ever tombstoned by inference. Only the delay before a recall made
  elsewhere vanishes grows: with 50 recently active conversations and an empty bucket, a full rotation takes
  about 50 / (0.85 / 2) s ≈ 2 min, while new messages keep arriving every round.
- a 429 drains the bucket and postpones the next round by ``Retry-After`` (the API client has
  already retried reads within its own limits).

Catch-ups and the stream's retries are charged to the same bucket (never below empty: the API client's
own pacer is the hard limit; the bucket only spaces the poller out).

Intervals: ``poll_focused_s`` while a window is focused or a conversation is open (set
:attr:`Watcher.focused`), ``poll_background_s`` otherwise. Defaults come from the environment when set
(hidden, for tests and experiments):

- ``CONNECTSAFELY_POLL_S``: both polling intervals, in seconds;
- ``CONNECTSAFELY_STREAM_RETRY_S``: how often polling tries the event stream again, in seconds.

Arguments passed explicitly win over the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Final, Protocol
from urllib.parse import urlsplit

from sync.api import ApiClient, is_loopback_host
from sync.cache import Cache
from sync.engine import SyncReport
from sync.errors import KnownError, RateLimited, SignedOut, TimedOut, Unreachable
from sync.model import Conversation, StreamState
from sync.pacing import TokenBucket
from sync.realtime import HELLO_TIMEOUT_S, WATCHDOG_S, EventCallback, EventStream, StreamAbsent

log = logging.getLogger(__name__)

POLL_FOCUSED_S: Final = 24.0
"""While a window is focused: a round (new activity and messages, then the whole horizon) every 24 s.
Measured against the vendor profile with 10 conversations active in the last hour (BENCHMARKS.md figure
9): inbound messages and recalls made elsewhere both reach the cache within p95 ≈ 23 s, at ≈ 33 requests
a minute. At 12 s with reconciliation every other round (the factor 2.0 before) recalls took p95 36–43 s:
a view read a moment after one round's start is not two intervals old at the round 24 s later, so each
horizon conversation was re-read every third round (36 s), and the poller's bucket could not pay for it."""
POLL_BACKGROUND_S: Final = 60.0
RECONCILE_FACTOR: Final = 0.75
"""A conversation of the recall-window horizon is re-read once its complete view is this many polling
intervals old. Below 1 so that a view read during one round is due at the next (the read starts some
seconds after the round does): the whole horizon every round, ARCHITECTURE.md §6's rule — recalls
made elsewhere show within about one interval, at one C2 per horizon conversation per round, the bulk
of a polling session's requests (BENCHMARKS.md figure 10)."""
MAX_RATE_LIMIT_WAIT_S: Final = 600.0
ACCOUNTS_MAX_AGE_S: Final = 300.0
"""Polling rounds ask A1 again only this often: accounts come and go rarely, a round's requests do not."""
STREAM_RETRY_S: Final = 600.0
POLL_BURST: Final = 60.0
POLL_RATE_PER_S: Final = 0.85
"""The poller's own bucket refill. It is charged A1 and one C1 page per listed account (the seatless one
included) plus one per 100 conversations seen on every round, ~4 more than a focused round sends against
a 1,000-conversation inbox: 0.85/s counted is at most ~0.65/s sent with 10 horizon conversations (0.55/s
measured, BENCHMARKS.md figure 10). At 0.5/s it could not pay for the horizon every period: rounds
stretched and reconciliation rotated."""
INCREMENTAL_SHARE: Final = 0.5
"""Under budget pressure, the incremental part of the rounds spends at most this share of the refill."""
POLL_ENV: Final = "CONNECTSAFELY_POLL_S"
STREAM_RETRY_ENV: Final = "CONNECTSAFELY_STREAM_RETRY_S"
MIN_INTERVAL_S: Final = 0.05


class SyncPasses(Protocol):
    """What the watcher runs: a :class:`~sync.engine.SyncEngine` in this process (``sync --watch``), or
    a GUI's :class:`~sync.worker.SyncWorker`, which runs the same passes in a background process."""

    async def sync_once(
        self, *, reconcile: bool = True, accounts_max_age_s: float | None = None
    ) -> SyncReport: ...

    async def reconcile_conversation(self, conversation: Conversation, last_complete: int | None) -> int: ...


def env_seconds(name: str) -> float | None:
    """A positive number of seconds from the environment; None when unset or unreadable (logged)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        log.warning("ignored %s=%r: not a number of seconds", name, raw)
        return None
    if not math.isfinite(value) or value <= 0:
        log.warning("ignored %s=%r: not a positive number of seconds", name, raw)
        return None
    return max(MIN_INTERVAL_S, value)


class Watcher:
    """The long-running sync of one process: event stream or polling, reported as a StreamState."""

    def __init__(
        self,
        api: ApiClient,
        cache: Cache,
        engine: SyncPasses,
        api_key: str,
        *,
        ws_url: str | None = None,
        on_state: Callable[[StreamState], None] | None = None,
        on_event: EventCallback | None = None,
        poll_focused_s: float | None = None,
        poll_background_s: float | None = None,
        stream_retry_s: float | None = None,
        poll_burst: float = POLL_BURST,
        poll_rate_per_s: float = POLL_RATE_PER_S,
        hello_timeout_s: float = HELLO_TIMEOUT_S,
        watchdog_s: float = WATCHDOG_S,
    ) -> None:
        self.api = api
        self.cache = cache
        self.engine = engine
        self._key = api_key
        self.ws_url = ws_url or api.ws_url
        self.reprobe_stream = ws_url is not None or is_loopback_host(urlsplit(api.base_url).hostname or "")
        """Whether polling tries the stream again (module docstring): an explicit URL or a local server."""
        self._on_state = on_state
        self._on_event = on_event
        env_poll = env_seconds(POLL_ENV)
        self.poll_focused_s = poll_focused_s or env_poll or POLL_FOCUSED_S
        self.poll_background_s = poll_background_s or env_poll or POLL_BACKGROUND_S
        self.stream_retry_s = stream_retry_s or env_seconds(STREAM_RETRY_ENV) or STREAM_RETRY_S
        self._hello_timeout_s = hello_timeout_s
        self._watchdog_s = watchdog_s
        self.budget = TokenBucket(poll_burst, poll_rate_per_s)
        """The poller's share of the request budget (see the module docstring)."""
        self._focused = False
        self.state = StreamState.OFFLINE
        self.stream: EventStream | None = None
        self.rounds = 0
        """Polling rounds completed."""
        self.reconciled = 0
        """Conversations re-read by polling rounds' reconciliation."""
        self.stream_attempts = 0
        self.rate_limited = 0
        """Rounds cut short by a 429."""
        self._round_cost = 3.0
        """Requests the incremental part of a round is expected to take (A1, C1 pages, C2 reads)."""
        self._last_round_at = -math.inf
        self._not_before = 0.0
        """No round before this (monotonic): a 429's ``Retry-After``."""
        self._wake = asyncio.Event()

    def __repr__(self) -> str:
        return f"Watcher(ws_url={self.ws_url!r})"

    # --- what a GUI tells it ----------------------------------------------------------------------------

    @property
    def focused(self) -> bool:
        """Set by a GUI while a window is focused or a conversation is open: poll more often."""
        return self._focused

    @focused.setter
    def focused(self, value: bool) -> None:
        was, self._focused = self._focused, value
        if value and not was:
            self.poke()

    @property
    def interval_s(self) -> float:
        return self.poll_focused_s if self._focused else self.poll_background_s

    def poke(self) -> None:
        """Poll now, as far as the budget allows (e.g. a window gained focus)."""
        self._last_round_at = -math.inf
        self._wake.set()

    # --- the loop -------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Stream when there is one, poll when not, until cancelled. Raises :class:`SignedOut` on 401."""
        while True:
            self.stream_attempts += 1
            self._charge(1, clamp=True)  # the handshake counts against the key's rate limit
            self.stream = EventStream(
                self.ws_url,
                self._key,
                self.api.session_id,
                self.cache,
                catch_up=self._catch_up,
                on_state=self._set_state,
                on_event=self._on_event,
                hello_timeout_s=self._hello_timeout_s,
                watchdog_s=self._watchdog_s,
            )
            try:
                await self.stream.run()
            except StreamAbsent as exc:
                if not self.reprobe_stream:
                    log.info("no event stream (%s): polling from now on", exc)
                    await self._poll_for(math.inf)
                log.info("no event stream (%s): polling, trying again in %g s", exc, self.stream_retry_s)
                await self._poll_for(self.stream_retry_s)
            except SignedOut:
                self._set_state(StreamState.OFFLINE)
                raise

    async def _catch_up(self) -> None:
        """The stream's catch-up: a full incremental sync with reconciliation (ARCHITECTURE.md §6)."""
        report = await self.engine.sync_once()
        self._charge(self._incremental_cost(report), clamp=True)

    async def _poll_for(self, duration_s: float) -> None:
        """Polling rounds until ``duration_s`` has passed (then the caller tries the stream again)."""
        self._set_state(StreamState.POLLING)
        deadline = time.monotonic() + duration_s
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            start_at = max(self._next_start(), self._not_before, now + self._budget_wait_s())
            if start_at > now:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(start_at, deadline) - now):  # not wait_for: see realtime
                        await self._wake.wait()
                continue
            await self.poll_round()

    async def poll_round(self) -> None:
        """One polling round: new activity and messages, then the recall-window horizon within budget."""
        self._last_round_at = time.monotonic()
        try:
            report = await self.engine.sync_once(reconcile=False, accounts_max_age_s=ACCOUNTS_MAX_AGE_S)
            cost = self._incremental_cost(report)
            self._charge(cost)
            # The estimate for pacing the next rounds: a typical incremental pass (A1, one C1 page and
            # one C2 read), not a first run's or a burst of activity's cost.
            self._round_cost = min(cost, 2.0 + report.accounts)
            await self._reconcile_within_budget()
        except SignedOut:
            raise
        except RateLimited as exc:
            self.rate_limited += 1
            wait = exc.retry_after_s if exc.retry_after_s is not None else self.interval_s
            # An ISO X-RateLimit-Reset can name a time hours away (a daily quota): polling tries again
            # after at most MAX_RATE_LIMIT_WAIT_S, and the API client's pacer still holds it back.
            wait = min(wait, MAX_RATE_LIMIT_WAIT_S)
            log.info("polling rate limited: next round in %.1f s", wait)
            self._not_before = time.monotonic() + wait
            self._charge(max(0.0, self.budget.tokens))  # the server says the budget is spent
            return
        except (Unreachable, TimedOut) as exc:
            log.warning("polling: %s", exc)
            self._set_state(StreamState.OFFLINE)
            return
        except KnownError as exc:
            # A server error or a bad answer: what is cached stays as it is; the next round tries again.
            log.warning("polling round failed: %s", exc)
            return
        self.rounds += 1
        self._set_state(StreamState.POLLING)

    async def _reconcile_within_budget(self) -> int:
        """Reconcile the horizon's conversations, oldest complete view first, while the budget lasts."""
        # An account the server refused in the last pass (no seat, gone) would refuse each read too.
        refused = {i.account_id for i in self.cache.reader.account_issues() if i.refused}
        # Due: never seen complete, or seen complete longer ago than the period (server time).
        due_before = self.api.server_now_ms() - int(self.interval_s * RECONCILE_FACTOR * 1000)
        candidates = [
            c
            for c in self.cache.reader.reconciliation_candidates()
            if c[0] not in refused and (c[2] is None or c[2] <= due_before)
        ]
        candidates.sort(key=lambda c: (c[2] is not None, c[2] or 0))
        hidden = 0
        done = 0
        for account_id, conversation_id, last_complete in candidates:
            if done and self.budget.tokens < 1:
                log.info("polling: %d of %d conversations reconciled this round", done, len(candidates))
                break
            conversation = self.cache.reader.conversation(account_id, conversation_id)
            if conversation is None:
                continue
            self._charge(1)
            done += 1
            try:
                hidden += await self.engine.reconcile_conversation(conversation, last_complete)
            except (SignedOut, RateLimited, Unreachable, TimedOut):
                raise
            except KnownError as exc:
                # A failed read proves nothing: leave this conversation as it is and go on.
                log.warning("reconciliation of %s skipped: %s", conversation_id, exc)
        self.reconciled += done
        return hidden

    # --- the budget -------------------------------------------------------------------------------------

    @staticmethod
    def _incremental_cost(report: SyncReport) -> float:
        """Requests a pass sent (A1 only when asked, A2, the C1 pages, the C2 pages): counted by the engine,
        not estimated (an estimate charged A1 every round and the seatless account's C1)."""
        return float(report.requests)

    def _charge(self, requests: float, *, clamp: bool = False) -> None:
        if clamp:
            requests = min(requests, max(0.0, self.budget.tokens))
        if requests > 0:
            self.budget.reserve(requests)

    def _next_start(self) -> float:
        """When the next round is due by its interval, stretched while the bucket is short."""
        spacing = self.interval_s
        horizon = len(self.cache.reader.reconciliation_candidates())
        if self.budget.tokens < self._round_cost + horizon:
            spacing = max(spacing, self._round_cost / (self.budget.refill_per_s * INCREMENTAL_SHARE))
        return self._last_round_at + spacing

    def _budget_wait_s(self) -> float:
        """How long until the bucket holds the incremental part's cost plus one reconciliation."""
        needed = min(self.budget.capacity, self._round_cost + 1)
        missing = needed - self.budget.tokens
        return 0.0 if missing <= 0 else missing / self.budget.refill_per_s

    def _set_state(self, state: StreamState) -> None:
        if state != self.state:
            self.state = state
            if self._on_state is not None:
                try:
                    self._on_state(state)
                except Exception:  # a listener's bug must not stop the sync
                    log.exception("state listener failed")
