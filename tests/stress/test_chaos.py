"""Event-stream chaos: dropped connections, delayed and duplicated frames, rewound resumes, while another
session sends and recalls; afterwards every client's visible messages equal the server's, exactly.

Default (CI): about 20 s of chaos. ``CONNECTSAFELY_STRESS=full``: 180 s. Overrides:
``CONNECTSAFELY_STRESS_CHAOS_S``, ``CONNECTSAFELY_STRESS_SEED``.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync import urns
from tests.fixtures.sandbox import SandboxHandle, enc
from tests.stress.chaos_proxy import ChaosProxy
from tests.stress.conftest import full, knob
from tests.stress.helpers import cache_file, cache_inbox, child_env, kill9, python_child, server_inbox

CLIENTS = 2
OTHER_SESSION = "stress-chaos-other-session"
CONVERGE_S = 120.0

pytestmark = pytest.mark.timeout(1800 if full() else 300)


def _last_applied_seq(data: Path) -> int | None:
    try:
        path = cache_file(data)
    except ValueError:
        return None
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as conn:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'last_applied_seq'").fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None else int(row[0])


class OtherSession:
    """Another device on the same key: sends, recalls its own fresh messages, plus inbound messages."""

    def __init__(self, handle: SandboxHandle, rng: random.Random) -> None:
        self.handle = handle
        self.rng = rng
        self.client: httpx.Client = handle.client(session=OTHER_SESSION)
        self.conversations: list[tuple[str, str]] = []
        for account in self.client.get("/accounts").json():
            page = self.client.get("/conversations", params={"accountId": account["id"], "count": 100}).json()
            self.conversations += [(account["id"], c["conversationUrn"]) for c in page["conversations"]]
        self.sent: list[tuple[str, str, str]] = []
        self.counts: dict[str, int] = {"sent": 0, "recalled": 0, "injected": 0, "ws_drops": 0}
        self.recalled: set[str] = set()

    def step(self, n: int) -> None:
        roll = self.rng.random()
        if roll < 0.40 or not self.sent:
            account, conversation = self.rng.choice(self.conversations)
            body = {
                "accountId": account,
                "conversationUrn": conversation,
                "message": f"chaos {n} <b>&amp;</b>",
            }
            response = self.client.post("/conversations/send", json=body)
            assert response.status_code == 200, response.text
            self.sent.append((account, conversation, response.json()["sentMessage"]["messageUrn"]))
            self.counts["sent"] += 1
        elif roll < 0.70:
            account, conversation, message = self.sent.pop(self.rng.randrange(len(self.sent)))
            response = self.client.delete(
                f"/conversations/{enc(conversation)}/messages/{enc(message)}", params={"accountId": account}
            )
            assert response.status_code == 200, response.text
            self.recalled.add(urns.message_id(message))
            self.counts["recalled"] += 1
        elif roll < 0.95:
            account, conversation = self.rng.choice(self.conversations)
            self.handle.control(
                "POST",
                "inject",
                {"accountId": account, "conversationUrn": conversation, "text": f"inbound {n}"},
            )
            self.counts["injected"] += 1
        else:
            self.handle.control("POST", "ws/drop")
            self.counts["ws_drops"] += 1


def test_event_stream_chaos_leaves_every_client_equal_to_the_server(
    sandbox_factory: Any, tmp_path: Path, figures: dict[str, Any]
) -> None:
    duration = knob(20, 180, "CONNECTSAFELY_STRESS_CHAOS_S")
    seed = int(os.environ.get("CONNECTSAFELY_STRESS_SEED", "") or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    handle: SandboxHandle = sandbox_factory(
        "--conversations", "12", "--messages-per-conversation", "30", "--heartbeat-s", "2", record=False
    )
    proxy = ChaosProxy(handle.ws_url, seed).start()
    clients: list[Any] = []
    datas = [tmp_path / f"client-{i}" for i in range(CLIENTS)]
    try:
        for i, data in enumerate(datas):
            env = child_env(handle.key, CONNECTSAFELY_BASE_URL=handle.base_url)
            args = ["-m", "desktop.cli", "sync", "--watch", "--data-dir", str(data), "--ws-url", proxy.url]
            clients.append(python_child(args, env, tmp_path / f"client-{i}.log"))
        other = OtherSession(handle, rng)
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < duration:
            other.step(n)
            n += 1
            if rng.random() < 0.02:
                proxy.cut_all()
            time.sleep(rng.uniform(0.01, 0.12))
            assert all(c.poll() is None for c in clients), "a client exited during the chaos"

        proxy.chaos = False
        latest = handle.control("GET", "info")["seq"]
        deadline = time.monotonic() + CONVERGE_S
        while not all((_last_applied_seq(d) or -1) >= latest for d in datas):
            assert time.monotonic() < deadline, [(_last_applied_seq(d), latest) for d in datas]
            time.sleep(0.2)
        server = server_inbox(handle)
        assert handle.control("GET", "info")["seq"] == latest  # nothing happened while reading
        for data in datas:
            cached = cache_inbox(cache_file(data))
            assert set(cached) == set(server)
            different = {key: (cached[key], server[key]) for key in server if cached[key] != server[key]}
            detail = [
                (key, sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine)))
                for key, (mine, theirs) in list(different.items())[:3]
            ]
            assert not different, (
                f"{data.name} (seed {seed}): {len(different)} conversations differ; "
                f"(conversation, only in the client, only on the server): {detail}"
            )
            visible = {mid for messages in cached.values() for mid in messages}
            assert not (visible & other.recalled)
        modes = [(tmp_path / f"client-{i}.log").read_text().count("mode: ") for i in range(CLIENTS)]
        figures.update(
            seed=seed,
            chaos_seconds=round(time.monotonic() - started, 1),
            events=latest,
            messages_on_server=sum(len(v) for v in server.values()),
            **other.counts,
            **{f"proxy_{k}": v for k, v in sorted(proxy.stats.items())},
            client_mode_changes=modes,
        )
    finally:
        for proc in clients:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)
        for proc in clients:
            kill9(proc)
        proxy.stop()
