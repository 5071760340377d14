"""The server's clock, estimated from the ``Date`` header of every response (the recall window is judged
on the server's clock, spec §5)."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

__all__ = ["ServerClock"]


class ServerClock:
    """The server's clock, estimated from ``Date`` headers and carried forward on the monotonic clock.

    A ``Date`` header has 1 s resolution and was stamped somewhere between sending and receiving, so each
    sample bounds the offset (server ms − monotonic ms) to an interval; the estimate is the middle of the
    intersection of all intervals. When a new sample does not fit (the server's clock jumped, e.g. the
    sandbox's ``clock/advance``), the old ones are dropped.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._low: float | None = None
        self._high: float | None = None

    @property
    def known(self) -> bool:
        """False until a response with a readable ``Date`` has arrived (``now_ms`` is local time then)."""
        return self._low is not None

    def observe(self, date_header: str | None, sent_at: float, received_at: float) -> None:
        """Take one response's ``Date`` header; ``sent_at``/``received_at`` are this clock's seconds."""
        if not date_header:
            return
        try:
            moment = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            return
        date_ms = moment.timestamp() * 1000
        low = date_ms - received_at * 1000
        high = date_ms + 1000 - sent_at * 1000
        if self._low is None or self._high is None or low > self._high or high < self._low:
            self._low, self._high = low, high
        else:
            self._low, self._high = max(self._low, low), min(self._high, high)

    def now_ms(self) -> int:
        if self._low is None or self._high is None:
            return int(self._wall() * 1000)
        return int(self._clock() * 1000 + (self._low + self._high) / 2)
