"""Plain-text helpers for every widget that shows user data: bounded, newline-safe, never rich text."""

from __future__ import annotations

import datetime as _dt
import functools
import time

from sync.model import Conversation, Participant

MAX_BUBBLE_CHARS = 4_000
"""Characters of a message laid out in a bubble; the rest is summarized (a 100 KB message must not freeze)."""
MAX_BUBBLE_LINES = 60
MAX_PREVIEW_CHARS = 300
"""Characters of a one-line preview handed to eliding: enough for any row width."""


def one_line(text: str, limit: int = MAX_PREVIEW_CHARS) -> str:
    """A bounded single-line preview: whitespace runs (newlines included) collapse to one space."""
    # Slice before splitting so a 100 KB text costs no more than a short one.
    head = text[: limit * 2]
    collapsed = " ".join(head.split())
    if len(collapsed) > limit or len(text) > len(head):
        return collapsed[:limit].rstrip() + "…"
    return collapsed


def bubble_text(text: str) -> tuple[str, int]:
    """The part of a message to lay out, and how many characters were left out of it."""
    if len(text) <= MAX_BUBBLE_CHARS and text.count("\n") < MAX_BUBBLE_LINES:
        return text, 0  # the usual short message: no copies
    cut = text[:MAX_BUBBLE_CHARS]
    lines = cut.split("\n")
    if len(lines) > MAX_BUBBLE_LINES:
        cut = "\n".join(lines[:MAX_BUBBLE_LINES])
    return cut, len(text) - len(cut)


def truncation_note(omitted: int) -> str:
    return f"… {omitted:,} more characters not shown"


def initials(name: str) -> str:
    """One or two letters for an avatar circle."""
    words = [w for w in name.replace(",", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:1].upper()
    return (words[0][:1] + words[-1][:1]).upper()


def primary_participant(conversation: Conversation) -> Participant | None:
    return conversation.participants[0] if conversation.participants else None


def local_now_ms() -> int:
    """The local clock, in epoch ms: only for formatting times, never for the recall window (server time)."""
    return int(time.time() * 1000)


def format_time(ms: int, now_ms: int) -> str:
    """Short local time for lists: "14:05" today, "Tue" this week, "12 Mar" this year, else "12 Mar 2025"."""
    when = _dt.datetime.fromtimestamp(ms / 1000).astimezone()
    now = _dt.datetime.fromtimestamp(now_ms / 1000).astimezone()
    if when.date() == now.date():
        return when.strftime("%H:%M")
    if 0 <= (now.date() - when.date()).days < 7:
        return when.strftime("%a")
    if when.year == now.year:
        return f"{when.day} {when.strftime('%b')}"
    return f"{when.day} {when.strftime('%b %Y')}"


def format_clock(ms: int) -> str:
    """Full local date and time, for tooltips and the recall log."""
    return _dt.datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_message_time(ms: int, now_ms: int) -> str:
    """Time under a bubble: "14:05" today, "12 Mar, 14:05" otherwise."""
    # Per minute of each: a thread's layout formats every bubble's time, repeatedly.
    return _format_message_time(ms - ms % 60_000, now_ms - now_ms % 60_000)


@functools.lru_cache(maxsize=4096)
def _format_message_time(ms: int, now_ms: int) -> str:
    # time.localtime, not datetime.fromtimestamp().astimezone(): the same local time for a fraction of the
    # cost, and nearly every bubble of a thread is a different minute (a cache miss).
    when = time.localtime(ms // 1000)
    now = _local_date(now_ms)
    clock = f"{when.tm_hour:02d}:{when.tm_min:02d}"
    if (when.tm_year, when.tm_yday) == now:
        return clock
    if when.tm_year == now[0]:
        return f"{when.tm_mday} {time.strftime('%b', when)}, {clock}"
    return f"{when.tm_mday} {time.strftime('%b %Y', when)}, {clock}"


@functools.lru_cache(maxsize=16)
def _local_date(ms: int) -> tuple[int, int]:
    """(year, day of the year) of a local time, for "today" and "this year" (ms: whole minutes)."""
    local = time.localtime(ms // 1000)
    return (local.tm_year, local.tm_yday)
