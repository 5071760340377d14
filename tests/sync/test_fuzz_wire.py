"""Fuzz: API payloads (wrong types, missing fields, huge strings, deep nesting, invalid UTF-8). Every
decoder returns a value or raises a ``KnownError``; through the sync engine, a rejected answer leaves the
cache exactly as it was and a skipped item never reaches it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from sync import urns, wire
from sync.api import ApiClient
from sync.cache import Cache
from sync.engine import SyncEngine
from sync.errors import KnownError
from sync.model import Account
from tests.sync.fuzzing import (
    ACCOUNT,
    CONVERSATION_URN,
    FULL,
    MAILBOX,
    MESSAGE_URNS,
    NOW,
    PROFILE,
    THREAD,
    dump,
    encoded,
    fuzz,
    json_values,
    message_item,
    mutated,
    seeded_cache,
)

EMPTY_PAGE = b'{"success":true,"messages":[],"participants":[],"hasMore":false,"cursor":null}'
EMPTY_C1 = b'{"success":true,"conversations":[],"accounts":[],"nextCursor":null,"hasMore":false}'

pytestmark = pytest.mark.timeout(1800 if FULL else 300)


def conversation_item(**extra: Any) -> dict[str, Any]:
    return {
        "conversationUrn": CONVERSATION_URN,
        "conversationId": THREAD,
        "accountId": ACCOUNT,
        "lastActivityAt": NOW + 1,
        "unreadCount": 2,
        "participants": [{"profileId": "ACo1", "name": "Ann", "headline": "", "distance": "DISTANCE_1"}],
        "latestMessage": {
            "messageUrn": MESSAGE_URNS[4],
            "text": "hi",
            "sentAt": NOW + 1,
            "senderName": "Ann",
        },
        "starred": False,
        **extra,
    }


def vendor_conversation_item(**extra: Any) -> dict[str, Any]:
    """A C1 item as the vendor documents it (spec §8): no accountId, starred or preview URN; ISO time."""
    item = conversation_item(lastActivityAt="2025-11-24T16:00:00.001Z")
    del item["accountId"], item["starred"], item["latestMessage"]["messageUrn"]
    return {**item, **extra}


def vendor_message_item(k: int) -> dict[str, Any]:
    """A C2 item as the vendor documents it: no reactions."""
    item = message_item(k)
    del item["reactions"]
    return item


def account_item(**extra: Any) -> dict[str, Any]:
    return {
        "id": ACCOUNT,
        "firstName": "Me",
        "lastName": "Too",
        "publicId": "me",
        "status": "AVAILABLE",
        "enabled": True,
        "profileUrn": MAILBOX,
        **extra,
    }


@st.composite
def page(draw: st.DrawFn, endpoint: str) -> bytes:
    """A body for ``endpoint``: a mutated valid answer most of the time, else any JSON or any bytes."""
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(st.binary(max_size=200))
    if shape == 1:
        return draw(encoded(draw(json_values)))
    vendor = draw(st.booleans())
    if endpoint == "C2":
        item = vendor_message_item if vendor else message_item
        items = [draw(mutated(item(k))) for k in draw(st.lists(st.integers(3, 5), max_size=3))]
        value: Any = {
            "success": True,
            "messages": items,
            "participants": [],
            "hasMore": False,
            "cursor": None,
        }
    elif endpoint == "C1":
        template = vendor_conversation_item() if vendor else conversation_item()
        items = [draw(mutated(template)) for _ in range(draw(st.integers(0, 2)))]
        value = {
            "success": True,
            "conversations": items,
            "accounts": [],
            "nextCursor": None,
            "hasMore": False,
        }
    elif endpoint == "A1":
        value = [draw(mutated(account_item())) for _ in range(draw(st.integers(0, 2)))]
    elif endpoint == "A2":
        value = account_item(lastUsed=None)
    elif endpoint == "C3":
        value = {
            "success": True,
            "message": "sent",
            "recipientProfileUrn": f"urn:li:fsd_profile:{PROFILE}",
            "sentMessage": draw(mutated(message_item(5))),
            "conversationUrn": CONVERSATION_URN,
        }
    else:
        value = {"success": True, "messageUrn": MESSAGE_URNS[0]}
    return draw(encoded(draw(mutated(value)) if isinstance(value, dict) else value))


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "A1": wire.decode_accounts,
    "A2": wire.decode_account_status,
    "C1": lambda body: wire.decode_conversations(body, ACCOUNT),
    "C2": lambda body: wire.decode_messages(body, ACCOUNT, CONVERSATION_URN),
    "C3": lambda body: wire.decode_send(body, ACCOUNT, CONVERSATION_URN),
    "C6": lambda body: wire.decode_recall(body, MESSAGE_URNS[0]),
}


@fuzz
@given(data=st.data(), endpoint=st.sampled_from(sorted(DECODERS)))
def test_every_decoder_returns_a_value_or_raises_a_known_error(data: st.DataObject, endpoint: str) -> None:
    body = data.draw(page(endpoint))
    try:
        result = DECODERS[endpoint](body)
    except KnownError as exc:
        event(f"{endpoint}: rejected ({exc.kind})")
        assert exc.kind and str(exc)
        return
    event(f"{endpoint}: decoded")
    if endpoint == "C2":
        for message in result.messages:
            assert message.message_id == urns.message_id(message.message_urn)
            assert message.conversation_id == THREAD and message.account_id == ACCOUNT
        keys = [(m.sent_at, m.message_id) for m in result.messages]
        assert keys == sorted(keys, reverse=True)
    if endpoint == "C1":
        ids = {c.conversation_id for c in result.conversations}
        assert result.star_unknown <= ids
        for conversation in result.conversations:
            assert 0 <= conversation.unread_count <= wire.MAX_COUNT


@fuzz
@given(
    body=st.binary(max_size=300) | json_values.flatmap(encoded),
    status=st.sampled_from([400, 401, 404, 429, 500]),
)
def test_any_error_body_becomes_a_typed_error_without_a_crash(body: bytes, status: int) -> None:
    error = wire.error_from_response(
        status, body, reason_phrase="Nope", retry_after="x", secrets=["sekrit-key"]
    )
    assert isinstance(error, KnownError) and error.status == status
    assert "sekrit-key" not in str(error) + error.user_message


def test_json_nested_too_deeply_is_a_protocol_error_not_a_crash() -> None:
    """msgspec raises RecursionError past ~1,000 levels; that was escaping the decoders (fixed in wire.py)."""
    deep = "[" * 5000 + "]" * 5000
    body = ('{"success":true,"messages":' + deep + ',"hasMore":false,"cursor":null}').encode()
    with pytest.raises(KnownError):
        wire.decode_messages(body, ACCOUNT, CONVERSATION_URN)
    item = ('{"success":true,"messages":[' + deep + '],"hasMore":false,"cursor":null}').encode()
    with pytest.raises(KnownError):
        wire.decode_messages(item, ACCOUNT, CONVERSATION_URN)
    assert wire.parse_error_body(deep.encode()) == (None, None)
    with pytest.raises(KnownError):
        wire.decode_accounts(deep.encode())
    with pytest.raises(ValueError):
        wire.decode_message_item(deep.encode(), ACCOUNT, CONVERSATION_URN)


# --- through the engine into a real cache ---------------------------------------------------------------


@dataclass
class Rig:
    cache: Cache
    engine: SyncEngine
    api: ApiClient
    loop: asyncio.AbstractEventLoop
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    requests: int = 0


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """One seeded cache and one API client whose server answers whatever the example says."""
    folder: Path = tmp_path_factory.mktemp("fuzz-wire")
    loop = asyncio.new_event_loop()
    holder: list[Rig] = []

    def answer(request: httpx.Request) -> httpx.Response:
        rig = holder[0]
        rig.requests += 1
        is_c1 = request.url.path.endswith("/conversations")
        status, body = rig.answers.pop(0) if rig.answers else (200, EMPTY_C1 if is_c1 else EMPTY_PAGE)
        return httpx.Response(status, content=body, headers={"Date": "Mon, 24 Nov 2025 16:00:00 GMT"})

    with seeded_cache(folder) as cache:
        api = ApiClient(
            "http://127.0.0.1:9/linkedin",
            "fuzz_key_not_a_secret",
            budget=None,
            read_retries=0,
            decode_in_thread_bytes=None,
            transport=httpx.MockTransport(answer),
        )
        holder.append(Rig(cache, SyncEngine(api, cache), api, loop))
        try:
            yield holder[0]
        finally:
            loop.run_until_complete(api.aclose())
            loop.close()


def _ids(rows: list[tuple[Any, ...]], index: int) -> set[Any]:
    return {row[index] for row in rows}


@fuzz
@given(data=st.data(), status=st.sampled_from([200, 200, 200, 200, 400, 500]))
def test_a_c2_answer_changes_the_cache_only_by_the_items_it_validly_carries(
    rig: Rig, data: st.DataObject, status: int
) -> None:
    body = data.draw(page("C2"))
    rig.answers[:] = [(status, body)]
    conversation = rig.cache.reader.conversation(ACCOUNT, THREAD)
    assert conversation is not None
    before = dump(rig.cache)
    try:
        decoded = wire.decode_messages(body, ACCOUNT, CONVERSATION_URN) if status == 200 else None
    except KnownError:
        decoded = None
    try:
        rig.loop.run_until_complete(rig.engine.sync_new_messages(conversation))
    except KnownError:
        if decoded is None:
            event("C2 rejected")
            assert dump(rig.cache) == before  # rejected: nothing changed at all
            return
        event("C2 taken, a later request failed")  # what the page carried may be stored, nothing else
    assert decoded is not None, "an answer that does not decode was taken"
    after = dump(rig.cache)
    accepted = {m.message_id for m in decoded.messages}
    event(f"C2 taken: {len(accepted)} item(s) kept, {decoded.skipped} skipped")
    changed = {row for row in after["messages"] if row not in before["messages"]}
    # message rows: (id, account, conversation, message_id, ...)
    assert _ids(list(changed), 3) <= accepted
    assert _ids(before["messages"], 3) <= _ids(after["messages"], 3)  # a read never deletes
    assert after["tombstones"] == before["tombstones"] and after["accounts"] == before["accounts"]


@fuzz
@given(data=st.data(), status=st.sampled_from([200, 200, 200, 429, 500]))
def test_a_c1_answer_changes_the_cache_only_by_the_conversations_it_validly_carries(
    rig: Rig, data: st.DataObject, status: int
) -> None:
    body = data.draw(page("C1"))
    rig.answers[:] = [(status, body)]
    before = dump(rig.cache)
    try:
        decoded = wire.decode_conversations(body, ACCOUNT) if status == 200 else None
    except KnownError:
        decoded = None
    account = Account(ACCOUNT, "Me", "me", MAILBOX)
    try:
        rig.loop.run_until_complete(rig.engine.sync_account(account))
    except KnownError:
        if decoded is None:
            event("C1 rejected")
            assert dump(rig.cache) == before
            return
        event("C1 taken, a later request failed")
    assert decoded is not None, "an answer that does not decode was taken"
    after = dump(rig.cache)
    accepted = {c.conversation_id for c in decoded.conversations}
    event(f"C1 taken: {len(accepted)} kept, {decoded.skipped} skipped")
    changed = {row for row in after["conversations"] if row not in before["conversations"]}
    assert _ids(list(changed), 2) <= accepted  # (id, account, conversation_id, ...)
    assert after["tombstones"] == before["tombstones"] and after["accounts"] == before["accounts"]


def test_a_cursor_or_urn_too_long_for_a_url_is_a_known_error_not_a_crash() -> None:
    """A 100 KB cursor used to be stored and sent back: httpx raised InvalidURL (not a KnownError) on the
    next page, and every later run resumed from it. Now the page is refused (wire.MAX_CURSOR) and a URL
    that cannot be built is a ProtocolError (sync/api.py)."""
    long_cursor = "c" * 100_000
    body = {"success": True, "messages": [], "participants": [], "hasMore": True, "cursor": long_cursor}
    with pytest.raises(KnownError):
        wire.decode_messages(json.dumps(body).encode(), ACCOUNT, CONVERSATION_URN)
    c1 = {"success": True, "conversations": [], "nextCursor": long_cursor, "hasMore": True}
    with pytest.raises(KnownError):
        wire.decode_conversations(json.dumps(c1).encode(), ACCOUNT)

    async def recall() -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"success": True}))
        async with ApiClient(
            "http://127.0.0.1:9/linkedin", "fuzz_key_not_a_secret", budget=None, transport=transport
        ) as api:
            huge = urns.conversation_urn(MAILBOX, "2-" + "A" * 100_000)
            with pytest.raises(KnownError):
                await api.recall(ACCOUNT, huge, MESSAGE_URNS[0])
            with pytest.raises(KnownError):
                await api.messages(ACCOUNT, CONVERSATION_URN, cursor=long_cursor)

    asyncio.run(recall())


@fuzz
@given(
    order=st.permutations(range(6)),
    times=st.lists(st.integers(NOW - 3, NOW), min_size=6, max_size=6),
)
def test_any_wire_order_comes_back_newest_first(order: list[int], times: list[int]) -> None:
    """The vendor's C2 order is undocumented (its pages are oldest first): whatever it is, the page comes
    back newest first by (sentAt, token), ties included, and nothing is lost."""
    items = [vendor_message_item(k) | {"sentAt": times[k]} for k in order]
    body = {"success": True, "messages": items, "participants": [], "hasMore": False, "cursor": None}
    page = wire.decode_messages(json.dumps(body).encode(), ACCOUNT, CONVERSATION_URN)
    keys = [(m.sent_at, m.message_id) for m in page.messages]
    assert keys == sorted(keys, reverse=True)
    assert sorted(m.message_urn for m in page.messages) == sorted(MESSAGE_URNS)
