"""The local request budget: token buckets just under spec §1's rate limits, so the client waits instead
of letting the server answer 429."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_BUDGET", "Pacer", "RateBudget", "TokenBucket"]


class TokenBucket:
    """A token bucket that lends: :meth:`reserve` always takes a token and says how long to wait first.

    Going into debt instead of polling keeps waiters in arrival order without a queue. A waiter that is
    cancelled keeps its token spent, which errs on the side of fewer requests.
    """

    def __init__(self, capacity: float, refill_per_s: float, clock: Callable[[], float] = time.monotonic):
        if capacity < 1 or refill_per_s <= 0:
            raise ValueError("a bucket needs capacity >= 1 and a positive refill rate")
        self.capacity = capacity
        self.refill_per_s = refill_per_s
        self._clock = clock
        self._tokens = float(capacity)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.refill_per_s)
        self._stamp = now

    @property
    def tokens(self) -> float:
        """Tokens available now (negative: owed by waiters)."""
        self._refill()
        return self._tokens

    def reserve(self, count: float = 1.0) -> float:
        """Take ``count`` tokens; return the seconds to wait before using them (0 when available now)."""
        self._refill()
        self._tokens -= count
        return 0.0 if self._tokens >= 0 else -self._tokens / self.refill_per_s


@dataclass(frozen=True, slots=True)
class RateBudget:
    """The local budget: spec §1's limits (100 per key, refilled 1/s; 15 writes per account, 1 per 4 s)
    with some headroom, because other processes may share the key."""

    key_capacity: float = 90
    key_refill_per_s: float = 0.9
    write_capacity: float = 13
    write_refill_per_s: float = 0.22


DEFAULT_BUDGET: Final = RateBudget()


class Pacer:
    """One client's budget: the key's bucket for every request, one write bucket per account."""

    def __init__(self, budget: RateBudget, clock: Callable[[], float] = time.monotonic) -> None:
        self._budget = budget
        self._clock = clock
        self._key = TokenBucket(budget.key_capacity, budget.key_refill_per_s, clock)
        self._writes: dict[str, TokenBucket] = {}

    def reserve(self, write_account: str | None) -> float:
        """Take a token for one request (and one write token of ``write_account``, when it is a write);
        return the seconds to wait before sending it."""
        wait = self._key.reserve()
        if write_account is not None:
            bucket = self._writes.get(write_account)
            if bucket is None:
                bucket = self._writes[write_account] = TokenBucket(
                    self._budget.write_capacity, self._budget.write_refill_per_s, self._clock
                )
            wait = max(wait, bucket.reserve())
        return wait
