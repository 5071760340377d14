"""Keyset cursors (C1, C2) stay stable when recalls and new messages land between two page fetches."""

from __future__ import annotations

import pytest

from tests.fixtures.sandbox import SandboxHandle
from tests.sync.sandbox.helpers import accounts, all_conversations, all_messages, messages_page, recall

pytestmark = pytest.mark.timeout(60)


def test_c1_new_message_and_recall_between_pages_neither_skip_nor_repeat(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    snapshot = [c["conversationId"] for c in all_conversations(client, a["id"])]
    first = client.get("/conversations", params={"accountId": a["id"], "count": 4}).json()
    seen = [c["conversationId"] for c in first["conversations"]]
    assert seen == snapshot[:4]

    # Between the pages: a new message in an already-seen conversation (it stays at the top), a new
    # conversation (also above the cursor), and a recall of the newest message of a seen conversation.
    bumped = first["conversations"][2]
    sent = client.post(
        "/conversations/send",
        json={"accountId": a["id"], "conversationUrn": bumped["conversationUrn"], "message": "bump"},
    )
    assert sent.status_code == 200
    contact = all_conversations(client, accounts(client)[1]["id"])[-1]["participants"][0]["profileId"]
    assert (
        client.post(
            "/conversations/send",
            json={"accountId": a["id"], "recipientProfileId": contact, "message": "new"},
        ).status_code
        == 200
    )
    assert (
        recall(
            client, bumped["conversationUrn"], sent.json()["sentMessage"]["messageUrn"], a["id"]
        ).status_code
        == 200
    )

    rest: list[str] = []
    cursor = first["nextCursor"]
    while cursor:
        page = client.get(
            "/conversations", params={"accountId": a["id"], "count": 4, "nextCursor": cursor}
        ).json()
        rest += [c["conversationId"] for c in page["conversations"]]
        cursor = page["nextCursor"]
    assert seen + rest == snapshot  # exactly the original order: nothing skipped, nothing twice


def test_c1_conversation_bumped_from_a_later_page_moves_to_the_top_without_disturbing_others(
    sandbox: SandboxHandle,
) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    snapshot = [c["conversationId"] for c in all_conversations(client, a["id"])]
    first = client.get("/conversations", params={"accountId": a["id"], "count": 4}).json()
    later = all_conversations(client, a["id"])[7]
    sandbox.control(
        "POST", "inject", {"accountId": a["id"], "conversationUrn": later["conversationUrn"], "text": "hi"}
    )

    rest: list[str] = []
    cursor = first["nextCursor"]
    while cursor:
        page = client.get(
            "/conversations", params={"accountId": a["id"], "count": 4, "nextCursor": cursor}
        ).json()
        rest += [c["conversationId"] for c in page["conversations"]]
        cursor = page["nextCursor"]
    # Every other conversation exactly once, in order; the bumped one is not repeated...
    assert [c["conversationId"] for c in first["conversations"]] + rest == [
        x for x in snapshot if x != later["conversationId"]
    ]
    # ...and heads a fresh first page, where an incremental sync finds it.
    assert all_conversations(client, a["id"])[0]["conversationId"] == later["conversationId"]


def test_c2_recall_and_new_message_between_pages_neither_skip_nor_repeat(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    urn = conv["conversationUrn"]
    snapshot = [m["messageUrn"] for m in all_messages(client, urn, a["id"])]
    first = messages_page(client, urn, a["id"], count=5).json()
    assert [m["messageUrn"] for m in first["messages"]] == snapshot[:5]

    own_seen = next(m for m in first["messages"] if m["isSentByOwner"])
    assert recall(client, urn, own_seen["messageUrn"], a["id"]).status_code == 200
    sandbox.control("POST", "inject", {"accountId": a["id"], "conversationUrn": urn, "text": "new one"})
    assert (
        client.post(
            "/conversations/send", json={"accountId": a["id"], "conversationUrn": urn, "message": "mine"}
        ).status_code
        == 200
    )

    rest: list[str] = []
    cursor = first["cursor"]
    while cursor:
        page = messages_page(client, urn, a["id"], count=5, cursor=cursor).json()
        rest += [m["messageUrn"] for m in page["messages"]]
        cursor = page["cursor"]
    assert [m["messageUrn"] for m in first["messages"]] + rest == snapshot


def test_c2_recall_on_a_later_page_only_removes_that_message(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[1]
    urn = conv["conversationUrn"]
    everything = all_messages(client, urn, a["id"])
    first = messages_page(client, urn, a["id"], count=2).json()
    target = next(m for m in everything[2:] if m["isSentByOwner"])
    # a recall needs the open window: recall as another session, the way another device would
    token = target["messageUrn"].rsplit(",", 1)[1][:-1]
    sandbox.control("POST", "recall", {"messageId": token, "emitEvent": False})

    rest = []
    cursor = first["cursor"]
    while cursor:
        page = messages_page(client, urn, a["id"], count=2, cursor=cursor).json()
        rest += [m["messageUrn"] for m in page["messages"]]
        cursor = page["cursor"]
    assert [m["messageUrn"] for m in first["messages"]] + rest == [
        m["messageUrn"] for m in everything if m["messageUrn"] != target["messageUrn"]
    ]
