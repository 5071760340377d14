"""URNs in path segments: decoded exactly once, after splitting (spec §1), in aiohttp and in the sandbox."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.fixtures.sandbox import SandboxHandle, enc
from tests.sync.sandbox.helpers import accounts, all_conversations, all_messages, messages_page

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def aiohttp_echo() -> Iterator[str]:
    """A bare aiohttp app (its own router) in a thread, echoing ``match_info`` and ``raw_path``."""

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"segment": request.match_info["urn"], "raw": request.raw_path})

    loop = asyncio.new_event_loop()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = web.Application()
    app.router.add_get("/c/{urn}/messages", echo)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.SockSite(runner, sock).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_aiohttp_match_info_decodes_once_and_keeps_2f_in_the_segment(aiohttp_echo: str) -> None:
    got = httpx.get(f"{aiohttp_echo}/c/a%2Fb%252F%2B%3D/messages").json()
    assert got["segment"] == "a/b%2F+="  # one decode, %2F did not split the path
    # ...but it is lenient with a bad escape, which spec §4 says is an error: hence routing on raw_path.
    lenient = httpx.get(f"{aiohttp_echo}/c/a%ZZ/messages").json()
    assert lenient["segment"] == "a%ZZ" and lenient["raw"] == "/c/a%ZZ/messages"


def test_tokens_with_plus_slash_equals_work_percent_encoded(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    edge = next(c for c in all_conversations(client, a["id"]) if "/" in c["conversationId"])
    assert "+" in edge["conversationId"] and "=" in edge["conversationId"]
    response = messages_page(client, edge["conversationUrn"], a["id"])
    assert response.status_code == 200
    assert response.json()["messages"]
    assert "%2F" in str(response.request.url) and "%2B" in str(response.request.url)


def test_double_encoded_and_bad_escapes_are_invalid_urns(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    twice = enc(enc(conv["conversationUrn"]))
    response = client.get(f"/conversations/{twice}/messages", params={"accountId": a["id"]})
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_URN")
    bad = enc(conv["conversationUrn"]).replace("%3A", "%ZZ", 1)
    response = client.get(f"/conversations/{bad}/messages", params={"accountId": a["id"]})
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_URN")


def test_plus_in_a_path_segment_stays_plus(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    edge = next(c for c in all_conversations(client, a["id"]) if "+" in c["conversationId"])
    # '+' left unencoded (legal in a path segment) must not turn into a space
    segment = enc(edge["conversationUrn"]).replace("%2B", "+")
    response = client.get(f"/conversations/{segment}/messages", params={"accountId": a["id"]})
    assert response.status_code == 200
    assert response.json()["messages"] == all_messages(client, edge["conversationUrn"], a["id"])[:50]


def test_an_unencoded_slash_splits_the_path_and_matches_no_route(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    a = accounts(client)[0]
    edge = next(c for c in all_conversations(client, a["id"]) if "/" in c["conversationId"])
    raw: Any = enc(edge["conversationUrn"]).replace("%2F", "/")
    response = client.get(f"/conversations/{raw}/messages", params={"accountId": a["id"]})
    assert response.status_code == 404
