"""ApiClient against the real sandbox on loopback: every endpoint, every error class, faults and time.

The ``sandbox`` fixture (tests/fixtures/sandbox.py, registered in tests/conftest.py) is reset before each
test; ``sandbox_factory`` starts a private one where the rate limit must be on.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from sync import errors, model, urns
from sync.api import ApiClient
from sync.pacing import RateBudget
from sync.wire import ConversationPage

Run = Callable[[Callable[[ApiClient], Awaitable[Any]]], Any]


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport to see every status the server sent, retries included."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def client_for(handle: Any, **kwargs: Any) -> ApiClient:
    kwargs.setdefault("budget", None)
    return ApiClient(handle.base_url, handle.key, **kwargs)


@pytest.fixture
def run(sandbox: Any) -> Run:
    """Run ``body(client)`` on a fresh event loop with a client on the shared sandbox."""

    def runner(body: Callable[[ApiClient], Awaitable[Any]], **kwargs: Any) -> Any:
        async def main() -> Any:
            async with client_for(sandbox, **kwargs) as client:
                return await body(client)

        return asyncio.run(main())

    return runner


async def all_conversations(client: ApiClient, account_id: str, count: int = 100) -> list[model.Conversation]:
    found: list[model.Conversation] = []
    cursor = None
    while True:
        page = await client.conversations(account_id, count=count, cursor=cursor)
        assert page.skipped == 0
        found.extend(page.conversations)
        if not page.has_more:
            return found
        cursor = page.next_cursor


async def first_account(client: ApiClient) -> model.Account:
    listed = await client.accounts()
    return await client.account_status(listed.accounts[0].account_id)


def edge_token(seed: bytes) -> str:
    """A '2-' token that decodes to nothing the sandbox holds."""
    return "2-" + base64.b64encode(seed).decode()


# --- success paths -------------------------------------------------------------------------------------


def test_accounts_and_status_carry_the_mailbox_prefix(sandbox: Any, run: Run) -> None:
    info = sandbox.control("GET", "info")

    async def body(client: ApiClient) -> tuple[Any, ...]:
        listed = await client.accounts()
        statuses = [await client.account_status(a.account_id) for a in listed.accounts]
        default = await client.account_status(None)
        return listed, statuses, default

    listed, statuses, default = run(body)
    assert listed.skipped == 0
    assert [a.account_id for a in listed.accounts] == [a["id"] for a in info["accounts"]]
    assert [s.mailbox for s in statuses] == [a["profileUrn"] for a in info["accounts"]]
    assert default.account_id == info["accounts"][0]["id"]


def test_conversation_pages_follow_the_cursor_to_the_end(sandbox: Any, run: Run) -> None:
    info = sandbox.control("GET", "info")
    account = info["accounts"][0]

    async def body(client: ApiClient) -> tuple[list[model.Conversation], ConversationPage]:
        return await all_conversations(client, account["id"], count=3), await client.conversations(
            account["id"]
        )

    paged, first = run(body)
    assert len(paged) == account["threads"]
    assert len({c.conversation_id for c in paged}) == len(paged)
    keys = [(c.last_activity_at, c.conversation_id) for c in paged]
    assert keys == sorted(keys, reverse=True)
    assert all(c.account_id == account["id"] for c in paged)
    assert first.mailbox_hint == account["profileUrn"]


def test_message_pages_cursor_and_exclusive_since(run: Run) -> None:
    async def body(client: ApiClient) -> tuple[Any, ...]:
        account = await first_account(client)
        conversation = (await client.conversations(account.account_id)).conversations[0]
        urn = conversation.conversation_urn
        everything = await client.messages(account.account_id, urn, count=100)
        pages, cursor = [], None
        while True:
            page = await client.messages(account.account_id, urn, count=4, cursor=cursor)
            pages.append(page)
            if not page.has_more:
                break
            cursor = page.cursor
        pivot = everything.messages[3].sent_at
        newer = await client.messages(account.account_id, urn, since=pivot)
        return everything, pages, newer, pivot

    everything, pages, newer, pivot = run(body)
    assert everything.skipped == 0
    assert len(everything.messages) > 4
    assert [m for p in pages for m in p.messages] == list(everything.messages)
    assert pages[-1].cursor is None
    assert newer.messages
    assert all(m.sent_at > pivot for m in newer.messages)
    assert [m for m in everything.messages if m.sent_at > pivot] == list(newer.messages)


def test_urns_with_plus_slash_and_equals_round_trip_through_the_path(run: Run) -> None:
    async def body(client: ApiClient) -> tuple[Any, ...]:
        account = await first_account(client)
        conversations = await all_conversations(client, account.account_id)
        edgy = [c for c in conversations if all(ch in c.conversation_id for ch in "+/=")]
        assert edgy, "the sandbox seeds threads whose tokens hold + / ="
        conversation = edgy[0]
        page = await client.messages(account.account_id, conversation.conversation_urn)
        target = next(m for m in page.messages if any(ch in m.message_id for ch in "+/="))
        reacted = await client.react(
            account.account_id, conversation.conversation_urn, target.message_urn, "👍"
        )
        starred = await client.star(conversation.conversation_urn)
        sent = await client.send(account.account_id, "edge", conversation_urn=conversation.conversation_urn)
        assert sent.sent_message is not None
        recalled = await client.recall(
            account.account_id, conversation.conversation_urn, sent.sent_message.message_urn
        )
        return conversation, page, target, reacted, starred, sent, recalled

    conversation, page, target, reacted, starred, sent, recalled = run(body)
    assert page.skipped == 0
    assert all(m.conversation_id == conversation.conversation_id for m in page.messages)
    assert reacted.message_urn == target.message_urn
    assert starred.conversation_urn == conversation.conversation_urn
    assert sent.conversation_urn == conversation.conversation_urn
    assert recalled.message_urn == sent.sent_message.message_urn


def test_send_then_recall_removes_the_message_and_a_repeat_is_still_200(sandbox: Any, run: Run) -> None:
    async def body(client: ApiClient) -> tuple[Any, ...]:
        account = await first_account(client)
        conversation = (await client.conversations(account.account_id)).conversations[0]
        urn = conversation.conversation_urn
        sent = await client.send(account.account_id, "to be recalled", conversation_urn=urn)
        assert sent.sent_message is not None
        before = await client.messages(account.account_id, urn)
        first = await client.recall(account.account_id, urn, sent.sent_message.message_urn)
        after = await client.messages(account.account_id, urn)
        again = await client.recall(account.account_id, urn, sent.sent_message.message_urn)
        # Idempotent even after the window has closed (spec §2 C6).
        sandbox.control("POST", "clock/advance", {"ms": 2 * 3_600_000})
        late = await client.recall(account.account_id, urn, sent.sent_message.message_urn)
        return sent.sent_message, before, first, after, again, late

    message, before, first, after, again, late = run(body)
    assert message.is_sent_by_owner
    assert message.message_id in {m.message_id for m in before.messages}
    assert first.message_urn == message.message_urn
    assert message.message_id not in {m.message_id for m in after.messages}
    assert again.success is True
    assert late.message_urn == message.message_urn


def test_reactions_stars_and_read_state(run: Run) -> None:
    async def body(client: ApiClient) -> tuple[Any, ...]:
        account = await first_account(client)
        aid = account.account_id
        conversation = (await client.conversations(aid)).conversations[0]
        urn = conversation.conversation_urn
        message = (await client.messages(aid, urn)).messages[0]
        await client.react(aid, urn, message.message_urn, "🎉")
        with_reaction = (await client.messages(aid, urn)).messages[0]
        removed = await client.react(aid, urn, message.message_urn, "🎉", react=False)
        without = (await client.messages(aid, urn)).messages[0]

        def find(page: ConversationPage) -> model.Conversation:
            return next(c for c in page.conversations if c.conversation_id == conversation.conversation_id)

        await client.star(urn, account_id=aid)
        starred = find(await client.conversations(aid))
        await client.unstar(urn, account_id=aid)
        unstarred = find(await client.conversations(aid))
        await client.mark_seen(aid, urn)
        seen = find(await client.conversations(aid))
        await client.mark_unread(urn, account_id=aid)
        unread = find(await client.conversations(aid))
        return message, with_reaction, removed, without, starred, unstarred, seen, unread

    message, with_reaction, removed, without, starred, unstarred, seen, unread = run(body)
    assert with_reaction.message_id == message.message_id
    assert any(r.emoji == "🎉" and r.reacted_by_owner for r in with_reaction.reactions)
    assert removed.react is False
    assert not any(r.emoji == "🎉" and r.reacted_by_owner for r in without.reactions)
    assert (starred.starred, unstarred.starred) == (True, False)
    assert seen.unread_count == 0
    assert unread.unread_count >= 1


def test_server_sync_status_refresh_and_exists(run: Run) -> None:
    async def body(client: ApiClient) -> tuple[Any, ...]:
        account = await first_account(client)
        aid = account.account_id
        conversation = (await client.conversations(aid)).conversations[0]
        synced = await client.server_sync(aid, force=True)
        status = await client.server_sync_status(aid)
        refreshed = await client.refresh(aid, conversation.conversation_urn)
        slug = conversation.participants[0].profile_url.rstrip("/").rsplit("/", 1)[-1]
        exists = await client.conversation_exists(aid, slug)
        return aid, conversation, synced, status, refreshed, exists

    aid, conversation, synced, status, refreshed, exists = run(body)
    assert synced.account_id == aid
    assert synced.conversations_processed > 0
    assert [s.account_id for s in status.accounts] == [aid]
    state = status.accounts[0].sync_state
    assert state is not None
    assert state.total_conversations > 0
    assert refreshed.conversation_urn == conversation.conversation_urn
    assert exists.has_conversation
    assert exists.conversation_urn is not None
    assert urns.conversation_id(exists.conversation_urn) == conversation.conversation_id


# --- errors by code ------------------------------------------------------------------------------------


def test_wrong_key_is_signed_out(sandbox: Any) -> None:
    async def main() -> None:
        async with ApiClient(sandbox.base_url, "definitely_not_the_key", budget=None) as client:
            await client.accounts()

    with pytest.raises(errors.SignedOut) as caught:
        asyncio.run(main())
    assert caught.value.status == 401
    assert caught.value.code == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("count_zero", errors.ValidationFailed),
        ("empty_message", errors.ValidationFailed),
        ("bad_cursor", errors.InvalidCursor),
        ("bad_account_id", errors.InvalidAccountId),
        ("unknown_account", errors.AccountNotFound),
        ("unknown_conversation", errors.ConversationNotFound),
        ("foreign_prefix", errors.InvalidUrn),
        ("unparseable_urn", errors.InvalidUrn),
        # C14 names no code for an unknown profile (spec §2); the sandbox sends CONVERSATION_NOT_FOUND.
        ("unknown_profile", errors.ConversationNotFound),
    ],
)
def test_error_answers_are_typed(run: Run, case: str, expected: type[errors.KnownError]) -> None:
    async def body(client: ApiClient) -> None:
        listed = await client.accounts()
        first = await client.account_status(listed.accounts[0].account_id)
        second = await client.account_status(listed.accounts[1].account_id)
        aid = first.account_id
        conversation = (await client.conversations(aid)).conversations[0]
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "count_zero": lambda: client.conversations(aid, count=0),
            "empty_message": lambda: client.send(aid, "", conversation_urn=conversation.conversation_urn),
            "bad_cursor": lambda: client.conversations(aid, cursor="not-a-cursor"),
            "bad_account_id": lambda: client.conversations("NOT-HEX"),
            "unknown_account": lambda: client.conversations("0" * 24),
            "unknown_conversation": lambda: client.messages(
                aid, urns.conversation_urn(first.mailbox, edge_token(b"no such thread_000"))
            ),
            "foreign_prefix": lambda: client.messages(
                aid, urns.conversation_urn(second.mailbox, conversation.conversation_id)
            ),
            "unparseable_urn": lambda: client.star("urn:li:salesNav_thread:2-abc"),
            "unknown_profile": lambda: client.conversation_exists(aid, "nobody-at-all-000"),
        }
        await calls[case]()

    with pytest.raises(expected) as caught:
        run(body)
    assert type(caught.value) is expected
    assert caught.value.server_message


def test_each_recall_refusal_is_typed(sandbox: Any, run: Run) -> None:
    async def body(client: ApiClient) -> dict[str, errors.KnownError]:
        listed = await client.accounts()
        first = await client.account_status(listed.accounts[0].account_id)
        second = await client.account_status(listed.accounts[1].account_id)
        mine = await all_conversations(client, first.account_id)
        theirs = {c.conversation_id for c in await all_conversations(client, second.account_id)}
        conversation = mine[0]
        urn = conversation.conversation_urn
        page = await client.messages(first.account_id, urn)
        inbound = next(m for m in page.messages if not m.is_sent_by_owner)
        sent = await client.send(first.account_id, "will be too late", conversation_urn=urn)
        assert sent.sent_message is not None
        only_mine = next(c for c in mine if c.conversation_id not in theirs)
        only_mine_message = (await client.messages(first.account_id, only_mine.conversation_urn)).messages[0]
        outcomes: dict[str, errors.KnownError] = {}

        async def attempt(name: str, account_id: str, conversation_urn: str, message_urn: str) -> None:
            try:
                await client.recall(account_id, conversation_urn, message_urn)
            except errors.KnownError as exc:
                outcomes[name] = exc

        await attempt("not_own", first.account_id, urn, inbound.message_urn)
        await attempt(
            "not_found",
            first.account_id,
            urn,
            urns.message_urn(first.mailbox, edge_token(b"1700000000000b00000-100")),
        )
        await attempt(
            "not_member",
            second.account_id,
            urns.conversation_urn(second.mailbox, only_mine.conversation_id),
            urns.message_urn(second.mailbox, only_mine_message.message_id),
        )
        await attempt(
            "foreign_prefix", first.account_id, urn, urns.message_urn(second.mailbox, inbound.message_id)
        )
        sandbox.control("POST", "clock/advance", {"ms": 3_600_000 + 5_000})
        await attempt("window", first.account_id, urn, sent.sent_message.message_urn)
        return outcomes

    outcomes = run(body)
    assert {name: type(exc) for name, exc in outcomes.items()} == {
        "not_own": errors.RecallNotOwn,
        "not_found": errors.MessageNotFound,
        "not_member": errors.RecallNotMember,
        "foreign_prefix": errors.InvalidUrn,
        "window": errors.RecallWindowExpired,
    }
    assert all(exc.status == 400 and not exc.retryable for exc in outcomes.values())
    assert "window has closed" in outcomes["window"].user_message


# --- faults: 5xx, 429, timeouts, dropped connections --------------------------------------------------


def test_injected_500_is_a_server_error(sandbox: Any, run: Run) -> None:
    sandbox.control("POST", "faults", {"method": "GET", "path": "^/accounts$", "count": 1, "status": 500})

    async def body(client: ApiClient) -> Any:
        with pytest.raises(errors.ServerError) as caught:
            await client.accounts()
        return caught.value, await client.accounts()

    error, listed = run(body)
    assert error.status == 500
    assert error.retryable
    assert listed.accounts


def test_a_429_on_a_read_is_retried_after_retry_after(sandbox: Any, run: Run) -> None:
    sandbox.control("POST", "faults", {"method": "GET", "path": "^/accounts$", "count": 1, "status": 429})
    counting = CountingTransport()

    async def body(client: ApiClient) -> Any:
        return await client.accounts()

    listed = run(body, transport=counting)
    assert listed.accounts
    assert counting.statuses == [429, 200]
    assert sandbox.control("GET", "requests")["routes"]["GET /accounts"] == 2


def test_a_429_on_a_write_is_raised_with_retry_after_and_not_retried(sandbox: Any, run: Run) -> None:
    sandbox.control(
        "POST", "faults", {"method": "POST", "path": "^/messaging/mark-seen$", "count": 1, "status": 429}
    )

    async def body(client: ApiClient) -> Any:
        account = await first_account(client)
        conversation = (await client.conversations(account.account_id)).conversations[0]
        with pytest.raises(errors.RateLimited) as caught:
            await client.mark_seen(account.account_id, conversation.conversation_urn)
        return caught.value

    error = run(body)
    assert error.retry_after_s == 1.0
    assert error.code == "RATE_LIMITED"
    assert sandbox.control("GET", "requests")["routes"]["POST /messaging/mark-seen"] == 1


def test_a_slow_answer_times_out(sandbox: Any, run: Run) -> None:
    sandbox.control("POST", "faults", {"method": "GET", "path": "^/conversations$", "count": 1, "delay_s": 2})

    async def body(client: ApiClient) -> Any:
        account = await first_account(client)
        with pytest.raises(errors.TimedOut) as caught:
            await client.conversations(account.account_id)
        return caught.value

    error = run(body, timeout_s=0.3)
    assert error.kind == "timed_out"
    assert error.endpoint == "C1"


def test_a_dropped_connection_is_unreachable(sandbox: Any, run: Run) -> None:
    sandbox.control("POST", "faults", {"method": "GET", "path": "^/accounts$", "count": 1, "drop": True})

    async def body(client: ApiClient) -> Any:
        with pytest.raises(errors.Unreachable) as caught:
            await client.accounts()
        return caught.value

    assert run(body).kind == "unreachable"


def test_a_recall_whose_answer_was_lost_is_resolved_by_repeating_it(sandbox: Any, run: Run) -> None:
    async def body(client: ApiClient) -> Any:
        account = await first_account(client)
        aid = account.account_id
        urn = (await client.conversations(aid)).conversations[0].conversation_urn
        sent = await client.send(aid, "lost answer", conversation_urn=urn)
        assert sent.sent_message is not None
        # The recall is done, then the connection is dropped before the answer.
        sandbox.control(
            "POST",
            "faults",
            {"method": "DELETE", "path": "/messages/", "count": 1, "drop": True, "phase": "after"},
        )
        with pytest.raises(errors.Unreachable):
            await client.recall(aid, urn, sent.sent_message.message_urn)
        result = await client.retry_recall(aid, urn, sent.sent_message.message_urn, attempts=2)
        remaining = await client.messages(aid, urn)
        return sent.sent_message, result, remaining

    message, result, remaining = run(body)
    assert result.message_urn == message.message_urn
    assert message.message_id not in {m.message_id for m in remaining.messages}


def test_nobody_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        async with ApiClient(f"http://127.0.0.1:{port}/linkedin", "k" * 20, budget=None) as client:
            await client.accounts()

    with pytest.raises(errors.Unreachable):
        asyncio.run(main())


# --- rate limit on, for real -------------------------------------------------------------------------


def test_the_servers_read_limit_is_honoured_by_retrying(sandbox_factory: Callable[..., Any]) -> None:
    handle = sandbox_factory("--rate-limit", "on")
    counting = CountingTransport()

    async def main() -> list[Any]:
        async with client_for(handle, transport=counting, read_retries=3) as client:
            # 100 fit the server's burst; a few more must meet a 429 even if this machine is slow
            # enough for the bucket to refill a couple of tokens during the burst.
            return [await client.accounts() for _ in range(104)]

    results = asyncio.run(main())
    assert len(results) == 104
    assert 429 in counting.statuses
    assert counting.statuses.count(200) == 104


def test_the_servers_write_limit_answers_429_without_local_pacing(
    sandbox_factory: Callable[..., Any],
) -> None:
    handle = sandbox_factory("--rate-limit", "on")

    async def main() -> tuple[int, errors.RateLimited]:
        async with client_for(handle) as client:
            account = await first_account(client)
            urn = (await client.conversations(account.account_id)).conversations[0].conversation_urn
            done = 0
            try:
                while True:
                    await client.mark_seen(account.account_id, urn)
                    done += 1
            except errors.RateLimited as exc:
                return done, exc

    done, error = asyncio.run(main())
    assert done == 15
    assert error.retry_after_s is not None
    assert error.retry_after_s >= 1


def test_local_pacing_keeps_writes_under_the_servers_limit(sandbox_factory: Callable[..., Any]) -> None:
    handle = sandbox_factory("--rate-limit", "on")
    counting = CountingTransport()
    fake_now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        # Waiting moves both clocks: ours and the sandbox's (its buckets refill on its clock).
        slept.append(seconds)
        fake_now[0] += seconds
        handle.control("POST", "clock/advance", {"ms": int(seconds * 1000) + 1})

    async def main() -> int:
        async with ApiClient(
            handle.base_url,
            handle.key,
            transport=counting,
            budget=RateBudget(),
            clock=lambda: fake_now[0],
            sleep=sleep,
        ) as client:
            account = await first_account(client)
            urn = (await client.conversations(account.account_id)).conversations[0].conversation_urn
            for _ in range(25):
                await client.mark_seen(account.account_id, urn)
            return 25

    assert asyncio.run(main()) == 25
    assert 429 not in counting.statuses
    assert sum(slept) >= (25 - RateBudget().write_capacity - 1) / RateBudget().write_refill_per_s


# --- server time -------------------------------------------------------------------------------------


def test_server_time_is_estimated_from_the_date_header(sandbox: Any, run: Run) -> None:
    async def body(client: ApiClient) -> tuple[int, int, int, int]:
        await client.accounts()
        estimate = client.server_now_ms()
        actual = sandbox.control("GET", "clock")["now"]
        # The sandbox clock (fixed --now, years away from this machine's) jumps an hour ahead.
        sandbox.control("POST", "clock/advance", {"ms": 3_600_000})
        await client.accounts()
        later_estimate = client.server_now_ms()
        later_actual = sandbox.control("GET", "clock")["now"]
        return estimate, actual, later_estimate, later_actual

    estimate, actual, later_estimate, later_actual = run(body)
    assert abs(estimate - actual) < 2000
    assert abs(later_estimate - later_actual) < 2000
