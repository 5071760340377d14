"""The recall service against the real sandbox: success, every failure class, lost answers, evidence.

The rule under test is spec §9: ``recalled`` only on evidence (a 200, the event, or a clean re-read of
the message's own conversation that covers its time and lacks it); a refusal only when the server said
no to the first DELETE; anything else is ``unconfirmed`` and deletes nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from sync.model import ChangeSet, Message, RecallState
from sync.recall import STILL_THERE, RecallStatus
from sync.recall_rules import UNCONFIRMED_CHECKING, Ineligible
from tests.fixtures.sandbox import SandboxHandle
from tests.sync.core.helpers import Core, not_own, open_core, recallable, server_ids

DELETE_PATH = "/messages/"
READ_PATH = "/messages$"
"""C2's path (the DELETE's path continues after /messages/)."""


def fault(sandbox: SandboxHandle, method: str, path: str, count: int, **what: Any) -> None:
    sandbox.control("POST", "faults", {"method": method, "path": path, "count": count, **what})


def assert_nothing_deleted(core: Core, sandbox: SandboxHandle, victim: Message) -> None:
    """The message is still cached, not tombstoned, and listed by the server."""
    assert core.cache.reader.message(victim.account_id, victim.message_id) is not None
    assert not core.cache.reader.is_tombstoned(victim.message_id)
    assert victim.message_id in server_ids(sandbox, victim.account_id, victim.conversation_urn)


def test_recall_success_hides_it_everywhere_and_a_resync_never_brings_it_back(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core, shared=True)
            copies = core.cache.reader.message_copies(victim.message_id)
            assert len({c.account_id for c in copies}) == 2
            assert len({c.message_urn for c in copies}) == 2  # different mailbox prefixes
            seen: list[RecallStatus] = []
            status = await core.recalls.recall(victim, on_status=seen.append, conversation_title="Alex")
            assert status.state is RecallState.RECALLED
            assert [s.state for s in seen] == [RecallState.PENDING, RecallState.RECALLED]
            for copy in copies:
                assert victim.message_id not in server_ids(sandbox, copy.account_id, copy.conversation_urn)
            assert core.cache.reader.message_copies(victim.message_id) == []
            hidden = {(k.account_id, k.message_id) for k in status.changes.messages_hidden}
            assert hidden == {(c.account_id, c.message_id) for c in copies}
            for account in core.cache.reader.accounts():
                for conversation in core.cache.reader.conversations(account.account_id, limit=999):
                    await core.engine.sync_new_messages(conversation)
            await core.engine.sync_once()
            assert core.cache.reader.message_copies(victim.message_id) == []
            log = core.cache.reader.recall_log(limit=5)
            assert log[0].outcome is RecallState.RECALLED and log[0].latency_ms is not None
            assert log[0].conversation_title == "Alex"
            assert log[0].message_preview == victim.text.strip().splitlines()[0][:120]

    asyncio.run(scenario())


@pytest.mark.parametrize("lost", ["dropped", "timed out"])
def test_a_recall_whose_200_was_lost_is_confirmed_by_a_repeat_or_the_re_read(
    lost: str, sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path, timeout_s=0.5) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            what = {"drop": True} if lost == "dropped" else {"delay_s": 2}
            fault(sandbox, "DELETE", DELETE_PATH, 1, phase="after", **what)
            status = await core.recalls.recall(victim)
            assert status.state is RecallState.RECALLED
            assert core.cache.reader.message(victim.account_id, victim.message_id) is None
            assert core.cache.reader.recall_log(limit=1)[0].outcome is RecallState.RECALLED

    asyncio.run(scenario())


AMBIGUOUS: dict[str, dict[str, Any]] = {
    # name: the DELETE's fault (every attempt); the client cannot tell whether the server did the work
    "500": {"status": 500},
    "429": {"status": 429, "code": "RATE_LIMITED"},
    # The server sits on the request past the client's timeout, then drops it.
    "timeout": {"delay_s": 2, "drop": True},
    "dropped": {"drop": True},
}
READS = ("ok", "failed", "malformed", "wrong conversation")


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("name", list(AMBIGUOUS))
def test_the_recall_fault_matrix_never_reports_recalled_without_evidence_nor_deletes_falsely(
    name: str, phase: str, read: str, sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    """Every ambiguous failure × did the server apply it × what the confirming read says (spec §9)."""

    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            other = next(
                c
                for c in core.cache.reader.conversations(victim.account_id, limit=100)
                if c.conversation_id != victim.conversation_id
            )
        async with open_core(sandbox, tmp_path, timeout_s=0.5) as core:
            fault(sandbox, "DELETE", DELETE_PATH, 20, phase=phase, **AMBIGUOUS[name])
            if read == "failed":
                fault(sandbox, "GET", READ_PATH, 20, phase="before", status=500)
            if read == "malformed":
                # The confirming pages list the message as a malformed item: it may be there, or not.
                fault(sandbox, "GET", READ_PATH, 20, phase="after", corrupt=victim.message_id)
            target = victim
            known = True
            if read == "wrong conversation":
                # The command line naming another conversation for a message the cache does not know:
                # a read of that conversation proves nothing about the message.
                target = Message(
                    account_id=victim.account_id,
                    conversation_id=other.conversation_id,
                    message_id=victim.message_id,
                    message_urn=victim.message_urn,
                    conversation_urn=other.conversation_urn,
                    text="",
                    sent_at=0,
                    is_sent_by_owner=True,
                )
                known = False
            status = await core.recalls.recall(target, check_eligibility=known)
            sandbox.control("DELETE", "faults")
            applied = victim.message_id not in server_ids(sandbox, victim.account_id, victim.conversation_urn)
            # A DELETE naming the wrong conversation is refused by the server, even when it answers late.
            assert applied is (phase == "after" and read != "wrong conversation")
            log = core.cache.reader.recall_log(limit=1)[0]
            if status.state is RecallState.RECALLED:
                # Never without evidence: the server really no longer has it, and the evidence was clean.
                assert applied and read == "ok"
                assert core.cache.reader.is_tombstoned(victim.message_id)
                assert log.outcome is RecallState.RECALLED
                return
            # Everything else: no local deletion at all, and the log does not say recalled.
            assert status.state is RecallState.UNCONFIRMED, status
            assert status.can_retry
            assert not core.cache.reader.is_tombstoned(victim.message_id)
            assert core.cache.reader.message(victim.account_id, victim.message_id) is not None
            assert log.outcome is RecallState.UNCONFIRMED
            assert status.user_message in (UNCONFIRMED_CHECKING, STILL_THERE)
            if not applied and read == "ok":
                assert status.user_message == STILL_THERE  # the clean read still lists it
            if read == "malformed":
                assert status.user_message == UNCONFIRMED_CHECKING  # the page proves nothing either way
            # Recalled when it can be proven: exactly when the server applied it and the read was clean.
            assert not (applied and read == "ok")

    asyncio.run(scenario())


def test_an_unconfirmed_recall_is_settled_by_evidence_once_the_read_works(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path, timeout_s=0.5) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            fault(sandbox, "DELETE", DELETE_PATH, 20, phase="after", status=500)
            fault(sandbox, "GET", READ_PATH, 20, phase="before", status=500)
            status = await core.recalls.recall(victim)
            assert status.state is RecallState.UNCONFIRMED
            assert core.cache.reader.open_recalls() == 1
            # Still failing: settling changes nothing and deletes nothing.
            assert await core.recalls.settle_open() == []
            assert core.cache.reader.message(victim.account_id, victim.message_id) is not None
            sandbox.control("DELETE", "faults")
            settled = await core.recalls.settle_open()
            assert [a.outcome for a in settled] == [RecallState.RECALLED]
            assert core.cache.reader.is_tombstoned(victim.message_id)
            assert core.cache.reader.open_recalls() == 0

    asyncio.run(scenario())


def test_an_unconfirmed_recall_of_a_message_still_listed_fails_only_when_the_window_has_closed(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path, timeout_s=0.5) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            fault(sandbox, "DELETE", DELETE_PATH, 20, phase="before", status=500)
            status = await core.recalls.recall(victim)
            sandbox.control("DELETE", "faults")
            assert (status.state, status.user_message) == (RecallState.UNCONFIRMED, STILL_THERE)
            assert await core.recalls.settle_open() == []  # still listed, window open: still unconfirmed
            sandbox.control("POST", "clock/advance", {"ms": 61 * 60_000})
            await core.api.accounts()  # a response with the new Date moves the client's server clock
            settled = await core.recalls.settle_open()
            assert [a.outcome for a in settled] == [RecallState.FAILED]
            assert "window has closed" in settled[0].error_message
            assert_nothing_deleted(core, sandbox, victim)

    asyncio.run(scenario())


def test_the_event_stream_confirms_an_unconfirmed_recall_in_the_tombstones_transaction(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path, timeout_s=0.5) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            fault(sandbox, "DELETE", DELETE_PATH, 20, phase="after", drop=True)
            fault(sandbox, "GET", READ_PATH, 20, phase="before", status=500)
            status = await core.recalls.recall(victim)
            assert status.state is RecallState.UNCONFIRMED
            # The message.recalled event (or reconciliation) writes the tombstone: the log follows.
            from sync.model import TombstoneReason

            await asyncio.wrap_future(
                core.cache.writer.tombstone([victim.message_id], TombstoneReason.RECALLED_ELSEWHERE)
            )
            log = core.cache.reader.recall_log(limit=1)[0]
            assert log.outcome is RecallState.RECALLED
            assert core.cache.reader.open_recalls() == 0

    asyncio.run(scenario())


def test_a_failure_to_write_the_tombstone_after_the_200_leaves_it_unconfirmed_then_settles(
    sandbox_any_profile: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception other than a known error after LinkedIn's yes (here SQLite's I/O error on the
    tombstone) must not leave "Recalling…" forever, nor say "recalled" before it is recorded."""

    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            real = core.cache.writer.tombstone

            def broken(*args: Any, **kwargs: Any) -> Future[ChangeSet]:
                failed: Future[ChangeSet] = Future()
                failed.set_exception(sqlite3.OperationalError("disk I/O error"))
                return failed

            monkeypatch.setattr(core.cache.writer, "tombstone", broken)
            status = await core.recalls.recall(victim)
            assert status.state is RecallState.UNCONFIRMED and status.can_retry
            assert core.cache.reader.recall_log(limit=1)[0].outcome is RecallState.UNCONFIRMED
            monkeypatch.setattr(core.cache.writer, "tombstone", real)
            settled = await core.recalls.settle_open()
            assert [a.outcome for a in settled] == [RecallState.RECALLED]
            assert core.cache.reader.message(victim.account_id, victim.message_id) is None

    asyncio.run(scenario())


DEFINITE: dict[str, tuple[dict[str, Any], RecallState, str]] = {
    # name: (fault, state, error kind)
    "401": ({}, RecallState.FAILED, "signed_out"),
    "404": ({"status": 404, "code": "CONVERSATION_NOT_FOUND"}, RecallState.REFUSED, "conversation_not_found"),
}


@pytest.mark.parametrize("name", list(DEFINITE))
def test_a_definite_answer_to_the_first_delete_is_final_and_deletes_nothing(
    name: str, sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile
    what, state, kind = DEFINITE[name]
    if sandbox.profile == "vendor" and state is RecallState.REFUSED:
        kind = "refused"  # the vendor's every C6 refusal: 400 "Recall failed on LinkedIn" (spec §8)

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core)
        key = "wrong-key-for-this-test" if name == "401" else None
        async with open_core(sandbox, tmp_path, key=key) as core:
            if what:
                fault(sandbox, "DELETE", DELETE_PATH, 20, phase="before", **what)
            status = await core.recalls.recall(victim)
            sandbox.control("DELETE", "faults")
            assert (status.state, status.error_kind, status.can_retry) == (state, kind, False)
            assert status.user_message
            assert status.changes.messages_hidden == frozenset()
            assert_nothing_deleted(core, sandbox, victim)
            attempt = core.cache.reader.recall_log(limit=1)[0]
            assert (attempt.outcome, attempt.error_kind) == (state, kind)

    asyncio.run(scenario())


def test_refusals_by_linkedin_are_typed_and_final(sandbox_any_profile: SandboxHandle, tmp_path: Path) -> None:
    sandbox = sandbox_any_profile

    def kind_of(contract_kind: str) -> str:
        # The vendor's refusals carry no code: 400 "Recall failed on LinkedIn", typed by status.
        return "refused" if sandbox.profile == "vendor" else contract_kind

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            theirs = not_own(core)
            status = await core.recalls.recall(theirs, check_eligibility=False)  # let the server judge
            assert (status.state, status.error_kind, status.can_retry) == (
                RecallState.REFUSED,
                kind_of("recall_not_own"),
                False,
            )
            if sandbox.profile == "vendor":
                assert status.user_message == "Refused by LinkedIn: Recall failed on LinkedIn"
            assert core.cache.reader.message(theirs.account_id, theirs.message_id) is not None

            mine = recallable(core)
            sandbox.control("POST", "clock/advance", {"ms": 61 * 60_000})
            await core.api.accounts()
            verdict = core.recalls.eligibility(mine)
            assert not verdict.allowed and verdict.why_not is Ineligible.WINDOW_CLOSED
            status = await core.recalls.recall(mine, check_eligibility=False)
            assert (status.state, status.error_kind) == (
                RecallState.REFUSED,
                kind_of("recall_window_expired"),
            )
            assert core.cache.reader.message(mine.account_id, mine.message_id) is not None

    asyncio.run(scenario())


def test_eligibility_is_checked_locally_with_the_reason(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            theirs = not_own(core)
            verdict = core.recalls.eligibility(theirs)
            assert not verdict.allowed and verdict.why_not is Ineligible.NOT_OWN
            assert "Only messages you sent" in verdict.reason
            before = dict(sandbox.control("GET", "requests")["routes"])
            status = await core.recalls.recall(theirs)
            after = dict(sandbox.control("GET", "requests")["routes"])
            assert (status.state, status.error_kind) == (RecallState.REFUSED, "recall_not_own")
            assert after == before  # refused locally: nothing was sent
            mine = recallable(core)
            verdict = core.recalls.eligibility(mine)
            assert verdict.allowed and 60_000 <= verdict.left_ms <= 3_600_000

    asyncio.run(scenario())


def test_a_recall_cancelled_in_its_grace_period_is_logged_and_sends_nothing(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            before = dict(sandbox.control("GET", "requests")["routes"])
            await core.recalls.log_cancelled(victim, window_id="w1", conversation_title="Alex")
            assert dict(sandbox.control("GET", "requests")["routes"]) == before
            log = core.cache.reader.recall_log(limit=1)[0]
            assert (log.outcome, log.window_id, log.conversation_title) == (
                RecallState.CANCELLED,
                "w1",
                "Alex",
            )
            assert core.cache.reader.open_recalls() == 0
            assert core.cache.reader.message(victim.account_id, victim.message_id) is not None

    asyncio.run(scenario())


def test_a_frozen_server_leaves_the_recall_unconfirmed_at_once_and_a_late_apply_settles_it_recalled(
    sandbox_any_profile: SandboxHandle, tmp_path: Path
) -> None:
    """Issue: a frozen server held "Recalling…" for ~80 s, said "Failed", then applied the queued DELETE
    while the log still said Failed. Now one timed-out DELETE is not repeated, the bounded re-read cannot
    prove anything, the attempt is unconfirmed in about two timeouts, and settling finds it recalled."""
    sandbox = sandbox_any_profile

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path, timeout_s=0.5) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            fault(sandbox, "DELETE", DELETE_PATH, 1, phase="before", delay_s=3)  # held, then applied
            fault(sandbox, "GET", READ_PATH, 1, phase="before", delay_s=3)
            started = asyncio.get_running_loop().time()
            status = await core.recalls.recall(victim)
            took = asyncio.get_running_loop().time() - started
            assert status.state is RecallState.UNCONFIRMED and status.can_retry
            assert took < 2.5, f"'Recalling…' for {took:.1f} s"
            assert core.cache.reader.message(victim.account_id, victim.message_id) is not None
            await asyncio.sleep(3.5)  # the server wakes up and applies the DELETE it was holding
            settled = await core.recalls.settle_open()
            assert [a.outcome for a in settled] == [RecallState.RECALLED]
            assert [a.outcome for a in core.cache.reader.recall_log(limit=5)] == [RecallState.RECALLED]

    asyncio.run(scenario())
