"""The vendor profile (spec §8): one test per row of its table, over HTTP and WebSocket on loopback.

Every answer these tests receive is also validated at teardown against ``tests/fixtures/vendor_schema.py``
(written from vendor-shapes.md, closed objects), by the ``vendor_sandbox`` and ``sandbox_factory``
fixtures; the tests here assert what the schema cannot: values, orders, and that our [chosen] fields
are absent.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import re
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.fixtures.sandbox import FIXED_NOW, SandboxHandle, enc
from tests.fixtures.vendor_schema import ISO_8601
from tests.sync.sandbox.helpers import all_conversations, all_messages, messages_page, recall, recv

pytestmark = pytest.mark.timeout(90)
RECALL_FAILED = {"error": "Recall failed on LinkedIn"}
C1_FIELDS = {
    "conversationUrn",
    "conversationId",
    "lastActivityAt",
    "unreadCount",
    "participants",
    "latestMessage",
}
SENT_FIELDS = {
    "messageUrn",
    "text",
    "sentAt",
    "senderProfileId",
    "senderName",
    "senderPhoto",
    "isSentByOwner",
}


def ms_of(stamp: str) -> int:
    assert re.fullmatch(ISO_8601, stamp), stamp
    return int(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def token_of(sent_at: int) -> str:
    """A well-formed message token (spec §4) that no seeded message has."""
    return "2-" + base64.b64encode(f"{sent_at:013d}b99999-100".encode()).decode()


def seated(client: httpx.Client) -> list[dict[str, Any]]:
    """A1's accounts that hold an API seat (the vendor profile also lists one without)."""
    listed = client.get("/accounts")
    assert listed.status_code == 200, listed.text
    return [a for a in listed.json() if a["apiSeatAllocated"]]


def own_recent(client: httpx.Client, account_id: str) -> tuple[str, dict[str, Any]]:
    """A conversation of the account's and its newest own message (inside the recall window)."""
    conv = all_conversations(client, account_id)[0]["conversationUrn"]
    mine = [m for m in all_messages(client, conv, account_id) if m["isSentByOwner"]]
    return conv, max(mine, key=lambda m: m["sentAt"])


def only_error(response: httpx.Response, status: int) -> str:
    """The text of a ``{"error": "..."}`` body, checking that it is exactly that."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    return str(body["error"])


# -- errors -------------------------------------------------------------------------------------------------


def test_error_bodies_are_the_vendors_three_forms(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a = seated(client)[0]
    only_error(client.get("/account/status", params={"accountId": "f" * 24}), 404)
    only_error(client.get("/conversations", params={"accountId": "not-hex"}), 400)
    only_error(client.get("/no/such/route"), 404)
    bad_count = client.get("/conversations", params={"accountId": a["id"], "count": 0})
    assert bad_count.status_code == 400
    assert bad_count.json() == {
        "success": False,
        "code": "validation_error",
        "message": "count must be 1..100",
    }
    bad_cursor = client.get("/conversations", params={"accountId": a["id"], "nextCursor": "linkedin:junk"})
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "validation_error"
    # a bad body anywhere but C3 is a bad parameter too
    m1 = client.post("/messaging/mark-seen", json=[1])
    assert m1.status_code == 400 and m1.json()["code"] == "validation_error"
    vendor_sandbox.control("POST", "faults", {"path": "^/accounts$", "status": 500})
    only_error(client.get("/accounts"), 500)


@pytest.mark.parametrize(
    ("body", "issue"),
    [
        ({}, {"code": "invalid_type", "expected": "string", "received": "undefined", "path": ["message"]}),
        (
            {"message": 5},
            {"code": "invalid_type", "expected": "string", "received": "number", "path": ["message"]},
        ),
        ({"message": ""}, {"code": "too_small", "path": ["message"]}),
        ({"message": "x" * 8001}, {"code": "too_big", "path": ["message"]}),
        (
            {"message": "hi", "attachments": "x"},
            {"code": "invalid_type", "expected": "array", "path": ["attachments"]},
        ),
        ({"message": "hi", "attachments": [1]}, {"code": "invalid_type", "path": ["attachments", 0]}),
        (
            {"message": "hi", "subject": False},
            {"code": "invalid_type", "received": "boolean", "path": ["subject"]},
        ),
        ({"message": "hi", "conversationUrn": 1}, {"code": "invalid_type", "path": ["conversationUrn"]}),
        ({"message": "hi", "accountId": 7}, {"code": "invalid_type", "path": ["accountId"]}),
        (
            {"message": "hi", "recipientProfileId": "a b"},
            {"code": "invalid_string", "path": ["recipientProfileId"]},
        ),
        ({"message": "hi"}, {"code": "custom", "path": []}),
    ],
)
def test_a_bad_c3_body_is_a_zod_error(
    vendor_sandbox: SandboxHandle, body: dict[str, Any], issue: dict[str, Any]
) -> None:
    response = vendor_sandbox.client().post("/conversations/send", json=body)
    assert response.status_code == 400
    answer = response.json()
    assert set(answer) == {"success", "error"} and answer["success"] is False
    assert answer["error"]["name"] == "ZodError"
    (got,) = answer["error"]["issues"]
    assert {k: got[k] for k in issue} == issue
    assert isinstance(got["message"], str) and got["message"]


def test_a_c3_body_that_is_not_an_object_is_a_zod_error_at_the_root(vendor_sandbox: SandboxHandle) -> None:
    response = vendor_sandbox.client().post("/conversations/send", json=["hi"])
    issue = response.json()["error"]["issues"][0]
    assert (response.status_code, issue["path"], issue["expected"], issue["received"]) == (
        400,
        [],
        "object",
        "array",
    )


def test_401_is_the_documented_body(vendor_sandbox: SandboxHandle) -> None:
    for headers in ({"Authorization": "Bearer wrong"}, {}):
        response = httpx.get(f"{vendor_sandbox.base_url}/conversations", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "Unauthorized - Invalid credentials"}


# -- accounts -----------------------------------------------------------------------------------------------


def test_a1_lists_a_seatless_account_whose_every_call_is_403(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    listed = client.get("/accounts").json()
    assert [a["apiSeatAllocated"] for a in listed] == [True, True, False]
    seatless = listed[2]["id"]
    info = vendor_sandbox.control("GET", "info")["seatlessAccount"]
    assert info["id"] == seatless
    a = listed[0]["id"]
    # URNs in the seatless account's own mailbox, for the routes that take one
    thread = all_conversations(client, a)[0]["conversationId"]
    conv = f"urn:li:msg_conversation:({info['profileUrn']},{thread})"
    msg = f"urn:li:msg_message:({info['profileUrn']},{token_of(FIXED_NOW)})"
    path = f"/conversations/{enc(conv)}"
    calls = {
        "A2": client.get("/account/status", params={"accountId": seatless}),
        "C1": client.get("/conversations", params={"accountId": seatless}),
        "C1 several": client.get("/conversations", params={"linkedinAccountIds": f"{a},{seatless}"}),
        "C2": client.get(f"{path}/messages", params={"accountId": seatless}),
        "C3": client.post(
            "/conversations/send", json={"accountId": seatless, "conversationUrn": conv, "message": "x"}
        ),
        "C6": client.delete(f"{path}/messages/{enc(msg)}", params={"accountId": seatless}),
        "C7": client.post(
            f"{path}/messages/{enc(msg)}/react",
            params={"accountId": seatless},
            json={"emoji": "👍", "react": True},
        ),
        "C8": client.patch(f"{path}/mark-unread"),
        "C9": client.patch(f"{path}/star"),
        "C10": client.patch(f"{path}/unstar"),
        "M1": client.post("/messaging/mark-seen", json={"accountId": seatless, "conversationUrn": conv}),
        "C11": client.post("/conversations/sync", json={"accountId": seatless}),
        "C12": client.get("/conversations/sync/status", params={"accountId": seatless}),
        "C13": client.post("/conversations/refresh", json={"accountId": seatless, "conversationUrn": conv}),
        "C14": client.get("/conversations/exists/someone", params={"accountId": seatless}),
    }
    for name, response in calls.items():
        assert response.status_code == 403, (name, response.text)
        assert "seat" in only_error(response, 403), name
    assert client.get("/conversations", params={"accountId": a}).status_code == 200  # the others carry on


def test_the_contract_profile_has_no_seatless_account(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    seatless = sandbox.control("GET", "info")["seatlessAccount"]["id"]
    listed = client.get("/accounts").json()
    assert len(listed) == 2 and all("apiSeatAllocated" not in a for a in listed)
    unknown = client.get("/account/status", params={"accountId": seatless})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "ACCOUNT_NOT_FOUND")


def test_a2_documented_fields_only(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a, b = seated(client)
    status_a = client.get("/account/status").json()
    assert "profileUrn" not in status_a and "picture" not in status_a
    assert (
        status_a["id"] == a["id"]
        and status_a["platform"] == "ConnectSafely"
        and status_a["hasTokens"] is True
    )
    assert ms_of(status_a["lastUsed"]) == FIXED_NOW - 2 * 3_600_000
    assert status_a["linkedinPlan"]["premiumType"] == "NON_PREMIUM"
    status_b = client.get("/account/status", params={"accountId": b["id"]}).json()
    assert (
        status_b["status"] == "IN_USE" and "linkedinPlan" not in status_b
    )  # a plan only when AVAILABLE/WARMUP
    assert "lastUsed" not in status_b  # never used: left out, not null


# -- C1, C2 -------------------------------------------------------------------------------------------------


def test_c1_items_and_envelope(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a = seated(client)[0]
    page = client.get("/conversations", params={"accountId": a["id"], "count": 3}).json()
    assert page["fromCache"] is True and page["hasMore"] is True
    assert page["nextCursor"].startswith("linkedin:")
    assert page["accounts"] == [{"id": a["id"], "name": f"{a['firstName']} {a['lastName']}"}]
    for item in page["conversations"]:
        assert set(item) == C1_FIELDS  # no accountId, starred or source
        assert ms_of(item["lastActivityAt"]) <= FIXED_NOW + 600_000
        assert set(item["latestMessage"]) == {
            "text",
            "sentAt",
            "senderName",
            "hasAttachment",
        }  # no messageUrn
        assert item["participants"] and set(item["participants"][0]) >= {"profileId", "name", "profileUrl"}
    # the linkedin: cursors reach every conversation once
    listed = all_conversations(client, a["id"], count=3)
    everything = client.get("/conversations", params={"accountId": a["id"], "count": 100}).json()
    assert [c["conversationId"] for c in listed] == [c["conversationId"] for c in everything["conversations"]]
    assert len(listed) == 8


def test_c1_preview_of_an_empty_thread_is_an_empty_object(vendor_sandbox: SandboxHandle) -> None:
    vendor_sandbox.reset(messagesPerConversation=0)
    client = vendor_sandbox.client()
    items = all_conversations(client, seated(client)[0]["id"])
    assert items and all(item["latestMessage"] == {} for item in items)


def test_c2_pages_are_oldest_first_and_the_cursor_reaches_the_oldest(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a = seated(client)[0]
    conv = all_conversations(client, a["id"])[0]["conversationUrn"]
    whole = messages_page(client, conv, a["id"], count=100).json()
    assert len(whole["messages"]) == 20 and whole["hasMore"] is False and whole["cursor"] is None
    oldest = min(whole["messages"], key=lambda m: m["sentAt"])
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"count": 6} if cursor is None else {"count": 6, "cursor": cursor}
        body = messages_page(client, conv, a["id"], **params).json()
        pages.append(body["messages"])
        if not body["hasMore"]:
            assert body["cursor"] is None
            break
        cursor = body["cursor"]
    assert [len(p) for p in pages] == [6, 6, 6, 2]
    for page in pages:
        times = [m["sentAt"] for m in page]
        assert times == sorted(times) and times[0] < times[-1]  # each page oldest first
    for newer, older in itertools.pairwise(pages):
        assert max(m["sentAt"] for m in older) <= min(m["sentAt"] for m in newer)  # pages still walk back
    assert pages[-1][0]["messageUrn"] == oldest["messageUrn"]
    assert {m["messageUrn"] for p in pages for m in p} == {m["messageUrn"] for m in whole["messages"]}


def test_c2_items_and_participants_carry_none_of_ours(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a = seated(client)[0]
    conv = all_conversations(client, a["id"])[0]["conversationUrn"]
    body = messages_page(client, conv, a["id"]).json()
    assert all("reactions" not in m for m in body["messages"])
    assert all(set(p) == {"profileId", "name", "headline", "profilePicture"} for p in body["participants"])
    assert isinstance(body["note"], str)


# -- C3, C6, M1 ---------------------------------------------------------------------------------------------


def test_c3_answer_has_no_conversation_urn_and_a_short_sent_message(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a = seated(client)[0]
    conv = all_conversations(client, a["id"])[0]["conversationUrn"]
    attachment = {
        "file": {
            "assetUrn": "urn:li:digitalmediaAsset:x",
            "byteSize": 3,
            "mediaType": "text/plain",
            "name": "a.txt",
        }
    }
    sent = client.post(
        "/conversations/send",
        json={
            "accountId": a["id"],
            "conversationUrn": conv,
            "message": "with a file",
            "attachments": [attachment],
        },
    )
    assert sent.status_code == 200, sent.text
    answer = sent.json()
    assert set(answer) == {"success", "message", "recipientProfileUrn", "sentMessage"}  # no conversationUrn
    assert set(answer["sentMessage"]) == SENT_FIELDS  # no hasAttachment, attachments or reactions
    assert answer["recipientProfileUrn"].startswith("urn:li:fsd_profile:")
    # the thread is the one sent into: C2 has the message, there with its attachment
    newest_page = messages_page(client, conv, a["id"], count=5).json()["messages"]
    assert newest_page[-1]["messageUrn"] == answer["sentMessage"]["messageUrn"]
    assert newest_page[-1]["hasAttachment"] is True


def test_c3_daily_quota_is_a_429_with_iso_reset_and_no_retry_after(vendor_sandbox: SandboxHandle) -> None:
    vendor_sandbox.reset(conversations=460, messagesPerConversation=1)
    client = vendor_sandbox.client()
    a, b = seated(client)
    b_conversations = all_conversations(client, b["id"])
    contacts = dict.fromkeys(p["profileId"] for c in b_conversations for p in c["participants"])
    first_reply = client.post(
        "/conversations/send",
        json={
            "accountId": a["id"],
            "conversationUrn": all_conversations(client, a["id"])[0]["conversationUrn"],
            "message": "ok",
        },
    )
    # the shared thread lists a among b's contacts, and a cannot message itself
    contacts.pop(first_reply.json()["sentMessage"]["senderProfileId"])
    refused = None
    for profile_id in contacts:
        response = client.post(
            "/conversations/send",
            json={"accountId": a["id"], "recipientProfileId": profile_id, "message": "hi"},
        )
        if response.status_code != 200:
            refused = response
            break
    assert refused is not None and refused.status_code == 429, "150 new conversations were never refused"
    body = refused.json()
    assert set(body) == {"success", "error"} and body["success"] is False and body["error"]
    assert "Retry-After" not in refused.headers
    assert refused.headers["X-RateLimit-Limit"] == "150" and refused.headers["X-RateLimit-Remaining"] == "0"
    assert (
        refused.headers["X-RateLimit-Reset"] == "2025-11-25T00:00:00Z"
    )  # the next 00:00 UTC after FIXED_NOW
    reply = client.post(
        "/conversations/send",
        json={
            "accountId": a["id"],
            "conversationUrn": all_conversations(client, a["id"])[0]["conversationUrn"],
            "message": "ok",
        },
    )
    assert reply.status_code == 200  # replies are unlimited


def test_c6_accepts_then_refuses_everything_with_one_text(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a, b = seated(client)
    conv, own = own_recent(client, a["id"])
    done = recall(client, conv, own["messageUrn"], a["id"])
    assert done.status_code == 200 and done.json() == {"success": True, "messageUrn": own["messageUrn"]}
    assert own["messageUrn"] not in {m["messageUrn"] for m in all_messages(client, conv, a["id"])}
    # a repeat of an already recalled message is refused like everything else
    repeat = recall(client, conv, own["messageUrn"], a["id"])
    assert (repeat.status_code, repeat.json()) == (400, RECALL_FAILED)
    messages = all_messages(client, conv, a["id"])
    inbound = next(m for m in messages if not m["isSentByOwner"])
    old_own = min((m for m in messages if m["isSentByOwner"]), key=lambda m: m["sentAt"])
    prefix = re.match(r"urn:li:msg_conversation:\((urn:li:fsd_profile:[^,]+),", conv).group(1)  # type: ignore[union-attr]
    b_conv = all_conversations(client, b["id"])[-1]["conversationId"]
    not_member = f"urn:li:msg_conversation:({prefix},{b_conv})"
    unknown = f"urn:li:msg_message:({prefix},{token_of(FIXED_NOW - 1)})"
    refusals = {
        "not own": recall(client, conv, inbound["messageUrn"], a["id"]),
        "window expired": recall(client, conv, old_own["messageUrn"], a["id"]),
        "not member": recall(client, not_member, old_own["messageUrn"], a["id"]),
        "unknown message": recall(client, conv, unknown, a["id"]),
    }
    for name, response in refusals.items():
        assert (response.status_code, response.json()) == (400, RECALL_FAILED), name
    assert inbound["messageUrn"] in {m["messageUrn"] for m in all_messages(client, conv, a["id"])}


def test_m1_answer_names_the_account_and_says_what_was_done(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a = seated(client)[0]
    conv = all_conversations(client, a["id"])[0]["conversationUrn"]
    seen = client.post("/messaging/mark-seen", json={"accountId": a["id"], "conversationUrn": conv})
    assert seen.status_code == 200
    assert seen.json() == {
        "success": True,
        "accountId": a["id"],
        "conversationUrn": conv,
        "message": "Conversation marked as seen successfully",
    }
    assert all_conversations(client, a["id"])[0]["unreadCount"] == 0


# -- rate limits --------------------------------------------------------------------------------------------


def test_429_headers_carry_an_iso_reset_used_and_action(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--rate-limit", "on", profile="vendor")
    client = handle.client()
    answers = [client.get("/accounts") for _ in range(100)]
    assert {r.status_code for r in answers} == {200}
    first = answers[0].headers
    assert first["X-RateLimit-Action"] == "API" and first["X-RateLimit-Used"] == "1"
    assert re.fullmatch(ISO_8601, first["X-RateLimit-Reset"])
    limited = client.get("/accounts")
    assert limited.status_code == 429
    body = limited.json()
    assert set(body) == {"success", "error"} and body["success"] is False
    headers = limited.headers
    assert int(headers["Retry-After"]) >= 1
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"], headers["X-RateLimit-Used"]) == (
        "100",
        "0",
        "100",
    )
    assert headers["X-RateLimit-Action"] == "API"
    reset_ms = ms_of(headers["X-RateLimit-Reset"])
    assert 0 < reset_ms - ms_of(_iso_of_date(headers["Date"])) <= 2_000  # the next token, one second away
    handle.control("POST", "clock/advance", {"ms": 5_000})
    assert client.get("/accounts").status_code == 200


def _iso_of_date(http_date: str) -> str:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(http_date).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_inbox_writes_have_no_per_account_bucket(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--rate-limit", "on", profile="vendor")
    client = handle.client()
    conv = all_conversations(client, seated(client)[0]["id"])[-1]["conversationUrn"]
    statuses = [client.patch(f"/conversations/{enc(conv)}/star").status_code for _ in range(20)]
    assert statuses == [200] * 20  # the contract's 15-per-account bucket would refuse the 16th


def test_the_vendor_profile_limits_by_default(sandbox_factory: Any) -> None:
    handle = sandbox_factory(profile="vendor", rate_limit=None)  # no --rate-limit on the command line
    assert handle.control("GET", "profile") == {"success": True, "profile": "vendor", "rateLimit": True}
    assert "X-RateLimit-Reset" in handle.client().get("/accounts").headers


# -- the event stream ---------------------------------------------------------------------------------------


def handshake_status(handle: SandboxHandle) -> int:
    """Open a WebSocket; it must fail (no hello ever arrives). Returns the refusing HTTP status."""
    with pytest.raises(InvalidStatus) as refused, handle.ws() as ws:
        pytest.fail(f"the stream answered: {recv(ws)}")
    return int(refused.value.response.status_code)


def test_no_stream_by_default_404(vendor_sandbox: SandboxHandle) -> None:
    assert handshake_status(vendor_sandbox) == 404
    only_error(vendor_sandbox.client().get("/ws"), 404)


@pytest.mark.parametrize(("answer", "status"), [("404", 404), ("html200", 200), ("502", 502)])
def test_ws_answer_variants(vendor_sandbox: SandboxHandle, answer: str, status: int) -> None:
    vendor_sandbox.control("POST", "events", {"enabled": True, "wsAnswer": answer})
    assert handshake_status(vendor_sandbox) == status
    plain = vendor_sandbox.client().get("/ws")
    assert plain.status_code == status
    if answer != "404":
        assert plain.headers["Content-Type"].startswith("text/html") and "<html" in plain.text


def test_ws_answer_on_the_command_line_in_both_profiles(sandbox_factory: Any) -> None:
    vendor = sandbox_factory("--ws-answer", "html200", profile="vendor")
    assert handshake_status(vendor) == 200
    contract = sandbox_factory("--no-events", "--ws-answer", "502")
    assert handshake_status(contract) == 502
    contract.control("POST", "events", {"enabled": True})  # with the stream on, the option changes nothing
    with contract.ws() as ws:
        assert recv(ws)["type"] == "hello"


# -- switching a running sandbox, C11/C12 -------------------------------------------------------------------


def test_profile_switch_on_a_running_sandbox(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = client.get("/accounts").json()[0]
    before = all_conversations(client, a["id"])[0]
    assert before["accountId"] == a["id"] and isinstance(before["lastActivityAt"], int)
    with sandbox.ws() as ws:
        assert recv(ws)["type"] == "hello"
        switched = sandbox.control("POST", "profile", {"profile": "vendor"})
        assert switched == {"success": True, "profile": "vendor", "rateLimit": False}
        with pytest.raises(ConnectionClosed):
            recv(ws)  # the vendor has no stream: the open one is closed
    after = all_conversations(client, a["id"])[0]
    assert after["conversationId"] == before["conversationId"] and "accountId" not in after
    assert ms_of(after["lastActivityAt"]) == before["lastActivityAt"]
    assert len(client.get("/accounts").json()) == 3
    assert handshake_status(sandbox) == 404
    sandbox.control("POST", "profile", {"profile": "contract"})
    assert all_conversations(client, a["id"])[0] == before
    with sandbox.ws() as ws:
        assert recv(ws)["type"] == "hello"
    with pytest.raises(AssertionError, match="400"):
        sandbox.control("POST", "profile", {"profile": "nope"})


def test_c11_syncs_synchronously_and_c12_reports_iso_times(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a = seated(client)[0]
    status = client.get("/conversations/sync/status").json()
    assert [x["accountId"] for x in status["accounts"]] == [x["id"] for x in seated(client)]
    before = ms_of(status["accounts"][0]["syncState"]["lastSyncAt"])
    assert before == FIXED_NOW - 5 * 60_000
    assert "lastError" not in status["accounts"][0]["syncState"]
    vendor_sandbox.control("POST", "clock/advance", {"ms": 60_000})
    synced = client.post("/conversations/sync", json={"accountId": a["id"], "force": True})
    body = synced.json()
    assert synced.status_code == 200 and body["accountId"] == a["id"] and body["success"] is True
    assert body["conversationsProcessed"] == 8 and body["messagesProcessed"] > 0
    assert isinstance(body["durationMs"], int | float) and isinstance(body["durationSeconds"], str)
    after = client.get("/conversations/sync/status", params={"accountId": a["id"]}).json()["accounts"]
    assert len(after) == 1 and ms_of(after[0]["syncState"]["lastSyncAt"]) >= FIXED_NOW + 60_000


# -- the sandbox controls keep working ----------------------------------------------------------------------


def test_controls_work_in_the_vendor_profile(vendor_sandbox: SandboxHandle) -> None:
    client = vendor_sandbox.client()
    a = seated(client)[0]
    conv = all_conversations(client, a["id"])[0]["conversationUrn"]
    injected = vendor_sandbox.control(
        "POST", "inject", {"accountId": a["id"], "conversationUrn": conv, "text": "from the contact"}
    )
    newest = messages_page(client, conv, a["id"], count=3).json()["messages"]
    assert newest[-1]["messageUrn"] == injected["messageUrn"]  # oldest first: the newest is last
    vendor_sandbox.control("POST", "recall", {"messageId": injected["messageUrn"], "emitEvent": False})
    assert injected["messageUrn"] not in {m["messageUrn"] for m in all_messages(client, conv, a["id"])}
    vendor_sandbox.control("POST", "faults", {"path": "^/accounts$", "status": 429})
    limited = client.get("/accounts")
    assert limited.status_code == 429 and limited.json()["success"] is False
    assert (
        re.fullmatch(ISO_8601, limited.headers["X-RateLimit-Reset"]) and limited.headers["Retry-After"] == "1"
    )
    assert vendor_sandbox.control("GET", "requests")["routes"]["GET /accounts"] >= 2
