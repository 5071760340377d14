"""No event stream here vs temporarily unreachable, and the Watcher's polling fallback (in-process)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from sync.errors import SignedOut
from sync.model import Conversation, StreamState
from sync.realtime import AppliedEvent, EventStream, StreamAbsent
from sync.watcher import Watcher
from tests.fixtures.sandbox import SandboxHandle
from tests.sync.core.helpers import Core, open_core, recallable, server_ids
from tests.sync.realtime.helpers import SESSION, fake_stream_server, server_seq, until


async def nothing() -> None:
    return None


def stream_for(url: str, key: str, core: Core, **options: Any) -> EventStream:
    return EventStream(url, key, SESSION, core.cache, catch_up=nothing, backoff_min_s=0.05, **options)


# --- telling "no stream here" from "temporarily unreachable" -----------------------------------------


def test_a_404_handshake_means_no_event_stream(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        sandbox.control("POST", "events", {"enabled": False})
        async with open_core(sandbox, tmp_path) as core:
            stream = stream_for(sandbox.ws_url, sandbox.key, core)
            with pytest.raises(StreamAbsent, match="404"):
                await asyncio.wait_for(stream.run(), 10)
            assert stream.connections == 0

    asyncio.run(scenario())


@pytest.mark.parametrize("first_frame", [None, '{"type": "heartbeat", "seq": 3}', "not json"])
def test_no_valid_hello_within_the_timeout_means_no_event_stream(
    sandbox: SandboxHandle, tmp_path: Path, first_frame: str | None
) -> None:
    async def scenario() -> None:
        async def handler(connection: ServerConnection, number: int) -> None:
            if first_frame is not None:
                await connection.send(first_frame)
            await connection.wait_closed()

        server, url = await fake_stream_server(handler)
        try:
            async with open_core(sandbox, tmp_path) as core:
                stream = stream_for(url, sandbox.key, core, hello_timeout_s=0.3)
                started = time.monotonic()
                with pytest.raises(StreamAbsent):
                    await asyncio.wait_for(stream.run(), 10)
                assert stream.connections == 1  # the upgrade worked; the hello did not come
                if first_frame is None:
                    assert time.monotonic() - started >= 0.3
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())


@pytest.mark.parametrize("status", [500, 502, 503, 429, 301, 200])
def test_any_other_answer_to_a_first_handshake_means_no_event_stream(
    status: int, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """ARCHITECTURE.md §6: anything but a hello within 10 s means "no stream" until one has proven itself
    (a web app's catch-all 200, a proxy's 502, a redirect, a 5xx or 429)."""

    async def scenario() -> None:
        async def handler(connection: ServerConnection, number: int) -> None:
            await connection.wait_closed()

        async def answer(connection: ServerConnection, request: Any) -> Any:
            response = connection.respond(status, "<html><body>Not a stream</body></html>\n")
            if status == 301:
                response.headers["Location"] = "https://example.com/"
            return response

        server, url = await fake_stream_server(handler, process_request=answer)
        try:
            async with open_core(sandbox, tmp_path) as core:
                stream = stream_for(url, sandbox.key, core)
                with pytest.raises(StreamAbsent, match=str(status)):
                    await asyncio.wait_for(stream.run(), 10)
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())


def test_a_redirect_is_never_followed_so_the_key_never_leaves_for_another_host(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """``websockets`` follows redirects with the same headers: a 3xx to another host would hand it the
    API key. The listener follows none, and a stream that "moved" counts as absent."""

    async def scenario() -> None:
        elsewhere_requests: list[Any] = []

        async def elsewhere(connection: ServerConnection, request: Any) -> Any:
            elsewhere_requests.append(request)
            return connection.respond(404, "nothing\n")

        async def handler(connection: ServerConnection, number: int) -> None:
            await connection.wait_closed()

        other, other_url = await fake_stream_server(handler, process_request=elsewhere)

        async def redirect(connection: ServerConnection, request: Any) -> Any:
            response = connection.respond(302, "moved\n")
            response.headers["Location"] = other_url
            return response

        server, url = await fake_stream_server(handler, process_request=redirect)
        try:
            async with open_core(sandbox, tmp_path) as core:
                stream = stream_for(url, sandbox.key, core)
                with pytest.raises(StreamAbsent, match="302"):
                    await asyncio.wait_for(stream.run(), 10)
            assert elsewhere_requests == []
        finally:
            for s in (server, other):
                s.close()
                await s.wait_closed()

    asyncio.run(scenario())


def test_a_5xx_handshake_after_a_live_stream_is_temporary_and_the_listener_keeps_trying(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        states: list[StreamState] = []
        async with open_core(sandbox, tmp_path) as core:
            stream = EventStream(
                sandbox.ws_url,
                sandbox.key,
                SESSION,
                core.cache,
                catch_up=nothing,
                on_state=states.append,
                backoff_min_s=0.05,
            )
            task = asyncio.create_task(stream.run())
            try:
                await until(lambda: stream.state is StreamState.LIVE, "live", task=task)
                # The stream proved itself: a drop followed by 503s on the handshake is a hiccup.
                sandbox.control(
                    "POST", "faults", {"method": "GET", "path": "^/ws$", "count": 3, "status": 503}
                )
                sandbox.control("POST", "ws/drop")
                await until(lambda: stream.connections == 2, "live after three 503s", task=task)
                await until(lambda: stream.state is StreamState.LIVE, "live again", task=task)
                assert states == [
                    StreamState.RECONNECTING,
                    StreamState.LIVE,
                    StreamState.RECONNECTING,
                    StreamState.LIVE,
                ]
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    asyncio.run(scenario())


def test_a_refused_connection_is_offline_not_absent(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        async with open_core(sandbox, tmp_path) as core:
            stream = stream_for(f"ws://127.0.0.1:{port}/linkedin/ws", sandbox.key, core)
            task = asyncio.create_task(stream.run())
            try:
                await until(
                    lambda: stream.state is StreamState.OFFLINE and not task.done(), "offline", task=task
                )
                await asyncio.sleep(0.3)  # several retries later it is still trying, not "absent"
                assert not task.done()
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    asyncio.run(scenario())


def test_a_wrong_key_on_the_handshake_signs_out(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            stream = stream_for(sandbox.ws_url, "sbx_wrong_key_for_this_test", core)
            with pytest.raises(SignedOut):
                await asyncio.wait_for(stream.run(), 10)

    asyncio.run(scenario())


# --- the Watcher ---------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def watching(
    sandbox: SandboxHandle, core: Core, states: list[StreamState], events: list[AppliedEvent], **options: Any
) -> AsyncIterator[tuple[Watcher, asyncio.Task[None]]]:
    watcher = Watcher(
        core.api,
        core.cache,
        core.engine,
        sandbox.key,
        ws_url=sandbox.ws_url,
        on_state=states.append,
        on_event=events.append,
        **options,
    )
    task = asyncio.create_task(watcher.run())
    try:
        yield watcher, task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_the_watcher_polls_without_a_stream_and_returns_to_live_without_missing_or_repeating_an_event(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        states: list[StreamState] = []
        events: list[AppliedEvent] = []
        async with (
            open_core(sandbox, tmp_path) as core,
            watching(
                sandbox, core, states, events, poll_focused_s=0.2, poll_background_s=0.2, stream_retry_s=1.0
            ) as (watcher, task),
        ):
            await until(lambda: watcher.state is StreamState.LIVE, "live", task=task)
            start_seq = core.cache.reader.last_applied_seq()
            assert start_seq is not None

            # The stream goes away (404): the watcher polls.
            sandbox.control("POST", "events", {"enabled": False})
            await until(lambda: watcher.state is StreamState.POLLING, "polling", task=task)
            account = core.cache.reader.accounts()[0].account_id
            conversation = core.cache.reader.conversations(account, limit=1)[0]
            sandbox.control(
                "POST",
                "inject",
                {
                    "accountId": account,
                    "conversationUrn": conversation.conversation_urn,
                    "text": "while polling",
                },
            )
            target = recallable(core)
            sandbox.control("POST", "recall", {"messageId": target.message_id, "emitEvent": True})
            await until(
                lambda: core.cache.reader.message(target.account_id, target.message_id) is None,
                "the recall, by polling",
                task=task,
            )
            await until(
                lambda: (
                    core.cache.reader.messages(account, conversation.conversation_id, limit=1)[0].text
                    == "while polling"
                ),
                "the new message, by polling",
                task=task,
            )
            assert events == []  # nothing came through a stream: polling found both
            await until(lambda: watcher.rounds >= 1, "a completed round", task=task)

            # The stream comes back: the watcher resumes with `since` and takes every event once.
            sandbox.control("POST", "events", {"enabled": True})
            latest = await server_seq(sandbox)
            await until(lambda: watcher.state is StreamState.LIVE, "live again", within=15, task=task)
            await until(lambda: bool(events) and events[-1].seq == latest, "the replay", task=task)
            assert [e.seq for e in events] == list(range(start_seq + 1, latest + 1))
            assert watcher.stream is not None and watcher.stream.hello is not None
            assert watcher.stream.hello.resumed
            for state in (StreamState.LIVE, StreamState.POLLING):
                assert state in states
            assert states[-1] is StreamState.LIVE

            # ... and live events keep coming.
            sandbox.control(
                "POST",
                "inject",
                {
                    "accountId": account,
                    "conversationUrn": conversation.conversation_urn,
                    "text": "live again",
                },
            )
            latest = await server_seq(sandbox)
            await until(lambda: events[-1].seq == latest, "a live event", task=task)
            assert core.cache.reader.last_applied_seq() == latest
            assert [e.seq for e in events] == list(range(start_seq + 1, latest + 1))
            cached = {
                m.message_id
                for m in core.cache.reader.messages(account, conversation.conversation_id, limit=1000)
            }
            assert cached == server_ids(sandbox, account, conversation.conversation_urn)

    asyncio.run(scenario())


def test_polling_is_more_frequent_while_focused(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        sandbox.control("POST", "events", {"enabled": False})
        async with (
            open_core(sandbox, tmp_path) as core,
            watching(sandbox, core, [], [], poll_focused_s=0.1, poll_background_s=60, stream_retry_s=60) as (
                watcher,
                task,
            ),
        ):
            await until(lambda: watcher.rounds == 1, "the first round", task=task)
            await asyncio.sleep(0.5)
            assert watcher.rounds == 1  # background: the next round is a minute away
            watcher.focused = True  # a window gained focus: poll now, then every 0.1 s
            await until(lambda: watcher.rounds >= 4, "focused rounds", within=5, task=task)

    asyncio.run(scenario())


def test_a_429_postpones_the_next_round_by_retry_after(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        sandbox.control("POST", "events", {"enabled": False})
        async with (
            open_core(sandbox, tmp_path, read_retries=0) as core,
            watching(
                sandbox,
                core,
                [],
                [],
                poll_focused_s=0.05,
                poll_background_s=0.05,
                stream_retry_s=60,
                poll_rate_per_s=100,
            ) as (watcher, task),
        ):
            await until(lambda: watcher.rounds >= 1, "the first round", task=task)
            # Polling rounds ask A1 only every few minutes: C1 is every round's first request.
            sandbox.control(
                "POST", "faults", {"method": "GET", "path": "^/conversations$", "count": 1, "status": 429}
            )
            await until(lambda: watcher.rate_limited == 1, "the 429", task=task)
            failed_at = time.monotonic()
            rounds = watcher.rounds
            await until(lambda: watcher.rounds > rounds, "a round after the 429", within=5, task=task)
            assert time.monotonic() - failed_at >= 0.95  # the fault's Retry-After: 1 (rounds: 0.05 s apart)
            assert watcher.state is StreamState.POLLING

    asyncio.run(scenario())


def test_reconciliation_rotates_within_the_poll_budget_and_still_finds_every_recall(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        sandbox.control("POST", "events", {"enabled": False})
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            horizon = core.cache.reader.reconciliation_candidates()
            assert len(horizon) >= 4
            per_round: dict[int, list[str]] = {}
            original = core.engine.reconcile_conversation
            watchers: list[Watcher] = []

            async def recording(conversation: Conversation, last_complete: int | None) -> int:
                per_round.setdefault(watchers[0].rounds, []).append(conversation.conversation_id)
                return await original(conversation, last_complete)

            core.engine.reconcile_conversation = recording  # type: ignore[method-assign]
            # A tiny budget: after the incremental part (3 requests), two conversations per round.
            async with watching(
                sandbox,
                core,
                [],
                [],
                poll_focused_s=0.05,
                poll_background_s=0.05,
                stream_retry_s=60,
                poll_burst=5,
                poll_rate_per_s=4,
            ) as (watcher, task):
                watchers.append(watcher)
                target = recallable(core)
                sandbox.control("POST", "recall", {"messageId": target.message_id, "emitEvent": False})
                await until(
                    lambda: (
                        core.cache.reader.message(target.account_id, target.message_id) is None
                        and watcher.rounds >= 2
                    ),
                    "the recall, found by a rotating reconciliation",
                    within=20,
                    task=task,
                )
                assert core.cache.reader.is_tombstoned(target.message_id)
                assert max(len(ids) for ids in per_round.values()) < len(horizon)  # never the whole horizon
                first, second = sorted(per_round)[:2]
                assert not set(per_round[first]) & set(per_round[second])  # oldest view first: the next ones

    asyncio.run(scenario())


def test_a_polling_round_that_cannot_reach_the_server_reports_offline_then_polling_again(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        sandbox.control("POST", "events", {"enabled": False})
        states: list[StreamState] = []
        async with (
            open_core(sandbox, tmp_path) as core,
            watching(
                sandbox, core, states, [], poll_focused_s=0.05, poll_background_s=0.05, stream_retry_s=60
            ) as (watcher, task),
        ):
            await until(lambda: watcher.rounds >= 1, "the first round", task=task)
            sandbox.control(
                "POST", "faults", {"method": "GET", "path": "^/conversations$", "count": 1, "drop": True}
            )
            await until(lambda: StreamState.OFFLINE in states, "offline", task=task)
            await until(lambda: watcher.state is StreamState.POLLING, "polling again", task=task)
            assert states[-2:] == [StreamState.OFFLINE, StreamState.POLLING]

    asyncio.run(scenario())
