"""ApiClient over real sockets against a server that speaks only the vendor's documented shapes, and
against the same server turned hostile: oversize bodies, trickled bodies, error bodies of every
documented form, rate limits with every documented header form, URLs no server can take."""

from __future__ import annotations

import asyncio
import logging
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync import errors, wire
from sync.api import ApiClient
from tests.fixtures.hostile_server import (
    KEY,
    MIB,
    HostileServer,
    account_id,
    conversation_urn,
    mailbox,
    message_urn,
    running_hostile_server,
    thread_token,
)

ACCOUNT = account_id(0)


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with running_hostile_server() as running:
        yield running


class Sleeps:
    """Records the client's waits instead of waiting (pacing is off; only 429 retries sleep)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def call(
    server: HostileServer,
    body: Callable[[ApiClient], Awaitable[Any]],
    *,
    base_url: str | None = None,
    **kwargs: Any,
) -> Any:
    """Run ``body(client)`` on a fresh loop, failing (not hanging) if it takes over 30 s."""
    kwargs.setdefault("budget", None)

    async def main() -> Any:
        async with ApiClient(base_url or server.base_url, KEY, **kwargs) as client:
            return await asyncio.wait_for(body(client), 30)

    return asyncio.run(main())


# --- the vendor's shapes, read tolerantly -------------------------------------------------------------


def test_vendor_accounts_and_status(server: HostileServer) -> None:
    async def body(client: ApiClient) -> Any:
        return await client.accounts(), await client.account_status(ACCOUNT)

    listed, status = call(server, body)
    assert [a.account_id for a in listed.accounts] == [ACCOUNT]
    assert listed.accounts[0].api_seat is True
    # A2 has no profileUrn on the vendor: the prefix comes from C1 later; everything else decodes.
    assert status.account_id == ACCOUNT
    assert status.mailbox == ""
    assert status.name == "Hostile Account 0"


def test_vendor_conversation_page_is_stored_whole(server: HostileServer) -> None:
    async def body(client: ApiClient) -> wire.ConversationPage:
        return await client.conversations(ACCOUNT)

    page = call(server, body)
    assert page.skipped == 0
    assert [c.conversation_id for c in page.conversations] == [thread_token(t) for t in range(3)]
    assert {c.account_id for c in page.conversations} == {ACCOUNT}  # the account asked for
    assert page.star_unknown == {thread_token(t) for t in range(3)}
    first = page.conversations[0]
    assert first.latest is not None
    assert first.latest.message_urn == ""  # the vendor's preview has no URN: kept without one
    assert first.latest.text == "latest in thread 0"
    assert first.last_activity_at == first.latest.sent_at  # ISO lastActivityAt read as epoch ms
    assert page.mailbox_hint == mailbox(0)
    assert page.from_cache is True


def test_vendor_message_page_comes_back_newest_first(server: HostileServer) -> None:
    async def body(client: ApiClient) -> wire.MessagePage:
        return await client.messages(ACCOUNT, conversation_urn(0, 1))

    page = call(server, body)
    times = [m.sent_at for m in page.messages]
    assert len(times) == 3
    assert times == sorted(times, reverse=True)  # the server sent them oldest first
    assert page.messages[0].text == "message 0 of thread 1"
    assert all(m.reactions == () for m in page.messages)
    assert [p.name for p in page.participants] == ["Contact 1"]


def test_vendor_send_answer_names_no_conversation(server: HostileServer) -> None:
    thread = conversation_urn(0, 2)

    async def body(client: ApiClient) -> wire.SendResult:
        return await client.send(ACCOUNT, "hello", conversation_urn=thread)

    result = call(server, body)
    assert result.conversation_urn == thread  # the thread sent into
    assert result.sent_message is not None
    assert result.sent_message.conversation_urn == thread
    assert result.sent_message.is_sent_by_owner
    assert result.sent_message.has_attachment is False
    assert result.skipped == 0


def test_vendor_server_sync_and_status(server: HostileServer) -> None:
    async def body(client: ApiClient) -> Any:
        return await client.server_sync(ACCOUNT), await client.server_sync_status(ACCOUNT)

    synced, status = call(server, body)
    assert synced.duration_ms == 1250.0  # durationSeconds "1.25", a string
    assert synced.conversations_processed == 3
    state = status.accounts[0].sync_state
    assert state is not None
    assert state.last_sync_at == 1_764_000_000_000 - 180_000  # ISO lastSyncAt


def test_duplicate_accounts_are_listed_once_with_one_log_line(
    server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.hostile.a1_repeat = 300

    async def body(client: ApiClient) -> wire.AccountList:
        return await client.accounts()

    with caplog.at_level(logging.WARNING, logger="sync.wire"):
        listed = call(server, body)
    assert [a.account_id for a in listed.accounts] == [ACCOUNT]
    assert (listed.duplicates, listed.skipped) == (299, 0)
    lines = [r.getMessage() for r in caplog.records if r.name == "sync.wire"]
    assert len(lines) == 1 and "299 repeated" in lines[0]


# --- bounded input ----------------------------------------------------------------------------------


def _traced_peak(run: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        try:
            outcome: Any = run()
        except errors.KnownError as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_300_mb_body_is_refused_after_16_mib_without_buffering_it(server: HostileServer) -> None:
    server.hostile.c1 = "oversize"

    async def body(client: ApiClient) -> Any:
        return await client.conversations(ACCOUNT)

    started = time.monotonic()
    outcome, peak = _traced_peak(lambda: call(server, body))
    assert isinstance(outcome, errors.AnswerTooLarge), outcome
    assert isinstance(outcome, errors.ProtocolError)  # whoever handles unreadable answers handles it
    assert "the server's answer is larger than 16 MiB" in str(outcome)
    assert outcome.user_message == (
        "Server error: the server's answer is larger than 16 MiB; nothing of it was stored."
    )
    assert outcome.endpoint == "C1"
    assert peak < 48 * MIB, f"{peak / MIB:.0f} MiB held for a body capped at 16 MiB"
    assert time.monotonic() - started < 20


def test_a_declared_oversize_body_is_refused_before_reading_it(server: HostileServer) -> None:
    server.hostile.c1 = "oversize"
    server.hostile.declare_length = True

    async def body(client: ApiClient) -> Any:
        return await client.conversations(ACCOUNT)

    outcome, peak = _traced_peak(lambda: call(server, body))
    assert isinstance(outcome, errors.ProtocolError), outcome
    assert "larger than 16 MiB" in str(outcome)
    assert peak < 4 * MIB  # nothing of the body was read


def test_the_cap_is_configurable(server: HostileServer) -> None:
    async def body(client: ApiClient) -> Any:
        return await client.conversations(ACCOUNT)

    with pytest.raises(errors.ProtocolError, match="larger than 1 KiB"):
        call(server, body, max_body_bytes=1024)
    assert len(call(server, body, max_body_bytes=64 * 1024).conversations) == 3


def test_a_trickled_body_ends_at_the_overall_deadline(server: HostileServer) -> None:
    """One byte every 0.5 s never trips the 20 s read timeout: only the overall deadline ends it."""
    server.hostile.a1_trickle_s = 0.5

    async def body(client: ApiClient) -> Any:
        return await client.accounts()

    started = time.monotonic()
    with pytest.raises(errors.TimedOut) as caught:
        call(server, body, deadline_s=2.0, timeout_s=20.0)
    elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 6, elapsed
    assert "no complete answer within 2 s" in str(caught.value)
    assert caught.value.user_message == "Offline: the server did not answer in time."


def test_a_huge_error_body_is_read_only_in_part(server: HostileServer) -> None:
    server.hostile.c1 = "oversize"
    server.hostile.oversize_status = 502

    async def body(client: ApiClient) -> Any:
        return await client.conversations(ACCOUNT)

    outcome, peak = _traced_peak(lambda: call(server, body))
    assert isinstance(outcome, errors.ServerError), outcome
    assert outcome.status == 502
    assert peak < 8 * MIB


def test_a_urn_too_long_for_a_url_is_invalid_input_and_nothing_is_sent(server: HostileServer) -> None:
    huge = f"urn:li:msg_conversation:({mailbox(0)},2-{'A' * 100_000})"

    async def recall(client: ApiClient) -> Any:
        return await client.recall(ACCOUNT, huge, message_urn(0, 1, 1))

    async def messages(client: ApiClient) -> Any:
        return await client.messages(ACCOUNT, conversation_urn(0, 0), cursor="c" * 40_000)

    for body in (recall, messages):
        with pytest.raises(errors.InvalidInput) as caught:
            call(server, body)
        assert caught.value.kind == "invalid_input"
        assert "too long" in str(caught.value)
        assert "server" not in caught.value.user_message.lower()
    assert sum(server.requests.values()) == 0


# --- errors say what the server said ------------------------------------------------------------------


def test_a_zod_400_says_which_field(server: HostileServer) -> None:
    async def body(client: ApiClient) -> Any:
        return await client.send(ACCOUNT, "", conversation_urn=conversation_urn(0, 0))

    with pytest.raises(errors.ValidationFailed) as caught:
        call(server, body)
    assert caught.value.user_message == "The server refused the request: message: Required"
    assert "400 Bad Request" not in str(caught.value)


@pytest.mark.parametrize(
    ("route", "status", "payload", "expected", "user_message"),
    [
        (
            "C6",
            400,
            {"error": "Recall failed on LinkedIn"},
            errors.Refused,
            "Refused by LinkedIn: Recall failed on LinkedIn",
        ),
        (
            "C1",
            400,
            {"success": False, "code": "validation_error", "message": "count must be at most 100"},
            errors.ValidationFailed,
            "The server refused the request: count must be at most 100",
        ),
        (
            "C1",
            403,
            {"error": "No API seat is allocated to this account"},
            errors.NoApiAccess,
            "No API access for this account on your ConnectSafely plan "
            "(No API seat is allocated to this account).",
        ),
        (
            "C1",
            401,
            {"error": "Unauthorized - Invalid credentials"},
            errors.SignedOut,
            "Signed out: the API key was rejected. Check it in Settings.",
        ),
        (
            "C1",
            404,
            {"error": "Account not found"},
            errors.NotFound,
            "Not found on the server.",
        ),
    ],
)
def test_vendor_error_bodies_are_typed_and_worded(
    server: HostileServer,
    route: str,
    status: int,
    payload: Any,
    expected: type[errors.KnownError],
    user_message: str,
) -> None:
    server.script(route, status, payload)

    async def body(client: ApiClient) -> Any:
        if route == "C6":
            return await client.recall(ACCOUNT, conversation_urn(0, 0), message_urn(0, 1, 1))
        return await client.conversations(ACCOUNT)

    with pytest.raises(errors.KnownError) as caught:
        call(server, body)
    assert type(caught.value) is expected
    assert caught.value.user_message == user_message
    assert caught.value.status == status


def test_the_daily_quota_429_of_c3_is_named_so(server: HostileServer) -> None:
    midnight = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    # As the vendor documents it: only X-RateLimit-Limit/-Remaining/-Reset, no Retry-After.
    headers = {
        "X-RateLimit-Limit": "150",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": midnight.isoformat(),
    }
    server.script("C3", 429, {"success": False, "error": "Daily limit reached"}, headers)

    async def body(client: ApiClient) -> Any:
        return await client.send(ACCOUNT, "hi", recipient_profile_id="someone-new")

    with pytest.raises(errors.DailyQuotaExceeded) as caught:
        call(server, body)
    assert caught.value.user_message == (
        "Daily limit of new conversations reached (resets 00:00 UTC); replies still work."
    )
    assert server.requests["C3"] == 1  # never retried


def test_a_short_429_on_c3_stays_a_rate_limit(server: HostileServer) -> None:
    server.script("C3", 429, {"success": False, "error": "Too many requests"}, {"Retry-After": "2"})

    async def body(client: ApiClient) -> Any:
        return await client.send(ACCOUNT, "hi", conversation_urn=conversation_urn(0, 0))

    with pytest.raises(errors.RateLimited) as caught:
        call(server, body)
    assert caught.value.retry_after_s == 2.0


@pytest.mark.parametrize("form", ["iso_space", "iso_t", "epoch_s", "epoch_ms", "hold_until"])
def test_a_read_429_waits_as_long_as_any_documented_form_says(server: HostileServer, form: str) -> None:
    reset = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=20)
    headers = {
        "iso_space": {"X-RateLimit-Reset": reset.isoformat(sep=" ")},
        "iso_t": {"X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z")},
        "epoch_s": {"X-RateLimit-Reset": str(int(reset.timestamp()))},
        "epoch_ms": {"X-RateLimit-Reset": str(int(reset.timestamp() * 1000))},
        "hold_until": {},
    }[form]
    payload: dict[str, Any] = {"success": False, "error": "Rate limit exceeded"}
    if form == "hold_until":
        payload["holdUntil"] = reset.isoformat().replace("+00:00", "Z")
    server.script("C1", 429, payload, {"X-RateLimit-Action": "MESSAGE", **headers})
    sleeps = Sleeps()

    async def body(client: ApiClient) -> wire.ConversationPage:
        return await client.conversations(ACCOUNT)

    page = call(server, body, sleep=sleeps)
    assert len(page.conversations) == 3  # retried once the wait was over
    assert server.requests["C1"] == 2
    assert len(sleeps.calls) == 1
    assert 17 <= sleeps.calls[0] <= 21, sleeps.calls


def test_a1_404_off_the_linkedin_path_suggests_the_base_url(server: HostileServer) -> None:
    root = server.base_url.removesuffix("/linkedin")

    async def body(client: ApiClient) -> Any:
        return await client.accounts()

    with pytest.raises(errors.NotFound) as caught:
        call(server, body, base_url=root)
    assert caught.value.suggested_base_url == server.base_url
    assert f"did you mean {server.base_url}?" in caught.value.user_message
    assert f"did you mean {server.base_url}?" in str(caught.value)
    # On the right base URL a 404 says nothing of the kind.
    server.script("A1", 404, {"error": "Not found"})
    with pytest.raises(errors.NotFound) as again:
        call(server, body)
    assert again.value.suggested_base_url is None
