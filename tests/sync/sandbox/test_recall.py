"""C6 recall against the real sandbox process: LinkedIn's rules and codes, normalized-id removal, events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.sandbox import SandboxHandle, enc
from tests.sync.sandbox.helpers import (
    WINDOW_MS,
    accounts,
    all_conversations,
    all_messages,
    no_more_events,
    recall,
    recv,
    recv_events,
    server_now,
    shared_pair,
)

pytestmark = pytest.mark.timeout(60)


def own_in_window(client: Any, conv: dict[str, Any], account_id: str) -> dict[str, Any]:
    now = server_now(client)
    for message in all_messages(client, conv["conversationUrn"], account_id):
        if message["isSentByOwner"] and now - message["sentAt"] < WINDOW_MS - 120_000:
            return message
    raise AssertionError("no own message inside the recall window")


def test_recall_in_shared_conversation_removes_it_from_both_mailboxes(sandbox: SandboxHandle) -> None:
    client = sandbox.client("sess-a")
    a, b, conv_a, conv_b = shared_pair(client)
    target = own_in_window(client, conv_a, a["id"])
    token = target["messageUrn"].rsplit(",", 1)[1][:-1]
    copies_b = [
        m for m in all_messages(client, conv_b["conversationUrn"], b["id"]) if token in m["messageUrn"]
    ]
    assert len(copies_b) == 1 and copies_b[0]["isSentByOwner"] is False  # same message, other mailbox
    assert copies_b[0]["messageUrn"] != target["messageUrn"]  # different prefix

    response = recall(client, conv_a["conversationUrn"], target["messageUrn"], a["id"])

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "messageUrn": target["messageUrn"]}
    for account, conv in ((a, conv_a), (b, conv_b)):
        remaining = all_messages(client, conv["conversationUrn"], account["id"])
        assert all(token not in m["messageUrn"] for m in remaining)


def test_recalled_message_leaves_latest_message_but_not_last_activity(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    newest = all_messages(client, conv["conversationUrn"], a["id"])[0]
    if not newest["isSentByOwner"]:  # make the newest message our own, so we may recall it
        sent = client.post(
            "/conversations/send",
            json={"accountId": a["id"], "conversationUrn": conv["conversationUrn"], "message": "recall me"},
        )
        assert sent.status_code == 200
        newest = sent.json()["sentMessage"]
    before = next(
        c for c in all_conversations(client, a["id"]) if c["conversationId"] == conv["conversationId"]
    )
    assert before["latestMessage"]["messageUrn"] == newest["messageUrn"]

    assert recall(client, conv["conversationUrn"], newest["messageUrn"], a["id"]).status_code == 200

    after = next(
        c for c in all_conversations(client, a["id"]) if c["conversationId"] == conv["conversationId"]
    )
    assert after["latestMessage"]["messageUrn"] != newest["messageUrn"]
    assert after["lastActivityAt"] == before["lastActivityAt"]


def test_recall_codes(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a, b, conv_a, conv_b = shared_pair(client)
    messages = all_messages(client, conv_a["conversationUrn"], a["id"])
    inbound = next(m for m in messages if not m["isSentByOwner"])
    own = own_in_window(client, conv_a, a["id"])

    def code(conv_urn: str, msg_urn: str, account_id: str) -> tuple[int, str]:
        response = recall(client, conv_urn, msg_urn, account_id)
        return response.status_code, response.json()["code"]

    assert code(conv_a["conversationUrn"], inbound["messageUrn"], a["id"]) == (400, "RECALL_NOT_OWN")
    # b's mailbox holds a's message too, but b did not send it
    own_in_b = own["messageUrn"].replace(a_prefix(conv_a), a_prefix(conv_b))
    assert code(conv_b["conversationUrn"], own_in_b, b["id"]) == (400, "RECALL_NOT_OWN")
    # a's prefix on b's URNs: the prefix is not this account's
    assert code(conv_a["conversationUrn"], own["messageUrn"], b["id"]) == (400, "INVALID_URN")
    assert code(conv_b["conversationUrn"], own_in_b, a["id"]) == (400, "INVALID_URN")
    assert code("urn:li:msg_conversation:(nope)", own["messageUrn"], a["id"]) == (400, "INVALID_URN")
    assert code(conv_a["conversationUrn"], "urn:li:msg_message:(x,2-abc)", a["id"]) == (400, "INVALID_URN")
    unknown = own["messageUrn"][:-6] + "QUFB=)"
    assert code(conv_a["conversationUrn"], unknown, a["id"]) == (400, "MESSAGE_NOT_FOUND")
    unknown_thread = conv_a["conversationUrn"].replace(conv_a["conversationId"], "2-dW5rbm93bg==")
    assert code(unknown_thread, own["messageUrn"], a["id"]) == (404, "CONVERSATION_NOT_FOUND")
    # a thread b is in and a is not, addressed in a's mailbox: a is not a member
    b_only = next(
        c for c in all_conversations(client, b["id"]) if c["conversationId"] != conv_b["conversationId"]
    )
    foreign_msg = all_messages(client, b_only["conversationUrn"], b["id"])[0]
    as_a = b_only["conversationUrn"].replace(a_prefix(conv_b), a_prefix(conv_a))
    msg_as_a = foreign_msg["messageUrn"].replace(a_prefix(conv_b), a_prefix(conv_a))
    assert code(as_a, msg_as_a, a["id"]) == (400, "RECALL_NOT_MEMBER")
    assert code(conv_a["conversationUrn"], own["messageUrn"], "NOT-HEX") == (400, "INVALID_ACCOUNT_ID")
    assert code(conv_a["conversationUrn"], own["messageUrn"], "0" * 24) == (404, "ACCOUNT_NOT_FOUND")
    # nothing above recalled anything
    assert own["messageUrn"] in {
        m["messageUrn"] for m in all_messages(client, conv_a["conversationUrn"], a["id"])
    }


def a_prefix(conv: dict[str, Any]) -> str:
    """The mailbox prefix of a conversation item."""
    urn: str = conv["conversationUrn"]
    return urn[len("urn:li:msg_conversation:(") : urn.index(",")]


def test_window_expired_then_repeat_recall_is_still_200(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    msgs = [m for m in all_messages(client, conv["conversationUrn"], a["id"]) if m["isSentByOwner"]]
    first, second = msgs[0], msgs[1]
    assert recall(client, conv["conversationUrn"], first["messageUrn"], a["id"]).status_code == 200

    sandbox.control("POST", "clock/advance", {"ms": 2 * WINDOW_MS})

    expired = recall(client, conv["conversationUrn"], second["messageUrn"], a["id"])
    assert (expired.status_code, expired.json()["code"]) == (400, "RECALL_WINDOW_EXPIRED")
    repeat = recall(client, conv["conversationUrn"], first["messageUrn"], a["id"])
    assert repeat.status_code == 200
    assert repeat.json()["messageUrn"] == first["messageUrn"]
    assert second["messageUrn"] in {
        m["messageUrn"] for m in all_messages(client, conv["conversationUrn"], a["id"])
    }


def test_outside_window_own_message_is_expired_without_advancing(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    now = server_now(client)
    for conv in all_conversations(client, a["id"])[:4]:
        old = [
            m
            for m in all_messages(client, conv["conversationUrn"], a["id"])
            if m["isSentByOwner"] and now - m["sentAt"] > WINDOW_MS
        ]
        if old:
            response = recall(client, conv["conversationUrn"], old[0]["messageUrn"], a["id"])
            assert (response.status_code, response.json()["code"]) == (400, "RECALL_WINDOW_EXPIRED")
            return
    raise AssertionError("the seed has no own message outside the window in a recent conversation")


def test_one_message_recalled_event_reaches_two_clients_with_origin_session(sandbox: SandboxHandle) -> None:
    client = sandbox.client("session-recaller")
    a, _b, conv_a, _conv_b = shared_pair(client)
    target = own_in_window(client, conv_a, a["id"])
    token = target["messageUrn"].rsplit(",", 1)[1][:-1]
    with sandbox.ws(session="session-1") as ws1, sandbox.ws(session="session-2") as ws2:
        hellos = [recv(ws1), recv(ws2)]
        assert [h["type"] for h in hellos] == ["hello", "hello"]

        assert recall(client, conv_a["conversationUrn"], target["messageUrn"], a["id"]).status_code == 200

        for ws in (ws1, ws2):
            recalled = [e for e in recv_events(ws, 2) if e["type"] == "message.recalled"]
            assert len(recalled) == 1
            event = recalled[0]
            assert event["originSessionId"] == "session-recaller"
            assert event["messageId"] == token
            assert event["messageUrn"].endswith("," + token + ")")
            assert event["accountId"] == a["id"]
            assert event["conversationUrn"] == conv_a["conversationUrn"]
            assert event["seq"] == hellos[0]["seq"] + 1
            assert isinstance(event["at"], int) and isinstance(event["recalledAt"], int)
            assert no_more_events(ws)


def test_recall_of_unread_message_lowers_unread_and_sends_conversation_updated(
    sandbox: SandboxHandle,
) -> None:
    client = sandbox.client("s1")
    a, b, conv_a, conv_b = shared_pair(client)
    assert conv_b["unreadCount"] >= 1
    # In b's mailbox a's newest messages are inbound and unread: recall the newest of a's own messages.
    own = next(m for m in all_messages(client, conv_a["conversationUrn"], a["id"]) if m["isSentByOwner"])
    with sandbox.ws() as ws:
        recv(ws)
        assert recall(client, conv_a["conversationUrn"], own["messageUrn"], a["id"]).status_code == 200
        events = recv_events(ws, 2)
    assert [e["type"] for e in events] == ["message.recalled", "conversation.updated"]
    updated = events[1]
    assert updated["accountId"] == b["id"]
    assert updated["conversationUrn"] == conv_b["conversationUrn"]
    assert updated["unreadCount"] == conv_b["unreadCount"] - 1
    after_b = next(
        c for c in all_conversations(client, b["id"]) if c["conversationId"] == conv_b["conversationId"]
    )
    assert after_b["unreadCount"] == conv_b["unreadCount"] - 1
    after_a = next(
        c for c in all_conversations(client, a["id"]) if c["conversationId"] == conv_a["conversationId"]
    )
    assert after_a["unreadCount"] == conv_a["unreadCount"]  # it was a's own message: a's count is unchanged


def test_recall_with_percent_encoded_plus_slash_equals_tokens(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    edge = next(
        c for c in all_conversations(client, a["id"]) if all(ch in c["conversationId"] for ch in "+/=")
    )
    own = own_in_window(client, edge, a["id"])
    assert all(ch in own["messageUrn"] for ch in "+/=")
    path = f"/conversations/{enc(edge['conversationUrn'])}/messages/{enc(own['messageUrn'])}"
    assert "%2F" in path and "%2B" in path and "%3D" in path

    response = client.delete(path, params={"accountId": a["id"]})

    assert response.status_code == 200, response.text
    assert response.json()["messageUrn"] == own["messageUrn"]
    assert own["messageUrn"] not in {
        m["messageUrn"] for m in all_messages(client, edge["conversationUrn"], a["id"])
    }


def test_recall_accepts_the_backend_message_form(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    own = own_in_window(client, conv, a["id"])
    token = own["messageUrn"].rsplit(",", 1)[1][:-1]

    response = client.delete(
        f"/conversations/{enc(conv['conversationUrn'])}/messages/{enc('urn:li:messagingMessage:' + token)}",
        params={"accountId": a["id"]},
    )

    assert response.status_code == 200
    assert response.json()["messageUrn"] == "urn:li:messagingMessage:" + token
    assert own["messageUrn"] not in {
        m["messageUrn"] for m in all_messages(client, conv["conversationUrn"], a["id"])
    }
