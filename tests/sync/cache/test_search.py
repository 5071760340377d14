"""Search (schema V4): the FTS5 query from typed words, message search, the conversation filter, and the
index kept in step by the writer — a recalled message is never findable."""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import urns
from sync.cache import Cache, Tombstone, UpsertMessages, schema, search, transaction
from sync.cache.db import MIGRATIONS, open_database
from sync.model import MessageIn, TombstoneReason
from tests.sync.cache.helpers import (
    ACCOUNT_A,
    ACCOUNT_B,
    ACCOUNTS,
    conv,
    conv_urn,
    message_token,
    msg,
    thread_token,
)

RECALLED = TombstoneReason.RECALLED_HERE


def found(cache: Cache, query: str, **kwargs: object) -> list[str]:
    """The texts a message search finds, in its order (groups, then each group's hits)."""
    groups = cache.reader.search_messages(query, **kwargs)  # type: ignore[arg-type]
    return [hit.message.text for group in groups for hit in group.hits]


def indexed(conn: sqlite3.Connection, expression: str) -> set[int]:
    """The raw index's answer (no join to the messages table): the search keys it holds for a query."""
    rows = conn.execute("SELECT rowid FROM message_search WHERE message_search MATCH ?", (expression,))
    return {r[0] for r in rows}


def check_index(conn: sqlite3.Connection) -> None:
    """FTS5's own check: every index entry matches the content it names, and the other way round."""
    conn.execute("INSERT INTO message_search (message_search) VALUES ('integrity-check')")
    conn.execute("INSERT INTO conversation_search (conversation_search) VALUES ('integrity-check')")
    keys = conn.execute("SELECT count(*) FROM message_search_keys").fetchone()[0]
    messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert keys == messages
    assert conn.execute("SELECT count(*) FROM message_search_pending").fetchone()[0] == 0


# --- the query from typed words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expression"),
    [
        ("emile", '"emile"*'),
        ("  Émile   rés ", '"Émile" "rés"*'),
        ('say "hi"', '"say" """hi"""*'),
        ("NEAR(a b)", '"NEAR(a" "b)"*'),
        ("-secret", '"-secret"*'),
        ("text: x*", '"text:" "x*"*'),
        ("a AND b OR NOT c", '"a" "AND" "b" "OR" "NOT" "c"*'),
        ("^start", '"^start"*'),
        ('- * : "', None),  # nothing a word is made of
        ("", None),
        ("hi - there", '"hi" "there"*'),
    ],
)
def test_every_typed_word_is_quoted_and_the_last_one_is_a_prefix(typed: str, expression: str | None) -> None:
    assert search.match_expression(typed) == expression


def test_a_message_search_takes_the_last_word_as_a_prefix_from_three_letters() -> None:
    assert search.match_expression("th", prefix_min=3) == '"th"'
    assert search.match_expression("tha", prefix_min=3) == '"tha"*'
    assert search.match_expression("a-bc", prefix_min=3) == '"a-bc"'  # its last run of letters is short


@pytest.mark.parametrize(
    "typed", ['"', '""', "NEAR(", "a NEAR/2 b", "x OR", "(x", "col:x", "*", "-", "^", "a:b:c", "'; DROP"]
)
def test_fts_syntax_typed_is_literal_never_an_error(cache: Cache, typed: str) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 100, "NEAR the col x")]).result()
    cache.reader.search_messages(typed)  # no sqlite3.OperationalError: FTS5 never sees syntax from a person
    cache.reader.conversations_page(account_id=None, unread_only=False, search=typed, offset=0, limit=5)


def test_operators_typed_are_words_not_operators(cache: Cache) -> None:
    cache.writer.upsert_messages(
        [
            msg(ACCOUNT_A, 1, message_token(1), 100, "apples and pears"),
            msg(ACCOUNT_A, 1, message_token(2), 200, "apples or pears"),
        ]
    ).result()
    assert found(cache, "apples OR") == ["apples or pears"]  # "OR" is the word or, not an operator
    assert found(cache, "apples -pears") == ["apples or pears", "apples and pears"]  # "-" is no NOT
    assert found(cache, "sender_name:carol") == []  # no column filter: the words "sender", "name", "carol"


# --- message search ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["Émile", "emile", "ÉMILE", "émile", "EMILE"])
def test_case_and_diacritics_fold_one_way_for_every_spelling(cache: Cache, typed: str) -> None:
    cache.writer.upsert_messages(
        [
            msg(ACCOUNT_A, 1, message_token(1), 100, "Émile sent his résumé"),
            msg(ACCOUNT_A, 1, message_token(2), 200, "call EMILE back"),
            msg(ACCOUNT_A, 1, message_token(3), 300, "emil is someone else"),
        ]
    ).result()
    assert found(cache, typed) == ["call EMILE back", "Émile sent his résumé"]
    assert found(cache, "resume") == found(cache, "RÉSUMÉ") == ["Émile sent his résumé"]


def test_results_are_grouped_by_conversation_newest_match_first(cache: Cache) -> None:
    cache.writer.upsert_conversations([conv(ACCOUNT_A, n, 1_000) for n in (1, 2, 3)]).result()
    cache.writer.upsert_messages(
        [
            msg(ACCOUNT_A, 1, message_token(1), 100, "budget draft"),
            msg(ACCOUNT_A, 2, message_token(2), 400, "budget final"),
            msg(ACCOUNT_A, 1, message_token(3), 300, "the budget again"),
            msg(ACCOUNT_A, 3, message_token(4), 500, "no match here"),
            msg(ACCOUNT_A, 2, message_token(5), 200, "budget v2"),
        ]
    ).result()

    groups = cache.reader.search_messages("budget")

    assert [g.conversation.conversation_id for g in groups] == [thread_token(2), thread_token(1)]
    assert [[h.message.text for h in g.hits] for g in groups] == [
        ["budget final", "budget v2"],
        ["the budget again", "budget draft"],
    ]
    assert groups[0].conversation.participants[0].name == "Carol"


def test_the_newest_matches_are_found_whatever_order_they_were_written_in(cache: Cache) -> None:
    """The index is read newest first by its time-ordered key, not in the order rows were written (a first
    sync writes the newest first, older history comes last)."""
    texts = {n: f"report {n}" for n in range(40)}
    order = [*range(20, 40), *range(0, 20)]  # newest half first, then older history
    for start in range(0, 40, 10):
        cache.writer.upsert_messages(
            [
                msg(ACCOUNT_A, 1, message_token(n), 10_000 + n * 1_000, texts[n])
                for n in order[start : start + 10]
            ]
        ).result()
    assert found(cache, "report", limit=5) == [texts[n] for n in (39, 38, 37, 36, 35)]
    assert found(cache, "report 3") == ["report 3"]


def test_limit_and_account(cache: Cache) -> None:
    cache.writer.upsert_conversations([conv(ACCOUNT_B, 1, 1_000)]).result()
    cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, message_token(n), 100_000 + n * 1_000, f"hello {n}") for n in range(5)]
        + [msg(ACCOUNT_B, 1, message_token(10), 50, "hello from b")]
    ).result()
    assert found(cache, "hello", limit=2) == ["hello 4", "hello 3"]
    assert found(cache, "hello", account_id=ACCOUNT_B) == ["hello from b"]
    assert found(cache, "hello", account_id="c" * 24) == []
    with pytest.raises(ValueError, match="limit"):
        cache.reader.search_messages("hello", limit=0)


def test_the_sender_name_is_searched_too(cache: Cache) -> None:
    cache.writer.upsert_messages(
        [msg(ACCOUNT_A, 1, message_token(1), 100, "hi there"), msg(ACCOUNT_A, 1, message_token(2), 200, "yo")]
    ).result()
    [group] = cache.reader.search_messages("carol hi")
    [hit] = group.hits
    assert hit.message.text == "hi there" and hit.sender_spans == ((0, 5),) and hit.text_spans == ((0, 2),)


def test_spans_say_what_to_highlight_in_the_plain_text(cache: Cache) -> None:
    text = "Thanks Émile — see the résumé 🎉 thanks!"
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 100, text)]).result()
    [group] = cache.reader.search_messages("thanks rés")
    [hit] = group.hits
    assert [text[a:b] for a, b in hit.text_spans] == ["Thanks", "résumé", "thanks"]


def test_a_text_holding_the_highlight_markers_still_gets_right_spans(cache: Cache) -> None:
    text = f"odd {search.HIGHLIGHT_OPEN}marker{search.HIGHLIGHT_CLOSE} text with budget"
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 100, text)]).result()
    [group] = cache.reader.search_messages("budget")
    [hit] = group.hits
    assert hit.message.text == text
    assert [text[a:b] for a, b in hit.text_spans] == ["budget"]


def test_highlight_spans_refuse_a_marked_text_that_is_not_the_original() -> None:
    markers = ("<", ">")
    assert search.highlight_spans("ab cd", "<ab> <cd>", markers) == ((0, 2), (3, 5))
    assert search.highlight_spans("ab cd", "<ab cd>", markers) == ((0, 5),)
    assert search.highlight_spans("ab cd", "<ab> <x>", markers) == ()
    assert search.highlight_spans("ab", None, markers) == ()


# --- the index in step with the writer -----------------------------------------------------------------


def test_a_tombstone_takes_the_message_out_of_the_index_in_its_own_transaction(cache: Cache) -> None:
    """Checked inside the tombstone's transaction, before its COMMIT: the index no longer names the
    message on the writer's connection, while another connection still sees the message and its entry
    together (the old snapshot) — never the row gone with its entry left behind."""
    cache.writer.upsert_messages(
        [
            msg(ACCOUNT_A, 1, message_token(1), 100, "secret plan"),
            msg(ACCOUNT_A, 1, message_token(2), 90, "plan"),
        ]
    ).result()
    seen: dict[str, object] = {}

    def tombstone_and_look(db: object) -> None:
        from sync.cache.db import CacheDatabase

        assert isinstance(db, CacheDatabase)

        def requests() -> Iterator[transaction.Request]:
            yield transaction.Request([Tombstone([message_token(1)], RECALLED)])
            conn = db.connection()
            seen["inside"] = indexed(conn, '"secret"')
            with contextlib.closing(sqlite3.connect(db.path)) as other:
                seen["other_index"] = indexed(other, '"secret"')
                seen["other_rows"] = other.execute("SELECT count(*) FROM messages").fetchone()[0]

        transaction.apply_group(db, requests())

    cache.writer.submit(tombstone_and_look).result()

    assert seen["inside"] == set()
    assert len(seen["other_index"]) == 1 and seen["other_rows"] == 2  # type: ignore[arg-type]
    assert found(cache, "secret") == []
    assert found(cache, "plan") == ["plan"]
    assert indexed(cache.db.connection(), '"secret"') == set()
    check_index(cache.db.connection())


def test_a_message_born_dead_is_never_indexed(cache: Cache) -> None:
    cache.writer.tombstone([message_token(1)], RECALLED).result()
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 100, "ghost")]).result()
    assert found(cache, "ghost") == []
    assert indexed(cache.db.connection(), '"ghost"') == set()


def test_an_upsert_and_its_tombstone_in_one_transaction_index_nothing(cache: Cache) -> None:
    cache.writer.apply(
        [
            UpsertMessages([msg(ACCOUNT_A, 1, message_token(1), 100, "flash")]),
            Tombstone([message_token(1)], RECALLED),
        ]
    ).result()
    assert indexed(cache.db.connection(), '"flash"') == set()
    check_index(cache.db.connection())


def test_a_changed_text_is_indexed_again_and_the_old_one_is_gone(cache: Cache) -> None:
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 100, "first words")]).result()
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 100, "second words")]).result()
    assert found(cache, "first") == []
    assert found(cache, "second") == ["second words"]
    # A new time moves its key: the newest-first order follows it.
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(2), 150, "other words")]).result()
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 200, "second words")]).result()
    assert found(cache, "words") == ["second words", "other words"]
    check_index(cache.db.connection())


def test_an_unchanged_re_sync_and_a_reaction_leave_the_index_as_it_is(cache: Cache) -> None:
    from sync.model import Reaction

    rows = [msg(ACCOUNT_A, 1, message_token(n), 100 + n, f"word {n}") for n in range(20)]
    cache.writer.upsert_messages(rows).result()
    conn = cache.db.connection()

    def state() -> list[tuple[object, ...]]:
        return conn.execute("SELECT id, block FROM message_search_data ORDER BY id").fetchall()

    before = state()
    assert cache.writer.upsert_messages(rows).result().messages_updated == frozenset()
    cache.writer.set_reactions(ACCOUNT_A, message_token(3), (Reaction("👍", 1),)).result()
    assert state() == before


def test_keys_of_one_second_never_collide(tmp_path: Path) -> None:
    """Messages of one second whose rowids have the same low bits would share a key: each takes the next
    free one of that second, and once the second's 16 keys are gone, one past every key."""
    db = open_database(tmp_path / "c.sqlite")
    try:
        conn = db.connection()
        columns = "id, account_id, conversation_id, message_id, message_urn, conversation_urn, text, sent_at"
        rowids = [1, 17, 33, *range(100, 114), 200]  # 17 of one second (5,000–5,999 ms), then a later one
        with db.write_transaction():
            conn.execute("INSERT INTO accounts (account_id) VALUES (?)", (ACCOUNT_A,))
            conn.execute(
                "INSERT INTO conversations (account_id, conversation_id, conversation_urn, last_activity_at)"
                " VALUES (?, 'c', 'u', 1)",
                (ACCOUNT_A,),
            )
            for rowid in rowids:
                sent_at = 9_000 if rowid == 200 else 5_000 + rowid % 1000
                conn.execute(
                    f"INSERT INTO messages ({columns}) VALUES (?, ?, 'c', ?, ?, 'u', 'alpha', ?)",  # noqa: S608 - constant columns
                    (rowid, ACCOUNT_A, f"m{rowid}", f"urn{rowid}", sent_at),
                )
                assert search.index_new_messages(conn) == 1
        keys = dict(conn.execute("SELECT message_rowid, key FROM message_search_keys").fetchall())
        assert len(set(keys.values())) == len(rowids)
        assert keys[1] == 5 << 4 | 1 and keys[17] == 5 << 4 | 2 and keys[33] == 5 << 4 | 3
        assert keys[200] == 9 << 4 | 8  # its own
        second = sorted(k for r, k in keys.items() if r < 200)
        assert second[:16] == list(range(5 << 4, 6 << 4))
        assert second[16] == 6 << 4  # the 17th of a full second: one past every key there was
        assert indexed(conn, '"alpha"') == set(keys.values())
        check_index(conn)
    finally:
        db.close()


# --- the conversation filter ------------------------------------------------------------------------------


def page(cache: Cache, text: str, **kwargs: object) -> list[int]:
    rows = cache.reader.conversations_page(
        account_id=kwargs.get("account_id"),  # type: ignore[arg-type]
        unread_only=bool(kwargs.get("unread_only", False)),
        search=text,
        offset=0,
        limit=50,
        starred_only=bool(kwargs.get("starred_only", False)),
    )
    by_id = {thread_token(n): n for n in range(20)}
    return [by_id[c.conversation_id] for c in rows]


def _people(cache: Cache) -> None:
    cache.writer.upsert_conversations(
        [
            conv(ACCOUNT_A, 1, 500, names=("Émile Zola",), latest=(message_token(1), 500, "J'accuse")),
            conv(
                ACCOUNT_A, 2, 400, names=("Zoë Saldaña", "Ann Lee"), latest=(message_token(2), 400, "CAFÉ?")
            ),
            conv(
                ACCOUNT_A, 3, 300, unread=1, names=("Carol",), latest=(message_token(3), 300, "about emile")
            ),
            conv(ACCOUNT_B, 4, 200, names=("emil",)),
        ]
    ).result()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("émile", [1, 3]),  # a name, and a preview
        ("EMILE", [1, 3]),
        ("Émile", [1, 3]),
        ("emil", [1, 3, 4]),  # the last word is a prefix
        ("zoe saldana", [2]),
        ("ann", [2]),  # any participant
        ("cafe", [2]),  # the preview, folded
        ("zola accuse", [1]),  # the words may be in the name and in the preview
        ("zola café", []),  # every word must match
        ("   ", [1, 2, 3, 4]),  # no search
        ("?!", []),  # nothing searchable matches nothing
    ],
)
def test_the_conversation_filter_is_names_and_preview_folded(
    cache: Cache, typed: str, expected: list[int]
) -> None:
    _people(cache)
    assert page(cache, typed) == expected


def test_the_filter_combines_with_account_unread_and_starred(cache: Cache) -> None:
    _people(cache)
    cache.writer.update_conversation(ACCOUNT_A, conv_urn(ACCOUNT_A, 1), starred=True).result()
    assert page(cache, "emil", account_id=ACCOUNT_B) == [4]
    assert page(cache, "emile", unread_only=True) == [3]
    assert page(cache, "emile", starred_only=True) == [1]


def test_conversations_matching_gives_the_pages_verdict(cache: Cache) -> None:
    _people(cache)
    keys = [(ACCOUNT_A, thread_token(n)) for n in (1, 2, 3)] + [
        (ACCOUNT_B, thread_token(4)),
        (ACCOUNT_A, "x"),
    ]

    def matching(text: str, **kwargs: object) -> set[int]:
        got = cache.reader.conversations_matching(
            keys,
            account_id=kwargs.get("account_id"),  # type: ignore[arg-type]
            unread_only=bool(kwargs.get("unread_only", False)),
            search=text,
        )
        by_id = {thread_token(n): n for n in range(20)}
        return {by_id[c] for _, c in got}

    for typed in ("ÉMILE", "emil", "cafe", "zola accuse", "nobody", "?!", ""):
        assert sorted(matching(typed)) == page(cache, typed), typed
    assert matching("emil", account_id=ACCOUNT_B) == {4}
    assert matching("emile", unread_only=True) == {3}
    assert cache.reader.conversations_matching([], account_id=None, unread_only=False, search="x") == set()


def test_the_filter_follows_names_and_preview_as_they_change(cache: Cache) -> None:
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 500, names=("Carol",))]).result()
    cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 600, "Bonjour Chloé")]).result()
    assert page(cache, "chloe") == [1]  # the new preview
    cache.writer.upsert_conversations([conv(ACCOUNT_A, 1, 600, names=("Dörte",))]).result()
    assert page(cache, "carol") == [] and page(cache, "dorte") == [1]
    cache.writer.tombstone([message_token(1)], RECALLED).result()
    assert page(cache, "chloe") == []  # the recalled preview is gone with it
    check_index(cache.db.connection())


# --- the migration from v3 ---------------------------------------------------------------------------------


def test_a_v3_cache_is_indexed_by_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    v3 = {v: MIGRATIONS[v] for v in (1, 2, 3)}
    with contextlib.closing(open_database(path, migrations=v3)) as db:
        conn = db.connection()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO accounts (account_id) VALUES (?)", (ACCOUNT_A,))
        conn.execute(
            "INSERT INTO conversations (account_id, conversation_id, conversation_urn, last_activity_at,"
            " participants, latest_text) VALUES (?, 'c', 'u', 1, ?, 'Merci Émile')",
            (
                ACCOUNT_A,
                '[{"profileId": "p", "name": "Zoë", "headline": "", "profileUrl": "", "picture": ""}]',
            ),
        )
        columns = "account_id, conversation_id, message_id, message_urn, conversation_urn, text, sent_at"
        for n, (text, sent_at) in enumerate(
            [("old résumé", 100), ("same time", 500), ("same time too", 500)]
        ):
            conn.execute(
                f"INSERT INTO messages ({columns}) VALUES (?, 'c', ?, ?, 'u', ?, ?)",  # noqa: S608 - constant columns
                (ACCOUNT_A, f"m{n}", f"urn{n}", text, sent_at),
            )
        conn.execute("COMMIT")

    with Cache.open_file(path) as cache:
        assert found(cache, "resume") == ["old résumé"]
        assert found(cache, "same") == ["same time too", "same time"]
        for typed in ("zoe", "EMILE", "merci"):
            rows = cache.reader.conversations_page(
                account_id=None, unread_only=False, search=typed, offset=0, limit=5
            )
            assert [c.conversation_id for c in rows] == ["c"], typed
        check_index(cache.db.connection())
        # Written after the migration: the writer's own path.
        cache.writer.upsert_accounts(ACCOUNTS).result()
        cache.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(9), 900, "fresh résumé")]).result()
        assert found(cache, "résumé") == ["fresh résumé", "old résumé"]
        check_index(cache.db.connection())
    assert schema.V4_MAX_SECONDS << search.TIE_BITS | search.TIE_MASK < 1 << 63


# --- any interleaving: the search finds exactly what is visible ------------------------------------------


_WORDS = ["alpha", "Bêta", "GAMMA"]


@dataclass(frozen=True)
class Step:
    kind: str
    account: int
    n: int
    words: tuple[str, ...]

    def op(self) -> UpsertMessages | Tombstone:
        account = (ACCOUNT_A, ACCOUNT_B)[self.account]
        if self.kind == "tombstone":
            return Tombstone([message_token(self.n)], RECALLED)
        text = " ".join(self.words)
        return UpsertMessages([msg(account, 1, message_token(self.n), 1_000 + self.n, text)])


_steps = st.builds(
    Step,
    kind=st.sampled_from(["upsert", "upsert", "tombstone"]),
    account=st.integers(0, 1),
    n=st.integers(0, 5),
    words=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=2).map(tuple),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_steps, min_size=1, max_size=4), min_size=1, max_size=6))
def test_any_interleaving_finds_exactly_the_visible_messages(transactions: list[list[Step]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, Cache.open_file(Path(tmp) / "c.sqlite") as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result()
        for steps in transactions:
            cache.writer.apply([step.op() for step in steps]).result()
            visible = [
                m for a in (ACCOUNT_A, ACCOUNT_B) for m in cache.reader.messages(a, thread_token(1), limit=50)
            ]
            for word in ("alpha", "beta", "gamma"):
                expected = {
                    (m.account_id, m.message_id) for m in visible if word in m.text.lower().replace("ê", "e")
                }
                got = {
                    (h.message.account_id, h.message.message_id)
                    for g in cache.reader.search_messages(word)
                    for h in g.hits
                }
                assert got == expected, word
            check_index(cache.db.connection())


def test_a_reader_racing_recalls_never_finds_a_recalled_message(tmp_path: Path) -> None:
    """Another connection searching while tombstones commit: every hit it gets is a message its own
    snapshot still holds, and once a tombstone is committed no later search finds its message."""
    with Cache.open_file(tmp_path / "c.sqlite") as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result()
        items: list[MessageIn] = [
            msg(ACCOUNT_A, 1, message_token(n), 1_000 + n, f"needle {n}") for n in range(60)
        ]
        cache.writer.upsert_messages(items).result()
        committed: set[str] = set()
        problems: list[str] = []
        done = threading.Event()

        def reader() -> None:
            with contextlib.closing(sqlite3.connect(cache.path)) as conn:
                while not done.is_set():
                    dead_before = set(committed)
                    rows = conn.execute(
                        "SELECT m.message_id FROM message_search"
                        " CROSS JOIN message_search_keys k ON k.key = message_search.rowid"
                        " LEFT JOIN messages m ON m.id = k.message_rowid WHERE message_search MATCH 'needle'"
                    ).fetchall()
                    problems.extend("entry without its row" for (mid,) in rows if mid is None)
                    problems.extend(
                        f"{mid} found after its tombstone" for (mid,) in rows if mid in dead_before
                    )

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for n in range(0, 60, 3):
                token = message_token(n)
                cache.writer.tombstone([token], RECALLED).result()
                committed.add(urns.message_id(token))
        finally:
            done.set()
            thread.join()
        assert problems == []
        assert len(found(cache, "needle")) == 40
