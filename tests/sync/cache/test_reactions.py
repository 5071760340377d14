"""Reaction totals: worked out from the cached ones after C7 (no totals in its answer), and never wiped by a
C2 that sends no ``reactions`` at all (the vendor's, spec §8)."""

from __future__ import annotations

import dataclasses
import json

from sync import wire
from sync.cache import Cache
from sync.engine import message_in
from sync.model import Reaction
from sync.reactions import toggled_reactions
from tests.sync.cache.helpers import ACCOUNT_A, conv_urn, message_token, msg, msg_urn

THUMB, HEART = "👍", "❤️"


def test_adding_counts_once_and_marks_it_yours() -> None:
    assert toggled_reactions((), THUMB, True) == (Reaction(THUMB, 1, True),)
    theirs = (Reaction(HEART, 1), Reaction(THUMB, 2))
    assert toggled_reactions(theirs, THUMB, True) == (Reaction(HEART, 1), Reaction(THUMB, 3, True))
    # Already yours (the stream's totals came first): nothing changes, it is not counted twice.
    mine = (Reaction(THUMB, 3, True),)
    assert toggled_reactions(mine, THUMB, True) == mine


def test_removing_uncounts_yours_only_and_drops_an_emptied_emoji() -> None:
    assert toggled_reactions((Reaction(THUMB, 3, True),), THUMB, False) == (Reaction(THUMB, 2, False),)
    assert toggled_reactions((Reaction(THUMB, 1, True), Reaction(HEART, 2)), THUMB, False) == (
        Reaction(HEART, 2),
    )
    # Not yours (or already taken back): nothing to take back.
    theirs = (Reaction(THUMB, 2),)
    assert toggled_reactions(theirs, THUMB, False) == theirs
    assert toggled_reactions((), THUMB, False) == ()


def test_other_emoji_keep_their_order() -> None:
    start = (Reaction("🎉", 1), Reaction(HEART, 1, True), Reaction("😂", 4))
    assert [r.emoji for r in toggled_reactions(start, HEART, False)] == ["🎉", "😂"]
    assert [r.emoji for r in toggled_reactions(start, THUMB, True)] == ["🎉", HEART, "😂", THUMB]


def stored_reactions(cache: Cache, token: str) -> list[list[object]]:
    row = cache.reader.message(ACCOUNT_A, token)
    assert row is not None
    return [[r.emoji, r.count, r.reacted_by_owner] for r in row.reactions]


def test_a_c2_without_reactions_keeps_the_cached_totals(cache: Cache) -> None:
    token = message_token(1)
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, token, 100)]).result()
    cache.writer.set_reactions(ACCOUNT_A, token, (Reaction(THUMB, 1, True),)).result()
    # The vendor's C2 again: the same message, no reactions field.
    unknown = dataclasses.replace(msg(ACCOUNT_A, 1, token, 100), reactions=None)
    change = cache.writer.upsert_messages([unknown]).result()
    assert not change  # nothing changed: no change set for every window to apply
    assert stored_reactions(cache, token) == [[THUMB, 1, True]]
    # Its text changed: the row is updated, the reactions still kept.
    edited = dataclasses.replace(unknown, text="edited")
    change = cache.writer.upsert_messages([edited]).result()
    assert change.messages_updated and stored_reactions(cache, token) == [[THUMB, 1, True]]
    # A server that does send reactions is believed, an empty list included.
    cache.writer.upsert_messages([dataclasses.replace(edited, reactions=())]).result()
    assert stored_reactions(cache, token) == []


def test_a_new_message_without_reactions_is_stored_with_none(cache: Cache) -> None:
    token = message_token(2)
    fresh = dataclasses.replace(msg(ACCOUNT_A, 1, token, 200), reactions=None)
    change = cache.writer.upsert_messages([fresh]).result()
    assert change.messages_inserted
    assert stored_reactions(cache, token) == []


def c2_body(with_reactions: bool) -> bytes:
    item: dict[str, object] = {
        "messageUrn": msg_urn(ACCOUNT_A, message_token(3)),
        "text": "hi",
        "sentAt": 1_700_000_000_000,
        "senderProfileId": "ACoAAContact",
        "senderName": "Carol",
        "isSentByOwner": False,
    }
    if with_reactions:
        item["reactions"] = [{"emoji": THUMB, "count": 2, "reactedByOwner": False}]
    return json.dumps({"success": True, "messages": [item], "hasMore": False, "cursor": None}).encode()


def test_the_wire_says_whether_reactions_were_sent_and_the_engine_passes_it_on() -> None:
    conversation = conv_urn(ACCOUNT_A, 1)
    [vendor] = wire.decode_messages(c2_body(False), ACCOUNT_A, conversation).messages
    [contract] = wire.decode_messages(c2_body(True), ACCOUNT_A, conversation).messages
    assert not vendor.reactions_known and vendor.reactions == ()
    assert contract.reactions_known and contract.reactions == (Reaction(THUMB, 2),)
    assert message_in(vendor).reactions is None
    assert message_in(contract).reactions == (Reaction(THUMB, 2),)
    # Not part of the value: a copy read from the cache equals the decoded one.
    assert dataclasses.replace(vendor, reactions_known=True) == vendor
