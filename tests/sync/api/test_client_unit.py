"""ApiClient against an in-process httpx.MockTransport: headers, paths, retries, error mapping, secrecy."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from sync import api, errors, wire
from sync.api import ApiClient
from sync.pacing import RateBudget
from tests.sync.api.helpers import (
    ACCOUNT,
    CONVERSATION_URN,
    FAKE_KEY,
    MESSAGE_URN,
    fixture_bytes,
)

BASE = "http://127.0.0.1:9/linkedin"
# A conversation URN whose token holds every character that must be escaped: + / =
EDGE_URN = "urn:li:msg_conversation:(urn:li:fsd_profile:ACoAA_x-1,2-ab+c/d==)"
EDGE_MESSAGE = "urn:li:msg_message:(urn:li:fsd_profile:ACoAA_x-1,2-MT+c/d=)"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer


def ok(payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(payload).encode(), headers=headers)


def error(status: int, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(payload).encode(), headers=headers)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make(recorder: Recorder, **kwargs: Any) -> ApiClient:
    kwargs.setdefault("budget", None)
    return ApiClient(BASE, FAKE_KEY, transport=httpx.MockTransport(recorder), **kwargs)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_every_request_carries_bearer_and_session_and_no_key_in_the_url() -> None:
    recorder = Recorder(ok([]))

    async def go() -> None:
        async with make(recorder) as client, make(recorder, session_id="mine") as other:
            await client.accounts()
            await client.accounts()
            await other.accounts()

    run(go())
    first, second, third = recorder.requests
    assert first.headers["Authorization"] == f"Bearer {FAKE_KEY}"
    assert first.headers["X-Client-Session"] == api.process_session_id()
    assert second.headers["X-Client-Session"] == first.headers["X-Client-Session"]
    assert third.headers["X-Client-Session"] == "mine"
    assert all(FAKE_KEY not in str(r.url) for r in recorder.requests)


def test_urns_travel_as_exactly_one_encoded_path_segment() -> None:
    recorder = Recorder(ok({"messages": [], "cursor": None, "hasMore": False}))

    async def go() -> None:
        async with make(recorder) as client:
            await client.messages(ACCOUNT, EDGE_URN)
            await client.recall(ACCOUNT, EDGE_URN, EDGE_MESSAGE)
            await client.react(ACCOUNT, EDGE_URN, EDGE_MESSAGE, "👍")
            await client.star(EDGE_URN)

    recorder.answers = [
        ok({"messages": [], "cursor": None, "hasMore": False}),
        ok({"success": True, "messageUrn": EDGE_MESSAGE}),
        ok({"success": True}),
        ok({"success": True, "conversationUrn": EDGE_URN}),
    ]
    run(go())
    paths = [r.url.raw_path.split(b"?")[0].decode() for r in recorder.requests]
    conv = "urn%3Ali%3Amsg_conversation%3A%28urn%3Ali%3Afsd_profile%3AACoAA_x-1%2C2-ab%2Bc%2Fd%3D%3D%29"
    msg = "urn%3Ali%3Amsg_message%3A%28urn%3Ali%3Afsd_profile%3AACoAA_x-1%2C2-MT%2Bc%2Fd%3D%29"
    assert paths == [
        f"/linkedin/conversations/{conv}/messages",
        f"/linkedin/conversations/{conv}/messages/{msg}",
        f"/linkedin/conversations/{conv}/messages/{msg}/react",
        f"/linkedin/conversations/{conv}/star",
    ]


def test_account_id_is_always_sent_where_the_spec_takes_it() -> None:
    recorder = Recorder(
        lambda request: ok({"success": True, "conversations": [], "messages": [], "accounts": []})
    )

    async def go() -> None:
        async with make(recorder) as client:
            await client.conversations(ACCOUNT, count=5, cursor="c+/=", unread_only=True)
            await client.messages(ACCOUNT, CONVERSATION_URN, since=17, sync=False)
            await client.recall(ACCOUNT, CONVERSATION_URN, MESSAGE_URN)
            await client.react(ACCOUNT, CONVERSATION_URN, MESSAGE_URN, "x", react=False)
            await client.conversation_exists(ACCOUNT, "ada-lovelace")
            await client.server_sync_status(ACCOUNT)
            await client.send(ACCOUNT, "hello", conversation_urn=CONVERSATION_URN)
            await client.mark_seen(ACCOUNT, CONVERSATION_URN)
            await client.server_sync(ACCOUNT)
            await client.refresh(ACCOUNT, CONVERSATION_URN)
            await client.mark_unread(CONVERSATION_URN)

    run(go())
    queries = [dict(r.url.params) for r in recorder.requests]
    bodies = [json.loads(r.content) if r.content else None for r in recorder.requests]
    for query in queries[:6]:
        assert query["accountId"] == ACCOUNT
    assert queries[0] == {"accountId": ACCOUNT, "count": "5", "nextCursor": "c+/=", "unreadOnly": "true"}
    assert queries[1] == {"accountId": ACCOUNT, "count": "50", "since": "17", "sync": "false"}
    assert bodies[3] == {"emoji": "x", "react": False}
    for body in bodies[6:10]:
        assert body is not None
        assert body["accountId"] == ACCOUNT
    assert bodies[6] == {"accountId": ACCOUNT, "conversationUrn": CONVERSATION_URN, "message": "hello"}
    # C8 takes no account (spec §1): none is sent.
    assert "accountId" not in queries[10]
    assert bodies[10] is None
    methods = [r.method for r in recorder.requests]
    assert methods == ["GET", "GET", "DELETE", "POST", "GET", "GET", "POST", "POST", "POST", "POST", "PATCH"]


def test_reads_retry_after_429_honouring_retry_after() -> None:
    limited = error(429, {"success": False, "code": "RATE_LIMITED", "message": "slow"}, {"Retry-After": "3"})
    recorder = Recorder(limited, limited, ok([]))
    sleeps = Sleeps()

    async def go() -> wire.AccountList:
        async with make(recorder, sleep=sleeps, read_retries=2) as client:
            return await client.accounts()

    assert run(go()).accounts == ()
    assert len(recorder.requests) == 3
    assert sleeps.calls == [3.0, 3.0]


def test_read_retries_are_bounded() -> None:
    limited = error(429, {"code": "RATE_LIMITED", "message": "slow"}, {"Retry-After": "1"})
    recorder = Recorder(limited)
    sleeps = Sleeps()

    async def go() -> None:
        async with make(recorder, sleep=sleeps, read_retries=2) as client:
            await client.accounts()

    with pytest.raises(errors.RateLimited) as caught:
        run(go())
    assert caught.value.retry_after_s == 1.0
    assert len(recorder.requests) == 3


def test_a_retry_after_longer_than_the_cap_is_not_waited_for() -> None:
    recorder = Recorder(error(429, {"code": "RATE_LIMITED"}, {"Retry-After": "600"}), ok([]))
    sleeps = Sleeps()

    async def go() -> None:
        async with make(recorder, sleep=sleeps, max_retry_wait_s=30) as client:
            await client.accounts()

    with pytest.raises(errors.RateLimited):
        run(go())
    assert len(recorder.requests) == 1
    assert sleeps.calls == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.send(ACCOUNT, "hi", conversation_urn=CONVERSATION_URN),
        lambda c: c.recall(ACCOUNT, CONVERSATION_URN, MESSAGE_URN),
        lambda c: c.mark_seen(ACCOUNT, CONVERSATION_URN),
        lambda c: c.star(CONVERSATION_URN),
    ],
)
def test_writes_are_never_retried(call: Callable[[ApiClient], Any]) -> None:
    recorder = Recorder(error(429, {"code": "RATE_LIMITED"}, {"Retry-After": "1"}), ok({"success": True}))

    async def go() -> None:
        async with make(recorder, sleep=Sleeps()) as client:
            await call(client)

    with pytest.raises(errors.RateLimited):
        run(go())
    assert len(recorder.requests) == 1


def test_retry_recall_repeats_a_lost_answer_until_it_gets_one() -> None:
    recorder = Recorder(
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        error(503, {"code": "INTERNAL", "message": "down"}),
        ok({"success": True, "messageUrn": MESSAGE_URN}),
    )
    sleeps = Sleeps()

    async def go() -> wire.RecallResult:
        async with make(recorder, sleep=sleeps) as client:
            return await client.retry_recall(
                ACCOUNT, CONVERSATION_URN, MESSAGE_URN, attempts=3, backoff_s=0.5
            )

    assert run(go()).message_urn == MESSAGE_URN
    assert [r.method for r in recorder.requests] == ["DELETE"] * 3
    assert sleeps.calls == [0.5, 1.0]


def test_retry_recall_stops_at_a_refusal() -> None:
    recorder = Recorder(error(400, {"code": "RECALL_WINDOW_EXPIRED", "message": "too late"}))

    async def go() -> None:
        async with make(recorder, sleep=Sleeps()) as client:
            await client.retry_recall(ACCOUNT, CONVERSATION_URN, MESSAGE_URN, attempts=5)

    with pytest.raises(errors.RecallWindowExpired):
        run(go())
    assert len(recorder.requests) == 1


def test_retry_recall_gives_up_after_its_attempts() -> None:
    recorder = Recorder(httpx.ConnectError("Connection refused"))

    async def go() -> None:
        async with make(recorder, sleep=Sleeps()) as client:
            await client.retry_recall(ACCOUNT, CONVERSATION_URN, MESSAGE_URN, attempts=2)

    with pytest.raises(errors.Unreachable):
        run(go())
    assert len(recorder.requests) == 2


def test_retry_recall_does_not_wait_hours_for_a_429() -> None:
    recorder = Recorder(error(429, {"error": "Rate limit exceeded"}, {"X-RateLimit-Reset": "7200"}))
    sleeps = Sleeps()

    async def go() -> None:
        async with make(recorder, sleep=sleeps, max_retry_wait_s=30) as client:
            await client.retry_recall(ACCOUNT, CONVERSATION_URN, MESSAGE_URN, attempts=3)

    with pytest.raises(errors.RateLimited) as caught:
        run(go())
    assert caught.value.retry_after_s == 7200.0
    assert (len(recorder.requests), sleeps.calls) == (1, [])


def test_retry_recall_after_an_unknown_outcome_reports_it_not_a_later_429() -> None:
    recorder = Recorder(
        httpx.ReadTimeout("timed out"),
        error(429, {"error": "Rate limit exceeded"}, {"Retry-After": "3600"}),
    )

    async def go() -> None:
        async with make(recorder, sleep=Sleeps()) as client:
            await client.retry_recall(ACCOUNT, CONVERSATION_URN, MESSAGE_URN, attempts=3, backoff_s=0.1)

    with pytest.raises(errors.TimedOut):
        run(go())
    assert len(recorder.requests) == 2


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("All connection attempts failed"), errors.Unreachable),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), errors.Unreachable),
        (httpx.ReadError("Connection reset by peer"), errors.Unreachable),
        (httpx.ReadTimeout("timed out"), errors.TimedOut),
        (httpx.ConnectTimeout("timed out"), errors.TimedOut),
        (httpx.PoolTimeout("timed out"), errors.TimedOut),
    ],
)
def test_transport_failures_are_typed(exc: Exception, expected: type[errors.KnownError]) -> None:
    recorder = Recorder(exc)

    async def go() -> None:
        async with make(recorder) as client:
            await client.conversations(ACCOUNT)

    with pytest.raises(expected) as caught:
        run(go())
    assert caught.value.endpoint == "C1"


def test_the_key_never_appears_in_repr_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    echo = f"Authorization: Bearer {FAKE_KEY} is not valid ({FAKE_KEY})"
    recorder = Recorder(
        error(401, {"success": False, "code": "UNAUTHORIZED", "error": echo, "message": echo}),
        httpx.ConnectError(f"failed while sending {FAKE_KEY}"),
        ok({"success": False, "code": "INTERNAL", "message": echo}),
    )
    texts: list[str] = []

    async def go() -> None:
        async with make(recorder) as client:
            texts.append(repr(client))
            texts.append(str(vars(client)))
            for _ in range(3):
                try:
                    await client.accounts()
                except errors.KnownError as exc:
                    texts.extend(
                        [str(exc), repr(exc), exc.user_message, "".join(traceback.format_exception(exc))]
                    )

    with caplog.at_level(logging.DEBUG):
        run(go())
    texts.extend(record.getMessage() for record in caplog.records)
    assert len([t for t in texts if "Traceback" in t]) == 3
    for text in texts:
        assert FAKE_KEY not in text


@pytest.mark.parametrize("key", ["", "has space", "new\nline", "tab\tkey", "ключ-1234"])
def test_a_key_a_header_cannot_carry_is_refused_without_showing_it(key: str) -> None:
    with pytest.raises(errors.SignedOut) as caught:
        ApiClient(BASE, key)
    if key:
        assert key not in str(caught.value)


def test_plain_http_off_loopback_is_refused_at_construction() -> None:
    with pytest.raises(errors.BadServerUrl):
        ApiClient("http://api.connectsafely.ai/linkedin", FAKE_KEY)


@pytest.mark.parametrize(
    "base", ["http://127.0.0.1:9/linkedin?x=1", "https://api.connectsafely.ai/linkedin#top"]
)
def test_a_base_url_with_query_or_fragment_is_refused(base: str) -> None:
    with pytest.raises(errors.BadServerUrl):
        ApiClient(base, FAKE_KEY)


def test_ws_url_property() -> None:
    async def go() -> str:
        async with make(Recorder(ok([]))) as client:
            return client.ws_url

    assert run(go()) == "ws://127.0.0.1:9/linkedin/ws"


def test_server_now_follows_the_date_header_of_error_answers_too() -> None:
    server_time = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    date = format_datetime(server_time, usegmt=True)
    recorder = Recorder(error(500, {"code": "INTERNAL"}, {"Date": date}))

    async def go() -> int:
        async with make(recorder) as client:
            with pytest.raises(errors.ServerError):
                await client.accounts()
            return client.server_now_ms()

    estimate = run(go())
    assert abs(estimate - server_time.timestamp() * 1000) <= 1500


def test_big_bodies_are_decoded_off_the_loop_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    real = wire.decode_accounts

    def spy(body: bytes) -> wire.AccountList:
        threads.append(threading.get_ident())
        return real(body)

    monkeypatch.setattr(wire, "decode_accounts", spy)
    recorder = Recorder(ok([]))

    async def go(threshold: int | None) -> int:
        async with make(recorder, decode_in_thread_bytes=threshold) as client:
            await client.accounts()
        return threading.get_ident()

    loop_thread = run(go(None))
    assert threads[-1] == loop_thread
    loop_thread = run(go(1))
    assert threads[-1] != loop_thread


def test_the_local_budget_paces_writes_per_account() -> None:
    recorder = Recorder(ok({"success": True, "conversationUrn": CONVERSATION_URN, "accounts": []}))
    sleeps = Sleeps()
    clock_now = [0.0]
    budget = RateBudget(key_capacity=100, key_refill_per_s=1, write_capacity=3, write_refill_per_s=0.25)

    async def go() -> None:
        async with ApiClient(
            BASE,
            FAKE_KEY,
            transport=httpx.MockTransport(recorder),
            budget=budget,
            sleep=sleeps,
            clock=lambda: clock_now[0],
        ) as client:
            for _ in range(5):
                await client.mark_seen(ACCOUNT, CONVERSATION_URN)
            await client.mark_seen("b" * 24, CONVERSATION_URN)
            await client.server_sync_status(ACCOUNT)

    run(go())
    # Three writes go at once; the fourth and fifth wait 4 s and 8 s; other accounts and reads do not wait.
    assert sleeps.calls == [pytest.approx(4.0), pytest.approx(8.0)]
    assert len(recorder.requests) == 7


def test_messages_refuses_an_unparseable_conversation_before_sending() -> None:
    from sync.urns import UrnError

    recorder = Recorder(ok({}))

    async def go() -> None:
        async with make(recorder) as client:
            await client.messages(ACCOUNT, "urn:li:salesNav_thread:1")

    with pytest.raises(UrnError):
        run(go())
    assert recorder.requests == []


def test_a_non_json_200_is_a_protocol_error() -> None:
    recorder = Recorder(httpx.Response(200, content=b"<html>proxy login</html>"))

    async def go() -> None:
        async with make(recorder) as client:
            await client.conversations(ACCOUNT)

    with pytest.raises(errors.ProtocolError):
        run(go())


def test_pages_come_back_decoded() -> None:
    recorder = Recorder(httpx.Response(200, content=fixture_bytes("conversations_page.json")))

    async def go() -> wire.ConversationPage:
        async with make(recorder) as client:
            return await client.conversations(ACCOUNT)

    page = run(go())
    assert len(page.conversations) == 3
    assert page.skipped == 7
