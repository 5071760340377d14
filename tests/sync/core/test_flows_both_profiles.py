"""The core flows against both sandbox profiles: our contract, and only what the vendor documents (spec §8).

Against the vendor profile: C1 previews without a message URN, ISO activity times, no ``accountId`` or
``starred`` on items, C2 pages oldest first, a C3 answer without ``conversationUrn``, no event stream (so
recalls made elsewhere arrive by polling), and a seatless account that answers 403 to everything.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from sync import urns
from sync.model import StreamState
from sync.watcher import Watcher
from tests.fixtures.sandbox import SandboxHandle
from tests.sync.core.helpers import open_core, recallable, server_ids
from tests.sync.realtime.helpers import until
from tests.sync.sandbox.helpers import accounts, all_conversations


def served_accounts(sandbox: SandboxHandle) -> list[dict[str, object]]:
    return [a for a in accounts(sandbox.client()) if a.get("apiSeatAllocated", True) is not False]


def test_a_first_sync_stores_every_conversation_with_its_preview_and_the_newest_messages(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            report = await core.engine.sync_once()
            assert report.skipped == 0
            served = served_accounts(sandbox)
            client = sandbox.client()
            for account in served:
                account_id = str(account["id"])
                listed = all_conversations(client, account_id)
                cached = core.cache.reader.conversations(account_id, limit=1000)
                assert {c.conversation_urn for c in cached} == {c["conversationUrn"] for c in listed}
                previews = [c for c in cached if c.latest is not None]
                assert previews and all(c.latest and c.latest.text for c in previews)
                newest = max(cached, key=lambda c: c.last_activity_at)
                have = {
                    m.message_id
                    for m in core.cache.reader.messages(account_id, newest.conversation_id, limit=1000)
                }
                server = server_ids(sandbox, account_id, newest.conversation_urn)
                assert have and have <= server
            if sandbox.profile == "vendor":
                # The seatless account is shown (stored), marked, and never synced.
                seatless = sandbox.control("GET", "info")["seatlessAccount"]["id"]
                issues = {i.account_id: i for i in report.account_issues}
                assert set(issues) == {seatless}
                assert issues[seatless].kind == "no_api_access" and issues[seatless].refused
                assert core.cache.reader.account(seatless) is not None
                assert core.cache.reader.conversations(seatless, limit=5) == []
                assert core.cache.reader.account_issues() == [issues[seatless]]
            else:
                assert report.account_issues == ()

    asyncio.run(scenario())


def test_opening_a_conversation_and_its_older_history_mirror_the_server_in_order(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            account_id = str(served_accounts(sandbox)[0]["id"])
            conversations = core.cache.reader.conversations(account_id, limit=1000)

            def never_read(conversation_id: str) -> bool:
                state = core.cache.reader.conversation_sync(account_id, conversation_id)
                return state is None or state.newest_synced_at is None

            target = next((c for c in conversations if never_read(c.conversation_id)), conversations[0])
            await core.engine.sync_new_messages(target)  # what opening it does
            while await core.engine.load_older(account_id, target.conversation_id):
                pass
            cached = core.cache.reader.messages(account_id, target.conversation_id, limit=1000)
            assert {m.message_id for m in cached} == server_ids(sandbox, account_id, target.conversation_urn)
            # The sync state's bounds are the thread's, whatever order the wire's pages came in.
            state = core.cache.reader.conversation_sync(account_id, target.conversation_id)
            assert state is not None and state.reached_oldest
            assert (state.oldest_synced_at, state.newest_synced_at) == (
                min(m.sent_at for m in cached),
                max(m.sent_at for m in cached),
            )

    asyncio.run(scenario())


def test_a_sent_message_lands_in_its_thread(sandbox_any_profile: SandboxHandle, tmp_path: Path) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        from sync.engine import message_in

        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            account_id = str(served_accounts(sandbox)[0]["id"])
            target = core.cache.reader.conversations(account_id, limit=1)[0]
            result = await core.api.send(
                account_id, "hello from both", conversation_urn=target.conversation_urn
            )
            assert result.sent_message is not None
            assert result.sent_message.conversation_id == target.conversation_id
            await asyncio.wrap_future(core.cache.writer.upsert_messages([message_in(result.sent_message)]))
            newest = core.cache.reader.messages(account_id, target.conversation_id, limit=1)[0]
            assert (newest.text, newest.is_sent_by_owner) == ("hello from both", True)
            assert newest.message_id in server_ids(sandbox, account_id, target.conversation_urn)

    asyncio.run(scenario())


def test_a_recall_made_elsewhere_reaches_the_cache_by_polling_when_there_is_no_stream(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        if sandbox.profile == "contract":
            sandbox.control("POST", "events", {"enabled": False})
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            states: list[StreamState] = []
            watcher = Watcher(
                core.api,
                core.cache,
                core.engine,
                sandbox.key,
                on_state=states.append,
                poll_focused_s=0.2,
                poll_background_s=0.2,
            )
            task = asyncio.create_task(watcher.run())
            try:
                await until(lambda: watcher.state is StreamState.POLLING, "polling", task=task)
                sandbox.control("POST", "recall", {"messageId": victim.message_id, "emitEvent": False})
                await until(
                    lambda: core.cache.reader.is_tombstoned(victim.message_id), "the recall", task=task
                )
                assert core.cache.reader.message(victim.account_id, victim.message_id) is None
                assert StreamState.RECONNECTING not in states
                assert urns.message_id(victim.message_urn) == victim.message_id
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    asyncio.run(scenario())
