"""Every endpoint of spec §2 against the real sandbox: success shapes, orderings and error codes.

The ``sandbox`` fixture validates every response these tests receive against openapi.yaml.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import FIXED_NOW, SandboxHandle, enc
from tests.sync.sandbox.helpers import (
    accounts,
    all_conversations,
    all_messages,
    messages_page,
    recv,
    recv_events,
    shared_pair,
)

pytestmark = pytest.mark.timeout(60)


def error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["success"] is False and body["message"] and body["error"]
    return response.status_code, body["code"]


# -- auth, headers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/accounts"),
        ("GET", "/conversations"),
        ("POST", "/conversations/send"),
        ("DELETE", "/conversations/x/messages/y"),
        ("GET", "/_sandbox/requests"),
    ],
)
def test_missing_or_wrong_key_is_401(sandbox: SandboxHandle, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": sandbox.key}):
        response = httpx.request(method, sandbox.base_url + path, headers=headers)
        assert error(response) == (401, "UNAUTHORIZED")


def test_every_response_has_a_date_header_from_the_sandbox_clock(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    ok = client.get("/accounts")
    bad = client.get("/account/status", params={"accountId": "zz"})
    for response in (ok, bad):
        date = parsedate_to_datetime(response.headers["Date"]).timestamp() * 1000
        assert abs(date - FIXED_NOW) < 60_000  # the sandbox clock (--now), not the machine's
    sandbox.control("POST", "clock/advance", {"ms": 86_400_000})
    later = parsedate_to_datetime(client.get("/accounts").headers["Date"]).timestamp() * 1000
    assert abs(later - FIXED_NOW - 86_400_000) < 60_000


def test_unknown_route_is_404(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    assert client.get("/nothing/here").status_code == 404
    assert client.put("/accounts").status_code == 404


# -- A1, A2 -------------------------------------------------------------------------------------------------


def test_a1_lists_both_accounts_and_filters_with_q(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    listed = accounts(client)
    assert len(listed) == 2
    for account in listed:
        assert set(account) >= {"id", "firstName", "lastName", "publicId", "picture", "status", "enabled"}
    first = listed[0]
    found = client.get("/accounts", params={"q": first["lastName"].upper()}).json()
    assert first["id"] in [a["id"] for a in found]
    assert client.get("/accounts", params={"q": "no-such-person-zz"}).json() == []


def test_a2_default_and_by_id_with_profile_urn(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a, b = accounts(client)
    default = client.get("/account/status").json()
    assert default["id"] == a["id"]
    assert default["profileUrn"].startswith("urn:li:fsd_profile:ACoAA")
    other = client.get("/account/status", params={"accountId": b["id"]}).json()
    assert other["id"] == b["id"] and other["profileUrn"] != default["profileUrn"]
    assert "lastUsed" in other


def test_a2_errors(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    assert error(client.get("/account/status", params={"accountId": "ABC"})) == (400, "INVALID_ACCOUNT_ID")
    assert error(client.get("/account/status", params={"accountId": "A" * 24})) == (400, "INVALID_ACCOUNT_ID")
    assert error(client.get("/account/status", params={"accountId": "f" * 24})) == (404, "ACCOUNT_NOT_FOUND")


# -- C1 -----------------------------------------------------------------------------------------------------


def test_c1_pages_in_order_with_keyset_cursor(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    everything = all_conversations(client, a["id"], count=100)
    paged = all_conversations(client, a["id"], count=3)
    assert [c["conversationUrn"] for c in paged] == [c["conversationUrn"] for c in everything]
    keys = [(c["lastActivityAt"], c["conversationId"]) for c in everything]
    assert keys == sorted(keys, reverse=True)
    for conv in everything:
        assert conv["accountId"] == a["id"]
        assert (
            conv["conversationUrn"]
            == f"urn:li:msg_conversation:({prefix(client, a)},{conv['conversationId']})"
        )


def prefix(client: httpx.Client, account: dict[str, Any]) -> str:
    return str(client.get("/account/status", params={"accountId": account["id"]}).json()["profileUrn"])


def test_c1_default_count_is_20_and_bounds_are_1_to_100(sandbox: SandboxHandle) -> None:
    sandbox.reset(conversations=40, messagesPerConversation=2)
    client = sandbox.client()
    a = accounts(client)[0]
    page = client.get("/conversations", params={"accountId": a["id"]}).json()
    assert len(page["conversations"]) == 20 and page["hasMore"] is True
    for bad in ("0", "101", "x", "-1"):
        response = client.get("/conversations", params={"accountId": a["id"], "count": bad})
        assert error(response) == (400, "VALIDATION_ERROR")
    assert (
        len(client.get("/conversations", params={"accountId": a["id"], "count": 1}).json()["conversations"])
        == 1
    )


def test_c1_cursor_errors(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a, b = accounts(client)
    page = client.get("/conversations", params={"accountId": a["id"], "count": 2}).json()
    cursor = page["nextCursor"]
    assert isinstance(cursor, str)
    for bad in ("garbage!", "eyJ4IjoxfQ", cursor[:-3]):
        assert error(client.get("/conversations", params={"accountId": a["id"], "nextCursor": bad})) == (
            400,
            "INVALID_CURSOR",
        )
    foreign = client.get("/conversations", params={"accountId": b["id"], "nextCursor": cursor})
    assert error(foreign) == (400, "INVALID_CURSOR")
    sandbox.reset()
    expired = client.get("/conversations", params={"accountId": a["id"], "nextCursor": cursor})
    assert error(expired) == (400, "INVALID_CURSOR")


def test_c1_unread_only_and_labeled_only(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    unread = all_conversations(client, a["id"], unreadOnly="true")
    assert unread and all(c["unreadCount"] > 0 for c in unread)
    assert len(unread) == sum(1 for c in all_conversations(client, a["id"]) if c["unreadCount"] > 0)
    labeled = client.get("/conversations", params={"accountId": a["id"], "labeledOnly": "true"}).json()
    assert labeled["conversations"] == [] and labeled["hasMore"] is False
    assert error(client.get("/conversations", params={"unreadOnly": "maybe"})) == (400, "VALIDATION_ERROR")


def test_c1_account_errors(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    assert error(client.get("/conversations", params={"accountId": "xyz"})) == (400, "INVALID_ACCOUNT_ID")
    assert error(client.get("/conversations", params={"accountId": "0" * 24})) == (404, "ACCOUNT_NOT_FOUND")


# -- C2 -----------------------------------------------------------------------------------------------------


def test_c2_pages_newest_first_and_since_is_exclusive(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    everything = all_messages(client, conv["conversationUrn"], a["id"])
    assert len(everything) == 20
    assert [m["messageUrn"] for m in all_messages(client, conv["conversationUrn"], a["id"], count=7)] == [
        m["messageUrn"] for m in everything
    ]
    keys = [(m["sentAt"], m["messageUrn"]) for m in everything]
    assert keys == sorted(keys, reverse=True)
    pivot = everything[5]["sentAt"]
    newer = messages_page(client, conv["conversationUrn"], a["id"], since=pivot).json()
    assert [m["messageUrn"] for m in newer["messages"]] == [m["messageUrn"] for m in everything[:5]]
    assert newer["hasMore"] is False and newer["cursor"] is None
    paged_since = messages_page(client, conv["conversationUrn"], a["id"], since=pivot, count=2).json()
    assert paged_since["hasMore"] is True
    rest = messages_page(
        client, conv["conversationUrn"], a["id"], since=pivot, count=100, cursor=paged_since["cursor"]
    ).json()
    assert len(paged_since["messages"]) + len(rest["messages"]) == 5  # pages never reach past since


def test_c2_message_items_and_participants(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    page = messages_page(client, conv["conversationUrn"], a["id"]).json()
    assert page["participants"] == conv["participants"]
    for message in page["messages"]:
        assert message["messageUrn"].startswith(f"urn:li:msg_message:({prefix(client, a)},2-")
        assert isinstance(message["reactions"], list) and isinstance(message["attachments"], list)
        assert message["hasAttachment"] == bool(message["attachments"])


def test_c2_errors(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a, b, conv_a, conv_b = shared_pair(client)
    urn = conv_a["conversationUrn"]
    assert error(messages_page(client, urn, a["id"], count=0)) == (400, "VALIDATION_ERROR")
    assert error(messages_page(client, urn, a["id"], count=101)) == (400, "VALIDATION_ERROR")
    assert error(messages_page(client, urn, a["id"], since="yesterday")) == (400, "VALIDATION_ERROR")
    assert error(messages_page(client, urn, a["id"], cursor="nope")) == (400, "INVALID_CURSOR")
    assert error(messages_page(client, urn, b["id"])) == (400, "INVALID_URN")  # a's prefix for b
    assert error(messages_page(client, "urn:li:msg_conversation:(bad)", a["id"])) == (400, "INVALID_URN")
    gone = urn.replace(conv_a["conversationId"], "2-bm90aGVyZQ==")
    assert error(messages_page(client, gone, a["id"])) == (404, "CONVERSATION_NOT_FOUND")
    assert error(messages_page(client, urn, "1" * 23)) == (400, "INVALID_ACCOUNT_ID")
    other = all_messages(client, conv_b["conversationUrn"], b["id"], count=2)
    cursor_b = messages_page(client, conv_b["conversationUrn"], b["id"], count=2).json()["cursor"]
    assert other and error(messages_page(client, urn, a["id"], cursor=cursor_b)) == (400, "INVALID_CURSOR")


def test_c2_accepts_the_backend_thread_form(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    backend = f"urn:li:messagingThread:{conv['conversationId']}"
    page = messages_page(client, backend, a["id"]).json()
    assert [m["messageUrn"] for m in page["messages"]] == [
        m["messageUrn"] for m in all_messages(client, conv["conversationUrn"], a["id"])
    ]


# -- C3 -----------------------------------------------------------------------------------------------------


def test_c3_reply_in_shared_thread_creates_one_event_per_mailbox(sandbox: SandboxHandle) -> None:
    client = sandbox.client("sender-session")
    a, b, conv_a, conv_b = shared_pair(client)
    with sandbox.ws() as ws:
        recv(ws)
        response = client.post(
            "/conversations/send",
            json={
                "accountId": a["id"],
                "conversationUrn": conv_a["conversationUrn"],
                "message": "Hello both 👋",
            },
        )
        assert response.status_code == 200, response.text
        events = recv_events(ws, 3)
    body = response.json()
    assert body["conversationUrn"] == conv_a["conversationUrn"]
    sent = body["sentMessage"]
    assert sent["text"] == "Hello both 👋" and sent["isSentByOwner"] is True
    created = [e for e in events if e["type"] == "message.created"]
    assert sorted(e["accountId"] for e in created) == sorted([a["id"], b["id"]])
    by_account = {e["accountId"]: e for e in created}
    assert by_account[a["id"]]["message"]["isSentByOwner"] is True
    assert by_account[b["id"]]["message"]["isSentByOwner"] is False
    assert by_account[b["id"]]["conversationUrn"] == conv_b["conversationUrn"]
    assert all(e["originSessionId"] == "sender-session" for e in events)
    updated = [e for e in events if e["type"] == "conversation.updated"]
    assert [(e["accountId"], e["unreadCount"]) for e in updated] == [(b["id"], conv_b["unreadCount"] + 1)]
    newest = all_messages(client, conv_b["conversationUrn"], b["id"])[0]
    assert newest["text"] == "Hello both 👋"


def test_c3_new_thread_to_a_profile_then_reuses_it(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a, b = accounts(client)
    b_urn = prefix(client, b)
    before = {c["conversationId"] for c in all_conversations(client, a["id"])}
    # b's contacts are not in a 1:1 thread with a
    contact = all_conversations(client, b["id"])[-1]["participants"][0]
    first = client.post(
        "/conversations/send",
        json={"accountId": a["id"], "recipientProfileId": contact["profileId"], "message": "Hi there"},
    )
    assert first.status_code == 200, first.text
    new_urn = first.json()["conversationUrn"]
    assert first.json()["recipientProfileUrn"] == f"urn:li:fsd_profile:{contact['profileId']}"
    after = all_conversations(client, a["id"])
    assert after[0]["conversationUrn"] == new_urn
    assert after[0]["conversationId"] not in before
    again = client.post(
        "/conversations/send",
        json={
            "accountId": a["id"],
            "recipientProfileUrn": f"urn:li:fsd_profile:{contact['profileId']}",
            "message": "2",
        },
    )
    assert again.json()["conversationUrn"] == new_urn
    assert len(all_messages(client, new_urn, a["id"])) == 2
    to_b = client.post(
        "/conversations/send", json={"accountId": a["id"], "recipientProfileUrn": b_urn, "message": "x"}
    )
    assert to_b.status_code == 200  # the two accounts already share a thread: it is reused
    assert to_b.json()["conversationUrn"] == shared_pair(client)[2]["conversationUrn"]


def test_c3_errors(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]["conversationUrn"]

    def send(body: Any) -> tuple[int, str]:
        return error(client.post("/conversations/send", json=body))

    assert send({"accountId": a["id"], "conversationUrn": conv, "message": ""}) == (400, "VALIDATION_ERROR")
    assert send({"accountId": a["id"], "conversationUrn": conv}) == (400, "VALIDATION_ERROR")
    assert send({"accountId": a["id"], "conversationUrn": conv, "message": "x" * 8001}) == (
        400,
        "VALIDATION_ERROR",
    )
    assert send({"accountId": a["id"], "message": "hi"}) == (400, "VALIDATION_ERROR")
    assert send({"accountId": a["id"], "recipientProfileId": "ACoAAnobody", "message": "hi"}) == (
        400,
        "VALIDATION_ERROR",
    )
    assert send({"accountId": a["id"], "recipientProfileUrn": "urn:li:member:1", "message": "hi"}) == (
        400,
        "INVALID_URN",
    )
    assert send({"accountId": a["id"], "conversationUrn": "urn:li:nope", "message": "hi"}) == (
        400,
        "INVALID_URN",
    )
    assert send({"accountId": "BAD", "conversationUrn": conv, "message": "hi"}) == (400, "INVALID_ACCOUNT_ID")
    not_json = client.post(
        "/conversations/send", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert error(not_json) == (400, "VALIDATION_ERROR")
    assert (
        client.post(
            "/conversations/send", json={"accountId": a["id"], "conversationUrn": conv, "message": "x" * 8000}
        ).status_code
        == 200
    )


def test_c3_daily_quota_of_new_conversations(sandbox: SandboxHandle) -> None:
    sandbox.reset(conversations=460, messagesPerConversation=1)
    client = sandbox.client()
    a, b = accounts(client)
    # b's contacts have no 1:1 thread with a, so each send to one of them opens a new conversation
    contacts = [c["participants"][0]["profileId"] for c in all_conversations(client, b["id"])]
    statuses = []
    opened = 0
    for profile_id in dict.fromkeys(contacts):
        response = client.post(
            "/conversations/send",
            json={"accountId": a["id"], "recipientProfileId": profile_id, "message": "hi"},
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.json()["code"] == "DAILY_QUOTA_EXCEEDED"
            assert int(response.headers["Retry-After"]) > 0
            break
        opened += 1
    assert statuses[-1] == 429
    assert opened >= 150 - 1  # the shared thread with b may be reused once; every other send opened one
    reply = client.post(
        "/conversations/send",
        json={
            "accountId": a["id"],
            "conversationUrn": all_conversations(client, a["id"])[0]["conversationUrn"],
            "message": "ok",
        },
    )
    assert reply.status_code == 200  # replies are unlimited


# -- C7 -----------------------------------------------------------------------------------------------------


def test_c7_react_adds_and_removes_with_events_per_mailbox(sandbox: SandboxHandle) -> None:
    client = sandbox.client("reactor")
    a, b, conv_a, _conv_b = shared_pair(client)
    target = all_messages(client, conv_a["conversationUrn"], a["id"])[0]
    path = f"/conversations/{enc(conv_a['conversationUrn'])}/messages/{enc(target['messageUrn'])}/react"
    with sandbox.ws() as ws:
        recv(ws)
        added = client.post(path, params={"accountId": a["id"]}, json={"emoji": "🚀", "react": True})
        assert added.status_code == 200
        assert added.json() == {
            "success": True,
            "messageUrn": target["messageUrn"],
            "emoji": "🚀",
            "react": True,
        }
        events = recv_events(ws, 2)
    assert sorted(e["accountId"] for e in events) == sorted([a["id"], b["id"]])
    for event in events:
        assert event["type"] == "message.reacted" and event["emoji"] == "🚀" and event["react"] is True
        assert event["actorProfileId"] == prefix(client, a).rsplit(":", 1)[1]
        rocket = [r for r in event["reactions"] if r["emoji"] == "🚀"]
        assert rocket[0]["count"] == 1 and rocket[0]["reactedByOwner"] == (event["accountId"] == a["id"])
    mine = all_messages(client, conv_a["conversationUrn"], a["id"])[0]["reactions"]
    assert {"emoji": "🚀", "count": 1, "reactedByOwner": True} in mine
    removed = client.post(path, params={"accountId": a["id"]}, json={"emoji": "🚀", "react": False})
    assert removed.status_code == 200
    assert all(
        r["emoji"] != "🚀" for r in all_messages(client, conv_a["conversationUrn"], a["id"])[0]["reactions"]
    )


def test_c7_errors(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    msg = all_messages(client, conv["conversationUrn"], a["id"])[0]
    path = f"/conversations/{enc(conv['conversationUrn'])}/messages/{enc(msg['messageUrn'])}/react"
    assert error(client.post(path, params={"accountId": a["id"]}, json={"emoji": "", "react": True})) == (
        400,
        "VALIDATION_ERROR",
    )
    assert error(client.post(path, params={"accountId": a["id"]}, json={"emoji": "👍", "react": "yes"})) == (
        400,
        "VALIDATION_ERROR",
    )
    unknown_msg = msg["messageUrn"][:-6] + "QUFB=)"
    unknown = f"/conversations/{enc(conv['conversationUrn'])}/messages/{enc(unknown_msg)}/react"
    assert error(
        client.post(unknown, params={"accountId": a["id"]}, json={"emoji": "👍", "react": True})
    ) == (
        400,
        "MESSAGE_NOT_FOUND",
    )


# -- C8–C10, M1 ---------------------------------------------------------------------------------------------


def test_c8_c9_c10_m1_change_state_and_emit_conversation_updated(sandbox: SandboxHandle) -> None:
    client = sandbox.client("marker")
    a = accounts(client)[0]
    conv = next(c for c in all_conversations(client, a["id"]) if c["unreadCount"] == 0 and not c["starred"])
    urn = conv["conversationUrn"]
    with sandbox.ws() as ws:
        recv(ws)
        for action in ("mark-unread", "star", "unstar", "star"):
            response = client.patch(f"/conversations/{enc(urn)}/{action}")
            assert response.status_code == 200
            assert response.json() == {"success": True, "conversationUrn": urn}
        seen = client.post("/messaging/mark-seen", json={"accountId": a["id"], "conversationUrn": urn})
        assert seen.json() == {"success": True, "conversationUrn": urn}
        events = recv_events(ws, 5)
    assert all(e["type"] == "conversation.updated" and e["accountId"] == a["id"] for e in events)
    assert [e.get("unreadCount") for e in events] == [1, None, None, None, 0]
    assert [e.get("starred") for e in events] == [None, True, False, True, None]
    now = next(c for c in all_conversations(client, a["id"]) if c["conversationUrn"] == urn)
    assert now["starred"] is True and now["unreadCount"] == 0


def test_c8_to_m1_errors(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    backend = f"urn:li:messagingThread:{conv['conversationId']}"
    assert error(client.patch(f"/conversations/{enc(backend)}/star")) == (
        400,
        "INVALID_URN",
    )  # names no mailbox
    assert error(client.patch(f"/conversations/{enc('urn:li:bad')}/mark-unread")) == (400, "INVALID_URN")
    unknown = conv["conversationUrn"].replace(conv["conversationId"], "2-eHl6")
    assert error(client.patch(f"/conversations/{enc(unknown)}/unstar")) == (404, "CONVERSATION_NOT_FOUND")
    stranger = conv["conversationUrn"].replace(prefix(client, a), "urn:li:fsd_profile:ACoAAstranger")
    assert error(client.patch(f"/conversations/{enc(stranger)}/star")) == (404, "ACCOUNT_NOT_FOUND")
    assert error(client.post("/messaging/mark-seen", json={"accountId": a["id"]})) == (
        400,
        "VALIDATION_ERROR",
    )
    assert error(client.post("/messaging/mark-seen", json={"conversationUrn": "nope"})) == (
        400,
        "INVALID_URN",
    )


# -- C11–C14 ------------------------------------------------------------------------------------------------


def test_c11_c12_sync_and_status(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a, b = accounts(client)
    synced = client.post("/conversations/sync", json={"accountId": a["id"], "force": True}).json()
    conversations = all_conversations(client, a["id"])
    assert synced["conversationsProcessed"] == len(conversations)
    assert synced["messagesProcessed"] == len(conversations) * 20
    assert client.post("/conversations/sync").status_code == 200  # the body is optional
    status = client.get("/conversations/sync/status").json()
    assert [s["accountId"] for s in status["accounts"]] == [a["id"], b["id"]]
    one = client.get("/conversations/sync/status", params={"accountId": b["id"]}).json()["accounts"]
    assert len(one) == 1 and one[0]["syncState"]["totalConversations"] == len(
        all_conversations(client, b["id"])
    )
    assert error(client.post("/conversations/sync", json={"accountId": "nope"})) == (
        400,
        "INVALID_ACCOUNT_ID",
    )
    assert error(client.post("/conversations/sync", json={"force": "yes"})) == (400, "VALIDATION_ERROR")


def test_c13_refresh_answers_then_sends_conversation_refreshed(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    with sandbox.ws() as ws:
        recv(ws)
        response = client.post(
            "/conversations/refresh", json={"accountId": a["id"], "conversationUrn": conv["conversationUrn"]}
        )
        assert response.status_code == 200
        assert response.json()["conversationUrn"] == conv["conversationUrn"]
        event = recv_events(ws, 1)[0]
    assert event["type"] == "conversation.refreshed"
    assert [m["messageUrn"] for m in event["messages"]] == [
        m["messageUrn"] for m in all_messages(client, conv["conversationUrn"], a["id"])
    ]
    assert error(client.post("/conversations/refresh", json={"accountId": a["id"]})) == (
        400,
        "VALIDATION_ERROR",
    )


def test_c14_exists(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a, b, conv_a, _conv_b = shared_pair(client)
    yes = client.get(f"/conversations/exists/{b['publicId']}", params={"accountId": a["id"]}).json()
    assert yes["hasConversation"] is True and yes["conversationUrn"] == conv_a["conversationUrn"]
    assert yes["profileUrn"] == prefix(client, b) and yes["accountId"] == a["id"]
    # a contact of b only: a has no conversation with them
    b_contact_urn = all_conversations(client, b["id"])[-1]["participants"][0]["profileUrl"]
    slug = b_contact_urn.rsplit("/", 1)[1]
    no = client.get(f"/conversations/exists/{slug}", params={"accountId": a["id"]}).json()
    assert no["hasConversation"] is False and no["conversationUrn"] is None
    assert error(client.get("/conversations/exists/nobody-at-all-123")) == (404, "CONVERSATION_NOT_FOUND")
