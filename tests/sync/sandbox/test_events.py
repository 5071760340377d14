"""The event stream (spec §6) over a real WebSocket: hello, seq, resume, heartbeat, auth, on/off, frames."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.fixtures.sandbox import SandboxHandle
from tests.sync.sandbox.helpers import accounts, all_conversations, no_more_events, recv, recv_events

pytestmark = pytest.mark.timeout(60)


def star_toggles(sandbox: SandboxHandle, n: int, session: str = "toggler") -> list[str]:
    """Cause ``n`` events (one per call: star / unstar a single-mailbox conversation)."""
    client = sandbox.client(session)
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[-1]
    from tests.fixtures.sandbox import enc

    for i in range(n):
        action = "star" if i % 2 == 0 else "unstar"
        assert client.patch(f"/conversations/{enc(conv['conversationUrn'])}/{action}").status_code == 200
    return [conv["conversationUrn"]]


def test_hello_comes_first_with_latest_seq(sandbox: SandboxHandle) -> None:
    star_toggles(sandbox, 3)
    with sandbox.ws(session="my-session") as ws:
        hello = recv(ws)
    assert hello == {"type": "hello", "sessionId": "my-session", "seq": 3, "resumed": False}


def test_seq_is_consecutive_and_events_carry_at_and_origin(sandbox: SandboxHandle) -> None:
    with sandbox.ws() as ws:
        hello = recv(ws)
        star_toggles(sandbox, 5, session="origin-x")
        events = recv_events(ws, 5)
    assert [e["seq"] for e in events] == list(range(hello["seq"] + 1, hello["seq"] + 6))
    assert all(e["type"] == "conversation.updated" and e["originSessionId"] == "origin-x" for e in events)
    assert [e["starred"] for e in events] == [True, False, True, False, True]
    assert all(isinstance(e["at"], int) for e in events)


def test_missed_events_are_replayed_in_order_after_hello(sandbox: SandboxHandle) -> None:
    with sandbox.ws() as ws:
        hello = recv(ws)
        star_toggles(sandbox, 2)
        seen = recv_events(ws, 2)
    last = seen[-1]["seq"]
    star_toggles(sandbox, 4)  # missed while disconnected

    with sandbox.ws(since=last) as ws:
        hello = recv(ws)
        replayed = recv_events(ws, 4)
        assert no_more_events(ws)
        star_toggles(sandbox, 1)
        live = recv_events(ws, 1)

    assert hello["type"] == "hello" and hello["resumed"] is True and hello["seq"] == last + 4
    assert [e["seq"] for e in replayed] == [last + 1, last + 2, last + 3, last + 4]
    assert [e["starred"] for e in replayed] == [True, False, True, False]
    assert live[0]["seq"] == last + 5


def test_since_equal_to_latest_resumes_with_nothing_to_replay(sandbox: SandboxHandle) -> None:
    star_toggles(sandbox, 2)
    with sandbox.ws(since=2) as ws:
        hello = recv(ws)
        assert no_more_events(ws)
    assert hello["resumed"] is True and hello["seq"] == 2


def test_since_greater_than_latest_is_not_resumed(sandbox: SandboxHandle) -> None:
    star_toggles(sandbox, 2)
    with sandbox.ws(since=50) as ws:
        hello = recv(ws)
        assert no_more_events(ws)
    assert hello["resumed"] is False and hello["seq"] == 2


def test_since_older_than_a_day_is_not_resumed(sandbox: SandboxHandle) -> None:
    star_toggles(sandbox, 3)
    sandbox.control("POST", "clock/advance", {"ms": 25 * 3600 * 1000})
    with sandbox.ws(since=1) as ws:
        hello = recv(ws)
        assert no_more_events(ws)
    assert hello["resumed"] is False and hello["seq"] == 3


def test_heartbeat_carries_latest_seq(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--heartbeat-s", "0.3")
    with handle.ws() as ws:
        assert recv(ws)["type"] == "hello"
        beat = recv(ws, timeout=3)
    assert beat == {"type": "heartbeat", "seq": 0}


def test_wrong_key_is_refused_with_401(sandbox: SandboxHandle) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(sandbox.ws_url, additional_headers={"Authorization": "Bearer wrong"}, open_timeout=5)
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as missing:
        connect(sandbox.ws_url, open_timeout=5)
    assert missing.value.response.status_code == 401


def test_events_off_answers_404_then_on_again(sandbox: SandboxHandle) -> None:
    with sandbox.ws() as ws:
        recv(ws)
        sandbox.control("POST", "events", {"enabled": False})
        with pytest.raises(ConnectionClosed):
            recv(ws, 3)  # the open stream is closed too
    with pytest.raises(InvalidStatus) as off:
        sandbox.ws()
    assert off.value.response.status_code == 404
    sandbox.control("POST", "events", {"enabled": True})
    with sandbox.ws() as ws:
        assert recv(ws)["type"] == "hello"


def test_a_plain_get_on_the_stream_is_400(sandbox: SandboxHandle) -> None:
    response = httpx.get(sandbox.ws_url.replace("ws://", "http://"), headers=sandbox.headers())
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert response.headers["Date"]


def test_no_events_option_answers_404(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--no-events")
    with pytest.raises(InvalidStatus) as off:
        handle.ws()
    assert off.value.response.status_code == 404


def test_ws_drop_closes_every_stream(sandbox: SandboxHandle) -> None:
    with sandbox.ws() as ws1, sandbox.ws() as ws2:
        recv(ws1)
        recv(ws2)
        assert sandbox.control("POST", "ws/drop")["dropped"] == 2
        for ws in (ws1, ws2):
            with pytest.raises(ConnectionClosed):
                recv(ws, 3)


def test_refresh_frames_hold_at_most_50_messages_and_1_mib(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    big = "😀" * 8000  # 32 KB of UTF-8 each: 40 of them need more than one 1 MiB frame
    for _ in range(40):
        sandbox.control(
            "POST", "inject", {"accountId": a["id"], "conversationUrn": conv["conversationUrn"], "text": big}
        )
    with sandbox.ws(since=None) as ws:
        recv(ws)
        response = client.post(
            "/conversations/refresh", json={"accountId": a["id"], "conversationUrn": conv["conversationUrn"]}
        )
        assert response.status_code == 200
        frames = [ws.recv(timeout=5)]
        with contextlib.suppress(TimeoutError):
            while True:
                frames.append(ws.recv(timeout=0.5))
    events = [json.loads(f) for f in frames]
    assert all(e["type"] == "conversation.refreshed" for e in events)
    assert len(events) >= 2
    assert all(len(e["messages"]) <= 50 for e in events)
    assert all(len(f.encode()) <= 1 << 20 for f in frames)
    sent = [m["sentAt"] for e in events for m in e["messages"]]
    assert sent == sorted(sent, reverse=True)
    assert sum(len(e["messages"]) for e in events) == 60  # every visible message: 40 injected + 20 seeded
