"""Token buckets for spec §1's rate limits (per key 100 at 1/s; per account writes 15 at 1 per 4 s)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int
    reset_ms: int
    """When the bucket next holds one whole token (sandbox clock, epoch ms)."""


class TokenBucket:
    def __init__(self, capacity: int, refill_per_s: float) -> None:
        self.capacity = capacity
        self.refill_per_ms = refill_per_s / 1000.0
        self.tokens = float(capacity)
        self.updated_ms: int | None = None

    def _refill(self, now_ms: int) -> None:
        if self.updated_ms is not None and now_ms > self.updated_ms:
            self.tokens = min(self.capacity, self.tokens + (now_ms - self.updated_ms) * self.refill_per_ms)
        if self.updated_ms is None or now_ms > self.updated_ms:
            self.updated_ms = now_ms

    def take(self, now_ms: int) -> Verdict:
        self._refill(now_ms)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            allowed = True
        else:
            allowed = False
        missing = max(0.0, 1.0 - self.tokens)
        wait_ms = math.ceil(missing / self.refill_per_ms) if missing > 0 else 0
        return Verdict(
            allowed,
            self.capacity,
            int(self.tokens),
            max(1, math.ceil(wait_ms / 1000)) if not allowed else 0,
            now_ms + wait_ms,
        )


class RateLimiter:
    """Every bucket of one sandbox; ``enabled=False`` lets everything through (``--rate-limit off``)."""

    KEY_CAPACITY = 100
    KEY_REFILL_PER_S = 1.0
    WRITE_CAPACITY = 15
    WRITE_REFILL_PER_S = 0.25

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.reset()

    def reset(self) -> None:
        self.key_bucket = TokenBucket(self.KEY_CAPACITY, self.KEY_REFILL_PER_S)
        self.write_buckets: dict[str, TokenBucket] = {}

    def take_key(self, now_ms: int) -> Verdict | None:
        return self.key_bucket.take(now_ms) if self.enabled else None

    def take_write(self, account_id: str, now_ms: int) -> Verdict | None:
        if not self.enabled:
            return None
        bucket = self.write_buckets.setdefault(
            account_id, TokenBucket(self.WRITE_CAPACITY, self.WRITE_REFILL_PER_S)
        )
        return bucket.take(now_ms)
