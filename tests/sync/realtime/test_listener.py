"""The event-stream listener against the real sandbox on loopback, with a real SQLite cache in tmp_path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sync import urns
from sync.engine import message_in
from sync.model import StreamState
from sync.realtime import EventStream, _Frame
from tests.fixtures.sandbox import SandboxHandle, enc
from tests.sync.core.helpers import open_core, recallable, server_ids
from tests.sync.realtime.helpers import listening, server_seq, visible_ids

OTHER_SESSION_TEXT = "from another session"


def test_a_recall_made_by_another_session_reaches_a_running_listener_and_hides_the_message(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core, listening(sandbox, core) as listener:
            await listener.until(lambda: listener.stream.state is StreamState.LIVE, "live")
            assert listener.catch_ups == 1  # no `since` yet: the first connection catches up
            target = recallable(core)
            assert core.cache.reader.message(target.account_id, target.message_id) is not None
            sandbox.control("POST", "recall", {"messageId": target.message_id, "emitEvent": True})
            await listener.until(
                lambda: core.cache.reader.message(target.account_id, target.message_id) is None,
                "the recalled message to be hidden",
            )
            assert core.cache.reader.is_tombstoned(target.message_id)
            recalls = [e for e in listener.events if e.type == "message.recalled"]
            assert [e.message_id for e in recalls] == [target.message_id]
            assert recalls[0].origin_session_id not in ("", core.api.session_id)
            assert target.message_id in recalls[0].changes.tombstones_added
            assert listener.stream.connections == 1

    asyncio.run(scenario())


def test_a_recall_event_before_the_message_was_synced_leaves_a_tombstone_that_keeps_it_hidden(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            # The message as a sync would have read it just before the recall (nothing is cached yet).
            account = (await core.engine.discover_accounts())[0]
            page = await core.api.conversations(account.account_id, count=5)
            conversation = page.conversations[0]
            messages = await core.api.messages(account.account_id, conversation.conversation_urn)
            target = messages.messages[0]
            assert core.cache.reader.counts().messages == 0
            # Resume from the server's latest seq: no catch-up, so the recall event comes first.
            await asyncio.wrap_future(core.cache.writer.set_last_applied_seq(await server_seq(sandbox)))
            async with listening(sandbox, core) as listener:
                await listener.until(lambda: listener.stream.state is StreamState.LIVE, "live")
                sandbox.control("POST", "recall", {"messageId": target.message_id, "emitEvent": True})
                await listener.until(
                    lambda: core.cache.reader.is_tombstoned(target.message_id), "the tombstone"
                )
                assert listener.catch_ups == 0
            # A stale read lands after the event: the tombstone wins.
            changes = await asyncio.wrap_future(core.cache.writer.upsert_messages([message_in(target)]))
            assert not changes.messages_inserted
            assert core.cache.reader.message(account.account_id, target.message_id) is None
            # And a real sync later does not bring it back either.
            await core.engine.sync_once()
            assert core.cache.reader.message(account.account_id, target.message_id) is None
            assert core.cache.reader.counts().messages > 0

    asyncio.run(scenario())


def test_events_replayed_after_a_dropped_connection_are_applied_exactly_once(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core, listening(sandbox, core) as listener:
            await listener.until(lambda: listener.stream.state is StreamState.LIVE, "live")
            first_seq = core.cache.reader.last_applied_seq()
            assert first_seq is not None
            account = core.cache.reader.accounts()[0].account_id
            conversations = core.cache.reader.conversations(account, limit=3)
            # Keep the listener away while another session changes things: drop it and refuse the
            # handshake (503, a temporary failure) until the changes are made.
            sandbox.control(
                "POST", "faults", {"method": "GET", "path": "^/ws$", "count": 1000, "status": 503}
            )
            sandbox.control("POST", "ws/drop")
            await listener.until(lambda: listener.stream.state is not StreamState.LIVE, "the drop")
            for conversation in conversations:
                sandbox.control(
                    "POST",
                    "inject",
                    {"accountId": account, "conversationUrn": conversation.conversation_urn, "text": "hi"},
                )
            target = recallable(core)
            sandbox.control("POST", "recall", {"messageId": target.message_id, "emitEvent": True})
            assert listener.events == []
            sandbox.control("DELETE", "faults")
            latest = await server_seq(sandbox)
            await listener.until(lambda: listener.seqs()[-1:] == [latest], "the replay")
            assert core.cache.reader.last_applied_seq() == latest
            await listener.until(lambda: listener.stream.state is StreamState.LIVE, "live again")

            seqs = listener.seqs()
            assert seqs == list(range(first_seq + 1, latest + 1))  # each event once, in order
            assert listener.stream.hello is not None and listener.stream.hello.resumed
            assert listener.catch_ups == 1  # resumed with `since`: no catch-up needed
            created = [e for e in listener.events if e.type == "message.created"]
            injected = {e.message_id for e in created}
            assert len(injected) == len(conversations)
            # One event per mailbox holding the conversation, each inserting its copy exactly once.
            copies = sum(len(core.cache.reader.message_copies(m)) for m in injected)
            assert len(created) == copies
            assert sum(len(e.changes.messages_inserted) for e in created) == copies
            assert [e.message_id for e in listener.events if e.type == "message.recalled"] == [
                target.message_id
            ]
            # The cache equals the server for every conversation that changed.
            recalled_in = core.cache.reader.conversation(target.account_id, target.conversation_id)
            assert recalled_in is not None
            for conversation in [*conversations, recalled_in]:
                cached = {
                    m.message_id
                    for m in core.cache.reader.messages(
                        conversation.account_id, conversation.conversation_id, limit=1000
                    )
                }
                assert cached == server_ids(sandbox, conversation.account_id, conversation.conversation_urn)

    asyncio.run(scenario())


class _DropsOneEvent(EventStream):
    """Loses the first ``message.created`` frame it is handed, as a lossy connection would."""

    dropped: _Frame | None = None

    async def handle(self, frame: _Frame) -> None:
        if self.dropped is None and frame.type == "message.created":
            self.dropped = frame
            return
        await super().handle(frame)


def test_a_seq_gap_reconnects_with_since_and_the_missing_event_is_replayed(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with (
            open_core(sandbox, tmp_path) as core,
            listening(sandbox, core, stream_class=_DropsOneEvent) as listener,
        ):
            stream = listener.stream
            assert isinstance(stream, _DropsOneEvent)
            await listener.until(lambda: stream.state is StreamState.LIVE, "live")
            start = core.cache.reader.last_applied_seq()
            assert start is not None
            account = core.cache.reader.accounts()[0].account_id
            conversation = core.cache.reader.conversations(account, limit=1)[0]
            texts = ["lost on the way", "shows the gap"]
            for text in texts:
                sandbox.control(
                    "POST",
                    "inject",
                    {"accountId": account, "conversationUrn": conversation.conversation_urn, "text": text},
                )
            latest = await server_seq(sandbox)  # two events per inject when both mailboxes hold it
            await listener.until(lambda: listener.seqs()[-1:] == [latest], "every event")
            assert core.cache.reader.last_applied_seq() == latest
            assert stream.dropped is not None and stream.dropped.seq == start + 1
            assert stream.connections == 2  # the gap reconnected
            assert stream.hello is not None and stream.hello.resumed  # ... with `since`
            assert listener.catch_ups == 1
            assert listener.seqs() == list(range(start + 1, latest + 1))
            cached = [
                m.text for m in core.cache.reader.messages(account, conversation.conversation_id, limit=2)
            ]
            assert cached == list(reversed(texts))

    asyncio.run(scenario())


def test_resumed_false_runs_a_catch_up_then_goes_live(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            # A `since` beyond the server's latest seq cannot be resumed.
            await asyncio.wrap_future(core.cache.writer.set_last_applied_seq(10**9))
            async with listening(sandbox, core) as listener:
                await listener.until(lambda: listener.stream.state is StreamState.LIVE, "live")
                hello = listener.stream.hello
                assert hello is not None and hello.resumed is False
                assert listener.catch_ups == 1
                assert core.cache.reader.last_applied_seq() == hello.seq
                assert core.cache.reader.counts().messages > 0  # the catch-up synced

                # A server reset restarts seq at 0: a reconnect with `since` > 0 cannot resume either.
                account = core.cache.reader.accounts()[0].account_id
                conversation = core.cache.reader.conversations(account, limit=1)[0]
                synced = visible_ids(core.cache)
                sandbox.control(
                    "POST",
                    "inject",
                    {"accountId": account, "conversationUrn": conversation.conversation_urn, "text": "gone"},
                )
                await listener.until(lambda: bool(listener.events), "an event before the reset")
                assert (core.cache.reader.last_applied_seq() or 0) > 0
                sandbox.reset()
                await listener.until(lambda: listener.catch_ups == 2, "the second catch-up")
                await listener.until(lambda: listener.stream.state is StreamState.LIVE, "live again")
                assert listener.stream.hello is not None and listener.stream.hello.resumed is False
                assert core.cache.reader.last_applied_seq() == 0
                # Same seed: the seeded data is all there. (The injected message is not judged: the reset
                # moved the sandbox clock back before its sentAt, beyond what a catch-up may infer.)
                assert synced <= visible_ids(core.cache)

                # Live mode: the next events are applied as they happen.
                before = len(listener.events)
                sandbox.control(
                    "POST",
                    "inject",
                    {"accountId": account, "conversationUrn": conversation.conversation_urn, "text": "live"},
                )
                latest = await server_seq(sandbox)
                await listener.until(lambda: listener.seqs()[before:][-1:] == [latest], "the live events")
                assert core.cache.reader.last_applied_seq() == latest
                assert latest > 0
                live = listener.events[before:]
                assert [e.seq for e in live] == list(range(1, latest + 1))
                assert any(e.type == "message.created" and e.inbound for e in live)
                assert listener.catch_ups == 2

    asyncio.run(scenario())


def test_heartbeats_keep_the_connection_up_under_the_watchdog(
    sandbox_factory: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    fast = sandbox_factory("--heartbeat-s", "1")

    async def scenario() -> None:
        async with open_core(fast, tmp_path) as core, listening(fast, core, watchdog_s=2.0) as listener:
            await listener.until(lambda: listener.stream.state is StreamState.LIVE, "live")
            # Two and a half watchdog periods without a single event: only heartbeats are heard.
            await asyncio.sleep(5.0)
            assert not listener.task.done()
            assert listener.stream.connections == 1
            assert listener.stream.state is StreamState.LIVE

    asyncio.run(scenario())


def test_a_watchdog_shorter_than_the_heartbeat_reconnects(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core, listening(sandbox, core, watchdog_s=0.3) as listener:
            # The shared sandbox sends a heartbeat every 30 s: the watchdog fires first, every time.
            await listener.until(lambda: listener.stream.connections >= 3, "two watchdog reconnects")
            assert listener.catch_ups == 1  # the reconnects resume with `since`
            assert listener.stream.hello is not None and listener.stream.hello.resumed

    asyncio.run(scenario())


def test_a_catch_up_right_after_a_fresh_message_was_recalled_elsewhere_hides_it(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """The catch-up after ``resumed: false`` stores hello's seq, so a recall made before the hello is never
    replayed: the catch-up's reconciliation must judge every cached message sent before the hello, even one
    sent within the clock margin of the read (it used to leave those alone, and they stayed visible)."""

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            account = core.cache.reader.accounts()[0].account_id
            conversation = core.cache.reader.conversations(account, limit=1)[0]
            other = sandbox.client(session="another-device")
            sent = other.post(
                "/conversations/send",
                json={
                    "accountId": account,
                    "conversationUrn": conversation.conversation_urn,
                    "message": "oops",
                },
            )
            assert sent.status_code == 200, sent.text
            message_urn = sent.json()["sentMessage"]["messageUrn"]
            await core.engine.sync_once(reconcile=False)  # this client has seen the message
            message_id = core.cache.reader.message_ids_sent_between(
                account, conversation.conversation_id, 0, 2**62
            )
            fresh = urns.message_id(message_urn)
            assert fresh in message_id
            recalled = other.delete(
                f"/conversations/{enc(conversation.conversation_urn)}/messages/{enc(message_urn)}",
                params={"accountId": account},
            )
            assert recalled.status_code == 200, recalled.text
            # While this client was away the server forgot the events: the stream cannot resume.
            await asyncio.wrap_future(core.cache.writer.set_last_applied_seq(10**9))
            async with listening(sandbox, core) as listener:
                await listener.until(lambda: listener.stream.state is StreamState.LIVE, "live", within=20)
                assert listener.stream.hello is not None and listener.stream.hello.resumed is False
                assert core.cache.reader.last_applied_seq() == listener.stream.hello.seq
                assert core.cache.reader.message(account, fresh) is None
                assert core.cache.reader.is_tombstoned(fresh)

    asyncio.run(scenario())
