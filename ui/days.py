"""Days in a thread: which local day a message was sent on, and the words of its separator ("Today",
"Yesterday", a date)."""

from __future__ import annotations

import datetime as _dt
import functools
import time

_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()


def local_day(ms: int) -> int:
    """The local calendar day of an epoch-ms time, as a day number (days since 1970-01-01, local)."""
    return _local_day(ms // 60_000)


@functools.lru_cache(maxsize=8192)
def _local_day(minute: int) -> int:
    # Per minute: a thread's messages are mostly minutes apart, and each is asked for more than once.
    local = time.localtime(minute * 60)
    return _dt.date(local.tm_year, local.tm_mon, local.tm_mday).toordinal() - _EPOCH_ORDINAL


def today() -> int:
    return local_day(int(time.time() * 1000))


@functools.lru_cache(maxsize=512)
def day_label(day: int, today: int) -> str:
    """ "Today", "Yesterday", "Monday, 12 May" this year, else "12 May 2024"."""
    if day == today:
        return "Today"
    if day == today - 1:
        return "Yesterday"
    date = _dt.date.fromordinal(day + _EPOCH_ORDINAL)
    this_year = _dt.date.fromordinal(today + _EPOCH_ORDINAL).year
    if date.year == this_year:
        return f"{date.strftime('%A')}, {date.day} {date.strftime('%B')}"
    return f"{date.day} {date.strftime('%B %Y')}"
