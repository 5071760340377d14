"""Small helpers shared by the sandbox tests: paging through listings, token decoding, event waits."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx

from tests.fixtures.sandbox import enc

THREAD_RAW = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}_[0-9]{3}")
MESSAGE_RAW = re.compile(r"[0-9]{13}b[0-9]{5}-[0-9]{3}")
EDGE_SUFFIX = re.compile(r"[~?>]{1,7}")
WINDOW_MS = 3_600_000


def decode_token(token: str) -> str:
    assert token.startswith("2-"), token
    return base64.b64decode(token[2:], validate=True).decode("ascii")


def accounts(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/accounts")
    assert response.status_code == 200, response.text
    return list(response.json())


def all_conversations(
    client: httpx.Client, account_id: str, count: int = 100, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"accountId": account_id, "count": count, **params}
        if cursor:
            query["nextCursor"] = cursor
        page = client.get("/conversations", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["conversations"]
        if not body["hasMore"]:
            assert body["nextCursor"] is None
            return items
        cursor = body["nextCursor"]


def messages_page(client: httpx.Client, conv_urn: str, account_id: str, **params: Any) -> httpx.Response:
    return client.get(f"/conversations/{enc(conv_urn)}/messages", params={"accountId": account_id, **params})


def all_messages(
    client: httpx.Client, conv_urn: str, account_id: str, count: int = 100
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"count": count}
        if cursor:
            params["cursor"] = cursor
        page = messages_page(client, conv_urn, account_id, **params)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["messages"]
        if not body["hasMore"]:
            assert body["cursor"] is None
            return items
        cursor = body["cursor"]


def recall(client: httpx.Client, conv_urn: str, msg_urn: str, account_id: str) -> httpx.Response:
    return client.delete(
        f"/conversations/{enc(conv_urn)}/messages/{enc(msg_urn)}", params={"accountId": account_id}
    )


def shared_pair(
    client: httpx.Client,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(account a, account b, a's copy, b's copy) of the conversation both accounts' mailboxes hold."""
    a, b = accounts(client)
    of_b = {c["conversationId"]: c for c in all_conversations(client, b["id"])}
    for conv in all_conversations(client, a["id"]):
        if conv["conversationId"] in of_b:
            return a, b, conv, of_b[conv["conversationId"]]
    raise AssertionError("no conversation in both mailboxes")


def server_now(client: httpx.Client) -> int:
    from email.utils import parsedate_to_datetime

    response = client.get("/accounts")
    return int(parsedate_to_datetime(response.headers["Date"]).timestamp() * 1000)


def recv(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    frame = ws.recv(timeout=timeout)
    assert isinstance(frame, str), "frames are JSON text"
    value = json.loads(frame)
    assert isinstance(value, dict)
    return value


def recv_events(ws: Any, n: int, timeout: float = 5.0, skip_heartbeats: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        event = recv(ws, max(0.01, deadline - time.monotonic()))
        if skip_heartbeats and event["type"] == "heartbeat":
            continue
        out.append(event)
    return out


def no_more_events(ws: Any, wait: float = 0.3) -> bool:
    try:
        while True:
            event = recv(ws, wait)
            if event["type"] != "heartbeat":
                return False
    except TimeoutError:
        return True
