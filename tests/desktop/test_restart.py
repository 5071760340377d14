"""Restarting the app in sandbox mode keeps the cache and the recall log (issue 16, Why §1).

The real app process, twice, on one data dir with no key: it starts the data dir's sandbox (on a new port each
time), syncs in its worker; meanwhile the CLI sends and recalls a message through the same sandbox and cache.
After the restart the app opens that same file: one cache, the recall log and the tombstone still there.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from desktop.backend import running_sandbox
from tests.fixtures.cli import run_cli

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        status = Path(f"/proc/{pid}/status").read_text()
    except (ProcessLookupError, OSError):
        return False
    return "State:\tZ" not in status  # a zombie has exited


def gui_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTSAFELY_")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)})
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return env


def synced_conversations(data: Path) -> int:
    try:
        (cache,) = data.glob("cache-*.sqlite")
        with contextlib.closing(sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1)) as conn:
            return int(conn.execute("SELECT count(*) FROM conversations").fetchone()[0])
    except (ValueError, sqlite3.Error):
        return 0


def open_files(pid: int) -> set[Path]:
    """The files process ``pid`` has open."""
    found = set()
    with contextlib.suppress(FileNotFoundError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                found.add(Path(os.readlink(fd)))
    return found


@contextlib.contextmanager
def app_process(data: Path) -> Iterator[subprocess.Popen[str]]:
    app = subprocess.Popen(
        [sys.executable, "-m", "desktop.cli", "--data-dir", str(data)],
        cwd=ROOT,
        env=gui_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield app
        app.send_signal(signal.SIGTERM)
        assert app.wait(30) == 0, app.stderr.read() if app.stderr else ""
    finally:
        if app.poll() is None:
            app.kill()
        app.communicate()


def recall_log(path: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        return [(str(m), str(o)) for m, o in conn.execute("SELECT message_id, outcome FROM recall_log")]


def cli_json(data: Path, *args: str) -> object:
    result = run_cli(*args, data_dir=data)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_restarting_in_sandbox_mode_keeps_the_cache_and_the_recall_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    endpoint = data / "sandbox" / "endpoint.json"
    log = data / "connectsafely-desktop.log"

    with app_process(data):
        wait_for(endpoint.exists, 30, "the sandbox the app starts")
        first = running_sandbox(data)
        assert first is not None
        # The app's sandbox serves the demo data: only contacts message its two accounts.
        assert json.loads((data / "sandbox" / "params.json").read_text())["demo"] is True
        wait_for(lambda: synced_conversations(data) > 0, 60, "the app's first sync")
        # The CLI, with no key either, uses the running sandbox and the same cache file.
        conversations = cli_json(data, "conversations", "--json")
        assert isinstance(conversations, list) and conversations
        urn = conversations[0]["conversationUrn"]
        sent = run_cli("send", urn, "a message to take back", data_dir=data)
        assert sent.returncode == 0, sent.stderr
        message = json.loads(sent.stdout)
        recalled = run_cli("recall", urn, message["messageUrn"], data_dir=data)
        assert recalled.returncode == 0, recalled.stderr
        (cache,) = data.glob("cache-*.sqlite")  # the app, its sync worker and the CLI: one file
        assert cache == first.cache_path(data)
        assert (message["messageId"], "recalled") in recall_log(cache)
        sandbox_pid = json.loads(endpoint.read_text())["pid"]
    wait_for(lambda: not alive(sandbox_pid), 10, "the sandbox to stop")

    with app_process(data) as app:
        wait_for(endpoint.exists, 30, "the sandbox the app starts again")
        second = running_sandbox(data)
        assert second is not None
        assert second.base_url != first.base_url  # a new port...
        # ...and the same cache: the restarted app has that file open, and no other was created.
        wait_for(lambda: cache.resolve() in open_files(app.pid), 30, "the restarted app to open the cache")
        assert list(data.glob("cache-*.sqlite")) == [cache]
        assert (message["messageId"], "recalled") in recall_log(cache)
        listed = cli_json(data, "messages", urn, "--json")
        assert isinstance(listed, list)
        assert message["messageId"] not in {m["messageId"] for m in listed}
    assert "Traceback" not in log.read_text()
