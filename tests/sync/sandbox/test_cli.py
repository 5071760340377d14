"""Starting the sandbox through ``connectsafely-desktop sandbox``: first line, key handling, loopback."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.sandbox import ROOT

pytestmark = pytest.mark.timeout(60)
CLI = [sys.executable, "-c", "import sys; from desktop.cli import main; sys.exit(main())", "sandbox"]


def test_cli_prints_the_endpoint_line_and_generates_a_private_key(sandbox_factory: Any) -> None:
    handle = sandbox_factory(key=None, command=CLI)
    assert handle.base_url.startswith("http://127.0.0.1:") and handle.base_url.endswith("/linkedin")
    assert handle.ws_url == handle.base_url.replace("http://", "ws://") + "/ws"
    key_file = Path(handle.key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    client = handle.client()
    assert client.get("/accounts").status_code == 200


def test_env_key_is_used_and_no_key_file_is_written(sandbox_factory: Any) -> None:
    handle = sandbox_factory(key="from-the-environment", command=CLI)
    assert handle.key_file is None
    assert handle.client().get("/accounts").status_code == 200


def test_the_key_is_not_accepted_on_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sync.sandbox", "--key", "secret"], cwd=ROOT, capture_output=True, timeout=30
    )
    assert result.returncode == 2 and b"unrecognized arguments" in result.stderr


def test_first_line_is_exactly_the_endpoint_object(tmp_path: Path) -> None:
    env = {"CONNECTSAFELY_SANDBOX_KEY": "k", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync.sandbox", "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
    assert set(first) == {"baseUrl", "wsUrl", "keyFile"}
    assert first["keyFile"] is None and first["baseUrl"].startswith("http://127.0.0.1:")
    assert proc.returncode == 0  # SIGTERM is a clean shutdown
