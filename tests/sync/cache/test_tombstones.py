"""Tombstones: a recalled message never comes back, and derived data follows in the same transaction."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import urns
from sync.cache import (
    Cache,
    CacheDatabase,
    SetReactions,
    Tombstone,
    UpsertConversations,
    UpsertMessages,
    WriteOp,
)
from sync.model import Reaction, RowKey, TombstoneReason
from tests.sync.cache.conftest import dump
from tests.sync.cache.helpers import (
    ACCOUNT_A,
    ACCOUNT_B,
    ACCOUNTS,
    MAILBOX_A,
    MAILBOX_B,
    conv,
    message_token,
    msg,
    msg_urn,
    thread_token,
)

RECALLED = TombstoneReason.RECALLED_HERE
T1 = message_token(1)
T2 = message_token(2)
T3 = message_token(3)
CONV_A = thread_token(1)


def _visible(cache: Cache, account: str, token: str) -> bool:
    return cache.reader.message(account, token) is not None


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda t: urns.message_urn(MAILBOX_A, t), id="same-urn"),
        pytest.param(lambda t: urns.message_urn(MAILBOX_B, t), id="other-mailbox"),
        pytest.param(lambda t: f"urn:li:messagingMessage:{t}", id="messagingMessage"),
        pytest.param(lambda t: t, id="bare-token"),
        pytest.param(
            lambda t: urns.encode_path_segment(urns.message_urn(MAILBOX_A, t)), id="percent-encoded"
        ),
    ],
)
def test_tombstone_by_any_form_hides_the_copy_and_blocks_every_later_write(
    cache: Cache, form: Callable[[str], str]
) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100)]).result()
    assert _visible(cache, ACCOUNT_A, T1)

    change = cache.writer.tombstone([form(T1)], RECALLED).result()

    assert change.messages_hidden == {RowKey(ACCOUNT_A, CONV_A, T1)}
    assert change.tombstones_added == {T1}
    assert not _visible(cache, ACCOUNT_A, T1)
    # Every form of the same id, in every mailbox, is refused by every write path afterwards.
    again = [
        msg(ACCOUNT_A, 1, T1, 100, "edited"),
        msg(ACCOUNT_A, 1, T1, 100, urn=urns.message_urn(MAILBOX_B, T1)),
        msg(ACCOUNT_A, 1, T1, 100, urn=f"urn:li:messagingMessage:{T1}"),
        msg(ACCOUNT_B, 1, T1, 100),
    ]
    for item in again:
        assert not cache.writer.upsert_messages([item]).result()
    assert not cache.writer.set_reactions(ACCOUNT_A, T1, [Reaction("👍", 1)]).result()
    assert not _visible(cache, ACCOUNT_A, T1)
    assert not _visible(cache, ACCOUNT_B, T1)
    assert cache.reader.counts().messages == 0


def test_born_dead_message_never_appears(cache: Cache) -> None:
    cache.writer.tombstone([f"urn:li:messagingMessage:{T1}"], TombstoneReason.RECALLED_ELSEWHERE).result()

    change = cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100), msg(ACCOUNT_A, 1, T2, 90)]).result()

    assert change.messages_inserted == {RowKey(ACCOUNT_A, CONV_A, T2)}
    assert not _visible(cache, ACCOUNT_A, T1)
    # Nor as the server's preview on a conversation page.
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 100, latest=(T1, 100, "recalled"))]).result()
    page = cache.reader.conversations(ACCOUNT_A)
    assert page[0].latest is not None and page[0].latest.message_urn == msg_urn(ACCOUNT_A, T2)


@pytest.mark.parametrize(
    "tombstone_first", [True, False], ids=["tombstone-then-upsert", "upsert-then-tombstone"]
)
def test_tombstone_in_the_same_transaction_as_the_upsert_wins(cache: Cache, tombstone_first: bool) -> None:
    ops: list[WriteOp] = [
        UpsertMessages([msg(ACCOUNT_A, 1, T1, 100), msg(ACCOUNT_B, 1, T1, 100)]),
        Tombstone([T1], RECALLED),
    ]
    if tombstone_first:
        ops.reverse()

    change = cache.writer.apply(ops).result()

    assert not _visible(cache, ACCOUNT_A, T1) and not _visible(cache, ACCOUNT_B, T1)
    assert change.messages_inserted == frozenset()
    assert change.tombstones_added == {T1}
    if not tombstone_first:  # the copies existed inside the transaction: the UI is told they are gone
        assert change.messages_hidden == {RowKey(ACCOUNT_A, CONV_A, T1), RowKey(ACCOUNT_B, CONV_A, T1)}


def test_tombstone_hides_every_copy_in_every_account(cache: Cache) -> None:
    cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, T1, 100, inbound=False), msg(ACCOUNT_B, 1, T1, 100), msg(ACCOUNT_B, 1, T2, 50)]
    ).result()

    change = cache.writer.tombstone([msg_urn(ACCOUNT_A, T1)], RECALLED).result()

    assert change.messages_hidden == {RowKey(ACCOUNT_A, CONV_A, T1), RowKey(ACCOUNT_B, CONV_A, T1)}
    assert cache.reader.message_copies(T1) == []
    assert _visible(cache, ACCOUNT_B, T2)
    assert {(ACCOUNT_A, CONV_A), (ACCOUNT_B, CONV_A)} <= change.conversations_changed


def test_repeated_tombstone_changes_nothing(cache: Cache) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100)]).result()
    assert cache.writer.tombstone([T1], RECALLED).result()
    before = dump(cache.path)

    assert not cache.writer.tombstone([msg_urn(ACCOUNT_B, T1)], TombstoneReason.GONE_UPSTREAM).result()
    assert dump(cache.path) == before


def test_latest_visible_message_falls_back_in_the_same_transaction(cache: Cache) -> None:
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 300, latest=(T3, 300, "third"))]).result()
    cache.writer.upsert_messages(
        [
            msg(ACCOUNT_A, 1, T1, 100, "first"),
            msg(ACCOUNT_A, 1, T2, 200, "second"),
            msg(ACCOUNT_A, 1, T3, 300, "third"),
        ]
    ).result()

    change = cache.writer.tombstone([T3], RECALLED).result()

    row = cache.reader.conversation(ACCOUNT_A, CONV_A)
    assert row is not None and row.latest is not None
    assert (row.latest.text, row.latest.sent_at) == ("second", 200)
    assert row.last_activity_at == 300  # a recall does not change lastActivityAt (spec C1)
    assert (ACCOUNT_A, CONV_A) in change.conversations_changed

    cache.writer.tombstone([T2], RECALLED).result()
    cache.writer.tombstone([T1], RECALLED).result()
    row = cache.reader.conversation(ACCOUNT_A, CONV_A)
    assert row is not None and row.latest is None


def test_preview_only_latest_message_is_dropped_by_its_tombstone(cache: Cache) -> None:
    """The C1 preview names a message this cache never fetched: the tombstone still removes it."""
    cache.writer.upsert_conversations(
        [conv(ACCOUNT_A, 1, 300, latest=(T3, 300, "only in the preview"))]
    ).result()
    cache.writer.upsert_conversations(
        [conv(ACCOUNT_B, 1, 300, latest=(T3, 300, "only in the preview"))]
    ).result()
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T1, 100, "older")]).result()

    change = cache.writer.tombstone([T3], RECALLED).result()

    a = cache.reader.conversation(ACCOUNT_A, CONV_A)
    b = cache.reader.conversation(ACCOUNT_B, CONV_A)
    assert a is not None and a.latest is not None and a.latest.text == "older"
    assert b is not None and b.latest is None
    assert change.conversations_changed == {(ACCOUNT_A, CONV_A), (ACCOUNT_B, CONV_A)}


@pytest.mark.parametrize(
    ("hidden", "unread", "expected"),
    [
        pytest.param(T3, 2, 1, id="newest-inbound-unread"),
        pytest.param(T2, 2, 1, id="second-newest-inbound-within-unread"),
        pytest.param(T1, 2, 2, id="older-than-the-unread-ones"),
        pytest.param(T3, 0, 0, id="nothing-unread"),
        pytest.param(T4 := message_token(4), 2, 2, id="outbound-message"),
    ],
)
def test_unread_count_is_lowered_only_for_an_inbound_message_among_the_newest_unread(
    cache: Cache, hidden: str, unread: int, expected: int
) -> None:
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 400, unread=unread)]).result()
    cache.writer.upsert_messages(
        [
            msg(ACCOUNT_A, 1, T1, 100),
            msg(ACCOUNT_A, 1, T2, 200),
            msg(ACCOUNT_A, 1, T3, 300),
            msg(ACCOUNT_A, 1, T4, 400, inbound=False),
        ]
    ).result()

    change = cache.writer.tombstone([hidden], RECALLED).result()

    row = cache.reader.conversation(ACCOUNT_A, CONV_A)
    assert row is not None and row.unread_count == expected
    assert change.messages_hidden == {RowKey(ACCOUNT_A, CONV_A, hidden)}
    if hidden == T4:
        assert row.latest is not None and row.latest.sent_at == 300


def test_unread_rule_holds_per_account(cache: Cache) -> None:
    """The same message is inbound and unread for B, sent by A: only B's count goes down."""
    cache.writer.upsert_conversations(
        [conv(ACCOUNT_A, 1, 100, unread=1), conv(ACCOUNT_B, 1, 100, unread=1)]
    ).result()
    cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, T1, 100, inbound=False), msg(ACCOUNT_B, 1, T1, 100)]
    ).result()

    cache.writer.tombstone([T1], RECALLED).result()

    a = cache.reader.conversation(ACCOUNT_A, CONV_A)
    b = cache.reader.conversation(ACCOUNT_B, CONV_A)
    assert a is not None and a.unread_count == 1
    assert b is not None and b.unread_count == 0


# --- random interleavings ------------------------------------------------------------------------

_TOKENS = [message_token(n) for n in range(4)]
_ACCOUNTS = [ACCOUNT_A, ACCOUNT_B]
_MAILBOXES = [MAILBOX_A, MAILBOX_B]
_FORMS = ["bare", "own-mailbox", "other-mailbox", "messagingMessage"]


@dataclass(frozen=True)
class Step:
    """One random operation; fields a kind does not use are ignored."""

    kind: str
    account: int
    n: int
    form: str
    text: str

    @property
    def token(self) -> str:
        return _TOKENS[self.n]

    def urn(self) -> str:
        own, other = _MAILBOXES[self.account], _MAILBOXES[1 - self.account]
        return {
            "bare": self.token,
            "own-mailbox": urns.message_urn(own, self.token),
            "other-mailbox": urns.message_urn(other, self.token),
            "messagingMessage": f"urn:li:messagingMessage:{self.token}",
        }[self.form]

    def op(self) -> WriteOp:
        account = _ACCOUNTS[self.account]
        if self.kind == "upsert":
            urn = (
                self.urn() if self.form != "bare" else urns.message_urn(_MAILBOXES[self.account], self.token)
            )
            return UpsertMessages([msg(account, 1, self.token, 1000 + self.n, self.text, urn=urn)])
        if self.kind == "tombstone":
            return Tombstone([self.urn()], RECALLED)
        if self.kind == "preview":
            return UpsertConversations(
                [conv(account, 1, 5000, latest=(self.token, 1000 + self.n, "preview"))]
            )
        return SetReactions(account, self.urn(), (Reaction("👍", len(self.text)),))


_steps = st.builds(
    Step,
    kind=st.sampled_from(["upsert", "upsert", "tombstone", "preview", "react"]),
    account=st.integers(0, 1),
    n=st.integers(0, len(_TOKENS) - 1),
    form=st.sampled_from(_FORMS),
    text=st.sampled_from(["x", "yy"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_steps, min_size=1, max_size=4), min_size=1, max_size=8))
def test_random_interleavings_never_show_a_tombstoned_message(transactions: list[list[Step]]) -> None:
    """Any mix of upserts (any URN form), previews, reactions and tombstones (any id form), grouped
    into transactions at random: what is visible is exactly what was upserted minus what was tombstoned."""
    with tempfile.TemporaryDirectory() as tmp, Cache.open_file(Path(tmp) / "c.sqlite") as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result()
        dead: set[str] = set()
        upserted: set[tuple[str, str]] = set()
        for steps in transactions:
            cache.writer.apply([step.op() for step in steps]).result()
            dead |= {step.token for step in steps if step.kind == "tombstone"}
            upserted |= {(_ACCOUNTS[step.account], step.token) for step in steps if step.kind == "upsert"}

            visible = {
                (m.account_id, m.message_id) for a in _ACCOUNTS for m in cache.reader.messages(a, CONV_A)
            }
            assert visible == {(a, t) for a, t in upserted if t not in dead}
            for c in cache.reader.conversations():
                assert c.latest is None or urns.message_id(c.latest.message_urn) not in dead


def test_the_schema_itself_refuses_a_tombstoned_id_to_any_statement(cache: Cache) -> None:
    """Even SQL that skips the writer's checks (raw statements, older code in another process)."""
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, T2, 100)]).result()
    cache.writer.tombstone([T1], RECALLED).result()
    columns = "account_id, conversation_id, message_id, message_urn, conversation_urn, text, sent_at"

    def raw_writes(db: CacheDatabase) -> None:
        conn = db.connection()
        with db.write_transaction():
            conn.execute(
                f"INSERT INTO messages ({columns}) VALUES (?, ?, ?, ?, ?, 'back', 1)",  # noqa: S608 - constant columns
                (ACCOUNT_A, CONV_A, T1, msg_urn(ACCOUNT_A, T1), "c"),
            )
            conn.execute("UPDATE messages SET message_id = ? WHERE message_id = ?", (T1, T2))

    cache.writer.submit(raw_writes).result()

    assert cache.reader.message(ACCOUNT_A, T1) is None
    assert cache.reader.message(ACCOUNT_A, T2) is not None
