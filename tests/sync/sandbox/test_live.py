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
