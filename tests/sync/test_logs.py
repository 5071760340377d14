"""Repeated warnings collapse: a hostile server's 100,000 bad items are not 100,000 log lines."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.logs import FIRST, RepeatFilter, limit_repeats

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def logger(stream: io.StringIO, clock: Clock) -> Iterator[tuple[logging.Logger, RepeatFilter]]:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    repeat = RepeatFilter(handler, interval_s=60, clock=clock)
    handler.addFilter(repeat)
    log = logging.getLogger("tests.logs.repeats")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    try:
        yield log, repeat
    finally:
        log.removeHandler(handler)
        log.propagate = True


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_the_first_few_of_a_template_then_one_line_for_the_rest(
    logger: tuple[logging.Logger, RepeatFilter], stream: io.StringIO
) -> None:
    log, repeat = logger
    for n in range(100_000):
        log.warning("skipped malformed %s item #%d: %s", "C1", n, "unreadCount out of range")

    assert lines(stream) == [
        f"WARNING skipped malformed C1 item #{n}: unreadCount out of range" for n in range(FIRST)
    ]
    repeat.flush_summaries()
    out = lines(stream)
    assert len(out) == FIRST + 1
    assert out[-1].startswith(f"WARNING … repeated {100_000 - FIRST} more times in ")
    assert out[-1].endswith("the last: skipped malformed C1 item #99999: unreadCount out of range")
    repeat.flush_summaries()  # nothing new: nothing more
    assert len(lines(stream)) == FIRST + 1


def test_at_most_one_summary_line_per_interval(
    logger: tuple[logging.Logger, RepeatFilter], stream: io.StringIO, clock: Clock
) -> None:
    log, _ = logger
    for second in range(0, 600, 1):  # ten minutes of one warning a second
        clock.now = 1000.0 + second
        log.warning("polling round failed: %s", "server error")
    summaries = [line for line in lines(stream) if "repeated" in line]
    assert 9 <= len(summaries) <= 10
    assert len(lines(stream)) == FIRST + len(summaries)
    assert sum(int(line.split("repeated ")[1].split()[0]) for line in summaries) <= 600 - FIRST


def test_templates_loggers_and_levels_are_counted_apart(
    logger: tuple[logging.Logger, RepeatFilter], stream: io.StringIO
) -> None:
    log, _ = logger
    for _ in range(10):
        log.warning("one template %d", 1)
        log.warning("another template %d", 2)
        log.error("one template %d", 1)
        log.info("chatty by design %d", 3)  # below WARNING: never collapsed
    out = lines(stream)
    assert out.count("WARNING one template 1") == FIRST
    assert out.count("WARNING another template 2") == FIRST
    assert out.count("ERROR one template 1") == FIRST
    assert out.count("INFO chatty by design 3") == 10


def test_a_summary_carries_no_traceback_and_other_handlers_see_every_record(
    logger: tuple[logging.Logger, RepeatFilter], stream: io.StringIO
) -> None:
    log, repeat = logger
    other = io.StringIO()
    full = logging.StreamHandler(other)
    log.addHandler(full)
    try:
        for _ in range(5):
            try:
                raise ValueError("boom")
            except ValueError:
                log.exception("failed: %s", "x")
        repeat.flush_summaries()
    finally:
        log.removeHandler(full)
    assert other.getvalue().count("Traceback") == 5  # the filter is on its handler only
    assert stream.getvalue().count("Traceback") == FIRST
    assert "repeated 2 more times" in lines(stream)[-1]


def test_limit_repeats_replaces_an_earlier_filter(stream: io.StringIO) -> None:
    handler = logging.StreamHandler(stream)
    first = limit_repeats(handler)
    second = limit_repeats(handler)
    assert handler.filters == [second] and first is not second


def test_the_cli_collapses_repeated_warnings_on_stderr() -> None:
    """Through the real CLI logging set-up (a child process): 5,000 identical-template warnings."""
    script = (
        "import logging, sys\n"
        "from desktop.cli import _configure_logging\n"
        "repeats = _configure_logging(0)\n"
        "log = logging.getLogger('sync.wire')\n"
        "for n in range(5000):\n"
        "    log.warning('skipped malformed %s item #%d: %s', 'C1', n, 'bad \\x1b[2J')\n"
        "repeats.close()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    out = result.stderr.splitlines()
    assert len(out) == FIRST + 1, out
    assert "repeated 4997 more times" in out[-1]
    assert "\x1b" not in result.stderr and "bad \\x1b[2J" in out[0]
