"""What the vendor-profile benchmarks (figures 8 and 9) share: a sandbox that answers as the real service
is documented to (spec §8: ``--profile vendor``, its rate limit on), and what it says about the requests.

Figure 8 runs the sandbox at background CPU priority (``--background``), as figure 3 does: it stands in
for a server that is not on the user's machine, so it must not take the cores the window needs. Figure 9
runs it at normal priority: its latencies are seconds, and a ``SCHED_IDLE`` server would be starved by
anything else running on the machine. Its response record
(``CONNECTSAFELY_SANDBOX_RECORD``: one JSON line per answer, the event-stream handshake excepted) is where
429s are counted; ``_sandbox/requests`` counts every request per route, the handshake included.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fixtures.sandbox import SandboxHandle, start_sandbox

KEY_CAPACITY = 100
KEY_REFILL_PER_S = 1.0
"""The sandbox's per-key bucket (``sync.sandbox.limits.RateLimiter``, spec §1: 100, refilled 1/s)."""
KEY_ENV = "BENCH_SANDBOX_KEY"
"""How a benchmark child is given the sandbox's key (never on a command line)."""


def least_time_s(
    requests: int, capacity: float = KEY_CAPACITY, refill_per_s: float = KEY_REFILL_PER_S
) -> float:
    """The least time the key's bucket allows for ``requests`` back-to-back requests from a full bucket:
    the first ``capacity`` go at once, each further one waits for a token (the last one's wait)."""
    return max(0.0, requests - capacity) / refill_per_s


def start_vendor_sandbox(
    work: Path, *, conversations: int, per_conversation: int, background: bool = True
) -> SandboxHandle:
    """A vendor-profile sandbox with its rate limit on (60/min per key, bursts to 100), real clock;
    ``background``: at background CPU priority (``SCHED_IDLE``: any other busy process starves it)."""
    return start_sandbox(
        work,
        "--conversations",
        str(conversations),
        "--messages-per-conversation",
        str(per_conversation),
        *(["--background"] if background else []),
        profile="vendor",
        rate_limit="on",
        now=None,
    )


@dataclass
class RequestLog:
    """Reads a sandbox's response record and request counts from a mark onwards."""

    sandbox: SandboxHandle
    offset: int = 0
    counted_at: dict[str, int] | None = None

    def mark(self) -> None:
        """From now on (for :meth:`statuses` and :meth:`routes_since`)."""
        path = self.sandbox.record_path
        self.offset = path.stat().st_size if path is not None and path.exists() else 0
        self.counted_at = self.routes()

    def statuses(self) -> dict[int, int]:
        """How many answers of each HTTP status the sandbox recorded since the mark."""
        path = self.sandbox.record_path
        counts: dict[int, int] = {}
        if path is None or not path.exists():
            return counts
        with path.open("rb") as record:
            record.seek(self.offset)
            for line in record:
                if line.strip():
                    status = int(json.loads(line)["status"])
                    counts[status] = counts.get(status, 0) + 1
        return counts

    def routes(self) -> dict[str, int]:
        """Requests served per route since the last ``_sandbox/reset`` (event-stream handshakes included)."""
        return dict(self.sandbox.control("GET", "requests")["routes"])

    def routes_since(self) -> dict[str, int]:
        now = self.routes()
        before = self.counted_at or {}
        return {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)}


def reset(sandbox: SandboxHandle, **body: Any) -> dict[str, Any]:
    """``_sandbox/reset`` (fresh data, a full rate-limit bucket, request counts at zero)."""
    result: dict[str, Any] = sandbox.control("POST", "reset", body or None)
    return result


def wait_s(seconds: float) -> None:
    if seconds > 0 and math.isfinite(seconds):
        time.sleep(seconds)
