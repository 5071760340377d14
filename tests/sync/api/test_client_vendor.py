"""ApiClient against the real sandbox in the vendor profile (spec §8): only the documented shapes, read
tolerantly, and the vendor's error forms worded as the server said them. Where a flow must hold in both
profiles, ``sandbox_any_profile`` runs it against each."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sync import errors, model, urns, wire
from sync.api import ApiClient
from tests.fixtures.sandbox import SandboxHandle

Body = Callable[[ApiClient], Awaitable[Any]]


def run(handle: SandboxHandle, body: Body, *, base_url: str | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("budget", None)

    async def main() -> Any:
        async with ApiClient(base_url or handle.base_url, handle.key, **kwargs) as client:
            return await asyncio.wait_for(body(client), 60)

    return asyncio.run(main())


async def every_conversation(client: ApiClient, account_id: str) -> list[wire.ConversationPage]:
    pages: list[wire.ConversationPage] = []
    cursor = None
    while True:
        page = await client.conversations(account_id, count=50, cursor=cursor)
        pages.append(page)
        if not page.has_more:
            return pages
        cursor = page.next_cursor


async def every_message(client: ApiClient, account_id: str, urn: str, count: int) -> list[wire.MessagePage]:
    pages: list[wire.MessagePage] = []
    cursor = None
    while True:
        page = await client.messages(account_id, urn, count=count, cursor=cursor)
        pages.append(page)
        if not page.has_more:
            return pages
        cursor = page.cursor


async def seated(client: ApiClient) -> list[model.Account]:
    return [a for a in (await client.accounts()).accounts if a.api_seat is not False]


def test_reads_decode_with_nothing_skipped_in_both_profiles(sandbox_any_profile: SandboxHandle) -> None:
    async def body(client: ApiClient) -> None:
        accounts = await seated(client)
        assert len(accounts) == 2
        for account in accounts:
            status = await client.account_status(account.account_id)
            assert status.account_id == account.account_id
            pages = await every_conversation(client, account.account_id)
            assert all(p.skipped == 0 for p in pages)
            conversations = [c for p in pages for c in p.conversations]
            assert conversations and {c.account_id for c in conversations} == {account.account_id}
            mailbox = status.mailbox or pages[0].mailbox_hint
            assert mailbox and all(
                urns.mailbox_of(urns.parse_conversation(c.conversation_urn)) is not None
                for c in conversations
            )
            message_pages = await every_message(
                client, account.account_id, conversations[0].conversation_urn, 6
            )
            assert all(p.skipped == 0 for p in message_pages)
            walked = [m.sent_at for p in message_pages for m in p.messages]
            # Newest first within each page and across pages, whatever order the server sent.
            assert walked == sorted(walked, reverse=True) and len(walked) > 6
        status_list = await client.server_sync_status(accounts[0].account_id)
        assert status_list.skipped == 0

    run(sandbox_any_profile, body)


def test_vendor_previews_have_no_urn_and_stars_are_unknown(vendor_sandbox: SandboxHandle) -> None:
    async def body(client: ApiClient) -> wire.ConversationPage:
        account = (await seated(client))[0]
        return await client.conversations(account.account_id, count=20)

    page = run(vendor_sandbox, body)
    assert page.skipped == 0 and page.conversations
    assert page.star_unknown == {c.conversation_id for c in page.conversations}
    with_preview = [c for c in page.conversations if c.latest is not None]
    assert with_preview and all(c.latest is not None and c.latest.message_urn == "" for c in with_preview)
    assert page.next_cursor is None or page.next_cursor.startswith("linkedin:")


def test_contract_items_say_their_star(sandbox: SandboxHandle) -> None:
    async def body(client: ApiClient) -> wire.ConversationPage:
        account = (await client.accounts()).accounts[0]
        return await client.conversations(account.account_id, count=20)

    page = run(sandbox, body)
    assert page.conversations and page.star_unknown == frozenset()


def test_vendor_empty_threads_are_kept_without_a_preview(vendor_sandbox: SandboxHandle) -> None:
    vendor_sandbox.reset(messagesPerConversation=0)

    async def body(client: ApiClient) -> wire.ConversationPage:
        account = (await seated(client))[0]
        return await client.conversations(account.account_id, count=20)

    page = run(vendor_sandbox, body)
    assert page.skipped == 0 and page.conversations  # latestMessage {} is no preview, not a bad item
    assert all(c.latest is None for c in page.conversations)


def test_the_seatless_account_is_listed_as_such_and_its_calls_are_no_api_access(
    vendor_sandbox: SandboxHandle,
) -> None:
    async def body(client: ApiClient) -> tuple[wire.AccountList, errors.KnownError]:
        listed = await client.accounts()
        seatless = next(a for a in listed.accounts if a.api_seat is False)
        try:
            await client.conversations(seatless.account_id)
        except errors.KnownError as exc:
            return listed, exc
        raise AssertionError("the seatless account's C1 was answered")

    listed, error = run(vendor_sandbox, body)
    assert [a.api_seat for a in listed.accounts] == [True, True, False]
    assert isinstance(error, errors.NoApiAccess)
    assert error.user_message.startswith("No API access for this account on your ConnectSafely plan (")
    assert "Refused by LinkedIn" not in error.user_message


def test_a_reply_lands_in_the_thread_sent_into(vendor_sandbox: SandboxHandle) -> None:
    async def body(client: ApiClient) -> tuple[str, wire.SendResult, wire.MessagePage]:
        account = (await seated(client))[0]
        urn = (await client.conversations(account.account_id)).conversations[0].conversation_urn
        sent = await client.send(account.account_id, "from the tolerant reader", conversation_urn=urn)
        return urn, sent, await client.messages(account.account_id, urn, count=5)

    urn, sent, page = run(vendor_sandbox, body)
    assert sent.conversation_urn == urn and sent.skipped == 0
    assert sent.sent_message is not None and sent.sent_message.is_sent_by_owner
    assert page.messages[0].message_id == sent.sent_message.message_id  # newest first


@pytest.mark.parametrize("text", ["", "x" * 8001])
def test_a_zod_refusal_of_c3_quotes_the_field_not_linkedin(vendor_sandbox: SandboxHandle, text: str) -> None:
    async def body(client: ApiClient) -> Any:
        account = (await seated(client))[0]
        urn = (await client.conversations(account.account_id)).conversations[0].conversation_urn
        return await client.send(account.account_id, text, conversation_urn=urn)

    with pytest.raises(errors.ValidationFailed) as caught:
        run(vendor_sandbox, body)
    message = caught.value.user_message
    assert message.startswith("The server refused the request: message: "), message
    assert "LinkedIn" not in message and "400 Bad Request" not in message


def test_a_recall_refusal_is_linkedins_with_the_servers_words(vendor_sandbox: SandboxHandle) -> None:
    async def body(client: ApiClient) -> Any:
        account = (await seated(client))[0]
        urn = (await client.conversations(account.account_id)).conversations[0].conversation_urn
        page = await client.messages(account.account_id, urn, count=50)
        inbound = next(m for m in page.messages if not m.is_sent_by_owner)
        return await client.recall(account.account_id, urn, inbound.message_urn)

    with pytest.raises(errors.Refused) as caught:
        run(vendor_sandbox, body)
    assert caught.value.user_message == "Refused by LinkedIn: Recall failed on LinkedIn"


def test_the_vendor_daily_quota_is_named_and_replies_still_work(vendor_sandbox: SandboxHandle) -> None:
    vendor_sandbox.reset(conversations=460, messagesPerConversation=1)

    async def body(client: ApiClient) -> tuple[int, errors.KnownError, wire.SendResult]:
        a, b = await seated(client)
        mine = [c for p in await every_conversation(client, a.account_id) for c in p.conversations]
        contacts = {
            p.profile_id
            for page in await every_conversation(client, b.account_id)
            for c in page.conversations
            for p in c.participants
        }
        contacts -= {p.profile_id for c in mine for p in c.participants if p.name == a.name}
        contacts.discard(a.public_id)
        sent = 0
        for profile_id in sorted(contacts):
            try:
                await client.send(a.account_id, "hi", recipient_profile_id=profile_id)
            except errors.DailyQuotaExceeded as exc:
                reply = await client.send(a.account_id, "still ok", conversation_urn=mine[0].conversation_urn)
                return sent, exc, reply
            except errors.Refused:
                continue  # a contact this account cannot message (itself, say): not the quota
            sent += 1
        raise AssertionError(f"{sent} new conversations and never the daily quota")

    sent, error, reply = run(vendor_sandbox, body)
    assert sent >= 100
    assert (
        error.user_message
        == "Daily limit of new conversations reached (resets 00:00 UTC); replies still work."
    )
    assert not error.retryable
    assert reply.sent_message is not None


def test_the_vendor_rate_limit_is_waited_out(sandbox_factory: Callable[..., SandboxHandle]) -> None:
    handle = sandbox_factory("--rate-limit", "on", profile="vendor")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        handle.control("POST", "clock/advance", {"ms": int(seconds * 1000) + 1})

    async def body(client: ApiClient) -> int:
        done = 0
        for _ in range(104):
            await client.accounts()
            done += 1
        return done

    assert run(handle, body, sleep=sleep, read_retries=3) == 104
    assert slept and all(0 < s <= 5 for s in slept)


def test_a1_404_at_the_sandbox_root_suggests_the_linkedin_path(sandbox_any_profile: SandboxHandle) -> None:
    root = sandbox_any_profile.base_url.removesuffix("/linkedin")

    async def body(client: ApiClient) -> Any:
        return await client.accounts()

    with pytest.raises(errors.NotFound) as caught:
        run(sandbox_any_profile, body, base_url=root)
    assert caught.value.suggested_base_url == sandbox_any_profile.base_url
    assert (
        caught.value.user_message == f"Not found on the server: did you mean {sandbox_any_profile.base_url}?"
    )


def test_a_refused_repeat_after_a_lost_answer_is_not_reported_as_refused(
    vendor_sandbox: SandboxHandle,
) -> None:
    """The vendor refuses every repeat of a recall it did (spec §8): after a lost answer, retry_recall's
    400 is no evidence either way, so the unknown outcome is what it raises (spec §9 settles it)."""

    async def body(client: ApiClient) -> tuple[errors.KnownError, wire.MessagePage, model.Message]:
        account = (await seated(client))[0]
        urn = (await client.conversations(account.account_id)).conversations[0].conversation_urn
        sent = await client.send(account.account_id, "lost answer", conversation_urn=urn)
        assert sent.sent_message is not None
        vendor_sandbox.control(
            "POST",
            "faults",
            {"method": "DELETE", "path": "/messages/", "count": 1, "drop": True, "phase": "after"},
        )
        try:
            await client.retry_recall(account.account_id, urn, sent.sent_message.message_urn, backoff_s=0)
        except errors.KnownError as exc:
            return exc, await client.messages(account.account_id, urn), sent.sent_message
        raise AssertionError("the repeat was answered 200")

    error, page, message = run(vendor_sandbox, body)
    assert isinstance(error, errors.Unreachable), error  # not Refused: the first attempt may have been done
    assert message.message_id not in {m.message_id for m in page.messages}  # and it was


def test_a_refusal_of_the_first_attempt_is_final(vendor_sandbox: SandboxHandle) -> None:
    async def body(client: ApiClient) -> Any:
        account = (await seated(client))[0]
        urn = (await client.conversations(account.account_id)).conversations[0].conversation_urn
        page = await client.messages(account.account_id, urn, count=50)
        inbound = next(m for m in page.messages if not m.is_sent_by_owner)
        return await client.retry_recall(account.account_id, urn, inbound.message_urn, backoff_s=0)

    with pytest.raises(errors.Refused):
        run(vendor_sandbox, body)
