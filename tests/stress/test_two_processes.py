"""Two processes on one data dir: a ``sync --watch`` leader and a second command line doing sends, recalls
and reads, while another session keeps the leader writing. No ``database is locked`` reaches the user, no
write is lost, and the follower shows the leader's changes.

Default (CI): 15 s. ``CONNECTSAFELY_STRESS=full``: 60 s. Override: ``CONNECTSAFELY_STRESS_TWO_PROCESS_S``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.cli import run_cli
from tests.fixtures.sandbox import SandboxHandle
from tests.stress.conftest import full, knob
from tests.stress.helpers import cache_file, cache_inbox, child_env, kill9, python_child, server_inbox

LOCKED = "database is locked"

pytestmark = pytest.mark.timeout(1800 if full() else 300)


class Injector(threading.Thread):
    """Another session: inbound messages into the follower's conversation, so the leader keeps writing."""

    def __init__(self, handle: SandboxHandle, account: str, conversation: str) -> None:
        super().__init__(name="injector", daemon=True)
        self.handle, self.account, self.conversation = handle, account, conversation
        self.stop = threading.Event()
        self.texts: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(headers=self.handle.headers(), timeout=30) as client:
                while not self.stop.wait(0.05):
                    text = f"inbound {len(self.texts)}"
                    response = client.post(
                        f"{self.handle.base_url}/_sandbox/inject",
                        json={"accountId": self.account, "conversationUrn": self.conversation, "text": text},
                    )
                    assert response.status_code == 200, response.text
                    self.texts.append(text)
        except BaseException as exc:  # reported by the test
            self.error = exc


class WriteProbe(threading.Thread):
    """A third connection taking the write lock (``BEGIN IMMEDIATE``) every 20 ms: how often it waits."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="write-probe", daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.waits_ms: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=10, isolation_level=None)) as conn:
                while not self.stop.wait(0.02):
                    started = time.perf_counter()
                    conn.execute("BEGIN IMMEDIATE")
                    self.waits_ms.append((time.perf_counter() - started) * 1000)
                    conn.execute("COMMIT")
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_a_watcher_and_a_second_command_line_share_one_data_dir(
    sandbox_factory: Any, tmp_path: Path, figures: dict[str, Any]
) -> None:
    duration = knob(15, 60, "CONNECTSAFELY_STRESS_TWO_PROCESS_S")
    handle: SandboxHandle = sandbox_factory(
        "--conversations", "8", "--messages-per-conversation", "20", record=False
    )
    data = tmp_path / "data"
    env = {"CONNECTSAFELY_API_KEY": handle.key, "CONNECTSAFELY_BASE_URL": handle.base_url}

    def cli(*args: str) -> Any:
        result = run_cli(*args, data_dir=data, env=env)
        outputs.append(result.stdout + result.stderr)
        assert LOCKED not in result.stderr + result.stdout
        assert result.returncode == 0, result.stderr
        return result

    outputs: list[str] = []
    cli("sync", "--once")
    conversation = json.loads(cli("conversations", "--json").stdout)[0]
    conv_urn = conversation["conversationUrn"]
    leader = python_child(
        ["-m", "desktop.cli", "sync", "--watch", "--data-dir", str(data)],
        child_env(handle.key, CONNECTSAFELY_BASE_URL=handle.base_url),
        tmp_path / "leader.log",
    )
    injector = Injector(handle, conversation["accountId"], conv_urn)
    probe = WriteProbe(cache_file(data))
    kept: set[str] = set()
    recalled: set[str] = set()
    follower_saw_leader = 0
    try:
        deadline = time.monotonic() + 30
        while "mode: live" not in (tmp_path / "leader.log").read_text():
            assert leader.poll() is None and time.monotonic() < deadline, (
                tmp_path / "leader.log"
            ).read_text()
            time.sleep(0.1)
        injector.start()
        probe.start()
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < duration:
            sent = json.loads(cli("send", conv_urn, f"two-process {i}").stdout)
            listed = json.loads(cli("messages", conv_urn, "--json").stdout)
            ids = {m["messageId"] for m in listed}
            assert sent["messageId"] in ids  # the follower's own write is there at once
            assert kept <= ids and not (recalled & ids)  # no write of either process lost or undone
            texts = {m["text"] for m in listed}
            follower_saw_leader = max(follower_saw_leader, sum(t.startswith("inbound ") for t in texts))
            if i % 2:
                cli("recall", conv_urn, sent["messageUrn"])
                recalled.add(sent["messageId"])
            else:
                kept.add(sent["messageId"])
            i += 1
            assert leader.poll() is None, (tmp_path / "leader.log").read_text()[-3000:]
        injector.stop.set()
        probe.stop.set()
        injector.join(30)
        probe.join(30)
        assert injector.error is None and probe.error is None, (injector.error, probe.error)

        # The leader applies every event; then the follower's reads show all of its changes.
        latest = handle.control("GET", "info")["seq"]
        deadline = time.monotonic() + 60
        while True:
            listed = json.loads(cli("messages", conv_urn, "--json").stdout)
            inbound = {m["text"] for m in listed if m["text"].startswith("inbound ")}
            if inbound == set(injector.texts):
                break
            assert time.monotonic() < deadline, (len(inbound), len(injector.texts), latest)
            time.sleep(0.3)
        ids = {m["messageId"] for m in listed}
        assert kept <= ids and not (recalled & ids)
        server = server_inbox(handle)
        cached = cache_inbox(cache_file(data))
        key = (conversation["accountId"], conversation["conversationId"])
        assert cached[key] == server[key]
        with contextlib.closing(sqlite3.connect(cache_file(data))) as conn:
            tombstoned = {r[0] for r in conn.execute("SELECT message_id FROM tombstones")}
            succeeded = conn.execute("SELECT count(*) FROM recall_log WHERE outcome = 'recalled'").fetchone()[
                0
            ]
        assert recalled <= tombstoned
        assert succeeded == len(recalled)
        leader_log = (tmp_path / "leader.log").read_text()
        assert LOCKED not in leader_log and "Traceback" not in leader_log
        assert follower_saw_leader > 0
        waits = sorted(probe.waits_ms)
        figures.update(
            seconds_of_contention=round(time.monotonic() - started, 1),
            follower_commands=len(outputs),
            follower_sends=len(kept) + len(recalled),
            follower_recalls=len(recalled),
            leader_event_writes=len(injector.texts),
            probe_write_transactions=len(waits),
            probe_waits_over_5ms=sum(w > 5 for w in waits),
            probe_longest_wait_ms=round(waits[-1], 1) if waits else 0,
            database_is_locked_seen=0,
        )
    finally:
        injector.stop.set()
        probe.stop.set()
        if leader.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(leader.pid, signal.SIGINT)
            with contextlib.suppress(Exception):
                leader.wait(10)
        kill9(leader)
