"""The event log behind ``/ws`` (spec §6): consecutive ``seq``, the replay window, and live fan-out.

Events are stored already encoded, because every connected client gets the same bytes and a replay
must resend exactly what was sent live.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any, Final

MAX_EVENTS: Final = 10_000
MAX_AGE_MS: Final = 24 * 60 * 60 * 1000
MAX_FRAME_BYTES: Final = 1 << 20


class EventLog:
    def __init__(self) -> None:
        self.seq = 0
        self._held: deque[tuple[int, int, str]] = deque()
        """(seq, at, encoded frame) of the newest events, oldest first."""
        self._subscribers: set[asyncio.Queue[str]] = set()

    def clear(self) -> None:
        self.seq = 0
        self._held.clear()

    def emit(self, event: dict[str, Any], at_ms: int) -> dict[str, Any]:
        self.seq += 1
        event["seq"] = self.seq
        event["at"] = at_ms
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        if len(text.encode("utf-8")) > MAX_FRAME_BYTES:  # callers split big payloads; this is a guard
            raise ValueError(f"event {event['type']} exceeds {MAX_FRAME_BYTES} bytes")
        self._held.append((self.seq, at_ms, text))
        while len(self._held) > MAX_EVENTS:
            self._held.popleft()
        for queue in self._subscribers:
            queue.put_nowait(text)
        return event

    def _prune(self, now_ms: int) -> None:
        while self._held and self._held[0][1] < now_ms - MAX_AGE_MS:
            self._held.popleft()

    def replay_after(self, since: int, now_ms: int) -> list[str] | None:
        """Every held event after ``since``, or None when they are not all held (or ``since`` is ahead)."""
        self._prune(now_ms)
        if since > self.seq or since < 0:
            return None
        if since == self.seq:
            return []
        oldest = self._held[0][0] if self._held else self.seq + 1
        if since + 1 < oldest:
            return None
        return [text for seq, _, text in self._held if seq > since]

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._subscribers.discard(queue)
