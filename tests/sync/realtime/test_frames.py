"""Malformed, inconsistent and oversized frames are skipped: no crash, and the cache does not change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from sync.model import CacheCounts, StreamState
from sync.realtime import MALFORMED, MAX_FRAME_BYTES, EventStream, _Reconnect
from tests.fixtures.sandbox import SandboxHandle
from tests.sync.core.helpers import Core, open_core, recallable
from tests.sync.realtime.helpers import SESSION, fake_stream_server, server_seq, until, visible_ids


def snapshot(core: Core) -> tuple[set[tuple[str, str]], CacheCounts, list[Any]]:
    conversations = [
        c
        for a in core.cache.reader.accounts()
        for c in core.cache.reader.conversations(a.account_id, limit=1000)
    ]
    return visible_ids(core.cache), core.cache.reader.counts(), conversations


async def no_catch_up() -> None:
    raise AssertionError("no catch-up expected")


def test_malformed_and_inconsistent_frames_are_skipped_without_changing_the_cache(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            last = await server_seq(sandbox)
            await asyncio.wrap_future(core.cache.writer.set_last_applied_seq(last))
            stream = EventStream(sandbox.ws_url, sandbox.key, SESSION, core.cache, catch_up=no_catch_up)
            stream.last_seq = last
            target = recallable(core)
            account = target.account_id
            conversation_urn = target.conversation_urn
            before = snapshot(core)

            def recalled(seq: int, message_id: str | None = None) -> str:
                return json.dumps(
                    {
                        "type": "message.recalled",
                        "seq": seq,
                        "at": 1,
                        "accountId": account,
                        "conversationUrn": conversation_urn,
                        "messageUrn": target.message_urn,
                        "messageId": message_id or target.message_id,
                        "recalledAt": 1,
                    }
                )

            unparseable: list[str | bytes] = [
                b"not json at all",
                b"\xff\xfe{\x00",
                "[1, 2, 3]",
                '{"type": "message.created", "seq": "seven"}',  # a seq that is not a number
                '{"type": "message.recalled", "seq": 1.5}',
                "x" * (MAX_FRAME_BYTES + 1),  # over 1 MiB
            ]
            for raw in unparseable:
                assert stream._parse(raw) is None, raw[:40]
            assert stream.skipped_frames == len(unparseable)
            # Invalid content with a readable seq keeps its place in the sequence (handled as skipped).
            for raw in ('{"seq": 4}', '{"type": "conversation.updated", "seq": 4, "unreadCount": 1e30}'):
                frame = stream._parse(raw)
                assert frame is not None and (frame.type, frame.seq) == (MALFORMED, 4), raw

            # Well-formed JSON, inconsistent content: each is skipped but keeps the sequence moving.
            inconsistent = [
                json.dumps(
                    {"type": "account.exploded", "seq": last + 1, "accountId": account}
                ),  # unknown type
                recalled(last + 2, message_id="2-bm90LXRoZS1zYW1lLWlk"),  # messageId != token of messageUrn
                json.dumps(
                    {
                        "type": "message.created",
                        "seq": last + 3,
                        "accountId": account,
                        "conversationUrn": conversation_urn,
                    }
                ),  # no message
                json.dumps(
                    {
                        "type": "message.created",
                        "seq": last + 4,
                        "accountId": account,
                        "conversationUrn": conversation_urn,
                        "message": {"messageUrn": "urn:li:nonsense", "text": "x", "sentAt": 1},
                    }
                ),  # a message whose URN does not parse
                json.dumps(
                    {
                        "type": "message.reacted",
                        "seq": last + 5,
                        "accountId": account,
                        "conversationUrn": conversation_urn,
                        "messageUrn": "not-a-urn",
                        "reactions": [],
                    }
                ),
                json.dumps(
                    {
                        "type": "conversation.updated",
                        "seq": last + 6,
                        "accountId": account,
                        "conversationUrn": conversation_urn,
                        "unreadCount": -3,
                    }
                ),
                json.dumps({"type": "message.created", "accountId": account}),  # no seq at all
            ]
            skipped_before = stream.skipped_frames
            for raw in inconsistent:
                frame = stream._parse(raw)
                assert frame is not None, raw
                await stream.handle(frame)
            assert (
                stream.skipped_frames - skipped_before == len(inconsistent) - 1
            )  # the unknown type is ignored
            assert core.cache.reader.last_applied_seq() == last + 6

            # A replay (seq already applied) is skipped; a gap is not applied but reconnects.
            replay = stream._parse(recalled(last + 6))
            assert replay is not None
            await stream.handle(replay)
            gap = stream._parse(recalled(last + 9))
            assert gap is not None
            with pytest.raises(_Reconnect):
                await stream.handle(gap)

            assert snapshot(core) == before
            assert core.cache.reader.message(account, target.message_id) is not None
            assert core.cache.reader.last_applied_seq() == last + 6

            # The listener is still in step: the next valid event applies.
            good = stream._parse(recalled(last + 7))
            assert good is not None
            await stream.handle(good)
            assert core.cache.reader.message(account, target.message_id) is None
            assert core.cache.reader.last_applied_seq() == last + 7

    asyncio.run(scenario())


Handler = Callable[[ServerConnection, int], Awaitable[None]]


def test_an_oversized_frame_is_refused_by_max_size_and_the_listener_reconnects(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            await asyncio.wrap_future(core.cache.writer.set_last_applied_seq(7))
            before = snapshot(core)

            async def handler(connection: ServerConnection, number: int) -> None:
                await connection.send(
                    json.dumps({"type": "hello", "sessionId": "s", "seq": 7, "resumed": True})
                )
                if number == 1:
                    target = recallable(core)
                    oversized = {
                        "type": "message.recalled",
                        "seq": 8,
                        "accountId": target.account_id,
                        "conversationUrn": target.conversation_urn,
                        "messageUrn": target.message_urn,
                        "messageId": target.message_id,
                        "padding": "x" * MAX_FRAME_BYTES,
                    }
                    await connection.send(json.dumps(oversized))
                await connection.wait_closed()

            server, url = await fake_stream_server(handler)
            stream = EventStream(
                url, sandbox.key, SESSION, core.cache, catch_up=no_catch_up, backoff_min_s=0.05
            )
            task = asyncio.create_task(stream.run())
            try:
                await until(
                    lambda: stream.connections >= 2 and stream.state is StreamState.LIVE,
                    "a reconnect",
                    task=task,
                )
                assert stream.skipped_frames == 1
                assert not task.done()
                assert snapshot(core) == before
                assert core.cache.reader.last_applied_seq() == 7
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                server.close()
                await server.wait_closed()

    asyncio.run(scenario())


def test_a_frame_with_an_integer_beyond_int64_is_skipped_in_sequence_and_the_stream_goes_on(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """``unreadCount: 2**63`` once crashed ``sync --watch`` (OverflowError in SQLite). Now the frame is
    skipped but keeps its place in the sequence, so the next event applies and nothing replays forever."""

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            await asyncio.wrap_future(core.cache.writer.set_last_applied_seq(7))
            account = core.cache.reader.accounts()[0].account_id
            conversation = core.cache.reader.conversations(account, limit=1)[0]

            async def handler(connection: ServerConnection, number: int) -> None:
                await connection.send(
                    json.dumps({"type": "hello", "sessionId": "s", "seq": 7, "resumed": True})
                )
                updated = {
                    "type": "conversation.updated",
                    "accountId": account,
                    "conversationUrn": conversation.conversation_urn,
                }
                await connection.send(json.dumps({**updated, "seq": 8, "unreadCount": 2**63}))
                await connection.send(json.dumps({**updated, "seq": 9, "unreadCount": 41}))
                await connection.wait_closed()

            server, url = await fake_stream_server(handler)
            stream = EventStream(
                url, sandbox.key, SESSION, core.cache, catch_up=no_catch_up, backoff_min_s=0.05
            )
            task = asyncio.create_task(stream.run())
            try:
                await until(lambda: core.cache.reader.last_applied_seq() == 9, "seq 9", task=task)
                row = core.cache.reader.conversation(account, conversation.conversation_id)
                assert row is not None and row.unread_count == 41
                assert stream.skipped_frames == 1 and stream.connections == 1
                assert not task.done()
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                server.close()
                await server.wait_closed()

    asyncio.run(scenario())
