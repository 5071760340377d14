"""The ``_sandbox/`` controls of spec §7: faults before/after, clock, inject, other-session recall, counts."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.fixtures.sandbox import SandboxHandle
from tests.sync.sandbox.helpers import (
    accounts,
    all_conversations,
    all_messages,
    no_more_events,
    recall,
    recv,
    recv_events,
    shared_pair,
)

pytestmark = pytest.mark.timeout(60)
RECALL_PATH = r"^/conversations/[^/]+/messages/[^/]+$"


def drain(ws: Any, wait: float = 0.5) -> list[dict[str, Any]]:
    out = []
    with contextlib.suppress(TimeoutError):
        while True:
            out.append(recv(ws, wait))
    return out


def own_recent(client: httpx.Client, account_id: str) -> tuple[str, dict[str, str]]:
    conv = all_conversations(client, account_id)[0]
    own = next(m for m in all_messages(client, conv["conversationUrn"], account_id) if m["isSentByOwner"])
    return conv["conversationUrn"], own


def visible(client: httpx.Client, conv_urn: str, account_id: str) -> set[str]:
    return {m["messageUrn"] for m in all_messages(client, conv_urn, account_id)}


def test_controls_need_the_key(sandbox: SandboxHandle) -> None:
    for path in ("reset", "faults", "requests"):
        response = httpx.post(
            f"{sandbox.base_url}/_sandbox/{path}", headers={"Authorization": "Bearer wrong"}
        )
        assert response.status_code == 401


def test_fault_before_answers_without_doing_the_work(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv_urn, own = own_recent(client, a["id"])
    sandbox.control(
        "POST",
        "faults",
        {"method": "DELETE", "path": RECALL_PATH, "count": 1, "status": 500, "phase": "before"},
    )

    failed = recall(client, conv_urn, own["messageUrn"], a["id"])

    assert (failed.status_code, failed.json()["code"]) == (500, "INTERNAL")
    assert own["messageUrn"] in visible(client, conv_urn, a["id"])  # nothing was recalled
    assert recall(client, conv_urn, own["messageUrn"], a["id"]).status_code == 200  # count was 1


def test_fault_after_does_the_work_then_replaces_the_answer(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv_urn, own = own_recent(client, a["id"])
    sandbox.control(
        "POST",
        "faults",
        {"method": "DELETE", "path": RECALL_PATH, "status": 500, "code": "INTERNAL", "phase": "after"},
    )
    with sandbox.ws() as ws:
        recv(ws)
        failed = recall(client, conv_urn, own["messageUrn"], a["id"])
        assert recv_events(ws, 1)[0]["type"] == "message.recalled"  # the work was done
    assert failed.status_code == 500
    assert own["messageUrn"] not in visible(client, conv_urn, a["id"])
    assert recall(client, conv_urn, own["messageUrn"], a["id"]).status_code == 200  # the retry is safe


def test_fault_drop_before_and_after(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv_urn, own = own_recent(client, a["id"])
    sandbox.control(
        "POST", "faults", {"method": "DELETE", "path": RECALL_PATH, "drop": True, "phase": "before"}
    )
    with pytest.raises(httpx.RemoteProtocolError):
        recall(client, conv_urn, own["messageUrn"], a["id"])
    assert own["messageUrn"] in visible(client, conv_urn, a["id"])

    sandbox.control(
        "POST", "faults", {"method": "DELETE", "path": RECALL_PATH, "drop": True, "phase": "after"}
    )
    with pytest.raises(httpx.RemoteProtocolError):
        recall(client, conv_urn, own["messageUrn"], a["id"])
    assert own["messageUrn"] not in visible(client, conv_urn, a["id"])  # done, answer lost


def test_fault_delay_after_delays_a_correct_answer(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    sandbox.control(
        "POST", "faults", {"method": "GET", "path": "^/accounts$", "delay_s": 0.6, "phase": "after"}
    )
    started = time.monotonic()
    response = client.get("/accounts")
    assert response.status_code == 200 and len(response.json()) == 2
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    client.get("/accounts")
    assert time.monotonic() - started < 0.6


def test_fault_count_method_filter_and_clear(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    sandbox.control("POST", "faults", {"method": "GET", "path": "^/accounts$", "count": 2, "status": 429})
    sandbox.control("POST", "faults", {"method": "POST", "path": "^/accounts$", "count": 1, "status": 500})
    first, second, third = (client.get("/accounts") for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.json()["code"] == "RATE_LIMITED" and first.headers["Retry-After"] == "1"
    sandbox.control("POST", "faults", {"method": "GET", "path": "^/accounts$", "count": 5, "status": 500})
    assert len(sandbox.control("GET", "faults")["faults"]) == 2
    sandbox.control("DELETE", "faults")
    assert sandbox.control("GET", "faults")["faults"] == []
    assert client.get("/accounts").status_code == 200


def test_requests_are_counted_per_route_since_reset(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    pages = -(-len(all_conversations(client, a["id"], count=3)) // 3)
    client.get("/accounts", headers={"Authorization": "Bearer wrong"})
    counts = sandbox.control("GET", "requests")
    assert pages >= 2
    assert counts["routes"] == {"GET /accounts": 2, "GET /conversations": pages}
    assert counts["total"] == 2 + pages
    sandbox.reset()
    assert sandbox.control("GET", "requests")["total"] == 0


def test_clock_advance_moves_the_sandbox_clock(sandbox: SandboxHandle) -> None:
    before = sandbox.control("GET", "clock")["now"]
    after = sandbox.control("POST", "clock/advance", {"ms": 3_600_000})["now"]
    assert 3_600_000 <= after - before < 3_660_000
    bad = httpx.post(f"{sandbox.base_url}/_sandbox/clock/advance", headers=sandbox.headers(), json={"ms": -5})
    assert bad.status_code == 400


def test_inject_creates_an_inbound_message_with_events(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a, _b, conv_a, _conv_b = shared_pair(client)
    other = next(
        c for c in all_conversations(client, a["id"]) if c["conversationId"] != conv_a["conversationId"]
    )
    with sandbox.ws() as ws:
        recv(ws)
        injected = sandbox.control(
            "POST",
            "inject",
            {"accountId": a["id"], "conversationUrn": other["conversationUrn"], "text": "ping"},
        )
        events = recv_events(ws, 2)
    assert [e["type"] for e in events] == ["message.created", "conversation.updated"]
    assert events[0]["message"]["text"] == "ping" and events[0]["message"]["isSentByOwner"] is False
    assert "originSessionId" not in events[0]
    assert events[1]["unreadCount"] == other["unreadCount"] + 1
    newest = all_messages(client, other["conversationUrn"], a["id"])[0]
    assert newest["messageUrn"] == injected["messageUrn"]


def test_other_session_recall_with_and_without_event(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv_urn, own = own_recent(client, a["id"])
    token = own["messageUrn"].rsplit(",", 1)[1][:-1]
    others = [m for m in all_messages(client, conv_urn, a["id"]) if m["messageUrn"] != own["messageUrn"]]
    with sandbox.ws() as ws:
        recv(ws)
        sandbox.control("POST", "recall", {"messageId": token, "emitEvent": True})
        events = drain(ws)
        recalled = [e for e in events if e["type"] == "message.recalled"]
        assert len(recalled) == 1 and recalled[0]["messageId"] == token
        assert all(e["originSessionId"] == "sandbox-other-session" for e in events)
        quiet = others[0]["messageUrn"].rsplit(",", 1)[1][:-1]
        sandbox.control("POST", "recall", {"messageId": quiet, "emitEvent": False})
        assert no_more_events(ws)
    left = visible(client, conv_urn, a["id"])
    assert own["messageUrn"] not in left and others[0]["messageUrn"] not in left


def test_reset_restarts_seq_and_drops_streams(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv_urn, _ = own_recent(client, a["id"])
    sandbox.control("POST", "inject", {"accountId": a["id"], "conversationUrn": conv_urn, "text": "x"})
    with sandbox.ws() as ws:
        assert recv(ws)["seq"] >= 2
        sandbox.control("POST", "reset")
        with pytest.raises(ConnectionClosed):
            recv(ws, 3)
    with sandbox.ws() as ws:
        assert recv(ws)["seq"] == 0
