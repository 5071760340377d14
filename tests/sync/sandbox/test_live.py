"""``--live``: contacts reply now and then as ``message.created`` (a hidden option shortens the wait)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sync.sandbox.helpers import recv, recv_events

pytestmark = pytest.mark.timeout(30)


def test_live_contacts_reply(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--live", "--live-interval-s", "0.4")
    with handle.ws() as ws:
        assert recv(ws)["type"] == "hello"
        event = recv_events(ws, 1, timeout=10)[0]
    assert event["type"] == "message.created"
    assert event["message"]["isSentByOwner"] is False
    assert "originSessionId" not in event


def test_without_live_nobody_replies(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--live-interval-s", "0.2")
    with handle.ws() as ws:
        recv(ws)
        with pytest.raises(TimeoutError):
            recv(ws, timeout=1.0)


def test_a_live_reply_makes_the_servers_copy_as_fresh_as_the_reply(sandbox_factory: Any) -> None:
    """The reply is in the server's copy of LinkedIn, so C12 ``lastSyncAt`` of its account is not older
    than it (the app's "LinkedIn data as of …" stayed at the seed time while replies kept coming)."""
    handle = sandbox_factory("--live", "--live-interval-s", "0.4")
    client = handle.client()

    def last_sync_at() -> dict[str, Any]:
        status = client.get("/conversations/sync/status").json()["accounts"]
        return {s["accountId"]: s["syncState"]["lastSyncAt"] for s in status}

    before = last_sync_at()
    with handle.ws() as ws:
        assert recv(ws)["type"] == "hello"
        event = recv_events(ws, 1, timeout=10)[0]
    after = last_sync_at()
    account_id = event["accountId"]
    assert after[account_id] >= event["message"]["sentAt"] > before[account_id]
