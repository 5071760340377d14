"""Fuzz: event-stream frames (non-JSON, unknown types, oversized, wrong or repeated ``seq``, ``messageId``
that does not match ``messageUrn``). ``EventStream._parse``/``handle`` skip (logged, counted) or ask for a
reconnect — never crash — and a rejected frame never changes the cache's content; only a frame taken in
order moves ``last_applied_seq`` (ARCHITECTURE.md §6: a skipped event keeps the sequence going)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from sync import urns
from sync.cache import Cache
from sync.realtime import MAX_FRAME_BYTES, EventStream, _Reconnect
from tests.sync.fuzzing import (
    ACCOUNT,
    CONVERSATION_URN,
    FULL,
    MESSAGE_TOKENS,
    MESSAGE_URNS,
    NOW,
    OTHER_ACCOUNT,
    TABLES,
    dump,
    encoded,
    fuzz,
    json_values,
    message_item,
    mutated,
    seeded_cache,
)

CONTENT = tuple(t for t in TABLES if t != "meta")
TYPES = [
    "message.recalled",
    "message.created",
    "message.reacted",
    "conversation.updated",
    "conversation.refreshed",
    "hello",
    "heartbeat",
]
OVERSIZED = json.dumps(
    {"type": "message.created", "seq": 1, "accountId": ACCOUNT, "message": {"text": "x" * MAX_FRAME_BYTES}}
)

pytestmark = pytest.mark.timeout(1800 if FULL else 300)


async def no_catch_up() -> None:
    raise AssertionError("a frame must never start a catch-up")


@dataclass
class Rig:
    cache: Cache
    stream: EventStream
    loop: asyncio.AbstractEventLoop


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """A seeded cache and a listener on it, one per test (shared by that test's examples)."""
    folder = tmp_path
    loop = asyncio.new_event_loop()
    with seeded_cache(folder) as cache:
        stream = EventStream(
            "ws://127.0.0.1:9/linkedin/ws", "fuzz_key_not_a_secret", "fuzz", cache, catch_up=no_catch_up
        )
        stream.last_seq = cache.reader.last_applied_seq()
        try:
            yield Rig(cache, stream, loop)
        finally:
            loop.close()


def template(kind: str, seq: Any, k: int) -> dict[str, Any]:
    base: dict[str, Any] = {"type": kind, "seq": seq, "at": NOW, "accountId": ACCOUNT}
    if kind == "message.recalled":
        return {
            **base,
            "conversationUrn": CONVERSATION_URN,
            "messageUrn": MESSAGE_URNS[k],
            "messageId": MESSAGE_TOKENS[k],
            "recalledAt": NOW,
        }
    if kind == "message.created":
        return {**base, "conversationUrn": CONVERSATION_URN, "message": message_item(k)}
    if kind == "message.reacted":
        return {
            **base,
            "conversationUrn": CONVERSATION_URN,
            "messageUrn": MESSAGE_URNS[k],
            "emoji": "👍",
            "react": True,
            "actorProfileId": "ACo1",
            "reactions": [{"emoji": "👍", "count": 1, "reactedByOwner": False}],
        }
    if kind == "conversation.updated":
        return {**base, "conversationUrn": CONVERSATION_URN, "unreadCount": 0, "starred": True}
    if kind == "conversation.refreshed":
        return {**base, "conversationUrn": CONVERSATION_URN, "messages": [message_item(k)]}
    return {**base, "sessionId": "s", "resumed": True}


@st.composite
def frames(draw: st.DrawFn, last: int) -> str | bytes:
    shape = draw(st.integers(0, 19))
    if shape == 0:
        return draw(st.binary(max_size=100))
    if shape == 1:
        return draw(st.text(max_size=100))
    if shape == 2:
        return draw(encoded(draw(json_values)))
    if shape == 3:
        return OVERSIZED
    seq = draw(
        st.sampled_from([last + 1] * 6 + [last, last - 3, 0, last + 2, -1, None, "7", 1.5, True, 2**63])
    )
    kind = draw(st.text(max_size=12) if draw(st.integers(0, 5)) == 0 else st.sampled_from(TYPES))
    value = template(kind, seq, draw(st.integers(0, 5)))
    if draw(st.integers(0, 3)) == 0:
        value["accountId"] = draw(st.sampled_from([OTHER_ACCOUNT, "", None, "not-an-account"]))
    how = draw(st.integers(0, 3))
    if how == 0:
        value = draw(mutated(value))  # top-level fields of the wrong type, missing or huge
    elif how == 1:
        # Well-formed frame, inconsistent content: the nested message, the id, the URN.
        if "message" in value:
            value["message"] = draw(mutated(value["message"]))
        if "messages" in value:
            value["messages"] = [draw(mutated(m)) for m in value["messages"]]
        for name in ("messageId", "messageUrn", "conversationUrn"):
            if name in value and draw(st.booleans()):
                value[name] = draw(st.sampled_from([*MESSAGE_TOKENS, *MESSAGE_URNS, "2-", "urn:li:x:y"]))
    return draw(encoded(value))


@fuzz
@given(data=st.data())
def test_any_frame_is_applied_in_order_skipped_or_reconnects_and_a_rejected_one_changes_nothing(
    rig: Rig, data: st.DataObject
) -> None:
    stream = rig.stream
    last = stream.last_seq or 0
    raw = data.draw(frames(last))
    skipped = stream.skipped_frames
    before = dump(rig.cache)
    frame = stream._parse(raw)
    if frame is None:
        event("unparseable or oversized: skipped")
        assert stream.skipped_frames == skipped + 1
        assert dump(rig.cache) == before
        return
    try:
        rig.loop.run_until_complete(stream.handle(frame))
    except _Reconnect:
        event("gap, heartbeat ahead or second hello: reconnect")
        assert dump(rig.cache) == before and stream.last_seq == last
        return
    after = dump(rig.cache)
    if frame.seq is None or frame.type == "heartbeat" or frame.seq <= last:
        event("no seq, heartbeat or replay: ignored")
        assert after == before and stream.last_seq == last  # no seq, or a replay: nothing at all
        return
    assert frame.seq == last + 1 and stream.last_seq == frame.seq
    assert rig.cache.reader.last_applied_seq() == frame.seq
    if stream.skipped_frames > skipped:
        event("in order but inconsistent: skipped, seq kept")
        assert {t: after[t] for t in CONTENT} == {
            t: before[t] for t in CONTENT
        }  # rejected: no content change
    else:
        event(f"applied: {frame.type if frame.type in TYPES else 'unknown type'}")
    if stream.skipped_frames == skipped and frame.type == "message.recalled":
        # Only the token of messageUrn, equal to messageId, can have been tombstoned.
        assert frame.message_urn is not None
        assert urns.message_id(frame.message_urn) == frame.message_id
        new = {r[0] for r in after["tombstones"]} - {r[0] for r in before["tombstones"]}
        assert new <= {frame.message_id}


@fuzz
@given(
    data=st.data(),
    k=st.integers(0, 2),
    claimed=st.sampled_from(MESSAGE_TOKENS) | st.text(max_size=30),
)
def test_a_recall_whose_message_id_does_not_match_its_urn_is_rejected(
    rig: Rig, data: st.DataObject, k: int, claimed: str
) -> None:
    stream = rig.stream
    if claimed == MESSAGE_TOKENS[k]:
        return
    last = stream.last_seq or 0
    value = template("message.recalled", last + 1, k)
    value["messageId"] = claimed
    frame = stream._parse(json.dumps(value))
    assert frame is not None
    before = dump(rig.cache)
    skipped = stream.skipped_frames
    rig.loop.run_until_complete(stream.handle(frame))
    assert stream.skipped_frames == skipped + 1
    after = dump(rig.cache)
    assert {t: after[t] for t in CONTENT} == {t: before[t] for t in CONTENT}
    assert not rig.cache.reader.is_tombstoned(MESSAGE_TOKENS[k])


def test_a_frame_over_1_mib_is_refused(rig: Rig) -> None:
    skipped = rig.stream.skipped_frames
    assert rig.stream._parse(OVERSIZED) is None
    assert rig.stream._parse(OVERSIZED.encode()) is None
    assert rig.stream.skipped_frames == skipped + 2


def test_a_deeply_nested_frame_is_skipped_not_a_crash(rig: Rig) -> None:
    """msgspec raises RecursionError (not a DecodeError) past ~1,000 levels of nesting: a frame well under
    1 MiB used to escape ``_parse`` and end the listener (fixed in sync/realtime.py)."""
    depth = 5000
    raw = '{"type":"message.created","seq":1,"message":' + "[" * depth + "]" * depth + "}"
    assert len(raw) < MAX_FRAME_BYTES
    skipped = rig.stream.skipped_frames
    assert rig.stream._parse(raw) is None
    assert rig.stream.skipped_frames == skipped + 1
