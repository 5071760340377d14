"""The seeded demo data: deterministic, real-looking, with LinkedIn's URN and token forms."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import FIXED_NOW, SandboxHandle
from tests.sync.sandbox.helpers import (
    EDGE_SUFFIX,
    MESSAGE_RAW,
    THREAD_RAW,
    WINDOW_MS,
    accounts,
    all_conversations,
    all_messages,
    decode_token,
    shared_pair,
)

pytestmark = pytest.mark.timeout(90)


def dump(client: httpx.Client) -> dict[str, Any]:
    out: dict[str, Any] = {"accounts": accounts(client)}
    for account in out["accounts"]:
        conversations = all_conversations(client, account["id"])
        out[account["id"]] = conversations
        for conv in conversations[:5]:
            out[conv["conversationUrn"]] = all_messages(client, conv["conversationUrn"], account["id"])
    return out


def test_same_seed_and_now_give_the_same_data(sandbox_factory: Any) -> None:
    one = sandbox_factory("--seed", "42")
    two = sandbox_factory("--seed", "42")
    other = sandbox_factory("--seed", "43")
    first, second, third = dump(one.client()), dump(two.client()), dump(other.client())
    assert first == second
    assert first["accounts"] != third["accounts"]


def test_reset_to_the_same_seed_gives_the_same_data_again(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    before = dump(client)
    a = before["accounts"][0]
    client.post(
        "/conversations/send",
        json={"accountId": a["id"], "conversationUrn": before[a["id"]][0]["conversationUrn"], "message": "x"},
    )
    sandbox.reset()
    assert dump(client) == before


def test_accounts_look_real(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    listed = accounts(client)
    assert len(listed) == 2
    for account in listed:
        assert re.fullmatch(r"[0-9a-f]{24}", account["id"])
        assert account["firstName"] and account["lastName"]
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", account["publicId"])
        status = client.get("/account/status", params={"accountId": account["id"]}).json()
        assert re.fullmatch(r"urn:li:fsd_profile:ACoAA[A-Za-z0-9_-]{30,}", status["profileUrn"])
    for conv in all_conversations(client, listed[0]["id"]):
        for person in conv["participants"]:
            assert (
                person["name"]
                and person["headline"]
                and person["profileUrl"].startswith("https://www.linkedin.com/in/")
            )
            assert person["profileId"].startswith("ACoAA")


def test_tokens_decode_to_the_documented_shapes_and_some_hold_plus_slash_equals(
    sandbox: SandboxHandle,
) -> None:
    client = sandbox.client()
    thread_tokens: list[str] = []
    message_tokens: list[str] = []
    for account in accounts(client):
        for conv in all_conversations(client, account["id"]):
            thread_tokens.append(conv["conversationId"])
            for message in all_messages(client, conv["conversationUrn"], account["id"]):
                token = message["messageUrn"].rsplit(",", 1)[1][:-1]
                message_tokens.append(token)
                raw = decode_token(token)
                shape = MESSAGE_RAW.match(raw)
                assert shape, raw
                assert int(raw[:13]) == message["sentAt"]  # the token encodes sentAt
    for tokens, pattern in ((thread_tokens, THREAD_RAW), (message_tokens, MESSAGE_RAW)):
        plain = edge = 0
        for token in tokens:
            raw = decode_token(token)
            if pattern.fullmatch(raw):
                plain += 1
            else:  # an edge token: the documented shape plus a suffix chosen to produce + and /
                head = pattern.match(raw)
                assert head and EDGE_SUFFIX.fullmatch(raw[head.end() :]), raw
                edge += 1
        assert plain > edge > 0
        assert (
            any("+" in t for t in tokens) and any("/" in t for t in tokens) and any("=" in t for t in tokens)
        )


def test_shared_conversation_has_same_tokens_and_flipped_owner_flags(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a, b, conv_a, conv_b = shared_pair(client)
    assert conv_a["conversationId"] == conv_b["conversationId"]
    assert conv_a["conversationUrn"] != conv_b["conversationUrn"]
    in_a = all_messages(client, conv_a["conversationUrn"], a["id"])
    in_b = all_messages(client, conv_b["conversationUrn"], b["id"])
    token = lambda m: m["messageUrn"].rsplit(",", 1)[1]  # noqa: E731
    assert [token(m) for m in in_a] == [token(m) for m in in_b]
    assert all(x["isSentByOwner"] != y["isSentByOwner"] for x, y in zip(in_a, in_b, strict=True))
    assert {x["isSentByOwner"] for x in in_a} == {True, False}


def test_own_messages_inside_and_outside_the_window(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    for account in accounts(client):
        own = [
            FIXED_NOW - m["sentAt"]
            for conv in all_conversations(client, account["id"])
            for m in all_messages(client, conv["conversationUrn"], account["id"])
            if m["isSentByOwner"]
        ]
        assert any(age < WINDOW_MS - 10 * 60_000 for age in own)
        assert any(age > WINDOW_MS for age in own)


def test_a_big_sandbox_starts_with_the_right_counts(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--conversations", "2000", "--messages-per-conversation", "50")
    client = handle.client()
    status = client.get("/conversations/sync/status").json()["accounts"]
    total_conversations = sum(s["syncState"]["totalConversations"] for s in status)
    assert total_conversations == 2000 + 1  # the shared conversation is in both mailboxes
    assert sum(s["syncState"]["totalMessages"] for s in status) == (2000 + 1) * 50
    a = accounts(client)[0]
    page = client.get("/conversations", params={"accountId": a["id"], "count": 100}).json()
    assert len(page["conversations"]) == 100 and page["hasMore"] is True
    last = all_conversations(client, a["id"])[-1]
    assert len(all_messages(client, last["conversationUrn"], a["id"])) == 50
