"""Wire decoding: tolerant structs, per-item validation, whole-page rejection only for a bad envelope."""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import errors, model, wire
from tests.sync.api.helpers import (
    ACCOUNT,
    CONVERSATION_URN,
    MAILBOX,
    MESSAGE_TOKEN,
    MESSAGE_URN,
    THREAD,
    fixture_bytes,
)


def test_conversation_page_keeps_good_items_and_counts_the_bad(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sync.wire"):
        page = wire.decode_conversations(fixture_bytes("conversations_page.json"), ACCOUNT)
    assert len(page.conversations) == 3
    assert page.skipped == 7
    # The first few one line each, then one line with the rest's count.
    lines = [r.getMessage() for r in caplog.records]
    assert sum("skipped malformed conversation" in line for line in lines) == wire.DETAILED_SKIPS
    assert (
        sum("skipped 4 more malformed conversation item(s) on this page (7 in all)" in x for x in lines) == 1
    )
    assert page.next_cursor == "opaque+/=cursor"
    assert page.has_more is True
    assert page.mailbox_hint == MAILBOX


def test_conversation_item_converts_to_the_model() -> None:
    page = wire.decode_conversations(fixture_bytes("conversations_page.json"), "f" * 24)
    first = page.conversations[0]
    assert first == model.Conversation(
        account_id=ACCOUNT,
        conversation_id=THREAD,
        conversation_urn=CONVERSATION_URN,
        last_activity_at=1760773310429,
        unread_count=2,
        starred=True,
        participants=(
            model.Participant(
                profile_id="ACoAABBBBB0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio",
                name="Ada Lovelace",
                headline="Engines",
                profile_url="https://www.linkedin.com/in/ada",
                picture="",
            ),
        ),
        latest=model.LatestMessage(MESSAGE_URN, "hello", 1760773310429, "Ada Lovelace"),
    )


def test_missing_optional_fields_and_iso_times_are_accepted() -> None:
    page = wire.decode_conversations(fixture_bytes("conversations_page.json"), "f" * 24)
    second = page.conversations[1]
    # No accountId on the item: the requested account is used.
    assert second.account_id == "f" * 24
    assert second.last_activity_at == 1760773310429
    assert second.participants == ()
    assert second.latest is None
    assert second.unread_count == 0
    assert not second.starred
    third = page.conversations[2]
    assert third.conversation_urn.startswith("urn:li:messagingThread:")
    assert third.last_activity_at == 1760000000000


def test_message_page_validates_each_item(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sync.wire"):
        page = wire.decode_messages(fixture_bytes("messages_page.json"), ACCOUNT, CONVERSATION_URN)
    texts = [m.text for m in page.messages]
    # Skipped: another mailbox, legacy id of another thread, bad time, bad URN, bad reaction, null.
    # Kept, newest first by (sentAt, token) whatever the wire order; equal keys keep the wire order.
    assert texts == ["", "hi there", "legacy", "backend form"]
    assert page.skipped == 6
    lines = [r.getMessage() for r in caplog.records]
    assert sum("skipped malformed message" in line for line in lines) == wire.DETAILED_SKIPS
    assert sum("(6 in all)" in line for line in lines) == 1
    assert page.cursor is None
    assert page.has_more is False
    assert [p.name for p in page.participants] == ["Ada Lovelace"]


def test_message_item_converts_to_the_model() -> None:
    page = wire.decode_messages(fixture_bytes("messages_page.json"), ACCOUNT, CONVERSATION_URN)
    by_text = {m.text: m for m in page.messages}
    first = by_text["hi there"]
    assert first == model.Message(
        account_id=ACCOUNT,
        conversation_id=THREAD,
        message_id=MESSAGE_TOKEN,
        message_urn=MESSAGE_URN,
        conversation_urn=CONVERSATION_URN,
        text="hi there",
        sent_at=1760773310429,
        sender_profile_id="ACoAAATPlQ0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio",
        sender_name="Me Myself",
        is_sent_by_owner=True,
        has_attachment=True,
        reactions=(model.Reaction("👍", 2, True),),
    )
    assert by_text[""].sent_at == 1760773310430
    assert by_text[""].is_sent_by_owner is False
    # The legacy fs_event id is its own id, never the modern token's.
    assert by_text["legacy"].message_id == MESSAGE_TOKEN


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"success": true}',
        b'{"success": true, "conversations": null, "nextCursor": null, "hasMore": false}',
        b'{"success": true, "conversations": {}, "hasMore": false}',
        b'{"success": true, "conversations": [], "hasMore": "yes"}',
        b'{"success": true, "conversations": [], "nextCursor": 7}',
    ],
)
def test_a_malformed_envelope_rejects_the_page(body: bytes) -> None:
    with pytest.raises(errors.ProtocolError) as caught:
        wire.decode_conversations(body, ACCOUNT)
    assert caught.value.endpoint == "C1"


def test_a_2xx_saying_success_false_is_typed_by_its_code() -> None:
    body = b'{"success": false, "code": "INVALID_CURSOR", "message": "cursor expired"}'
    with pytest.raises(errors.InvalidCursor):
        wire.decode_conversations(body, ACCOUNT)


def test_missing_has_more_follows_the_cursor() -> None:
    page = wire.decode_messages(b'{"messages": [], "cursor": "c1"}', ACCOUNT, CONVERSATION_URN)
    assert page.has_more is True
    page = wire.decode_messages(b'{"messages": []}', ACCOUNT, CONVERSATION_URN)
    assert page.has_more is False


def test_accounts_skip_bad_ids_and_accept_both_shapes() -> None:
    listed = wire.decode_accounts(fixture_bytes("accounts.json"))
    assert [a.account_id for a in listed.accounts] == [ACCOUNT, "696ce9e780e0483585e4e554"]
    assert listed.skipped == 2
    assert listed.accounts[0] == model.Account(ACCOUNT, "Me Myself", "me-myself-1", "", "AVAILABLE", True)
    assert listed.accounts[1].enabled is False
    wrapped = wire.decode_accounts(b'{"accounts": [{"id": "' + ACCOUNT.encode() + b'"}]}')
    assert [a.account_id for a in wrapped.accounts] == [ACCOUNT]
    with pytest.raises(errors.ProtocolError):
        wire.decode_accounts(b'{"nope": 1}')


def test_account_status_carries_the_mailbox_prefix() -> None:
    account = wire.decode_account_status(fixture_bytes("account_status.json"))
    assert account.mailbox == MAILBOX
    assert account.status == "IN_USE"


def test_account_status_with_a_bad_profile_urn_drops_only_the_prefix() -> None:
    body = json.dumps({"id": ACCOUNT, "profileUrn": "urn:li:member:12"}).encode()
    assert wire.decode_account_status(body).mailbox == ""
    with pytest.raises(errors.ProtocolError):
        wire.decode_account_status(json.dumps({"id": "XYZ"}).encode())


def test_send_result_and_a_malformed_sent_message() -> None:
    result = wire.decode_send(fixture_bytes("send.json"), ACCOUNT)
    assert result.conversation_urn == CONVERSATION_URN
    assert result.sent_message is not None
    assert result.sent_message.message_id == MESSAGE_TOKEN
    assert result.sent_message.is_sent_by_owner
    broken = json.loads(fixture_bytes("send.json"))
    broken["sentMessage"]["messageUrn"] = "urn:li:nope"
    result = wire.decode_send(json.dumps(broken).encode(), ACCOUNT)
    # The send happened: the result says so, with the bad item skipped rather than the answer rejected.
    assert result.sent_message is None
    assert result.skipped == 1


def test_sync_status_items() -> None:
    status = wire.decode_sync_status(fixture_bytes("sync_status.json"))
    assert [a.account_id for a in status.accounts] == [ACCOUNT, "696ce9e780e0483585e4e554"]
    assert status.skipped == 1
    first = status.accounts[0].sync_state
    assert first is not None
    assert first.last_sync_at == 1760773310429
    assert first.initial_sync_completed
    second = status.accounts[1].sync_state
    assert second is not None
    assert second.last_sync_at == 1760773310000


def test_small_results() -> None:
    assert wire.decode_recall(b'{"success": true}', MESSAGE_URN).message_urn == MESSAGE_URN
    assert wire.decode_recall(b'{"success": true, "messageUrn": "x"}', MESSAGE_URN).message_urn == "x"
    react = wire.decode_react(b'{"success": true, "messageUrn": "m", "emoji": "\\u2764", "react": false}')
    assert (react.emoji, react.react) == ("❤", False)
    assert wire.decode_ack(b'{"success": true, "conversationUrn": "c"}').conversation_urn == "c"
    synced = wire.decode_server_sync(b'{"accountId": "a", "conversationsProcessed": 3, "durationMs": 1.5}')
    assert (synced.conversations_processed, synced.messages_processed) == (3, 0)
    exists = wire.decode_exists(b'{"hasConversation": true, "conversationUrn": "c", "profileUrn": "p"}')
    assert exists.has_conversation
    assert wire.decode_refresh(b'{"conversationUrn": "c"}').conversation_urn == "c"
    with pytest.raises(errors.ProtocolError):
        wire.decode_exists(b'{"hasConversation": "maybe"}')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1760773310429, 1760773310429),
        (1760773310429.4, 1760773310429),
        ("1760773310429", 1760773310429),
        ("2025-10-18T07:41:50.429Z", 1760773310429),
        ("2025-10-18T07:41:50.429", 1760773310429),
        ("2025-10-18T09:41:50.429+02:00", 1760773310429),
    ],
)
def test_epoch_ms_accepts_numbers_and_iso_strings(value: object, expected: int) -> None:
    assert wire.epoch_ms(value) == expected


@pytest.mark.parametrize("value", [True, None, "tomorrow", float("nan"), -5, 10**20, [1]])
def test_epoch_ms_rejects_garbage(value: object) -> None:
    with pytest.raises(ValueError):
        wire.epoch_ms(value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
_field_values: dict[str, Any] = {
    "conversationUrn": st.sampled_from([CONVERSATION_URN, "urn:li:x:1", "", 5]) | _json,
    "lastActivityAt": st.sampled_from([1, "2025-10-18T07:41:50Z", "x", -1]) | _json,
    "unreadCount": st.integers(-3, 3) | _json,
    "participants": st.lists(st.fixed_dictionaries({"name": _json})) | _json,
    "latestMessage": st.none() | st.fixed_dictionaries({"messageUrn": _json, "sentAt": _json}) | _json,
}


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(
        st.fixed_dictionaries({}, optional=_field_values) | _json,
        max_size=8,
    )
)
def test_no_item_can_fail_the_page(items: list[Any]) -> None:
    body = msgspec.json.encode(
        {"success": True, "conversations": items, "nextCursor": None, "hasMore": False}
    )
    page = wire.decode_conversations(body, ACCOUNT)
    assert len(page.conversations) + page.skipped == len(items)
    for conversation in page.conversations:
        assert conversation.conversation_id == THREAD
