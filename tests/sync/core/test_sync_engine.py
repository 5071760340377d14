"""The sync engine against the real sandbox: full and incremental runs, resumption, reconciliation."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from sync import urns
from sync.clock import ServerClock
from sync.model import RECALL_WINDOW_MS, Account, Conversation
from tests.fixtures.sandbox import SandboxHandle, enc
from tests.sync.core.helpers import all_cached_messages, open_core, recallable, server_ids
from tests.sync.sandbox.helpers import accounts, all_conversations


def request_counts(sandbox: SandboxHandle) -> dict[str, int]:
    return dict(sandbox.control("GET", "requests")["routes"])


def diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


C1 = "GET /conversations"
C2 = "GET /conversations/{conversationUrn}/messages"


def test_full_sync_of_two_accounts_mirrors_the_server(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            report = await core.engine.sync_once()
            assert report.accounts == 2
            client = sandbox.client()
            for account in accounts(client):
                served = all_conversations(client, account["id"])
                cached = core.cache.reader.conversations(account["id"], limit=1000)
                assert [c.conversation_urn for c in cached] == [c["conversationUrn"] for c in served]
                assert [c.unread_count for c in cached] == [c["unreadCount"] for c in served]
                for conversation in cached:
                    have = {
                        m.message_id
                        for m in core.cache.reader.messages(
                            account["id"], conversation.conversation_id, limit=1000
                        )
                    }
                    assert have == server_ids(sandbox, account["id"], conversation.conversation_urn)
            mailboxes = {a.mailbox for a in core.cache.reader.accounts()}
            assert len(mailboxes) == 2 and all(m.startswith("urn:li:fsd_profile:") for m in mailboxes)

    asyncio.run(scenario())


def test_incremental_sync_makes_only_the_requests_needed(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            account = core.cache.reader.accounts()[0]
            target = core.cache.reader.conversations(account.account_id, limit=1000)[-1]  # the oldest one
            sandbox.control(
                "POST",
                "inject",
                {"accountId": account.account_id, "conversationUrn": target.conversation_urn, "text": "ping"},
            )
            # The horizon holds the conversations with recent messages, and now the injected one too.
            horizon = {(a, c) for a, c, _ in core.cache.reader.reconciliation_candidates()}
            to_reconcile = len(horizon | {(account.account_id, target.conversation_id)})
            before = request_counts(sandbox)
            report = await core.engine.sync_once()
            spent = diff(request_counts(sandbox), before)
            # One A1, no A2 (prefixes are cached), one C1 page per account (it stops at the first
            # unchanged conversation), one C2 `since` read of the changed conversation, and one page per
            # conversation inside the recall-window horizon.
            assert spent == {"GET /accounts": 1, C1: 2, C2: 1 + to_reconcile}
            texts = [m.text for m in core.cache.reader.messages(account.account_id, target.conversation_id)]
            assert texts[0] == "ping"
            assert report.changes.messages_inserted

    asyncio.run(scenario())


def test_a_failure_midway_leaves_the_cache_consistent_and_the_next_run_completes(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        sandbox.control("POST", "faults", {"method": "GET", "path": "/messages", "count": 1, "status": 500})
        async with open_core(sandbox, tmp_path, read_retries=0) as core:
            report = await core.engine.sync_once()
            # The failing account is marked; the other one was synced in full (accounts fail alone).
            assert [(i.kind, i.refused) for i in report.account_issues] == [("server_error", False)]
            failed = report.account_issues[0].account_id
            assert core.cache.reader.account_issues() == list(report.account_issues)
            others = [a.account_id for a in core.cache.reader.accounts() if a.account_id != failed]
            assert others and all(core.cache.reader.conversations(a, limit=5) for a in others)
            assert core.cache.reader.counts().conversations > 0  # what was committed stays
            report = await core.engine.sync_once()
            assert report.account_issues == ()
            assert core.cache.reader.account_issues() == []
            for account in core.cache.reader.accounts():
                for conversation in core.cache.reader.conversations(account.account_id, limit=1000):
                    have = {
                        m.message_id
                        for m in core.cache.reader.messages(
                            account.account_id, conversation.conversation_id, limit=999
                        )
                    }
                    assert have == server_ids(sandbox, account.account_id, conversation.conversation_urn)

    asyncio.run(scenario())


def test_reconciliation_hides_a_recall_made_while_nobody_listened(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            sandbox.control("POST", "recall", {"messageId": victim.message_id, "emitEvent": False})
            assert core.cache.reader.message(victim.account_id, victim.message_id) is not None
            report = await core.engine.sync_once()
            assert report.tombstoned_by_reconciliation >= 1
            assert core.cache.reader.message(victim.account_id, victim.message_id) is None
            assert core.cache.reader.is_tombstoned(victim.message_id)

    asyncio.run(scenario())


def test_nothing_outside_the_recall_window_horizon_is_tombstoned_by_inference(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A cached message older than L − 60 min that the server stops listing stays: it cannot have been
    recalled since L, so its absence proves nothing the client may act on."""

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            now = core.api.server_now_ms()
            old = next(m for m in all_cached_messages(core.cache) if m.sent_at < now - 3 * RECALL_WINDOW_MS)
            # Make the server drop it without telling anyone (as if LinkedIn lost it).
            sandbox.control("POST", "recall", {"messageId": old.message_id, "emitEvent": False})
            inside = recallable(core)
            sandbox.control("POST", "recall", {"messageId": inside.message_id, "emitEvent": False})
            await core.engine.reconcile()
            assert core.cache.reader.message(old.account_id, old.message_id) is not None
            assert not core.cache.reader.is_tombstoned(old.message_id)
            assert core.cache.reader.message(inside.account_id, inside.message_id) is None

    asyncio.run(scenario())


def test_reconciliation_infers_nothing_from_a_failed_page(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path, read_retries=0) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            sandbox.control("POST", "recall", {"messageId": victim.message_id, "emitEvent": False})
            sandbox.control(
                "POST", "faults", {"method": "GET", "path": "/messages", "count": 50, "status": 500}
            )
            hidden = await core.engine.reconcile()
            assert hidden == 0
            assert core.cache.reader.message(victim.account_id, victim.message_id) is not None

    asyncio.run(scenario())


def test_older_history_is_paged_on_demand(sandbox_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big = sandbox_factory("--conversations", "4", "--messages-per-conversation", "130")

    async def scenario() -> None:
        async with open_core(big, tmp_path) as core:
            await core.engine.sync_once()
            account = core.cache.reader.accounts()[0]
            conversation = core.cache.reader.conversations(account.account_id, limit=1)[0]
            first = len(
                core.cache.reader.messages(account.account_id, conversation.conversation_id, limit=999)
            )
            assert first == 50
            while await core.engine.load_older(account.account_id, conversation.conversation_id):
                pass
            have = {
                m.message_id
                for m in core.cache.reader.messages(
                    account.account_id, conversation.conversation_id, limit=999
                )
            }
            assert have == server_ids(big, account.account_id, conversation.conversation_urn)
            assert len(have) > first

    asyncio.run(scenario())


async def synced_with_an_unread(core: Any) -> tuple[Account, list[Conversation], Conversation]:
    """After a first pass: the first account, its conversations, and the first of them that is unread."""
    await core.engine.sync_once()
    account = core.cache.reader.accounts()[0]
    rows = core.cache.reader.conversations(account.account_id, limit=100)
    return account, rows, next(c for c in rows if c.unread_count > 0)


def test_incremental_sync_picks_up_read_and_star_changes_made_elsewhere(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Reading or starring a conversation elsewhere does not move its activity time: the first C1 page is
    still stored whole, so the inbox shows the new state without a full resync."""

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            account, rows, unread = await synced_with_an_unread(core)
            other = sandbox.client(session="another-session")
            from tests.fixtures.sandbox import enc

            seen = other.post(
                "/messaging/mark-seen",
                json={"accountId": account.account_id, "conversationUrn": unread.conversation_urn},
            )
            assert seen.status_code == 200, seen.text
            starred = other.patch(f"/conversations/{enc(rows[0].conversation_urn)}/star")
            assert starred.status_code == 200, starred.text
            await core.engine.sync_once(reconcile=False)
            fresh = core.cache.reader.conversation(account.account_id, unread.conversation_id)
            assert fresh is not None and fresh.unread_count == 0
            top = core.cache.reader.conversation(account.account_id, rows[0].conversation_id)
            assert top is not None and top.starred

    asyncio.run(scenario())


def test_a_listing_on_its_way_while_the_conversation_is_marked_read_does_not_bring_the_badge_back(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """The pass's C1 page is answered before the user opens the conversation but arrives after (found by
    hand against the vendor profile: open a conversation during a pass, and its unread badge came back
    until the next poll). The page is older than the mark: the conversation stays read."""

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            account, _, unread = await synced_with_an_unread(core)
            sandbox.control(
                "POST",
                "faults",
                {"method": "GET", "path": "^/conversations$", "count": 2, "phase": "after", "delay_s": 1.5},
            )
            listing = asyncio.create_task(core.engine.sync_once(reconcile=False))  # both accounts' C1 late
            await asyncio.sleep(0.5)  # its page has been answered, with the conversation unread
            # What opening it does (desktop.actions): M1, then the cache.
            await core.api.mark_seen(account.account_id, unread.conversation_urn)
            core.cache.writer.mark_read(account.account_id, unread.conversation_id).result()
            await listing
            fresh = core.cache.reader.conversation(account.account_id, unread.conversation_id)
            assert fresh is not None and fresh.unread_count == 0
            # The next listing is newer than the mark and agrees with it.
            await core.engine.sync_once(reconcile=False)
            fresh = core.cache.reader.conversation(account.account_id, unread.conversation_id)
            assert fresh is not None and fresh.unread_count == 0

    asyncio.run(scenario())


def test_a_first_run_reads_messages_of_the_newest_conversations_only(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """ARCHITECTURE.md §6: the newest page of messages for the most recent conversations at once, the rest
    when opened (a first run must not read every conversation of a large inbox)."""

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            engine = type(core.engine)(core.api, core.cache, initial_message_conversations=3)
            before = request_counts(sandbox)
            await engine.sync_once(reconcile=False)
            spent = diff(request_counts(sandbox), before)
            assert spent[C2] == 2 * 3  # two accounts, three conversations each
            for account in core.cache.reader.accounts():
                rows = core.cache.reader.conversations(account.account_id, limit=100)
                synced = [
                    c
                    for c in rows
                    if (s := core.cache.reader.conversation_sync(account.account_id, c.conversation_id))
                    and s.newest_synced_at is not None
                ]
                assert [c.conversation_id for c in synced] == [c.conversation_id for c in rows[:3]]

    asyncio.run(scenario())


def test_a_first_run_asked_for_more_conversations_than_a_read_page_gets_them_all(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine lists the newest conversations in pages: a cap above the reader's page size (made 2
    here) was silently cut to it."""
    from sync.cache import reads
    from sync.engine import passes as engine_module

    monkeypatch.setattr(reads, "MAX_PAGE", 2)
    monkeypatch.setattr(engine_module, "MAX_PAGE", 2)

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            engine = type(core.engine)(core.api, core.cache, initial_message_conversations=4)
            before = request_counts(sandbox)
            await engine.sync_once(reconcile=False)
            assert diff(request_counts(sandbox), before)[C2] == 2 * 4
            monkeypatch.undo()  # read the result with whole pages
            for account in core.cache.reader.accounts():
                rows = core.cache.reader.conversations(account.account_id, limit=100)
                assert len(rows) > 4
                synced = [
                    c.conversation_id
                    for c in rows
                    if (s := core.cache.reader.conversation_sync(account.account_id, c.conversation_id))
                    and s.newest_synced_at is not None
                ]
                assert synced == [c.conversation_id for c in rows[:4]]

    asyncio.run(scenario())


def test_an_incremental_run_cut_short_after_its_conversation_page_still_reads_the_new_messages_next_time(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """C1 stops at the first conversation whose activity the cache already has. A run that stored the C1
    page and then failed before reading a changed conversation's messages must not make that conversation
    look unchanged to the next run (its new messages would never be read)."""

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path, read_retries=0) as core:
            await core.engine.sync_once(reconcile=False)
            account = core.cache.reader.accounts()[0].account_id
            conversation = core.cache.reader.conversations(account, limit=1)[0]
            injected = urns.message_id(
                sandbox.control(
                    "POST",
                    "inject",
                    {"accountId": account, "conversationUrn": conversation.conversation_urn, "text": "away"},
                )["messageUrn"]
            )
            # The next run stores the C1 page, then fails on this conversation's messages.
            path = re.escape(f"{enc(conversation.conversation_urn)}/messages")
            sandbox.control("POST", "faults", {"method": "GET", "path": path, "count": 1, "status": 500})
            report = await core.engine.sync_once(reconcile=False)
            assert [(i.account_id, i.kind) for i in report.account_issues] == [(account, "server_error")]
            assert core.cache.reader.message(account, injected) is None
            cached = core.cache.reader.conversation(account, conversation.conversation_id)
            assert cached is not None and cached.last_activity_at > conversation.last_activity_at
            await core.engine.sync_once(reconcile=False)
            assert core.cache.reader.message(account, injected) is not None

    asyncio.run(scenario())


def test_reconciliation_infers_nothing_from_a_page_that_lists_a_message_as_a_malformed_item(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    """A cached message the server returns as a malformed item was once tombstoned gone_upstream, and
    stayed hidden forever when the server sent it well-formed again (spec §9: a page that skipped an
    item proves nothing)."""
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            fault = {"method": "GET", "path": "/messages$", "count": 50, "phase": "after"}
            sandbox.control("POST", "faults", {**fault, "corrupt": victim.message_id})
            report = await core.engine.sync_once()
            assert report.skipped >= 1 and report.tombstoned_by_reconciliation == 0
            assert not core.cache.reader.is_tombstoned(victim.message_id)
            sandbox.control("DELETE", "faults")
            await core.engine.sync_once()
            assert core.cache.reader.message(victim.account_id, victim.message_id) is not None

    asyncio.run(scenario())


def test_a_fresh_recall_is_judged_even_when_the_server_clock_estimate_steps_back(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Reconciliation reads again a conversation whose newest cached message was too new to judge, once
    the server's clock is past it. The estimate of that clock can step back when another answer's ``Date``
    narrows it during the wait: the read then still found the message too new, and reconciliation
    returned with a message recalled before it started still shown (seen in the GUI test of search)."""

    class SteppingBack(ServerClock):
        """The estimate, moved back by ``back_ms`` (what another answer's narrowing ``Date`` can do)."""

        back_ms = 0

        def now_ms(self) -> int:
            return super().now_ms() - self.back_ms

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once(reconcile=False)
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
            await core.engine.sync_once(reconcile=False)
            fresh = urns.message_id(message_urn)
            assert core.cache.reader.message(account, fresh) is not None
            recalled = other.delete(
                f"/conversations/{enc(conversation.conversation_urn)}/messages/{enc(message_urn)}",
                params={"accountId": account},
            )
            assert recalled.status_code == 200, recalled.text

            clock = SteppingBack()
            core.api.server_clock = clock
            await core.api.accounts()  # a first sample
            stop = asyncio.Event()

            async def other_answers() -> None:
                # Another task's answers while reconciliation waits (the GUI's freshness, a send…), each
                # narrowing the estimate down, by at most the 1 s a ``Date`` header leaves open.
                while not stop.is_set():
                    await asyncio.sleep(0.3)
                    await core.api.accounts()
                    clock.back_ms = min(clock.back_ms + 300, 900)

            chatter = asyncio.create_task(other_answers())
            try:
                await core.engine.reconcile(account)
            finally:
                stop.set()
                await chatter
            assert core.cache.reader.is_tombstoned(fresh)
            assert core.cache.reader.message(account, fresh) is None

    asyncio.run(scenario())


def test_every_accounts_conversations_are_listed_side_by_side(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """Each account's listing is a chain of C1 pages; with two accounts both chains run at once, so the
    inbox fills in the time of the longer one (BENCHMARKS.md figure 8), each request still paced."""

    def c1_received() -> int:
        return int(sandbox.control("GET", "requests")["routes"].get("GET /conversations", 0))

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            assert len([a for a in await core.engine.discover_accounts() if a.api_seat is not False]) == 2
            sandbox.control(
                "POST", "faults", {"method": "GET", "path": "^/conversations$", "count": 2, "delay_s": 2}
            )
            before = c1_received()
            sync = asyncio.create_task(core.engine.sync_once(reconcile=False))
            for _ in range(200):  # the first account's first page is held by the server for 2 s
                if c1_received() > before:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
            arrived_while_the_first_was_held = c1_received() - before
            report = await sync
            assert arrived_while_the_first_was_held == 2
            assert not report.account_issues

    asyncio.run(scenario())


def test_a_failure_of_the_key_while_accounts_are_listed_ends_the_pass_with_that_error() -> None:
    """The listings run side by side; a key-wide failure in one cancels the others and is raised as it
    is (not wrapped in an exception group), so callers still tell it from an account's own failure."""
    from sync.engine.passes import _all_or_none
    from sync.errors import SignedOut

    cancelled: list[str] = []

    async def listing_that_waits() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append("the other account")
            raise
        return "never"

    async def listing_refused() -> str:
        await asyncio.sleep(0.01)
        raise SignedOut("401: the key was revoked")

    async def scenario() -> None:
        with pytest.raises(SignedOut, match="revoked"):
            await _all_or_none([listing_that_waits(), listing_refused()])
        assert cancelled == ["the other account"]
        assert await _all_or_none([asyncio.sleep(0, "a"), asyncio.sleep(0, "b")]) == ["a", "b"]

    asyncio.run(scenario())


def test_the_next_page_of_conversations_is_asked_for_while_the_last_one_is_written(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's writes used to be awaited before the next page was asked for: each page of the listing
    cost a round trip to the server plus the writer's commit. Now the commit overlaps the next request
    (BENCHMARKS.md figure 8); each page is still compared with what the pages before it stored."""
    import threading

    from sync.engine import passes

    monkeypatch.setattr(passes, "PAGE_CONVERSATIONS", 2)

    def c1_received() -> int:
        return int(sandbox.control("GET", "requests")["routes"].get("GET /conversations", 0))

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            account = next(a for a in await core.engine.discover_accounts() if a.api_seat is not False)
            gate = threading.Event()
            core.cache.writer.submit(lambda _db: gate.wait(30))  # the writer is busy until the gate opens
            before = c1_received()
            listing = asyncio.create_task(core.engine._list_conversations(account))
            try:
                for _ in range(100):
                    if c1_received() - before >= 2:
                        break
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)
                asked_while_the_writer_was_busy = c1_received() - before
            finally:
                gate.set()
            changed, first_run = await listing
            assert asked_while_the_writer_was_busy == 2  # the second page, not the third: one in flight
            assert first_run
            stored = core.cache.reader.conversations(account.account_id, limit=1000)
            assert {c.conversation_id for c in stored} == {c.conversation_id for c in changed}
            assert len(changed) > 4  # several pages, each stored
            state = core.cache.reader.account_sync(account.account_id)
            assert state is not None and state.initial_sync_completed and state.conversations_cursor is None

    asyncio.run(scenario())
