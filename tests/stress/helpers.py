"""Shared pieces of the stress runs: the server's and a cache's view of the inbox, cache health checks,
and child processes that are always cleaned up."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sync import urns
from sync.cache import Cache
from tests.fixtures.sandbox import ROOT, SandboxHandle, enc

MessageView = dict[str, tuple[str, int]]
"""message id -> (text, sentAt)."""
InboxView = dict[tuple[str, str], MessageView]
"""(account id, conversation id) -> the conversation's messages."""


def server_inbox(handle: SandboxHandle) -> InboxView:
    """Every message the server lists, in every conversation of every account (all pages)."""
    client = handle.client(timeout=60.0)
    view: InboxView = {}
    for account in client.get("/accounts").json():
        account_id = account["id"]
        cursor = None
        while True:
            params: dict[str, Any] = {"accountId": account_id, "count": 100}
            if cursor:
                params["nextCursor"] = cursor
            body = _ok(client.get("/conversations", params=params))
            for conversation in body["conversations"]:
                urn = conversation["conversationUrn"]
                view[(account_id, urns.conversation_id(urn))] = _server_messages(client, account_id, urn)
            cursor = body["nextCursor"]
            if not body["hasMore"]:
                break
    return view


def _server_messages(client: httpx.Client, account_id: str, urn: str) -> MessageView:
    found: MessageView = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"accountId": account_id, "count": 100}
        if cursor:
            params["cursor"] = cursor
        body = _ok(client.get(f"/conversations/{enc(urn)}/messages", params=params))
        for m in body["messages"]:
            found[urns.message_id(m["messageUrn"])] = (m["text"], int(m["sentAt"]))
        cursor = body["cursor"]
        if not body["hasMore"]:
            return found


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


def cache_file(data: Path) -> Path:
    (found,) = data.glob("cache-*.sqlite")
    return found


def cache_inbox(path: Path, *, with_empty: bool = True) -> InboxView:
    """Every visible message of a cache file, read with plain sqlite3 (read-only)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        view: InboxView = {}
        if with_empty:
            for account_id, conversation_id in conn.execute(
                "SELECT account_id, conversation_id FROM conversations"
            ):
                view[(account_id, conversation_id)] = {}
        rows = conn.execute("SELECT account_id, conversation_id, message_id, text, sent_at FROM messages")
        for account_id, conversation_id, message_id, text, sent_at in rows:
            view.setdefault((account_id, conversation_id), {})[message_id] = (text, int(sent_at))
        return view


@dataclass(frozen=True)
class Health:
    integrity: str
    foreign_key_problems: int
    tombstones: int
    visible_tombstoned: int
    messages: int


def cache_health(data: Path) -> Health:
    """Open the data dir's one cache as the app does (``Cache.open_file``) and check it: integrity, foreign
    keys, and that no tombstoned message is visible — through the reader as well as in the table."""
    cache = Cache.open_file(cache_file(data))
    try:
        conn = cache.db.connection()
        integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
        fk = len(conn.execute("PRAGMA foreign_key_check").fetchall())
        tombstoned = [r[0] for r in conn.execute("SELECT message_id FROM tombstones")]
        joined = conn.execute(
            "SELECT count(*) FROM messages m JOIN tombstones t ON t.message_id = m.message_id"
        ).fetchone()[0]
        via_reader = sum(len(cache.reader.message_copies(mid)) for mid in tombstoned)
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        return Health(integrity, fk, len(tombstoned), int(joined) + via_reader, int(messages))
    finally:
        cache.close()


def child_env(key: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTSAFELY_")}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["CONNECTSAFELY_API_KEY"] = key
    env.update(extra)
    return env


def python_child(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A Python child process (own process group) with stdout and stderr into ``log_path``."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )


def kill9(proc: subprocess.Popen[Any]) -> None:
    """``kill -9`` the child's process group (the child and anything it started) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
