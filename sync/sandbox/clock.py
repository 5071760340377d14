"""The sandbox clock: starts at ``--now`` (or real time) and then runs with real time, plus manual advances.

Recall windows, event times, the ``Date`` header and rate-limit refills all read this clock, so a
test can close a recall window with ``_sandbox/clock/advance`` instead of waiting an hour.
"""

from __future__ import annotations

import time


class Clock:
    def __init__(self, start_ms: int | None = None) -> None:
        self.reset(start_ms)

    def reset(self, start_ms: int | None) -> None:
        self._start_ms = int(time.time() * 1000) if start_ms is None else start_ms
        self._t0 = time.monotonic()
        self._offset_ms = 0

    def now_ms(self) -> int:
        return self._start_ms + int((time.monotonic() - self._t0) * 1000) + self._offset_ms

    def advance(self, ms: int) -> int:
        self._offset_ms += ms
        return self.now_ms()

    def at_least(self, ms: int) -> None:
        """Never run behind ``ms`` (a restart must not move time back before journaled events)."""
        lag = ms - self.now_ms()
        if lag > 0:
            self._offset_ms += lag
