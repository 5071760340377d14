"""Hostile servers against the real command line (issue 15): ``connectsafely-desktop sync --once`` run as
a process against ``tests/fixtures/hostile_server.py``, one attack at a time.

Each run must end within its deadline with one clear line on stderr (no traceback), peak memory under
300 MB, a log that is not flooded, and nothing of a rejected page in the cache.

Peak memory is the child's ``VmHWM`` (its resident high-water mark since ``exec``), read from
``/proc/<pid>/status`` every 20 ms while it runs; the high-water mark only grows, so a sample misses at
most the last 20 ms before exit. ``ru_maxrss`` from ``wait4`` is not used: Linux carries the pre-``exec``
high-water mark into it, i.e. the size of this pytest process at the fork. Figures (peak memory,
seconds, stderr lines) are recorded for RELIABILITY.md.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.hostile_server import (
    GOOD_THREADS,
    KEY,
    LOOP_THREADS_FROM,
    REJECTED_THREADS,
    HostileServer,
    running_hostile_server,
    thread_token,
)
from tests.fixtures.sandbox import ROOT

pytestmark = pytest.mark.timeout(240)

CLI = ROOT / ".venv" / "bin" / "connectsafely-desktop"
PEAK_LIMIT_MB = 300
MAX_STDERR_LINES = 30
"""A run's whole stderr: the summary, a line per failed account, a few detailed warnings and summaries."""


@dataclass(frozen=True)
class Run:
    returncode: int | None
    """None: still running at the deadline, then killed."""
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def describe(self) -> str:
        head = f"exit {self.returncode} after {self.seconds:.1f} s, {self.peak_mb:.0f} MB"
        return f"{head}; stderr:\n{self.stderr[-3000:]}"


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with running_hostile_server() as running:
        yield running


def run_sync(server: HostileServer, data: Path, deadline_s: float) -> Run:
    """``sync --once`` against ``server``; killed (with its process group) if it outlives ``deadline_s``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTSAFELY_")}
    env.update(
        CONNECTSAFELY_API_KEY=KEY,
        PYTHONPATH=str(ROOT),  # this checkout's code, whatever the entry point's install points at
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        XDG_CONFIG_HOME=str(data.parent / "config"),
        XDG_DATA_HOME=str(data.parent / "share"),
    )
    out, err = data.parent / "stdout.txt", data.parent / "stderr.txt"
    argv = [str(CLI), "sync", "--once", "--base-url", server.base_url, "--data-dir", str(data)]
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, start_new_session=True)
    returncode: int | None = None
    peak_kb = 0
    try:
        while True:
            peak_kb = max(peak_kb, _vm_hwm_kb(proc.pid))  # before the reap: a zombie has no VmHWM
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - started > deadline_s:
                os.killpg(proc.pid, signal.SIGKILL)
                os.waitpid(proc.pid, 0)
                break
            time.sleep(0.02)
    finally:
        proc.returncode = -1 if returncode is None else returncode  # reaped here, not by Popen
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return Run(
        returncode,
        time.monotonic() - started,
        peak_kb / 1024,
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
    )


def _vm_hwm_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def stored_conversations(data: Path) -> set[str]:
    """Normalized ids of every conversation in the data dir's cache (none when no cache was made)."""
    found: set[str] = set()
    for path in data.glob("cache-*.sqlite"):
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
            found |= {row[0] for row in conn.execute("SELECT conversation_id FROM conversations")}
    return found


def stored_accounts(data: Path) -> list[str]:
    found: list[str] = []
    for path in data.glob("cache-*.sqlite"):
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
            found += [row[0] for row in conn.execute("SELECT account_id FROM accounts")]
    return found


def check_clean(run: Run, figures: dict[str, Any], deadline_s: float) -> None:
    """What every hostile run owes: an end in time, bounded memory, a clear and short stderr."""
    figures.update(
        exit=run.returncode,
        seconds=round(run.seconds, 1),
        peak_mb=round(run.peak_mb),
        stderr_lines=len(run.lines),
    )
    assert run.returncode is not None, f"still running after {deadline_s} s: " + run.describe()
    assert run.returncode != 1, "a bug: " + run.describe()
    assert run.peak_mb < PEAK_LIMIT_MB, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    assert len(run.lines) <= MAX_STDERR_LINES, run.describe()


REJECTED = {thread_token(t) for t in REJECTED_THREADS}
GOOD = {thread_token(t) for t in GOOD_THREADS}


def test_a_300_mb_body_is_refused_with_bounded_memory(
    server: HostileServer, tmp_path: Path, figures: dict[str, Any]
) -> None:
    server.hostile.c1 = "oversize"
    run = run_sync(server, tmp_path / "data", deadline_s=90)
    check_clean(run, figures, 90)
    assert "larger than 16 MiB" in run.stderr, run.describe()
    assert not stored_conversations(tmp_path / "data") & REJECTED


def test_deep_nesting_is_refused_and_nothing_of_the_page_is_stored(
    server: HostileServer, tmp_path: Path, figures: dict[str, Any]
) -> None:
    server.hostile.c1 = "deep"
    run = run_sync(server, tmp_path / "data", deadline_s=60)
    check_clean(run, figures, 60)
    assert "nested too deeply" in run.stderr, run.describe()
    assert not stored_conversations(tmp_path / "data") & REJECTED


def test_integers_past_int64_skip_their_items_and_the_rest_is_stored(
    server: HostileServer, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """``unreadCount: 9223372036854775808`` made ``sync --once`` exit 1 (OverflowError) storing nothing."""
    server.hostile.c1 = "bigint"
    run = run_sync(server, tmp_path / "data", deadline_s=60)
    check_clean(run, figures, 60)
    assert run.returncode == 0, run.describe()
    stored = stored_conversations(tmp_path / "data")
    assert stored == GOOD, run.describe()  # the four out-of-range items (threads 100–103) are skipped
    assert "OverflowError" not in run.stderr


@pytest.mark.parametrize("loop", ["cursor_repeat", "cursor_cycle"])
def test_a_c1_cursor_that_repeats_or_cycles_ends_the_listing(
    server: HostileServer, tmp_path: Path, figures: dict[str, Any], loop: str
) -> None:
    """A C1 that answers the same cursor forever (or A→B→A) looped forever. The guard lives in the
    engine (sync/engine.py): a cursor seen before in one listing ends it with a logged error."""
    server.hostile.c1 = loop
    run = run_sync(server, tmp_path / "data", deadline_s=60)
    figures["c1_requests"] = server.requests["C1"]
    check_clean(run, figures, 60)
    assert server.requests["C1"] <= 5, f"{server.requests['C1']} C1 pages: " + run.describe()
    assert stored_conversations(tmp_path / "data") >= GOOD
    assert "cursor" in run.stderr.lower(), run.describe()


def test_a_trickled_body_ends_at_the_request_deadline(
    server: HostileServer, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """One byte every 5 s never trips a per-read timeout; the client's overall deadline (60 s) ends it."""
    server.hostile.a1_trickle_s = 5.0
    run = run_sync(server, tmp_path / "data", deadline_s=100)
    check_clean(run, figures, 100)
    assert run.returncode == 4, run.describe()  # unavailable: the server did not answer in time
    assert 55 <= run.seconds < 100, run.describe()
    assert "did not answer in time" in run.stderr, run.describe()


def test_an_account_listed_300_times_is_synced_once(
    server: HostileServer, tmp_path: Path, figures: dict[str, Any]
) -> None:
    server.hostile.a1_repeat = 300
    run = run_sync(server, tmp_path / "data", deadline_s=60)
    figures.update(c1_requests=server.requests["C1"], a2_requests=server.requests["A2"])
    check_clean(run, figures, 60)
    assert run.returncode == 0, run.describe()
    assert server.requests["C1"] == 1 and server.requests["A2"] <= 1, server.requests
    assert server.requests["C2"] == len(GOOD_THREADS), server.requests
    assert len(stored_accounts(tmp_path / "data")) == 1


def test_100000_malformed_items_do_not_flood_the_log(
    server: HostileServer, tmp_path: Path, figures: dict[str, Any]
) -> None:
    server.hostile.c1 = "malformed"
    run = run_sync(server, tmp_path / "data", deadline_s=90)
    check_clean(run, figures, 90)
    assert run.returncode == 0, run.describe()
    assert "100000" in run.stderr, run.describe()  # the count is said, once
    assert stored_conversations(tmp_path / "data") == GOOD
    logs = [p for p in (tmp_path / "data").rglob("*.log")]
    assert sum(len(p.read_text(errors="replace").splitlines()) for p in logs) < 200


def test_a_well_behaved_vendor_server_syncs_cleanly(
    server: HostileServer, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """The control: the same harness against the same server with no attack switched on."""
    run = run_sync(server, tmp_path / "data", deadline_s=60)
    check_clean(run, figures, 60)
    assert run.returncode == 0, run.describe()
    assert stored_conversations(tmp_path / "data") == GOOD
    assert not {
        thread_token(t) for t in range(LOOP_THREADS_FROM, LOOP_THREADS_FROM + 3)
    } & stored_conversations(tmp_path / "data")
