"""Which server this run talks to: the configured service, or the data dir's local sandbox.

ARCHITECTURE.md §4 (the sandbox): with no key configured, the app uses the data dir's sandbox. The GUI
reuses a running one or starts it as a child process (stopped when it quits); a headless command only
reuses a running one and otherwise says how to start it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from desktop import credentials
from desktop.paths import sandbox_dir

if TYPE_CHECKING:
    from sync.cache import Cache

log = logging.getLogger(__name__)

BASE_URL_ENV: Final = "CONNECTSAFELY_BASE_URL"
WS_URL_ENV: Final = "CONNECTSAFELY_WS_URL"
DEFAULT_BASE_URL: Final = "https://api.connectsafely.ai/linkedin"
FINGERPRINT_CONTEXT: Final = b"connectsafely-desktop/cache-identity/v1"


class ConfigError(Exception):
    """Local configuration is missing or wrong (exit code 2 on the command line)."""


@dataclass(frozen=True, slots=True)
class Backend:
    base_url: str
    ws_url: str | None
    api_key: str = field(repr=False)
    sandbox: bool
    key_source: str
    """"environment", "keyring" or "sandbox"."""
    keyring_available: bool = True
    sandbox_id: str | None = None
    """The data dir's sandbox: its stable id (``<sandbox dir>/id``); None for any other server."""

    @property
    def cache_identity(self) -> str:
        """Which cache this backend's data belongs to (ARCHITECTURE.md §5): never a port, never the key.

        - the data dir's embedded sandbox: the sandbox itself (its state dir's stable id), so a restart on a
          new port keeps the cache and the recall log;
        - any other server: its base URL and the key's fingerprint (two keys on one URL, two caches).
        """
        if self.sandbox_id:
            return f"sandbox:{self.sandbox_id}"
        return keyed_identity(self.base_url, self.api_key)

    def cache_path(self, data: Path) -> Path:
        """This backend's cache file in ``data`` (nothing is created or moved)."""
        from sync.cache import cache_path

        return cache_path(data, self.cache_identity)

    def open_cache(self, data: Path) -> Cache:
        """Open this backend's cache in ``data`` — the GUI, its sync worker (given the path) and the CLI all
        come here. For the data dir's sandbox, a cache an earlier version named after one of its ports is
        adopted first, once (:mod:`desktop.cache_files`)."""
        from sync.cache import Cache

        path = self.cache_path(data)
        if self.sandbox_id:
            from desktop.cache_files import adopt_legacy_sandbox_caches

            adopt_legacy_sandbox_caches(data, path)
        return Cache.open_file(path)


def keyed_identity(base_url: str, api_key: str) -> str:
    """The cache identity of a server reached with a key of the user's: its URL and the key's fingerprint."""
    return f"{base_url} key:{key_fingerprint(api_key)}"


def key_fingerprint(api_key: str) -> str:
    """A short one-way name for a key: 16 hex digits of SHA-256 over an HMAC-SHA-256 keyed with it. Names the
    key's cache without the key itself ever being in a file name, a log or the cache."""
    keyed = hmac.new(api_key.encode("utf-8"), FINGERPRINT_CONTEXT, hashlib.sha256).digest()
    return hashlib.sha256(keyed).hexdigest()[:16]


@dataclass
class SandboxProcess:
    """A sandbox this process started; ``stop()`` ends it."""

    process: subprocess.Popen[bytes]
    endpoint: dict[str, str]

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_sandbox(data: Path) -> Backend | None:
    """The data dir's sandbox when one is running (its ``endpoint.json`` names a live pid)."""
    folder = sandbox_dir(data)
    try:
        endpoint = json.loads((folder / "endpoint.json").read_text(encoding="utf-8"))
        key = (folder / "key").read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    pid = endpoint.get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid) or not key:
        return None
    sandbox_id = endpoint.get("sandboxId")
    if not isinstance(sandbox_id, str) or not sandbox_id:
        # A sandbox started by an earlier version writes no id: the same file the next one will read.
        from sync.sandbox.identity import state_dir_id

        try:
            sandbox_id = state_dir_id(folder)
        except OSError as exc:
            log.warning("the sandbox's id could not be written (%s): its cache is named by its address", exc)
            sandbox_id = None
    return Backend(
        base_url=str(endpoint["baseUrl"]),
        ws_url=str(endpoint.get("wsUrl") or "") or None,
        api_key=key,
        sandbox=True,
        key_source="sandbox",
        sandbox_id=sandbox_id,
    )


def start_sandbox(data: Path, *, live: bool = True, timeout_s: float = 30.0) -> SandboxProcess:
    """Start the data dir's sandbox as a child process (seeded, persistent state) and wait for it."""
    folder = sandbox_dir(data)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    # In the background CPU class: it stands in for a server that is not on the user's machine, and at
    # normal priority it would take the cores the window needs while it serves a sync (sync.priority).
    # --demo: only contacts message the two accounts (the tests' data has them message each other).
    args = [
        sys.executable,
        "-m",
        "sync.sandbox",
        "--port",
        "0",
        "--state-dir",
        str(folder),
        "--background",
        "--demo",
    ]
    if live:
        args.append("--live")
    env = {k: v for k, v in os.environ.items() if k != "CONNECTSAFELY_SANDBOX_KEY"}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    stdout = process.stdout
    if stdout is None:  # pragma: no cover - stdout=PIPE always gives one
        raise RuntimeError("the sandbox process has no stdout")
    deadline = time.monotonic() + timeout_s
    line = b""
    while time.monotonic() < deadline and not line:
        line = stdout.readline()
        if process.poll() is not None and not line:
            break
    if not line:
        process.kill()
        raise ConfigError("the local sandbox did not start")
    endpoint = json.loads(line)
    return SandboxProcess(process, endpoint)


def explicit_base_url(flag: str | None) -> str | None:
    """The base URL this run was given: ``--base-url``, else ``$CONNECTSAFELY_BASE_URL``; None: neither."""
    return flag or os.environ.get(BASE_URL_ENV) or None


def configured_base_url(flag: str | None, saved: str | None) -> str | None:
    """The base URL to use when a key is found for it: the flag, the environment, else what Settings saved
    (the GUI and the headless commands decide the same way); None: the default service."""
    return explicit_base_url(flag) or (saved or "").strip() or None


def resolve(
    data: Path,
    *,
    base_url: str | None = None,
    ws_url: str | None = None,
) -> Backend:
    """The backend for a headless command: an explicit or stored key, else the running sandbox.

    Like the GUI: the base URL is the flag's, else the environment's, else the one Settings saved; the key
    is the environment's, else the keyring's for that URL. With no key, the data dir's running sandbox.
    """
    from desktop.settings import BASE_URL, saved_str

    explicit_base = explicit_base_url(base_url)
    explicit_ws = ws_url or os.environ.get(WS_URL_ENV) or None
    target = configured_base_url(base_url, saved_str(data, BASE_URL)) or DEFAULT_BASE_URL
    found = credentials.lookup_key(target)
    if found.key:
        return Backend(target, explicit_ws, found.key, False, found.source, found.keyring_available)
    sandbox = running_sandbox(data)
    if sandbox is not None and (explicit_base is None or explicit_base == sandbox.base_url):
        return sandbox if explicit_ws is None else dataclasses.replace(sandbox, ws_url=explicit_ws)
    hint = (
        f"no API key: set {credentials.KEY_ENV}, store a key from the app's settings, or start the local "
        f"sandbox with: connectsafely-desktop sandbox --state-dir {sandbox_dir(data)}"
    )
    raise ConfigError(hint)
