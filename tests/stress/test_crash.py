"""Crash safety: ``kill -9`` a sync process at random moments, and a recall between its 200 and its tombstone.

Default (CI): 5 kills during a 20,000-message sync. ``CONNECTSAFELY_STRESS=full``: 20 kills during a
100,000-message sync. Overrides: ``CONNECTSAFELY_STRESS_KILLS``, ``CONNECTSAFELY_STRESS_CONVERSATIONS``
(100 messages each), ``CONNECTSAFELY_STRESS_SEED`` (the kill moments' PRNG seed).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sync import urns
from tests.fixtures.cli import run_cli
from tests.fixtures.sandbox import SandboxHandle, enc, start_sandbox
from tests.stress.conftest import full, knob
from tests.stress.helpers import (
    cache_file,
    cache_health,
    cache_inbox,
    child_env,
    kill9,
    python_child,
    server_inbox,
)

PER_CONVERSATION = 100
OTHER_SESSION = "stress-other-session"
WORKER = ["-m", "tests.stress.sync_worker"]

pytestmark = pytest.mark.timeout(1800 if full() else 300)


def _newest_conversation(handle: SandboxHandle) -> tuple[str, str]:
    client = handle.client(session=OTHER_SESSION)
    account = client.get("/accounts").json()[0]["id"]
    page = client.get("/conversations", params={"accountId": account, "count": 1}).json()
    return account, page["conversations"][0]["conversationUrn"]


def _send_elsewhere(handle: SandboxHandle, account: str, conversation: str, text: str) -> str:
    client = handle.client(session=OTHER_SESSION)
    body = {"accountId": account, "conversationUrn": conversation, "message": text}
    response = client.post("/conversations/send", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["sentMessage"]["messageUrn"])


def _recall_elsewhere(handle: SandboxHandle, account: str, conversation: str, message_urn: str) -> None:
    client = handle.client(session=OTHER_SESSION)
    path = f"/conversations/{enc(conversation)}/messages/{enc(message_urn)}"
    response = client.delete(path, params={"accountId": account})
    assert response.status_code == 200, response.text


def test_kill_9_during_a_big_sync_never_corrupts_or_resurrects(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    kills_wanted = int(knob(5, 20, "CONNECTSAFELY_STRESS_KILLS"))
    conversations = int(knob(200, 1000, "CONNECTSAFELY_STRESS_CONVERSATIONS"))
    seed = int(os.environ.get("CONNECTSAFELY_STRESS_SEED", "") or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    handle = start_sandbox(
        tmp_path / "sandbox",
        "--conversations",
        str(conversations),
        "--messages-per-conversation",
        str(PER_CONVERSATION),
        record=False,
    )
    try:
        env = child_env(handle.key)
        data = tmp_path / "data-0"
        log = tmp_path / "worker.log"
        account, conversation = _newest_conversation(handle)
        sent_elsewhere: list[str] = []
        recalled_elsewhere: set[str] = set()
        kills = completed_early = 0
        checks: list[dict[str, Any]] = []
        started = time.monotonic()
        while kills < kills_wanted:
            proc = python_child([*WORKER, str(data), handle.base_url], env, log)
            delay = rng.uniform(0.6, 2.2)
            try:
                proc.wait(delay)
            except subprocess.TimeoutExpired:
                kill9(proc)
                kills += 1
            finally:
                kill9(proc)
            if proc.returncode == 0:
                # The whole sync finished before this kill: start another one from scratch.
                completed_early += 1
                data = tmp_path / f"data-{completed_early}"
                continue
            assert proc.returncode == -9, log.read_text()[-3000:]
            if not list(data.glob("cache-*.sqlite")):
                continue  # killed before the cache file existed: nothing to check
            health = cache_health(data)
            checks.append(
                {"after_s": round(delay, 2), "messages": health.messages, "tombstones": health.tombstones}
            )
            assert health.integrity == "ok", health
            assert health.foreign_key_problems == 0, health
            assert health.visible_tombstoned == 0, health
            # Another session acts meanwhile: a message sent elsewhere, recalled elsewhere a kill later.
            if sent_elsewhere:
                victim = sent_elsewhere.pop()
                _recall_elsewhere(handle, account, conversation, victim)
                recalled_elsewhere.add(urns.message_id(victim))
            sent_elsewhere.append(_send_elsewhere(handle, account, conversation, f"sent elsewhere {kills}"))

        kill_phase_s = time.monotonic() - started
        final = subprocess.run(
            [sys.executable, *WORKER, str(data), handle.base_url],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert final.returncode == 0 and final.stdout.rstrip().endswith("done"), final.stderr[-3000:]
        health = cache_health(data)
        assert health.integrity == "ok" and health.visible_tombstoned == 0, health

        server = server_inbox(handle)
        cached = cache_inbox(cache_file(data))
        server_count = sum(len(v) for v in server.values())
        assert set(cached) == set(server)
        different = [key for key in server if cached[key] != server[key]]
        assert not different, f"{len(different)} conversations differ, e.g. {different[:3]}"
        cached_ids = {mid for messages in cached.values() for mid in messages}
        assert not (recalled_elsewhere & cached_ids)
        figures.update(
            seed=seed,
            kills=kills,
            syncs_completed_before_a_kill=completed_early,
            integrity_ok=len(checks),
            visible_tombstoned=0,
            server_messages=server_count,
            cached_messages=health.messages,
            tombstones=health.tombstones,
            recalled_elsewhere_during_the_kills=len(recalled_elsewhere),
            messages_at_each_kill=[c["messages"] for c in checks],
            kill_phase_seconds=round(kill_phase_s, 1),
            final_sync_and_compare_seconds=round(time.monotonic() - started - kill_phase_s, 1),
        )
    finally:
        handle.stop()


def test_kill_9_between_the_recall_200_and_the_tombstone_is_repaired_by_reconciliation(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    handle = start_sandbox(tmp_path / "sandbox", record=False)
    try:
        data = tmp_path / "data"
        env = {"CONNECTSAFELY_API_KEY": handle.key, "CONNECTSAFELY_BASE_URL": handle.base_url}
        first = run_cli("sync", "--once", data_dir=data, env=env)
        assert first.returncode == 0, first.stderr
        now = handle.control("GET", "clock")["now"]
        victim = None
        for conversation in json.loads(run_cli("conversations", "--json", data_dir=data, env=env).stdout):
            listed = run_cli("messages", conversation["conversationUrn"], "--json", data_dir=data, env=env)
            for message in json.loads(listed.stdout):
                if message["isSentByOwner"] and message["sentAt"] > now - 50 * 60_000:
                    victim = message
                    break
            if victim:
                break
        assert victim is not None, "the seeded data has no own message inside the recall window"
        conversation_urn, message_urn = victim["conversationUrn"], victim["messageUrn"]

        crash_env = {**env, "CONNECTSAFELY_TEST_CRASH_AFTER_RECALL_ANSWER": "1"}
        crashed = run_cli("recall", conversation_urn, message_urn, data_dir=data, env=crash_env)
        assert crashed.returncode == -9, crashed.stderr  # SIGKILL, after the 200
        server_ids = set(server_inbox(handle)[(victim["accountId"], victim["conversationId"])])
        assert victim["messageId"] not in server_ids  # the server did recall it

        def visible() -> set[str]:
            listed = run_cli("messages", conversation_urn, "--json", data_dir=data, env=env)
            assert listed.returncode == 0, listed.stderr
            return {m["messageId"] for m in json.loads(listed.stdout)}

        assert victim["messageId"] in visible()  # the crash came before the tombstone
        health = cache_health(data)
        assert health.integrity == "ok"

        again = run_cli("sync", "--once", data_dir=data, env=env)
        assert again.returncode == 0, again.stderr
        assert victim["messageId"] not in visible()
        with_reason = cache_inbox(cache_file(data))
        assert victim["messageId"] not in {m for v in with_reason.values() for m in v}
        assert "1 recalled elsewhere" in again.stderr
        # The attempt the crash cut short is settled by the same start, by evidence: recalled.
        assert "settled — Recalled" in again.stderr
        assert _recall_log_outcomes(data) == {victim["messageId"]: ["recalled"]}
        figures.update(crashed_exit=crashed.returncode, hidden_by_reconciliation=1)
    finally:
        handle.stop()


def _recall_log_outcomes(data: Path) -> dict[str, list[str]]:
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(cache_file(data))) as conn:
        rows = conn.execute("SELECT message_id, outcome FROM recall_log ORDER BY id").fetchall()
    found: dict[str, list[str]] = {}
    for message_id, outcome in rows:
        found.setdefault(message_id, []).append(outcome)
    return found


def test_kill_9_at_random_moments_of_a_recall_leaves_nothing_pending_after_the_next_start(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    """Default: 4 recalls killed at random moments; full: 20. Each recall's DELETE is held by the server
    for 1 s, before or after doing the work, so kills land before, during and after it. After every kill
    the next start (``sync --once``) leaves no attempt pending, and never calls one recalled that the
    server still lists, nor hides one the server did not recall."""
    kills = int(knob(4, 20, "CONNECTSAFELY_STRESS_RECALL_KILLS"))
    rng = random.Random(int(os.environ.get("CONNECTSAFELY_STRESS_SEED", "20261202")))
    handle = start_sandbox(tmp_path / "sandbox", record=False)
    outcomes: dict[str, int] = {}
    try:
        data = tmp_path / "data"
        env = {"CONNECTSAFELY_API_KEY": handle.key, "CONNECTSAFELY_BASE_URL": handle.base_url}
        assert run_cli("sync", "--once", data_dir=data, env=env).returncode == 0
        account, conversation = _newest_conversation(handle)
        conversation_id = urns.conversation_id(conversation)
        for n in range(kills):
            sent = run_cli("send", conversation, f"to be recalled {n}", data_dir=data, env=env)
            assert sent.returncode == 0, sent.stderr
            message = json.loads(sent.stdout)
            phase = rng.choice(["before", "after"])
            handle.control(
                "POST",
                "faults",
                {"method": "DELETE", "path": "/messages/", "count": 1, "delay_s": 1.0, "phase": phase},
            )
            proc = python_child(
                ["-m", "desktop.cli", "recall", conversation, message["messageUrn"], "--data-dir", str(data)],
                child_env(handle.key, CONNECTSAFELY_BASE_URL=handle.base_url),
                tmp_path / "recalls.log",
            )
            time.sleep(rng.uniform(0.05, 2.0))
            kill9(proc)
            handle.control("DELETE", "faults")
            again = run_cli("sync", "--once", data_dir=data, env=env)
            assert again.returncode == 0, again.stderr
            log = _recall_log_outcomes(data).get(message["messageId"], [])
            assert "pending" not in log, (n, phase, log, again.stderr)
            listed = set(server_inbox(handle)[(account, conversation_id)])
            upstream_recalled = message["messageId"] not in listed
            if "recalled" in log:
                assert upstream_recalled, (n, phase, log)
            shown = run_cli("messages", conversation, "--json", data_dir=data, env=env)
            visible = {m["messageId"] for m in json.loads(shown.stdout)}
            assert (message["messageId"] in visible) is not upstream_recalled, (n, phase, log)
            for outcome in log or ["killed before logging"]:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        figures.update(recall_kills=kills, outcomes=outcomes, pending_left=0)
    finally:
        handle.stop()
