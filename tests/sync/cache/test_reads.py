"""Reads for the UI and the sync: pages, lookups, search, counts, change detection."""

from __future__ import annotations

import contextlib
import sqlite3

from sync import urns
from sync.cache import Cache
from sync.model import (
    RECALL_WINDOW_MS,
    AccountSyncState,
    ConversationSyncState,
    RecallState,
)
from tests.sync.cache.helpers import (
    ACCOUNT_A,
    ACCOUNT_B,
    MAILBOX_A,
    conv,
    conv_urn,
    message_token,
    msg,
    msg_urn,
    thread_token,
)


def _fill(cache: Cache) -> None:
    cache.writer.upsert_conversations(
        [conv(ACCOUNT_A, n, 1000 + n, unread=n % 2, names=(f"Person {n}",)) for n in range(10)]
        + [conv(ACCOUNT_B, n, 1000 + n, names=(f"Other {n}",)) for n in range(5)]
    ).result()


def test_conversation_pages_are_newest_first_and_keyset_paged(cache: Cache) -> None:
    _fill(cache)

    first = cache.reader.conversations(ACCOUNT_A, limit=4)
    second = cache.reader.conversations(ACCOUNT_A, limit=4, after=first[-1])
    rest = cache.reader.conversations(ACCOUNT_A, limit=4, after=second[-1])

    ids = [c.conversation_id for c in first + second + rest]
    assert ids == [thread_token(n) for n in range(9, -1, -1)]
    assert cache.reader.conversations(ACCOUNT_A, after=rest[-1]) == []


def test_newest_activity_among_named_conversations(cache: Cache) -> None:
    _fill(cache)
    a = [(ACCOUNT_A, thread_token(n)) for n in (2, 7, 4)]
    assert cache.reader.newest_activity(a) == 1007
    assert cache.reader.newest_activity([(ACCOUNT_B, thread_token(3)), (ACCOUNT_A, "missing")]) == 1003
    assert cache.reader.newest_activity([(ACCOUNT_A, "missing")]) is None
    assert cache.reader.newest_activity([]) is None
    # More keys than one statement takes at once.
    many = [(ACCOUNT_A, f"missing-{n}") for n in range(900)] + [(ACCOUNT_A, thread_token(9))]
    assert cache.reader.newest_activity(many) == 1009


def test_conversation_pages_across_accounts_and_unread_only(cache: Cache) -> None:
    _fill(cache)

    everything: list[tuple[str, str]] = []
    after = None
    while page := cache.reader.conversations(limit=3, after=after):
        everything += [(c.account_id, c.conversation_id) for c in page]
        after = page[-1]
    unread = cache.reader.conversations(ACCOUNT_A, unread_only=True)

    # Ties on (activity, conversation id) across accounts are broken by account id, descending.
    expected = [(ACCOUNT_A, thread_token(n)) for n in range(9, 4, -1)]
    for n in range(4, -1, -1):
        expected += [(ACCOUNT_B, thread_token(n)), (ACCOUNT_A, thread_token(n))]
    assert everything == expected
    assert [c.conversation_id for c in unread] == [thread_token(n) for n in (9, 7, 5, 3, 1)]
    assert all(c.unread_count == 1 for c in unread)


def test_message_pages_are_newest_first_with_a_stable_keyset(cache: Cache) -> None:
    same_ms = 5000
    items = [msg(ACCOUNT_A, 1, message_token(n), 1000 + n) for n in range(7)]
    items += [msg(ACCOUNT_A, 1, message_token(n), same_ms) for n in (20, 21, 22)]  # several in one ms
    cache.writer.upsert_messages(items).result()

    pages = []
    before = None
    while page := cache.reader.messages(ACCOUNT_A, conv_urn(ACCOUNT_A, 1), limit=3, before=before):
        pages.append(page)
        before = page[-1]

    flat = [m for p in pages for m in p]
    assert len(flat) == 10 and len({m.message_id for m in flat}) == 10
    keys = [(m.sent_at, m.message_id) for m in flat]
    assert keys == sorted(keys, reverse=True)


def test_get_one_message_by_any_form(cache: Cache) -> None:
    token = message_token(1)
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, token, 100, "hi")]).result()

    for form in (token, msg_urn(ACCOUNT_A, token), f"urn:li:messagingMessage:{token}"):
        found = cache.reader.message(ACCOUNT_A, form)
        assert found is not None and found.text == "hi" and found.message_urn == msg_urn(ACCOUNT_A, token)
    assert cache.reader.message(ACCOUNT_B, token) is None


def test_message_ids_in_a_sent_at_range(cache: Cache) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(n), n * 100) for n in range(1, 6)]).result()

    ids = cache.reader.message_ids_sent_between(ACCOUNT_A, thread_token(1), after=200, until=400)

    assert ids == [message_token(4), message_token(3)]
    assert cache.reader.message_ids_sent_between(ACCOUNT_A, thread_token(1), after=400) == [message_token(5)]


def test_reconciliation_candidates_follow_the_recall_horizon(cache: Cache) -> None:
    now = 10 * RECALL_WINDOW_MS
    cache.writer.upsert_messages(
        [
            msg(ACCOUNT_A, 1, message_token(1), now - 10),
            msg(ACCOUNT_A, 2, message_token(2), now - 2 * RECALL_WINDOW_MS),
        ]
    ).result()
    for n in (1, 2):
        cache.writer.set_conversation_sync(
            ConversationSyncState(ACCOUNT_A, thread_token(n), last_reconciled_at=now)
        ).result()

    candidates = cache.reader.reconciliation_candidates()

    assert candidates == [(ACCOUNT_A, thread_token(1), now)]


def test_search_by_name_and_text_takes_like_characters_literally(cache: Cache) -> None:
    _fill(cache)
    cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, message_token(1), 5, "50% off"), msg(ACCOUNT_A, 1, message_token(2), 6, "500 off")]
    ).result()

    by_name = cache.reader.conversations_page(
        account_id=None, unread_only=False, search="person 3", offset=0, limit=5
    )
    by_text = cache.reader.search_messages("50%")
    other_account = cache.reader.search_messages("off", account_id=ACCOUNT_B)

    assert [c.conversation_id for c in by_name] == [thread_token(3)]
    assert [h.message.text for g in by_text for h in g.hits] == ["50% off"]
    assert other_account == ()


def test_counts(cache: Cache) -> None:
    _fill(cache)
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 5)]).result()

    counts = cache.reader.counts()
    only_b = cache.reader.counts(ACCOUNT_B)

    assert (counts.accounts, counts.conversations, counts.messages) == (2, 15, 1)
    assert (counts.unread_conversations, counts.unread_messages) == (5, 5)
    assert (only_b.accounts, only_b.conversations, only_b.unread_messages) == (1, 5, 0)


def test_data_version_changes_when_another_connection_commits(cache: Cache) -> None:
    before = cache.reader.data_version()
    assert cache.reader.data_version() == before

    with contextlib.closing(sqlite3.connect(cache.path)) as other:  # as another process would
        other.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
        other.commit()

    assert cache.reader.data_version() != before
    now = cache.reader.data_version()
    cache.writer.mark_read(ACCOUNT_A, thread_token(1)).result()  # no such conversation: no commit of data
    cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, message_token(1), 5)]
    ).result()  # the writer thread's commit
    assert cache.reader.data_version() != now


def test_accounts_and_sync_state_round_trip(cache: Cache) -> None:
    _fill(cache)
    state = ConversationSyncState(ACCOUNT_A, thread_token(1), 10, 20, "cursor", True, 30)
    account_state = AccountSyncState(ACCOUNT_A, 40, "next", True, "offline")

    cache.writer.set_conversation_sync(state).result()
    cache.writer.set_account_sync(account_state).result()

    assert cache.reader.conversation_sync(ACCOUNT_A, conv_urn(ACCOUNT_A, 1)) == state
    assert cache.reader.account_sync(ACCOUNT_A) == account_state
    assert cache.reader.account_sync(ACCOUNT_B) is None
    assert [a.mailbox for a in cache.reader.accounts()] == [MAILBOX_A, "urn:li:fsd_profile:ACoAABob"]


def test_account_mailbox_is_kept_when_a_later_listing_lacks_it(cache: Cache) -> None:
    from sync.model import Account

    change = cache.writer.upsert_accounts([Account(ACCOUNT_A, "Alice Renamed", "alice")]).result()

    account = cache.reader.account(ACCOUNT_A)
    assert change.accounts_changed == {ACCOUNT_A}
    assert account is not None and account.name == "Alice Renamed" and account.mailbox == MAILBOX_A


def test_recall_log_newest_first(cache: Cache) -> None:
    conv_a = conv_urn(ACCOUNT_A, 1)
    first = cache.writer.begin_recall(
        ACCOUNT_A, conv_a, msg_urn(ACCOUNT_A, message_token(1)), started_at=100
    ).result()
    second = cache.writer.begin_recall(
        ACCOUNT_A, conv_a, msg_urn(ACCOUNT_A, message_token(2)), window_id="w2", started_at=200
    ).result()
    done = cache.writer.finish_recall(
        first.attempt_id,
        RecallState.FAILED,
        latency_ms=42,
        error_kind="RECALL_WINDOW_EXPIRED",
        error_message="too late",
        finished_at=142,
    ).result()

    log = cache.reader.recall_log()

    assert [a.attempt_id for a in log] == [second.attempt_id, first.attempt_id]
    assert log[0].outcome is RecallState.PENDING and log[0].window_id == "w2"
    assert log[1] == done
    assert (done.outcome, done.latency_ms, done.error_kind, done.finished_at) == (
        RecallState.FAILED,
        42,
        "RECALL_WINDOW_EXPIRED",
        142,
    )
    assert done.message_id == urns.message_id(message_token(1))


def test_offset_page_with_search_for_the_inbox_list(cache: Cache) -> None:
    _fill(cache)
    cache.writer.upsert_messages([msg(ACCOUNT_B, 0, message_token(1), 5000, "Quarterly numbers")]).result()

    first = cache.reader.conversations_page(account_id=None, unread_only=False, search="", offset=0, limit=4)
    second = cache.reader.conversations_page(account_id=None, unread_only=False, search="", offset=4, limit=4)
    by_text = cache.reader.conversations_page(
        account_id=None, unread_only=False, search="quarterly", offset=0, limit=9
    )
    by_name = cache.reader.conversations_page(
        account_id=ACCOUNT_A, unread_only=True, search="PERSON", offset=0, limit=9
    )

    # Newest activity first (B's conversation 0 got a message at 5000), ties by account ascending.
    expected = [(ACCOUNT_B, thread_token(0))] + [(ACCOUNT_A, thread_token(n)) for n in range(9, 4, -1)]
    expected += [(ACCOUNT_A, thread_token(4)), (ACCOUNT_B, thread_token(4))]
    assert [(c.account_id, c.conversation_id) for c in first + second] == expected
    assert [(c.account_id, c.conversation_id) for c in by_text] == [(ACCOUNT_B, thread_token(0))]
    assert [c.conversation_id for c in by_name] == [thread_token(n) for n in (9, 7, 5, 3, 1)]


def test_messages_before_a_position_matches_paging_by_row(cache: Cache) -> None:
    cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, message_token(n), 100 + n % 3) for n in range(9)]
    ).result()
    page = cache.reader.messages(ACCOUNT_A, thread_token(1), limit=4)

    by_row = cache.reader.messages(ACCOUNT_A, thread_token(1), limit=4, before=page[-1])
    by_position = cache.reader.messages_before(
        ACCOUNT_A, thread_token(1), before=(page[-1].sent_at, page[-1].message_id), limit=4
    )

    assert by_position == by_row and len(by_row) == 4


def test_the_conversation_filter_reads_the_preview_and_older_messages_are_the_message_searchs(
    cache: Cache,
) -> None:
    from sync.model import TombstoneReason

    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 5_000), conv(ACCOUNT_A, 2, 4_000)]).result()
    cache.writer.upsert_messages(
        [
            msg(ACCOUNT_A, 1, message_token(1), 1_000, "Budget for Q3 attached"),
            msg(ACCOUNT_A, 1, message_token(2), 2_000, "thanks!"),
            msg(ACCOUNT_A, 2, message_token(3), 3_000, "see you"),
        ]
    ).result()

    def listed(text: str) -> list[str]:
        page = cache.reader.conversations_page(
            account_id=None, unread_only=False, search=text, offset=0, limit=50
        )
        return [c.conversation_id for c in page]

    assert listed("thanks") == [thread_token(1)]  # the preview
    assert listed("budget") == []  # an older message: not the list's filter…
    [group] = cache.reader.search_messages("budget")  # …but the message search's
    assert group.conversation.conversation_id == thread_token(1)
    cache.writer.tombstone([message_token(1)], TombstoneReason.RECALLED_HERE).result()
    assert cache.reader.search_messages("budget") == ()  # a recalled message is not searchable


def test_new_activity_of_a_synced_conversation_is_marked_until_its_messages_are_read(cache: Cache) -> None:
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 1_000), conv(ACCOUNT_A, 2, 900)]).result()
    first, second = (c.conversation_id for c in cache.reader.conversations(ACCOUNT_A, limit=2))
    synced = ConversationSyncState(ACCOUNT_A, first, newest_synced_at=1_000)
    cache.writer.set_conversation_sync(synced).result()

    # C1 reports new activity for both; only the one whose messages were being kept current is marked
    # (a conversation never read is read whole when opened).
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 2_000), conv(ACCOUNT_A, 2, 1_900)]).result()
    assert cache.reader.messages_behind(ACCOUNT_A, first) == 2_000
    assert cache.reader.messages_behind(ACCOUNT_A, second) is None
    assert [c.conversation_id for c in cache.reader.conversations_behind(ACCOUNT_A)] == [first]
    # The same activity again changes nothing; newer activity raises the mark.
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 2_000)]).result()
    assert cache.reader.messages_behind(ACCOUNT_A, first) == 2_000
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 3_000)]).result()

    # A C2 read that started when the mark was 2,000 does not clear the newer mark...
    cache.writer.set_conversation_sync(synced, caught_up_to=2_000).result()
    assert cache.reader.messages_behind(ACCOUNT_A, first) == 3_000
    # ... one that started after it does; a plain sync-state write never does.
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 4_000)]).result()
    cache.writer.set_conversation_sync(synced).result()
    assert cache.reader.messages_behind(ACCOUNT_A, first) == 4_000
    cache.writer.set_conversation_sync(synced, caught_up_to=4_000).result()
    assert cache.reader.messages_behind(ACCOUNT_A, first) is None
    assert cache.reader.conversations_behind(ACCOUNT_A) == []


def test_an_account_issue_is_read_back_and_its_change_is_a_change_set(cache: Cache) -> None:
    """Another process learns that an account needs attention through the commit counter: the write that
    marks (or clears) it must say it changed something, and only then."""
    issue = AccountSyncState(
        ACCOUNT_A, last_error="No API access", last_error_kind="no_api_access", last_error_refused=True
    )
    marked = cache.writer.set_account_sync(issue).result()
    assert marked.accounts_changed == {ACCOUNT_A}
    assert [(i.account_id, i.kind, i.refused) for i in cache.reader.account_issues()] == [
        (ACCOUNT_A, "no_api_access", True)
    ]
    assert not cache.writer.set_account_sync(issue).result()  # the same again: nothing changed
    cleared = cache.writer.set_account_sync(AccountSyncState(ACCOUNT_A)).result()
    assert cleared.accounts_changed == {ACCOUNT_A}
    assert cache.reader.account_issues() == []
