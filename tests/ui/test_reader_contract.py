"""One set of assertions for both ``InboxReader``s: the widget tests' fake and the real one over the cache.

The same inbox is written into a real SQLite cache and loaded into ``FakeInboxReader``; every test runs
against both (``reader`` is parametrised). The widget tests trust the fake to answer as the cache does:
where the two disagree, the fake follows the cache, and the disagreement is written down here.

One folding rule (issue 16): the conversation filter and the message search are the cache's FTS5 indexes
(``unicode61 remove_diacritics 2``: "emile", "Émile" and "ÉMILE" are one word), the fake folds the same way,
and the list model places its diffs by asking the reader (``conversations_matching``), never by a rule of
its own. (Before, the cache's ``LIKE`` folded ASCII only while the model casefolded.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.reader import CacheInboxReader
from sync import urns
from sync.cache import Cache
from sync.model import (
    Account,
    ChangeSet,
    ConversationIn,
    LatestMessage,
    Message,
    MessageIn,
    Participant,
    RecallState,
    TombstoneReason,
)
from tests.sync.cache.helpers import message_token, thread_token
from ui.conversation_model import BULK_CHANGES, ConversationRole
from ui.sources import InboxReader

from .fakes import FakeInboxReader

NOW = 1_780_000_000_000
MINUTE = 60_000
A, B = "a" * 24, "b" * 24
MAILBOX = {A: "urn:li:fsd_profile:ACoAAAlice", B: "urn:li:fsd_profile:ACoAABob"}
ACCOUNTS = [Account(A, "Alice", "alice", MAILBOX[A]), Account(B, "Bob", "bob", MAILBOX[B])]


def conv_urn(account: str, n: int) -> str:
    return urns.conversation_urn(MAILBOX[account], thread_token(n))


def conv_id(n: int) -> str:
    return urns.conversation_id(conv_urn(A, n))


def msg_urn(account: str, n: int) -> str:
    return urns.message_urn(MAILBOX[account], message_token(n))


def msg_id(n: int) -> str:
    return urns.message_id(msg_urn(A, n))


@dataclasses.dataclass(frozen=True)
class Thread:
    account: str
    n: int
    activity_min_ago: int
    unread: int
    person: str
    headline: str
    messages: tuple[tuple[int, int, str], ...]
    """(message number, minutes ago, text); the newest is the conversation's preview."""


# Conversation n is "c<n>" below. c1 and c3 share their last activity (ties: account, then conversation id).
INBOX = (
    Thread(A, 1, 10, 2, "Émile Zola", "Écrivain", ((10, 12, "J'accuse"), (11, 10, "Bonjour Ada"))),
    Thread(A, 2, 20, 0, "Zoë Saldaña", "Engineer at ACME_Corp", ((20, 21, "see you at the CAFÉ"),)),
    Thread(B, 3, 10, 1, "Carol", "Recruiter", ((30, 11, "hello"),)),
    Thread(
        A,
        4,
        30,
        0,
        "Dave",
        "Sales",
        ((40, 50, "a word about ÉMILE and the quarterly plan"), (41, 40, "top secret"), (42, 30, "plain")),
    ),
    Thread(A, 5, 40, 3, "Erin", "50% off", ((50, 40, "ok"),)),
    *(
        Thread(B, 10 + k, 100 + k, k % 2, f"Person {k}", "", ((100 + k, 100 + k, f"note {k}"),))
        for k in range(7)
    ),
)
HIDDEN = 41
"""Message 41 ("top secret", not the newest of c4) is recalled: no search may find it any more."""
THREAD_MESSAGES = 60
"""c20 (account A) has this many messages, for keyset paging; two of them share a ``sent_at``."""


RECALLS = (
    # (account, conversation, message, minutes ago, outcome); two started in the same millisecond (two
    # accounts' copies of one message): the later attempt comes first.
    (A, 1, 11, 9, RecallState.RECALLED),
    (A, 4, HIDDEN, 5, RecallState.RECALLED),
    (B, 3, 30, 5, RecallState.REFUSED),
    (A, 2, 20, 1, RecallState.UNCONFIRMED),
)


def thread_sent_at(k: int) -> int:
    return NOW - (1_000 - (30 if k == 31 else k)) * MINUTE  # 30 and 31: the same millisecond


def write_inbox(cache: Cache) -> Message:
    """The inbox above into ``cache``; returns the recalled message as it was before its tombstone."""
    cache.writer.upsert_accounts(ACCOUNTS).result()
    conversations, messages = [], []
    for t in INBOX:
        newest_n, newest_ago, newest_text = min(t.messages, key=lambda m: m[1])
        conversations.append(
            ConversationIn(
                account_id=t.account,
                conversation_urn=conv_urn(t.account, t.n),
                last_activity_at=NOW - t.activity_min_ago * MINUTE,
                unread_count=t.unread,
                participants=(Participant(f"ACoAAp{t.n}", t.person, t.headline),),
                latest=LatestMessage(msg_urn(t.account, newest_n), newest_text, NOW - newest_ago * MINUTE),
            )
        )
        messages += [
            MessageIn(t.account, conv_urn(t.account, t.n), msg_urn(t.account, n), text, NOW - ago * MINUTE)
            for n, ago, text in t.messages
        ]
    conversations.append(
        ConversationIn(
            account_id=A,
            conversation_urn=conv_urn(A, 20),
            last_activity_at=NOW - 500 * MINUTE,
            participants=(Participant("ACoAAq", "Quinn"),),
        )
    )
    messages += [
        MessageIn(A, conv_urn(A, 20), msg_urn(A, 1_000 + k), f"thread {k}", thread_sent_at(k))
        for k in range(THREAD_MESSAGES)
    ]
    cache.writer.upsert_conversations(conversations).result()
    cache.writer.upsert_messages(messages).result()
    hidden = cache.reader.message(A, msg_id(HIDDEN))
    assert hidden is not None
    cache.writer.tombstone([msg_id(HIDDEN)], TombstoneReason.RECALLED_ELSEWHERE).result()
    for account, conversation, message, minutes_ago, outcome in RECALLS:
        attempt = cache.writer.begin_recall(
            account,
            conv_urn(account, conversation),
            msg_urn(account, message),
            started_at=NOW - minutes_ago * MINUTE,
        ).result()
        cache.writer.finish_recall(attempt.attempt_id, outcome, latency_ms=100).result()
    return hidden


def fake_of(cache: Cache, hidden: Message) -> FakeInboxReader:
    """The same inbox in the fake: the cache's own rows, read back whole (not through the queries under
    test), the recalled message put in and hidden as the writer would, the recall log oldest first."""
    fake = FakeInboxReader()
    fake.now_ms = NOW
    for account in cache.reader.accounts():
        fake.add_account(account)
        for conversation in cache.reader.conversations(account.account_id, limit=500):
            fake.put_conversation(conversation)
            for message in cache.reader.messages(account.account_id, conversation.conversation_id, limit=500):
                fake.put_message(message)
    fake.put_message(hidden)
    fake.hide(hidden)
    for attempt in reversed(cache.reader.recall_log(limit=500)):
        fake.add_recall_attempt(attempt)
    return fake


@pytest.fixture(params=["fake", "cache"])
def reader(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InboxReader]:
    with Cache.open_file(tmp_path / "cache.sqlite") as cache:
        hidden = write_inbox(cache)
        yield CacheInboxReader(cache, lambda: NOW) if request.param == "cache" else fake_of(cache, hidden)


def page(
    reader: InboxReader,
    *,
    account_id: str | None = None,
    unread_only: bool = False,
    search: str = "",
    offset: int = 0,
    limit: int = 50,
) -> list[str]:
    """The conversations of one page as "c<n>" names."""
    rows = reader.conversations_page(
        account_id=account_id, unread_only=unread_only, search=search, offset=offset, limit=limit
    )
    return [NAMES[(c.account_id, c.conversation_id)] for c in rows]


NAMES = {(t.account, urns.conversation_id(conv_urn(t.account, t.n))): f"c{t.n}" for t in INBOX} | {
    (A, conv_id(20)): "c20"
}
KEY_ROLE = ConversationRole.KEY
BULK = BULK_CHANGES
"""A change set naming up to this many conversations is applied row by row (more re-read the first page)."""
ALL = ["c1", "c3", "c2", "c4", "c5", *(f"c{10 + k}" for k in range(7)), "c20"]


# --- conversations: order, paging, filters ----------------------------------------------------------------


def test_conversations_newest_first_ties_by_account_then_id(reader: InboxReader) -> None:
    assert page(reader) == ALL


def test_conversation_pages_follow_each_other_without_gap_or_overlap(reader: InboxReader) -> None:
    pages = [page(reader, offset=offset, limit=5) for offset in range(0, 15, 5)]
    assert pages == [ALL[0:5], ALL[5:10], ALL[10:15]]
    assert page(reader, offset=len(ALL), limit=5) == []
    assert page(reader, offset=-3, limit=2) == ALL[:2]  # a negative offset reads from the start


def test_a_page_of_no_rows_is_refused(reader: InboxReader) -> None:
    for limit in (0, -1):
        with pytest.raises(ValueError, match="limit"):
            page(reader, limit=limit)


def test_unread_only_and_the_account_filter(reader: InboxReader) -> None:
    assert page(reader, unread_only=True) == ["c1", "c3", "c5", "c11", "c13", "c15"]
    assert page(reader, account_id=A) == ["c1", "c2", "c4", "c5", "c20"]
    assert page(reader, account_id=B, unread_only=True) == ["c3", "c11", "c13", "c15"]
    assert page(reader, account_id="c" * 24) == []


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("zola", ["c1"]),  # a participant's name, another case
        ("Émile", ["c1"]),  # the name of c1 (c4 only has it in an older message: the message search's)
        ("émile", ["c1"]),  # non-ASCII letters in another case
        ("EMILE", ["c1"]),  # and without the accent
        ("zoe saldana", ["c2"]),  # every word, folded
        ("saldana zoe", ["c2"]),  # in any order
        ("écrivain", []),  # a headline is not searched
        ("acme_corp", []),
        ("CAFÉ", ["c2"]),  # the preview
        ("cafe", ["c2"]),
        ("at the caf", ["c2"]),  # the last word is a prefix
        ("bonjour", ["c1"]),  # the latest message
        ("J'ACCUSE", []),  # an older message: not the list's filter
        ("QUARTERLY", []),
        ("  plain \t", ["c4"]),  # the search text is stripped
        ("thread", ["c20"]),
        ("secret", []),  # only in the recalled message
        ("50%", []),
        ("%", []),  # no letter or digit: nothing matches
        ("nobody", []),
    ],
)
def test_search(reader: InboxReader, search: str, found: list[str]) -> None:
    assert page(reader, search=search) == found


def test_search_with_the_other_filters(reader: InboxReader) -> None:
    assert page(reader, search="e", account_id=A, unread_only=True) == ["c1", "c5"]
    assert page(reader, search="note", account_id=B, offset=2, limit=2) == ["c12", "c13"]


def keys_of(names: list[str]) -> set[tuple[str, str]]:
    by_name = {name: key for key, name in NAMES.items()}
    return {by_name[name] for name in names}


def test_conversations_matching_is_the_pages_verdict(reader: InboxReader) -> None:
    everything = set(NAMES)
    for search in ("zola", "Émile", "émile", "écrivain", "café", "CAFÉ", "cafe", "quarterly", "e", "%", ""):
        for account_id, unread_only in ((None, False), (A, False), (None, True)):
            listed = page(reader, search=search, account_id=account_id, unread_only=unread_only)
            verdict = reader.conversations_matching(
                everything, account_id=account_id, unread_only=unread_only, search=search
            )
            assert verdict == keys_of(listed), (search, account_id, unread_only)
    assert (
        reader.conversations_matching([(A, "nope")], account_id=None, unread_only=False, search="") == set()
    )


def hits(
    reader: InboxReader, query: str, **kwargs: object
) -> list[tuple[str, str, tuple[tuple[int, int], ...]]]:
    """(conversation, text, text spans) of each message found, in the reader's order."""
    groups = reader.search_messages(query, **kwargs)  # type: ignore[arg-type]
    return [
        (NAMES[(g.conversation.account_id, g.conversation.conversation_id)], h.message.text, h.text_spans)
        for g in groups
        for h in g.hits
    ]


@pytest.mark.parametrize("query", ["émile", "Émile", "EMILE", "emile"])
def test_message_search_folds_case_and_diacritics(reader: InboxReader, query: str) -> None:
    assert hits(reader, query) == [("c4", "a word about ÉMILE and the quarterly plan", ((13, 18),))]


def test_message_search_finds_older_messages_never_the_recalled_one(reader: InboxReader) -> None:
    assert hits(reader, "J'ACCUSE") == [("c1", "J'accuse", ((0, 8),))]
    assert hits(reader, "quarterly plan") == [
        ("c4", "a word about ÉMILE and the quarterly plan", ((27, 36), (37, 41)))
    ]
    assert hits(reader, "secret") == []  # recalled
    assert hits(reader, "ca") == []  # the last word is a prefix from three letters on…
    assert [t for _, t, _ in hits(reader, "caf")] == ["see you at the CAFÉ"]
    assert [t for _, t, _ in hits(reader, "thre 3")] == []  # …and "3" is a whole word
    assert [t for _, t, _ in hits(reader, "thread 3")] == ["thread 3"]
    assert hits(reader, "%") == []


def test_message_search_is_newest_first_grouped_by_conversation(reader: InboxReader) -> None:
    found = hits(reader, "thread", limit=4)
    assert [t for _, t, _ in found] == ["thread 59", "thread 58", "thread 57", "thread 56"]
    assert {c for c, _, _ in found} == {"c20"}
    assert [t for _, t, _ in hits(reader, "note", account_id=B)] == [f"note {k}" for k in range(7)]
    groups = reader.search_messages("note", account_id=B)
    assert [NAMES[(g.conversation.account_id, g.conversation.conversation_id)] for g in groups] == [
        f"c{10 + k}" for k in range(7)
    ]
    assert hits(reader, "note", account_id=A) == []
    with pytest.raises(ValueError, match="limit"):
        reader.search_messages("note", limit=0)


def test_one_conversation_and_the_newest_activity(reader: InboxReader) -> None:
    found = reader.conversation(A, conv_id(1))
    assert found is not None and found.unread_count == 2 and found.participants[0].name == "Émile Zola"
    assert reader.conversation(B, conv_id(1)) is None
    assert reader.newest_activity([(A, conv_id(4)), (A, conv_id(2))]) == NOW - 20 * MINUTE
    assert reader.newest_activity([(B, conv_id(4))]) is None


def test_search_folds_non_ascii_case_too(reader: InboxReader) -> None:
    """One folding rule for every letter, not ASCII only."""
    assert (
        page(reader, search="émile") == page(reader, search="ÉMILE") == page(reader, search="Emile") == ["c1"]
    )
    assert page(reader, search="zoë") == page(reader, search="ZOE") == ["c2"]


def test_the_list_model_places_rows_where_the_reader_lists_them(reader: InboxReader) -> None:
    """The list model asks ``conversations_matching`` where a changed conversation belongs: what it
    wants is what the reader's pages have, for any search."""
    from ui.conversation_model import ConversationFilter, ConversationListModel

    for search in ("zola", "Émile", "émile", "écrivain", "café", "CAFÉ", "acme_corp", "quarterly", "e"):
        model = ConversationListModel(reader, page_size=50)
        model.set_filter(ConversationFilter(search=search))
        listed = page(reader, search=search)
        assert [
            NAMES[k] for k in (model.index(r, 0).data(KEY_ROLE) for r in range(model.rowCount()))
        ] == listed
        # A change of every conversation: the model keeps exactly the rows the reader lists.
        model.apply_changes(ChangeSet(conversations_changed=frozenset(list(NAMES)[:BULK])))
        shown = [NAMES[model.index(r, 0).data(KEY_ROLE)] for r in range(model.rowCount())]
        assert shown == listed, search


# --- messages ---------------------------------------------------------------------------------------------


def texts(reader: InboxReader, before: tuple[int, str] | None, limit: int) -> list[str]:
    return [m.text for m in reader.messages_page(A, conv_id(20), before=before, limit=limit)]


def test_messages_newest_first_by_keyset_pages(reader: InboxReader) -> None:
    seen: list[str] = []
    before: tuple[int, str] | None = None
    while True:
        rows = reader.messages_page(A, conv_id(20), before=before, limit=7)
        if not rows:
            break
        seen += [m.text for m in rows]
        before = (rows[-1].sent_at, rows[-1].message_id)
    # Newest first; 30 and 31 were sent in the same millisecond: the message id orders them (descending).
    ordered = sorted(
        ((thread_sent_at(k), msg_id(1_000 + k), f"thread {k}") for k in range(THREAD_MESSAGES)), reverse=True
    )
    expected = [text for _, _, text in ordered]
    assert seen == expected


def test_a_recalled_message_is_in_no_page_and_not_found(reader: InboxReader) -> None:
    rows = reader.messages_page(A, conv_id(4), before=None, limit=50)
    assert [m.text for m in rows] == ["plain", "a word about ÉMILE and the quarterly plan"]
    assert reader.message(A, msg_id(HIDDEN)) is None
    found = reader.message(A, msg_id(42))
    assert found is not None and found.text == "plain"
    assert reader.message(B, msg_id(42)) is None


def test_a_message_page_of_no_rows_is_refused(reader: InboxReader) -> None:
    with pytest.raises(ValueError, match="limit"):
        texts(reader, None, 0)


# --- the recall log ---------------------------------------------------------------------------------------


def test_the_recall_log_newest_first_ties_by_the_later_attempt(reader: InboxReader) -> None:
    log = reader.recall_log(10)
    assert [(a.message_id, a.outcome) for a in log] == [
        (msg_id(20), RecallState.UNCONFIRMED),
        (msg_id(30), RecallState.REFUSED),  # started with 41's, logged after it
        (msg_id(41), RecallState.RECALLED),
        (msg_id(11), RecallState.RECALLED),
    ]
    assert [a.message_id for a in reader.recall_log(2)] == [a.message_id for a in log[:2]]
