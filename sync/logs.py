"""Log hygiene: a filter that collapses repeated warnings, so a hostile server cannot flood the log.

100,000 malformed items used to write 100,000 warning lines. :class:`RepeatFilter`, installed on a
handler with :func:`limit_repeats`, lets the first few records of each message *template* through (the
format string before its arguments, per logger and level: "skipped malformed %s item #%d: %s" is one
template whatever the item), then swallows the rest and writes at most one "… repeated N more times"
line per template per interval, plus a last one for what is left when the handler is flushed or the
filter is closed. Records below WARNING always pass: they are chatty by design and filtered by level.

Used by the CLI's stderr handler (``desktop.cli``), the GUI's log file (``desktop.app``) and anything else
that writes a log a person reads. Qt-free.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["FIRST", "INTERVAL_S", "RepeatFilter", "flush_repeats", "limit_repeats"]

FIRST: Final = 3
"""Records of one template written in full before the rest are counted instead."""
INTERVAL_S: Final = 60.0
"""At most one "repeated" line per template per this many seconds."""
MAX_TEMPLATES: Final = 1_000
"""Templates remembered at most (the oldest are forgotten: a template is code, so few exist)."""

_SUMMARY: Final = "_repeat_summary"
"""Attribute that marks the filter's own summary records (they always pass)."""


@dataclass(slots=True)
class _Seen:
    count: int = 0
    """Records of this template so far."""
    suppressed: int = 0
    """Swallowed since the last summary line."""
    last_summary: float = 0.0
    last: logging.LogRecord | None = None
    """The latest swallowed record (its text goes into the summary)."""


class RepeatFilter(logging.Filter):
    """Collapses repeated records of one template on the handler it is installed on (see the module)."""

    def __init__(
        self,
        handler: logging.Handler,
        *,
        first: int = FIRST,
        interval_s: float = INTERVAL_S,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._handler = handler
        self._first = max(1, first)
        self._interval_s = interval_s
        self._level = level
        self._clock = clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self._level or getattr(record, _SUMMARY, False):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            seen = self._seen.pop(key, None) or _Seen(last_summary=now)
            self._seen[key] = seen  # most recently used last
            if len(self._seen) > MAX_TEMPLATES:
                del self._seen[next(iter(self._seen))]
            seen.count += 1
            if seen.count <= self._first:
                return True
            seen.suppressed += 1
            seen.last = record
            if now - seen.last_summary < self._interval_s:
                return False
            summary = self._summary(seen, now)
        self._handler.handle(summary)
        return False

    def _summary(self, seen: _Seen, now: float) -> logging.LogRecord:
        """The "repeated" record for ``seen`` (called with the lock held); resets its counters."""
        last = seen.last
        if last is None:  # pragma: no cover - a summary is made only for a template seen before
            raise RuntimeError("a repeat summary with no record")
        record = logging.makeLogRecord(last.__dict__)
        record.msg = "… repeated %d more time%s in %.0f s; the last: %s"
        record.args = (
            seen.suppressed,
            "" if seen.suppressed == 1 else "s",
            now - seen.last_summary,
            _text(last),
        )
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        setattr(record, _SUMMARY, True)
        seen.suppressed = 0
        seen.last_summary = now
        seen.last = None
        return record

    def flush_summaries(self) -> None:
        """Write the "repeated" line of every template with swallowed records now (at exit, on flush)."""
        now = self._clock()
        with self._lock:
            summaries = [self._summary(seen, now) for seen in self._seen.values() if seen.suppressed]
        for summary in summaries:
            self._handler.handle(summary)

    def close(self) -> None:
        """Flush the summaries and take the filter off its handler."""
        self.flush_summaries()
        self._handler.removeFilter(self)


def _text(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a record whose arguments do not fit its template: still say something
        return str(record.msg)


def limit_repeats(
    handler: logging.Handler, *, first: int = FIRST, interval_s: float = INTERVAL_S
) -> RepeatFilter:
    """Install a :class:`RepeatFilter` on ``handler`` (replacing one installed before) and return it.

    Call ``.flush_summaries()`` (or ``.close()``) before the process exits, so the last counts are
    written too.
    """
    for old in [f for f in handler.filters if isinstance(f, RepeatFilter)]:
        handler.removeFilter(old)
    repeat = RepeatFilter(handler, first=first, interval_s=interval_s)
    handler.addFilter(repeat)
    return repeat


def flush_repeats(logger: logging.Logger | None = None) -> None:
    """Flush the summaries of every :class:`RepeatFilter` on ``logger``'s handlers (default: the root
    logger's), e.g. at exit."""
    for handler in (logger or logging.getLogger()).handlers:
        for installed in handler.filters:
            if isinstance(installed, RepeatFilter):
                installed.flush_summaries()
