"""The same flows against both profiles (``sandbox_any_profile``), read the way spec §8 asks a client to.

A tolerant reader: no [chosen] field is relied on (the thread of a sent message is the one sent into;
order comes from ``sentAt``, not from the page), and the seatless account is left alone.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import SandboxHandle
from tests.sync.sandbox.helpers import all_conversations, all_messages, messages_page, recall

pytestmark = pytest.mark.timeout(60)


def usable_accounts(client: httpx.Client) -> list[dict[str, Any]]:
    """A1's accounts that may be synced: ``apiSeatAllocated`` is absent in the contract profile."""
    return [a for a in client.get("/accounts").json() if a.get("apiSeatAllocated", True)]


def test_send_read_recall_reread(sandbox_any_profile: SandboxHandle) -> None:
    client = sandbox_any_profile.client()
    a = usable_accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]["conversationUrn"]
    sent = client.post(
        "/conversations/send", json={"accountId": a["id"], "conversationUrn": conv, "message": "hello"}
    )
    assert sent.status_code == 200, sent.text
    urn = sent.json()["sentMessage"]["messageUrn"]
    newest = max(all_messages(client, conv, a["id"]), key=lambda m: m["sentAt"])
    assert newest["messageUrn"] == urn and newest["text"] == "hello" and newest["isSentByOwner"] is True
    done = recall(client, conv, urn, a["id"])
    assert done.status_code == 200 and done.json() == {"success": True, "messageUrn": urn}
    assert urn not in {m["messageUrn"] for m in all_messages(client, conv, a["id"])}


def test_paging_reaches_every_conversation_and_message(sandbox_any_profile: SandboxHandle) -> None:
    client = sandbox_any_profile.client()
    for account in usable_accounts(client):
        paged = all_conversations(client, account["id"], count=3)
        whole = client.get("/conversations", params={"accountId": account["id"], "count": 100}).json()
        assert sorted(c["conversationId"] for c in paged) == sorted(
            c["conversationId"] for c in whole["conversations"]
        )
        conv = paged[0]["conversationUrn"]
        messages = all_messages(client, conv, account["id"], count=7)
        everything = messages_page(client, conv, account["id"], count=100).json()["messages"]
        assert len(messages) == len(everything) == 20
        assert sorted(m["sentAt"] for m in messages) == sorted(m["sentAt"] for m in everything)


def test_the_fixture_runs_each_profile(
    sandbox_any_profile: SandboxHandle, request: pytest.FixtureRequest
) -> None:
    assert sandbox_any_profile.profile == request.node.callspec.id
    answer = sandbox_any_profile.control("GET", "profile")
    assert answer["profile"] == sandbox_any_profile.profile and answer["rateLimit"] is False
