"""Batched upserts: per-item validation, malformed envelopes, change sets that name exactly what changed."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from sync.cache import (
    Cache,
    CacheInputError,
    SetReactions,
    Tombstone,
    UpdateConversation,
    UpsertConversations,
    UpsertMessages,
)
from sync.cache.ops import now_ms
from sync.model import ChangeSet, ConversationSyncState, MessageIn, Reaction, RowKey, TombstoneReason
from tests.sync.cache.conftest import dump
from tests.sync.cache.helpers import (
    ACCOUNT_A,
    ACCOUNT_B,
    conv,
    conv_urn,
    message_token,
    msg,
    thread_token,
)

T1, T2, T3 = message_token(1), message_token(2), message_token(3)


class _Wrong:
    """``WRONG[value]`` passes a value of the wrong type past the type checker, as bad wire input would."""

    def __getitem__(self, value: object) -> Any:
        return value


WRONG = _Wrong()


def _third(**changes: Any) -> MessageIn:
    return dataclasses.replace(msg(ACCOUNT_A, 1, T3, 300), **changes)


CONV = thread_token(1)


def test_new_messages_are_inserted_and_named(cache: Cache) -> None:
    change = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100), msg(ACCOUNT_A, 1, T2, 200)]).result()

    assert change.messages_inserted == {RowKey(ACCOUNT_A, CONV, T1), RowKey(ACCOUNT_A, CONV, T2)}
    assert change.messages_updated == frozenset()
    # The conversation did not exist: a placeholder row holds the latest message until C1 fills it in.
    assert change.conversations_changed == {(ACCOUNT_A, CONV)}
    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.latest is not None and row.latest.sent_at == 200
    assert row.last_activity_at == 200


def test_unchanged_reupsert_touches_nothing(cache: Cache) -> None:
    items = [msg(ACCOUNT_A, 1, T1, 100), msg(ACCOUNT_B, 1, T1, 100), msg(ACCOUNT_A, 1, T2, 200)]
    conversations = [conv(ACCOUNT_A, 1, 200, unread=1, latest=(T2, 200, "hello"))]
    cache.writer.upsert_conversations(conversations).result()
    cache.writer.upsert_messages(items).result()
    before = dump(cache.path)
    version = cache.reader.data_version()

    again = cache.writer.upsert_messages(items).result()
    again_conversations = cache.writer.upsert_conversations(conversations).result()

    assert again == ChangeSet() and not again
    assert again_conversations == ChangeSet()
    assert dump(cache.path) == before
    # Nothing was written, so other connections see no commit.
    assert cache.reader.data_version() == version


def test_changed_field_is_an_update(cache: Cache) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100), msg(ACCOUNT_A, 1, T2, 200)]).result()

    edited = dataclasses.replace(msg(ACCOUNT_A, 1, T2, 200), reactions=(Reaction("🎉", 2, True),))
    change = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100), edited]).result()

    assert change.messages_updated == {RowKey(ACCOUNT_A, CONV, T2)}
    assert change.messages_inserted == frozenset()
    stored = cache.reader.message(ACCOUNT_A, T2)
    assert stored is not None and stored.reactions == (Reaction("🎉", 2, True),)


def test_text_change_of_the_latest_message_updates_the_preview(cache: Cache) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100, "before")]).result()

    change = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100, "after")]).result()

    assert change.messages_updated == {RowKey(ACCOUNT_A, CONV, T1)}
    assert change.conversations_changed == {(ACCOUNT_A, CONV)}
    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.latest is not None and row.latest.text == "after"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(msg(ACCOUNT_A, 1, T3, 300, urn="urn:li:salesNav_thread:2-abc"), id="foreign-urn-type"),
        pytest.param(msg(ACCOUNT_A, 1, T3, 300, urn="urn:li:msg_message:(nobody,2-abc)"), id="bad-mailbox"),
        pytest.param(msg(ACCOUNT_A, 1, T3, 300, urn="urn:li:messagingMessage:2-a%ZZ"), id="bad-percent"),
        pytest.param(_third(sent_at=WRONG["300"]), id="time-as-string"),
        pytest.param(_third(sent_at=-1), id="negative-time"),
        pytest.param(_third(text=WRONG[None]), id="text-none"),
        pytest.param(_third(is_sent_by_owner=WRONG[1]), id="bool-as-int"),
        pytest.param(_third(account_id="c" * 24), id="unknown-account"),
        pytest.param(
            _third(conversation_urn="urn:li:fs_conversation:nope"),
            id="bad-conversation",
        ),
        pytest.param(
            dataclasses.replace(
                msg(ACCOUNT_A, 1, T3, 300), message_urn=f"urn:li:fs_event:({thread_token(9)},{T3})"
            ),
            id="fs-event-of-another-thread",
        ),
        pytest.param({"messageUrn": "x"}, id="not-a-MessageIn"),
    ],
)
def test_malformed_item_is_skipped_logged_and_counted(
    cache: Cache, bad: MessageIn, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sync.cache"):
        change = cache.writer.upsert_messages(
            [msg(ACCOUNT_A, 1, T1, 100), bad, msg(ACCOUNT_A, 1, T2, 200)]
        ).result()

    assert change.skipped == 1
    assert change.messages_inserted == {RowKey(ACCOUNT_A, CONV, T1), RowKey(ACCOUNT_A, CONV, T2)}
    assert cache.reader.counts().messages == 2
    assert any("skipped message" in r.getMessage() for r in caplog.records)


def test_malformed_conversation_item_is_skipped(cache: Cache) -> None:
    bad = dataclasses.replace(conv(ACCOUNT_A, 2, 100), unread_count=-3)
    bad_latest = conv(ACCOUNT_A, 3, 100, latest=(T1, 100, "x"))
    assert bad_latest.latest is not None
    bad_latest = dataclasses.replace(
        bad_latest, latest=dataclasses.replace(bad_latest.latest, message_urn="urn:li:member:1")
    )

    change = cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 100), bad, bad_latest]).result()

    assert change.skipped == 2
    assert change.conversations_changed == {(ACCOUNT_A, CONV)}
    assert [c.conversation_id for c in cache.reader.conversations()] == [CONV]


@pytest.mark.parametrize(
    "ops",
    [
        pytest.param("not a list", id="ops-not-a-list"),
        pytest.param([UpsertMessages(None)], id="items-none"),  # type: ignore[arg-type]
        pytest.param([UpsertMessages({"messages": []})], id="items-a-dict"),  # type: ignore[arg-type]
        pytest.param([UpsertMessages([]), "upsert"], id="unknown-operation"),
        pytest.param([UpsertConversations("abc")], id="conversations-a-string"),  # type: ignore[arg-type]
        pytest.param([Tombstone(["not a urn"], TombstoneReason.RECALLED_HERE)], id="tombstone-id-malformed"),
        pytest.param([Tombstone([message_token(5)], WRONG["recalled"])], id="tombstone-reason-a-string"),
        pytest.param(
            [UpdateConversation(ACCOUNT_A, "urn:li:member:1", unread_count=0)], id="bad-conversation"
        ),
        pytest.param([UpdateConversation(ACCOUNT_A, CONV, unread_count=WRONG["2"])], id="unread-a-string"),
        pytest.param([UpdateConversation(ACCOUNT_A, CONV, starred=WRONG[1])], id="starred-an-int"),
        pytest.param([SetReactions(ACCOUNT_A, T1, (Reaction("👍", -1),))], id="negative-reaction-count"),
    ],
)
def test_malformed_envelope_raises_and_changes_nothing(cache: Cache, ops: object) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100)]).result()
    before = dump(cache.path)
    valid_first = [UpsertMessages([msg(ACCOUNT_A, 1, T2, 200)])]

    with pytest.raises(CacheInputError):
        cache.writer.apply(valid_first + ops if isinstance(ops, list) else ops).result()  # type: ignore[arg-type]

    assert dump(cache.path) == before


def test_a_failing_operation_rolls_back_the_whole_transaction(cache: Cache) -> None:
    before = dump(cache.path)
    unknown = ConversationSyncState(ACCOUNT_A, thread_token(7))  # no such conversation
    from sync.cache import SetConversationSync

    with pytest.raises(CacheInputError):
        cache.writer.apply(
            [UpsertMessages([msg(ACCOUNT_A, 1, T1, 100)]), SetConversationSync(unknown)]
        ).result()

    assert dump(cache.path) == before


def test_repeated_id_in_one_batch_keeps_the_last_copy(cache: Cache) -> None:
    change = cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, T1, 100, "one"), msg(ACCOUNT_A, 1, T1, 100, "two")]
    ).result()

    assert change.messages_inserted == {RowKey(ACCOUNT_A, CONV, T1)}
    stored = cache.reader.message(ACCOUNT_A, T1)
    assert stored is not None and stored.text == "two"


def test_conversation_preview_is_the_servers_unless_a_cached_message_is_newer(cache: Cache) -> None:
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 100, latest=(T1, 100, "server"))]).result()
    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.latest is not None and row.latest.text == "server"

    # An event brought a newer message than the page the sync fetched a moment ago.
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T2, 200, "from an event")]).result()
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 100, latest=(T1, 100, "server"))]).result()

    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.latest is not None and row.latest.text == "from an event"
    assert row.last_activity_at == 200


def test_conversation_updates(cache: Cache) -> None:
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 100, unread=3)]).result()

    starred = cache.writer.update_conversation(ACCOUNT_A, conv_urn(ACCOUNT_A, 1), starred=True).result()
    read = cache.writer.mark_read(ACCOUNT_A, CONV).result()
    again = cache.writer.mark_read(ACCOUNT_A, CONV).result()
    unknown = cache.writer.update_conversation(ACCOUNT_A, thread_token(8), unread_count=1).result()

    assert starred.conversations_changed == {(ACCOUNT_A, CONV)}
    assert read.conversations_changed == {(ACCOUNT_A, CONV)}
    assert not again and not unknown
    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.starred and row.unread_count == 0


def test_a_listing_asked_for_before_a_mark_keeps_the_mark_and_a_later_one_wins(cache: Cache) -> None:
    """A C1 page on its way while the user marked a conversation read (or starred it) is older than the
    mark: its unread count and star do not bring the badge back. A page asked for after the mark wins."""
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 100, unread=2)]).result()
    asked = now_ms() - 5  # the listing went out, then the user opened the conversation
    read = cache.writer.mark_read(ACCOUNT_A, CONV).result()
    starred = cache.writer.update_conversation(ACCOUNT_A, CONV, starred=True).result()
    assert read.conversations_changed == {(ACCOUNT_A, CONV)} and starred.conversations_changed

    stale = cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 100, unread=2)], asked_at=asked).result()
    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.unread_count == 0 and row.starred
    assert not stale  # nothing the windows need to re-read

    # The page still brings what is not the user's mark (a new message's activity and preview).
    newer = conv(ACCOUNT_A, 1, 200, unread=3, latest=(T3, 200, "new"))
    cache.writer.upsert_conversations([newer], asked_at=asked).result()
    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.last_activity_at == 200 and row.unread_count == 0 and row.starred

    # Asked for after the mark: the server's values are newer and win (including the star it omits: kept).
    fresh = cache.writer.upsert_conversations([newer], asked_at=now_ms() + 1).result()
    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.unread_count == 3 and row.starred
    assert fresh.conversations_changed == {(ACCOUNT_A, CONV)}
    # Without a time (an event's or a test's page), the page's values win as before.
    cache.writer.mark_read(ACCOUNT_A, CONV).result()
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 200, unread=1)]).result()
    row = cache.reader.conversation(ACCOUNT_A, CONV)
    assert row is not None and row.unread_count == 1


def test_reactions_update_names_the_row(cache: Cache) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100)]).result()

    change = cache.writer.set_reactions(ACCOUNT_A, T1, [Reaction("👍", 1, True)]).result()
    same = cache.writer.set_reactions(ACCOUNT_A, T1, [Reaction("👍", 1, True)]).result()

    assert change.messages_updated == {RowKey(ACCOUNT_A, CONV, T1)}
    assert not same


def test_event_seq_advances_with_its_write_and_a_replayed_event_is_skipped(cache: Cache) -> None:
    assert cache.reader.last_applied_seq() is None

    first = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100)], advance_seq_to=7).result()
    replay = cache.writer.tombstone([T1], TombstoneReason.RECALLED_ELSEWHERE, advance_seq_to=7).result()

    assert first.messages_inserted and cache.reader.last_applied_seq() == 7
    assert not replay and cache.reader.message(ACCOUNT_A, T1) is not None
    cache.writer.tombstone([T1], TombstoneReason.RECALLED_ELSEWHERE, advance_seq_to=8).result()
    assert cache.reader.last_applied_seq() == 8 and cache.reader.message(ACCOUNT_A, T1) is None
    cache.writer.set_last_applied_seq(0).result()  # a sandbox reset restarts seq
    assert cache.reader.last_applied_seq() == 0


def test_failed_event_write_does_not_advance_seq(cache: Cache) -> None:
    cache.writer.set_last_applied_seq(3).result()
    unknown = ConversationSyncState(ACCOUNT_A, thread_token(7))
    from sync.cache import SetConversationSync

    with pytest.raises(CacheInputError):
        cache.writer.apply([SetConversationSync(unknown)], advance_seq_to=4).result()

    assert cache.reader.last_applied_seq() == 3
