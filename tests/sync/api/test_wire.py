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


# --- the vendor's shapes (spec §8, vendor-shapes.md) -----------------------------------------------------

VENDOR_C1_ITEM: dict[str, Any] = {
    "conversationUrn": CONVERSATION_URN,
    "conversationId": THREAD,
    "lastActivityAt": "2025-10-18T07:41:50.429Z",
    "unreadCount": 1,
    "participants": [
        {
            "profileId": "ACoAABBBBB0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio",
            "name": "Ada Lovelace",
            "headline": "Engines",
            "profileUrl": "https://www.linkedin.com/in/ada",
            "profilePicture": "https://media.licdn.com/ada.jpg",
            "distance": "DISTANCE_1",
        }
    ],
    "latestMessage": {
        "text": "hello",
        "sentAt": 1760773310429,
        "senderName": "Ada Lovelace",
        "hasAttachment": True,
    },
}


def c1(*items: Any, **envelope: Any) -> bytes:
    body = {
        "success": True,
        "conversations": list(items),
        "accounts": [{"id": ACCOUNT, "name": "Me"}],
        "nextCursor": None,
        "hasMore": False,
        "fromCache": True,
        **envelope,
    }
    return json.dumps(body).encode()


def test_a_vendor_c1_item_is_kept_whole_with_its_preview_and_an_unknown_star() -> None:
    page = wire.decode_conversations(c1(VENDOR_C1_ITEM, nextCursor="linkedin:abc", hasMore=True), ACCOUNT)
    assert page.skipped == 0
    (item,) = page.conversations
    assert item.account_id == ACCOUNT  # no accountId on the item: the account asked for
    assert item.last_activity_at == 1760773310429
    assert item.latest == model.LatestMessage("", "hello", 1760773310429, "Ada Lovelace", has_attachment=True)
    assert item.participants[0].picture == "https://media.licdn.com/ada.jpg"
    assert page.star_unknown == {THREAD}
    assert (page.next_cursor, page.has_more, page.from_cache) == ("linkedin:abc", True, True)


def test_items_that_say_their_star_are_not_star_unknown() -> None:
    other = {
        **VENDOR_C1_ITEM,
        "conversationUrn": f"urn:li:messagingThread:{THREAD[:-4]}QQ==",
        "starred": True,
    }
    page = wire.decode_conversations(c1(VENDOR_C1_ITEM, other, {**VENDOR_C1_ITEM, "starred": None}), ACCOUNT)
    assert [c.starred for c in page.conversations] == [False, True, False]
    assert page.star_unknown == {THREAD}
    assert page.conversations[1].conversation_id not in page.star_unknown


@pytest.mark.parametrize(
    "latest",
    [{}, None, {"text": "x", "senderName": "A"}, {"text": "x", "sentAt": None}],
    ids=["empty", "null", "no-sentAt", "null-sentAt"],
)
def test_a_preview_without_a_time_is_no_preview_not_a_bad_item(latest: Any) -> None:
    page = wire.decode_conversations(c1({**VENDOR_C1_ITEM, "latestMessage": latest}), ACCOUNT)
    assert page.skipped == 0
    assert page.conversations[0].latest is None
    assert page.conversations[0].last_activity_at == 1760773310429


def test_an_item_without_last_activity_takes_its_previews_time_or_is_skipped() -> None:
    no_time = {k: v for k, v in VENDOR_C1_ITEM.items() if k != "lastActivityAt"}
    page = wire.decode_conversations(c1(no_time, {**no_time, "latestMessage": {}}), ACCOUNT)
    assert [c.last_activity_at for c in page.conversations] == [1760773310429]
    assert page.skipped == 1


def test_every_documented_field_may_be_null() -> None:
    nulls = {
        **VENDOR_C1_ITEM,
        "conversationId": None,
        "unreadCount": None,
        "participants": None,
        "starred": None,
        "accountId": None,
        "source": None,
        "latestMessage": {
            "text": None,
            "sentAt": 5,
            "senderName": None,
            "hasAttachment": None,
            "messageUrn": None,
        },
    }
    page = wire.decode_conversations(c1(nulls, nextCursor=None, hasMore=None, fromCache=None), ACCOUNT)
    assert page.skipped == 0
    (item,) = page.conversations
    assert (item.unread_count, item.participants, item.account_id) == (0, (), ACCOUNT)
    assert item.latest == model.LatestMessage("", "", 5, "")
    assert (page.has_more, page.from_cache) == (False, False)
    message = {
        "messageUrn": MESSAGE_URN,
        "sentAt": 1760773310429,
        "text": None,
        "senderProfileId": None,
        "senderName": None,
        "senderPhoto": None,
        "isSentByOwner": None,
        "hasAttachment": None,
        "attachments": None,
        "reactions": None,
    }
    body = {"success": True, "messages": [message], "participants": None, "hasMore": None, "cursor": None}
    messages = wire.decode_messages(json.dumps(body).encode(), ACCOUNT, CONVERSATION_URN)
    assert messages.skipped == 0
    assert messages.messages[0].text == "" and messages.messages[0].is_sent_by_owner is False


def test_unknown_enum_values_and_fields_are_ignored() -> None:
    item = {
        **VENDOR_C1_ITEM,
        "source": "sales_navigator_v9",
        "salesNavThreadId": "x",
        "participants": [{**VENDOR_C1_ITEM["participants"][0], "distance": "DISTANCE_42"}],
    }
    assert wire.decode_conversations(c1(item), ACCOUNT).skipped == 0
    listed = wire.decode_accounts(json.dumps([{"id": ACCOUNT, "status": "HIBERNATING", "tier": 9}]).encode())
    assert listed.accounts[0].status == "HIBERNATING"


# --- integers: SQLite's int64, and counts small enough to add up --------------------------------------


def test_int64_is_sqlites_range() -> None:
    decode = msgspec.json.Decoder(wire.Int64).decode
    assert decode(str(2**63 - 1).encode()) == 2**63 - 1
    assert decode(str(-(2**63)).encode()) == -(2**63)
    for out in (2**63, -(2**63) - 1, 2**64, 10**30):
        with pytest.raises(msgspec.ValidationError):
            decode(str(out).encode())


@pytest.mark.parametrize(
    "bad",
    [
        {"unreadCount": 2**63},
        {"unreadCount": 2**64 + 7},
        {"unreadCount": -(2**63) - 1},
        {"unreadCount": 10**30},
        {"unreadCount": wire.MAX_COUNT + 1},
        {"lastActivityAt": 2**63},
        {"latestMessage": {"text": "x", "sentAt": 2**64}},
        {"lastActivityAt": 1e300},
    ],
)
def test_an_item_with_an_out_of_range_integer_is_skipped_and_counted(bad: dict[str, Any]) -> None:
    page = wire.decode_conversations(c1(VENDOR_C1_ITEM, {**VENDOR_C1_ITEM, **bad}), ACCOUNT)
    assert len(page.conversations) == 1
    assert page.skipped == 1


def test_huge_integers_in_the_envelope_are_ignored_unless_a_field_needs_them() -> None:
    page = wire.decode_conversations(c1(VENDOR_C1_ITEM, total=2**70, quota={"used": 2**63}), ACCOUNT)
    assert len(page.conversations) == 1
    with pytest.raises(errors.ProtocolError):
        wire.decode_conversations(c1(VENDOR_C1_ITEM, hasMore=2**63), ACCOUNT)
    synced = json.dumps({"success": True, "conversationsProcessed": 2**63}).encode()
    with pytest.raises(errors.ProtocolError):
        wire.decode_server_sync(synced)


def test_message_and_sync_status_integers_are_bounded_too() -> None:
    reaction = {"emoji": "👍", "count": 2**63}
    message = {"messageUrn": MESSAGE_URN, "sentAt": 1760773310429, "reactions": [reaction]}
    body = {"success": True, "messages": [message], "hasMore": False}
    assert wire.decode_messages(json.dumps(body).encode(), ACCOUNT, CONVERSATION_URN).skipped == 1
    state = {"accountId": ACCOUNT, "syncState": {"totalMessages": 2**63}}
    status = json.dumps({"success": True, "accounts": [state, {"accountId": ACCOUNT}]}).encode()
    assert wire.decode_sync_status(status).skipped == 1


# --- accounts ------------------------------------------------------------------------------------------


def test_a1_seat_and_duplicates_first_listing_wins(caplog: pytest.LogCaptureFixture) -> None:
    other = "696ce9e780e0483585e4e554"
    items = [
        {"id": ACCOUNT, "firstName": "First", "apiSeatAllocated": False},
        {"id": other, "firstName": "Other"},
        *[{"id": ACCOUNT, "firstName": "Later", "apiSeatAllocated": True}] * 300,
        {"id": other, "firstName": "Other again"},
    ]
    with caplog.at_level(logging.WARNING, logger="sync.wire"):
        listed = wire.decode_accounts(json.dumps(items).encode())
    assert [(a.account_id, a.name, a.api_seat) for a in listed.accounts] == [
        (ACCOUNT, "First", False),
        (other, "Other", None),
    ]
    assert (listed.duplicates, listed.skipped) == (301, 0)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "A1 listed 2 account(s) more than once: 301 repeated item(s) ignored, the first of each kept"
    ]


def test_a2_in_the_vendors_shape() -> None:
    body = {
        "id": ACCOUNT,
        "firstName": "Me",
        "lastName": "Myself",
        "publicId": "me-myself",
        "platform": "ConnectSafely",
        "status": "AVAILABLE",
        "enabled": True,
        "lastUsed": "2026-02-24T04:53:13.750Z",
        "hasTokens": True,
        "linkedinPlan": {"premiumType": "NON_PREMIUM", "isPremium": False, "hasSalesNavigator": False},
    }
    account = wire.decode_account_status(json.dumps(body).encode())
    assert account == model.Account(
        ACCOUNT, "Me Myself", "me-myself", "", "AVAILABLE", True, plan="NON_PREMIUM"
    )
    # A plan of the wrong shape is no plan; the account itself is fine.
    for plan in ({"premiumType": 7}, "PREMIUM", [1], None):
        assert wire.decode_account_status(json.dumps({**body, "linkedinPlan": plan}).encode()).plan == ""


# --- C2, C3, C11, C12 -------------------------------------------------------------------------------------


def _message(token: str, sent_at: int, text: str) -> dict[str, Any]:
    return {
        "messageUrn": f"urn:li:msg_message:({MAILBOX},{token})",
        "text": text,
        "sentAt": sent_at,
        "senderProfileId": "john-doe-123",
        "senderName": "John",
        "senderPhoto": None,
        "isSentByOwner": False,
        "hasAttachment": False,
        "attachments": [],
    }


def test_a_page_oldest_first_comes_back_newest_first_ties_by_token() -> None:
    wire_order = [
        _message("2-AAAA", 1000, "oldest"),
        _message("2-BBBB", 2000, "tie, lower token"),
        _message("2-CCCC", 2000, "tie, higher token"),
        _message("2-DDDD", 3000, "newest"),
    ]
    body = {"success": True, "messages": wire_order, "participants": [{"profileId": "x", "name": "John"}]}
    page = wire.decode_messages(
        json.dumps({**body, "hasMore": True, "cursor": "1000"}).encode(), ACCOUNT, CONVERSATION_URN
    )
    assert [m.text for m in page.messages] == ["newest", "tie, higher token", "tie, lower token", "oldest"]
    assert (page.cursor, page.has_more) == ("1000", True)


def test_a_vendor_c3_answer_is_the_thread_sent_into() -> None:
    answer = {
        "success": True,
        "message": "hi",
        "recipientProfileUrn": "urn:li:fsd_profile:ACoAABcdefgh",
        "sentMessage": {
            "messageUrn": MESSAGE_URN,
            "text": "hi",
            "sentAt": 1760773310429,
            "senderProfileId": "me",
            "senderName": "Me",
            "senderPhoto": None,
            "isSentByOwner": True,
        },
    }
    result = wire.decode_send(json.dumps(answer).encode(), ACCOUNT, CONVERSATION_URN)
    assert result.conversation_urn == CONVERSATION_URN
    assert result.sent_message is not None
    assert (result.sent_message.has_attachment, result.sent_message.conversation_urn) == (
        False,
        CONVERSATION_URN,
    )
    # A new thread (no conversation sent into, none in the answer): sent, but not placeable.
    new_thread = wire.decode_send(json.dumps(answer).encode(), ACCOUNT)
    assert (new_thread.sent_message, new_thread.skipped) == (None, 1)


@pytest.mark.parametrize(
    ("fields", "duration_ms"),
    [
        ({"durationSeconds": "12.5"}, 12500.0),
        ({"durationSeconds": 3}, 3000.0),
        ({"durationMs": 250, "durationSeconds": "0.25"}, 250.0),
        ({"durationSeconds": "soon"}, None),
        ({"durationSeconds": None, "durationMs": None}, None),
    ],
)
def test_c11_duration_forms(fields: dict[str, Any], duration_ms: float | None) -> None:
    body = {"success": True, "accountId": ACCOUNT, "conversationsProcessed": None, **fields}
    result = wire.decode_server_sync(json.dumps(body).encode())
    assert result.duration_ms == duration_ms
    assert result.conversations_processed == 0


def test_c11_partial_failure_says_so() -> None:
    body = {"success": True, "messagesProcessed": 7, "error": "2 conversations failed"}
    result = wire.decode_server_sync(json.dumps(body).encode())
    assert (result.messages_processed, result.error) == (7, "2 conversations failed")


def test_c12_iso_last_sync_and_nulls() -> None:
    state = {
        "lastSyncAt": "2026-01-02T03:04:05.678Z",
        "syncInProgress": None,
        "totalConversations": None,
        "lastError": None,
        "initialSyncCompleted": True,
    }
    body = {"success": True, "accounts": [{"accountId": ACCOUNT, "accountPicture": None, "syncState": state}]}
    (status,) = wire.decode_sync_status(json.dumps(body).encode()).accounts
    assert status.sync_state == wire.SyncState(1767323045678, False, 0, 0, 0, None, True)


# --- the log is not flooded ------------------------------------------------------------------------------


def test_a_page_of_100000_bad_items_writes_a_handful_of_lines(caplog: pytest.LogCaptureFixture) -> None:
    bad = b'{"conversationUrn":"urn:li:salesNav_thread:2-x","lastActivityAt":"soon"}'
    body = b'{"success":true,"conversations":[' + b",".join([bad] * 100_000) + b'],"hasMore":false}'
    with caplog.at_level(logging.WARNING, logger="sync.wire"):
        page = wire.decode_conversations(body, ACCOUNT)
    assert (len(page.conversations), page.skipped) == (0, 100_000)
    assert len(caplog.records) == wire.DETAILED_SKIPS + 1
    assert (
        "99997 more malformed conversation item(s) on this page (100000 in all)"
        in caplog.records[-1].getMessage()
    )


def test_a_few_bad_items_are_each_logged_without_a_summary(caplog: pytest.LogCaptureFixture) -> None:
    items = [VENDOR_C1_ITEM, "bad", 5]
    with caplog.at_level(logging.WARNING, logger="sync.wire"):
        page = wire.decode_conversations(c1(*items), ACCOUNT)
    assert page.skipped == 2
    assert [r.getMessage().startswith("skipped malformed conversation item #") for r in caplog.records] == [
        True,
        True,
    ]
