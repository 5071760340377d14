"""The local request budget (token buckets) and the Date-based server clock, on fake clocks."""

from __future__ import annotations

import pytest

from sync.clock import ServerClock
from sync.pacing import Pacer, RateBudget, TokenBucket


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_its_burst_then_asks_to_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, 1.0, clock)
    assert [bucket.reserve() for _ in range(5)] == [0.0] * 5
    assert bucket.reserve() == pytest.approx(1.0)
    # A second waiter queues behind the first: the debt grows.
    assert bucket.reserve() == pytest.approx(2.0)


def test_bucket_refills_at_its_rate_and_never_above_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(3, 0.25, clock)
    for _ in range(3):
        bucket.reserve()
    assert bucket.tokens == pytest.approx(0.0)
    clock.now += 4.0
    assert bucket.tokens == pytest.approx(1.0)
    clock.now += 1000.0
    assert bucket.tokens == pytest.approx(3.0)


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1.0)
    with pytest.raises(ValueError):
        TokenBucket(5, 0)


def test_default_budget_stays_under_the_servers_limits() -> None:
    budget = RateBudget()
    assert budget.key_capacity < 100
    assert budget.key_refill_per_s < 1.0
    assert budget.write_capacity < 15
    assert budget.write_refill_per_s < 1 / 4


def test_writes_are_paced_per_account_and_reads_only_per_key() -> None:
    clock = FakeClock()
    pacer = Pacer(
        RateBudget(key_capacity=100, key_refill_per_s=1, write_capacity=2, write_refill_per_s=0.25), clock
    )
    assert pacer.reserve("a") == 0.0
    assert pacer.reserve("a") == 0.0
    assert pacer.reserve("a") == pytest.approx(4.0)
    # Another account has its own write bucket; reads take no write token.
    assert pacer.reserve("b") == 0.0
    assert pacer.reserve(None) == 0.0


def test_the_key_bucket_limits_everything() -> None:
    clock = FakeClock()
    pacer = Pacer(
        RateBudget(key_capacity=3, key_refill_per_s=1, write_capacity=10, write_refill_per_s=1), clock
    )
    waits = [pacer.reserve(None), pacer.reserve("a"), pacer.reserve(None), pacer.reserve("b")]
    assert waits == [0.0, 0.0, 0.0, pytest.approx(1.0)]


def test_server_clock_before_any_date_is_local_time() -> None:
    clock = ServerClock(FakeClock(5.0), wall=lambda: 1_700_000_000.0)
    assert not clock.known
    assert clock.now_ms() == 1_700_000_000_000


def test_server_clock_follows_the_date_header_and_the_monotonic_clock() -> None:
    mono = FakeClock(100.0)
    clock = ServerClock(mono, wall=lambda: 0.0)
    # Server says 2025-10-18 07:41:50 (1760773310 s), stamped within [100.0, 100.2] on our clock.
    clock.observe("Sat, 18 Oct 2025 07:41:50 GMT", sent_at=100.0, received_at=100.2)
    assert clock.known
    assert abs(clock.now_ms() - 1_760_773_310_000) <= 1200
    mono.now = 160.0
    assert abs(clock.now_ms() - 1_760_773_370_000) <= 1200


def test_server_clock_narrows_with_samples() -> None:
    mono = FakeClock(0.0)
    clock = ServerClock(mono)
    # True offset: server = mono + 1_760_773_310.4 s. Two samples with different sub-second phases.
    clock.observe("Sat, 18 Oct 2025 07:41:50 GMT", sent_at=0.0, received_at=0.1)
    clock.observe("Sat, 18 Oct 2025 07:41:51 GMT", sent_at=0.6, received_at=0.7)
    mono.now = 10.0
    assert abs(clock.now_ms() - 1_760_773_320_400) <= 300


def test_server_clock_resets_when_the_server_jumps() -> None:
    mono = FakeClock(0.0)
    clock = ServerClock(mono)
    clock.observe("Sat, 18 Oct 2025 07:41:50 GMT", sent_at=0.0, received_at=0.1)
    # The server's clock moves 2 hours forward (the sandbox's clock/advance).
    mono.now = 1.0
    clock.observe("Sat, 18 Oct 2025 09:41:51 GMT", sent_at=1.0, received_at=1.1)
    assert abs(clock.now_ms() - 1_760_780_511_000) <= 1200


@pytest.mark.parametrize("header", [None, "", "yesterday", "Sat, 99 Oct 2025 07:41:50 GMT"])
def test_server_clock_ignores_unreadable_dates(header: str | None) -> None:
    clock = ServerClock(FakeClock(), wall=lambda: 42.0)
    clock.observe(header, 0.0, 0.1)
    assert not clock.known
    assert clock.now_ms() == 42_000
