"""The recall service against the real sandbox: success, every failure class, lost answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sync.model import RecallOutcome
from sync.recall import Ineligible, RecallPhase, RecallStatus
from tests.fixtures.sandbox import SandboxHandle
from tests.sync.core.helpers import not_own, open_core, recallable, server_ids

DELETE_PATH = "/messages/"


def test_recall_success_hides_it_everywhere_and_a_resync_never_brings_it_back(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core, shared=True)
            copies = core.cache.reader.message_copies(victim.message_id)
            assert len({c.account_id for c in copies}) == 2
            assert len({c.message_urn for c in copies}) == 2  # different mailbox prefixes
            seen: list[RecallStatus] = []
            status = await core.recalls.recall(victim, on_status=seen.append)
            assert status.phase is RecallPhase.SUCCEEDED
            assert [s.phase for s in seen] == [RecallPhase.PENDING, RecallPhase.SUCCEEDED]
            # The server no longer lists it, in either mailbox.
            for copy in copies:
                assert victim.message_id not in server_ids(sandbox, copy.account_id, copy.conversation_urn)
            # The cache hides every copy, and the change set names each one.
            assert core.cache.reader.message_copies(victim.message_id) == []
            hidden = {(k.account_id, k.message_id) for k in status.changes.messages_hidden}
            assert hidden == {(c.account_id, c.message_id) for c in copies}
            # A full resync from scratch in the same cache does not resurrect it.
            for account in core.cache.reader.accounts():
                for conversation in core.cache.reader.conversations(account.account_id, limit=999):
                    await core.engine.sync_new_messages(conversation)
            await core.engine.sync_once()
            assert core.cache.reader.message_copies(victim.message_id) == []
            log = core.cache.reader.recall_log(limit=5)
            assert log[0].outcome is RecallOutcome.SUCCEEDED and log[0].latency_ms is not None

    asyncio.run(scenario())


def test_a_recall_whose_200_was_lost_is_resolved_by_the_idempotent_retry(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            sandbox.control(
                "POST",
                "faults",
                {"method": "DELETE", "path": DELETE_PATH, "count": 1, "drop": True, "phase": "after"},
            )
            status = await core.recalls.recall(victim)
            assert status.phase is RecallPhase.SUCCEEDED
            assert core.cache.reader.message(victim.account_id, victim.message_id) is None

    asyncio.run(scenario())


def test_a_recall_whose_answer_timed_out_after_the_work_is_resolved(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path, timeout_s=0.5) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            sandbox.control(
                "POST",
                "faults",
                {"method": "DELETE", "path": DELETE_PATH, "count": 1, "delay_s": 2, "phase": "after"},
            )
            status = await core.recalls.recall(victim)
            assert status.phase is RecallPhase.SUCCEEDED
            assert core.cache.reader.message(victim.account_id, victim.message_id) is None

    asyncio.run(scenario())


FAILURES: dict[str, tuple[dict[str, Any], str, bool]] = {
    # name: (fault, expected error kind, can retry)
    "401": ({}, "signed_out", False),
    "404": ({"status": 404, "code": "CONVERSATION_NOT_FOUND"}, "conversation_not_found", False),
    "429": ({"status": 429, "code": "RATE_LIMITED"}, "rate_limited", True),
    "500": ({"status": 500}, "server_error", True),
    # The server sits on the request past the client's timeout, then drops it without doing the work.
    "timeout": ({"delay_s": 2, "drop": True}, "timed_out", True),
    "dropped": ({"drop": True}, "unreachable", True),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_a_failed_recall_deletes_nothing_and_reports_its_typed_reason(
    name: str, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    fault, kind, can_retry = FAILURES[name]

    async def scenario() -> None:
        async with open_core(sandbox, tmp_path, timeout_s=0.5) as core:
            await core.engine.sync_once()
            victim = recallable(core)
        key = "wrong-key-for-this-test" if name == "401" else None
        async with open_core(sandbox, tmp_path, key=key, timeout_s=0.5) as core:
            if fault:
                sandbox.control(
                    "POST",
                    "faults",
                    {"method": "DELETE", "path": DELETE_PATH, "count": 20, "phase": "before", **fault},
                )
            status = await core.recalls.recall(victim)
            sandbox.control("DELETE", "faults")
            assert status.phase is RecallPhase.FAILED
            assert status.error_kind == kind
            assert status.can_retry is can_retry
            assert status.user_message  # plain words for the UI
            assert status.changes.messages_hidden == frozenset()
            # Nothing deleted: locally, and upstream.
            assert core.cache.reader.message(victim.account_id, victim.message_id) is not None
            assert not core.cache.reader.is_tombstoned(victim.message_id)
            assert victim.message_id in server_ids(sandbox, victim.account_id, victim.conversation_urn)
            attempt = core.cache.reader.recall_log(limit=1)[0]
            assert attempt.message_id == victim.message_id
            assert attempt.outcome is RecallOutcome.FAILED and attempt.error_kind == kind

    asyncio.run(scenario())


def test_refusals_by_linkedin_are_typed_and_final(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            theirs = not_own(core)
            status = await core.recalls.recall(theirs, check_eligibility=False)  # let the server judge
            assert (status.phase, status.error_kind, status.can_retry) == (
                RecallPhase.FAILED,
                "recall_not_own",
                False,
            )
            assert core.cache.reader.message(theirs.account_id, theirs.message_id) is not None

            mine = recallable(core)
            sandbox.control("POST", "clock/advance", {"ms": 61 * 60_000})
            await core.api.accounts()  # a response with the new Date moves the client's server clock
            verdict = core.recalls.eligibility(mine)
            assert not verdict.allowed and verdict.reason is Ineligible.WINDOW_CLOSED
            status = await core.recalls.recall(mine, check_eligibility=False)
            assert (status.phase, status.error_kind) == (RecallPhase.FAILED, "recall_window_expired")
            assert core.cache.reader.message(mine.account_id, mine.message_id) is not None

    asyncio.run(scenario())


def test_eligibility_is_checked_locally_with_the_reason(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            theirs = not_own(core)
            verdict = core.recalls.eligibility(theirs)
            assert not verdict.allowed and verdict.reason is Ineligible.NOT_OWN
            assert "Only messages you sent" in verdict.explanation
            before = dict(sandbox.control("GET", "requests")["routes"])
            status = await core.recalls.recall(theirs)
            after = dict(sandbox.control("GET", "requests")["routes"])
            assert status.error_kind == "recall_not_own"
            assert after == before  # refused locally: nothing was sent
            mine = recallable(core)
            verdict = core.recalls.eligibility(mine)
            assert verdict.allowed and 1 <= verdict.minutes_left <= 60

    asyncio.run(scenario())


def test_cancelling_during_the_grace_period_sends_nothing(sandbox: SandboxHandle, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_core(sandbox, tmp_path) as core:
            await core.engine.sync_once()
            victim = recallable(core)
            seen: list[RecallStatus] = []
            before = dict(sandbox.control("GET", "requests")["routes"])
            task = asyncio.create_task(core.recalls.recall(victim, grace_s=5, on_status=seen.append))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert [s.phase for s in seen] == [RecallPhase.GRACE, RecallPhase.CANCELLED]
            assert dict(sandbox.control("GET", "requests")["routes"]) == before
            assert core.cache.reader.message(victim.account_id, victim.message_id) is not None

    asyncio.run(scenario())
