"""ConversationListModel: paging, filters and row diffs from change sets."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QModelIndex
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sync.model import ChangeSet, Conversation
from ui.conversation_model import BULK_CHANGES, ConversationFilter, ConversationListModel, ConversationRole

from .fakes import NOW_MS, FakeInboxReader, make_conversation, reader_with


def keys(model: ConversationListModel) -> list[str]:
    return [model.index(r, 0).data(ConversationRole.KEY)[1] for r in range(model.rowCount())]


def changed(*conversation_ids: str) -> ChangeSet:
    return ChangeSet(conversations_changed=frozenset(("acc-1", c) for c in conversation_ids))


def test_passes_the_model_tester_through_paging_and_diffs(qtmodeltester: ModelTester) -> None:
    reader = reader_with(conversations=250)
    model = ConversationListModel(reader, page_size=100)
    assert model.rowCount() == 100
    model.fetchMore(QModelIndex())
    # The C++ tester keeps watching the model's signals after check() returns (and fetches the rest).
    qtmodeltester.check(model)
    assert model.rowCount() == 250
    reader.put_conversation(make_conversation(500, activity=NOW_MS + 1))
    reader.put_conversation(dataclasses.replace(make_conversation(7), unread_count=4))
    reader.put_conversation(make_conversation(9, activity=NOW_MS - 100_000 * 60_000))
    reader._conversations.pop(("acc-1", "c3"))
    model.apply_changes(changed("c500", "c7", "c9", "c3"))
    qtmodeltester.check(model)
    assert keys(model)[0] == "c500"
    # c9 now sorts last: a list past a page is not grown by appending rows, it is fetched again (here by
    # the tester, which fetches whatever the model says it can).
    assert model.rowCount() == 250
    assert keys(model)[-1] == "c9"


def test_exposes_named_roles_and_the_conversation_itself() -> None:
    reader = reader_with(conversations=1)
    model = ConversationListModel(reader)
    names = {bytes(v.data()).decode() for v in model.roleNames().values()}
    assert {"conversation", "title", "preview", "unreadCount", "starred", "initials"} <= names
    index = model.index(0, 0)
    assert isinstance(index.data(ConversationRole.CONVERSATION), Conversation)
    assert index.data(ConversationRole.INITIALS) == "P0"
    assert index.data(ConversationRole.TITLE) == "Person 0"


def test_ten_thousand_conversations_are_not_read_at_start() -> None:
    reader = reader_with(conversations=10_000)
    model = ConversationListModel(reader, page_size=100)
    assert reader.calls["conversations_page"] == 1
    assert reader.rows_read == 100
    assert model.rowCount() == 100
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert reader.rows_read == 200
    assert keys(model)[:3] == ["c0", "c1", "c2"]
    assert len(set(keys(model))) == 200


def test_a_view_over_ten_thousand_conversations_reads_only_what_it_shows(qtbot: QtBot) -> None:
    from ui.views import ConversationListView

    reader = reader_with(conversations=10_000)
    model = ConversationListModel(reader, page_size=100)
    view = ConversationListView()
    qtbot.addWidget(view)
    view.resize(380, 700)
    view.setModel(model)
    with qtbot.waitExposed(view):
        view.show()
    assert reader.rows_read <= 300


def test_paging_stops_when_the_reader_runs_out() -> None:
    reader = reader_with(conversations=150)
    model = ConversationListModel(reader, page_size=100)
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 150
    assert not model.canFetchMore(QModelIndex())


def test_a_changed_conversation_emits_data_changed_for_its_row_only(qtbot: QtBot) -> None:
    reader = reader_with(conversations=5)
    model = ConversationListModel(reader)
    reader.put_conversation(dataclasses.replace(make_conversation(2), starred=True))
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles: changes.append((a.row(), b.row())))
    with qtbot.assertNotEmitted(model.rowsMoved), qtbot.assertNotEmitted(model.rowsRemoved):
        model.apply_changes(changed("c2"))
    assert changes == [(2, 2)]
    assert model.index(2, 0).data(ConversationRole.STARRED) is True


def test_an_unchanged_conversation_emits_nothing(qtbot: QtBot) -> None:
    model = ConversationListModel(reader_with(conversations=5))
    with qtbot.assertNotEmitted(model.dataChanged), qtbot.assertNotEmitted(model.layoutChanged):
        model.apply_changes(changed("c2"))


def test_a_new_conversation_is_inserted_in_activity_order(qtbot: QtBot) -> None:
    reader = reader_with(conversations=5)
    model = ConversationListModel(reader)
    # Between c1 (now-1 min) and c2 (now-2 min).
    reader.put_conversation(make_conversation(99, activity=NOW_MS - 90_000))
    with qtbot.waitSignal(model.rowsInserted) as blocker:
        model.apply_changes(changed("c99"))
    assert blocker.args[1:] == [2, 2]
    assert keys(model) == ["c0", "c1", "c99", "c2", "c3", "c4"]


def test_new_activity_moves_a_row_to_the_top(qtbot: QtBot) -> None:
    reader = reader_with(conversations=5)
    model = ConversationListModel(reader)
    reader.put_conversation(make_conversation(3, activity=NOW_MS + 5_000, text="new!"))
    with qtbot.waitSignal(model.rowsMoved), qtbot.waitSignal(model.dataChanged) as data:
        model.apply_changes(changed("c3"))
    assert keys(model) == ["c3", "c0", "c1", "c2", "c4"]
    assert data.args[0].row() == 0
    assert model.index(0, 0).data(ConversationRole.PREVIEW) == "new!"


def test_older_activity_moves_a_row_down(qtmodeltester: ModelTester) -> None:
    reader = reader_with(conversations=5)
    model = ConversationListModel(reader)
    qtmodeltester.check(model)
    reader.put_conversation(make_conversation(1, activity=NOW_MS - 10 * 60_000))
    model.apply_changes(changed("c1"))
    assert keys(model) == ["c0", "c2", "c3", "c4", "c1"]


def test_a_conversation_that_leaves_the_filter_is_removed(qtbot: QtBot) -> None:
    reader = FakeInboxReader()
    for n in range(4):
        reader.put_conversation(make_conversation(n, unread=1))
    model = ConversationListModel(reader)
    model.set_filter(ConversationFilter(unread_only=True))
    reader.put_conversation(make_conversation(2, unread=0))
    with qtbot.waitSignal(model.rowsRemoved) as blocker:
        model.apply_changes(changed("c2"))
    assert blocker.args[1:] == [2, 2]
    assert keys(model) == ["c0", "c1", "c3"]


def test_the_open_conversation_stays_listed_until_another_is_opened() -> None:
    reader = FakeInboxReader()
    for n in range(4):
        reader.put_conversation(make_conversation(n, unread=1))
    model = ConversationListModel(reader)
    model.set_filter(ConversationFilter(unread_only=True))
    model.keep_visible(("acc-1", "c1"))
    reader.put_conversation(make_conversation(1, unread=0))
    model.apply_changes(changed("c1"))
    assert keys(model) == ["c0", "c1", "c2", "c3"]
    model.keep_visible(("acc-1", "c2"))
    assert keys(model) == ["c0", "c2", "c3"]


def test_activity_beyond_the_loaded_pages_waits_for_fetch_more() -> None:
    reader = reader_with(conversations=250)
    model = ConversationListModel(reader, page_size=100)
    reader.put_conversation(make_conversation(999, activity=NOW_MS - 10_000 * 60_000))
    model.apply_changes(changed("c999"))
    assert "c999" not in keys(model)
    model.fetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert keys(model)[-1] == "c999"
    assert len(keys(model)) == len(set(keys(model))) == 251


def test_filters_reset_the_model(qtbot: QtBot) -> None:
    reader = reader_with(conversations=3)
    reader.put_conversation(make_conversation(10, account_id="acc-2", name="Zed Shaw"))
    model = ConversationListModel(reader)
    with qtbot.waitSignal(model.modelReset):
        model.set_filter(ConversationFilter(account_id="acc-2"))
    assert keys(model) == ["c10"]
    model.set_filter(ConversationFilter(search="zed"))
    assert keys(model) == ["c10"]
    model.set_filter(ConversationFilter(search="nobody"))
    assert model.rowCount() == 0


def test_a_deleted_conversation_is_removed() -> None:
    reader = reader_with(conversations=3)
    model = ConversationListModel(reader)
    reader._conversations.pop(("acc-1", "c1"))
    model.apply_changes(changed("c1"))
    assert keys(model) == ["c0", "c2"]


def test_a_change_is_placed_by_the_readers_verdict() -> None:
    """The filter's rule is the reader's (the cache's folding): the model asks it where a changed
    conversation belongs, once per change set."""
    reader = reader_with(conversations=5)
    reader.put_conversation(make_conversation(3, name="Émile Zola"))
    model = ConversationListModel(reader)
    model.set_filter(ConversationFilter(search="emile"))
    assert keys(model) == ["c3"]
    reader.put_conversation(make_conversation(1, text="ask ÉMILE"))  # its preview now says it
    reader.put_conversation(make_conversation(2, text="nothing"))
    before = reader.calls["conversations_matching"]
    model.apply_changes(changed("c1", "c2"))
    assert keys(model) == ["c1", "c3"]
    assert reader.calls["conversations_matching"] == before + 1
    reader.put_conversation(make_conversation(3, name="Someone Else"))
    model.apply_changes(changed("c3"))
    assert keys(model) == ["c1"]


def test_the_model_has_no_rule_of_its_own() -> None:
    """Whatever the reader says is where the row goes, even a verdict no text rule would give."""

    class Odd(FakeInboxReader):
        def conversations_matching(self, keys, **kwargs):  # type: ignore[no-untyped-def]
            return {key for key in keys if key[1] == "c2"}

    reader = Odd()
    for n in range(4):
        reader.put_conversation(make_conversation(n))
    model = ConversationListModel(reader)
    model.set_filter(ConversationFilter(search="zzz"))
    assert keys(model) == []
    model.apply_changes(changed("c1", "c2"))
    assert keys(model) == ["c2"]


def test_a_change_set_naming_more_than_a_page_rereads_the_first_page_in_one_go(qtbot: QtBot) -> None:
    reader = reader_with(conversations=250)
    model = ConversationListModel(reader, page_size=100)
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 200
    for n in range(150):  # a first sync's C1 pages: every conversation changed at once
        reader.put_conversation(dataclasses.replace(make_conversation(n), unread_count=1))
    reads = reader.calls["conversation"]
    with qtbot.waitSignal(model.modelReset, timeout=1_000):
        model.apply_changes(changed(*(f"c{n}" for n in range(150))))
    assert reader.calls["conversation"] == reads  # no per-conversation reads
    assert model.rowCount() == 100  # the first page again; the rest comes back through fetchMore
    assert model.index(0, 0).data(ConversationRole.UNREAD_COUNT) == 1
    model.fetchMore(QModelIndex())
    assert model.rowCount() == 200


def test_a_list_that_had_run_out_is_not_grown_past_a_page_by_new_conversations(qtbot: QtBot) -> None:
    """A first sync into an empty window: the list starts out exhausted (nothing cached), then conversations
    arrive in small change sets. Appending each would keep every conversation loaded, and each later
    diff would cost a pass over all of them; past a page they are left to fetchMore instead."""
    reader = reader_with(conversations=0)
    model = ConversationListModel(reader, page_size=100)
    assert model.rowCount() == 0 and not model.canFetchMore(QModelIndex())
    for batch in range(15):  # 15 change sets of 10 new conversations, each older than the last
        names = [f"c{n}" for n in range(batch * 10, batch * 10 + 10)]
        for n in range(batch * 10, batch * 10 + 10):
            reader.put_conversation(make_conversation(n))
        model.apply_changes(changed(*names))
    assert model.rowCount() == 100
    assert keys(model) == [f"c{n}" for n in range(100)]
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert keys(model) == [f"c{n}" for n in range(150)]


def test_a_burst_of_changes_rereads_the_first_page_instead_of_moving_rows_one_by_one(qtbot: QtBot) -> None:
    reader = reader_with(conversations=300)
    model = ConversationListModel(reader, page_size=100)
    names = [f"c{n}" for n in range(200, 200 + BULK_CHANGES + 1)]
    for n in range(200, 200 + BULK_CHANGES + 1):
        reader.put_conversation(make_conversation(n, activity=NOW_MS + n))
    reads = reader.calls["conversation"]
    with qtbot.waitSignal(model.modelReset, timeout=1_000), qtbot.assertNotEmitted(model.rowsMoved):
        model.apply_changes(changed(*names))
    assert reader.calls["conversation"] == reads
    assert keys(model)[: BULK_CHANGES + 1] == list(reversed(names))


def test_a_bulk_change_set_of_conversations_older_than_the_loaded_rows_changes_nothing_shown(
    qtbot: QtBot,
) -> None:
    """A first sync's later C1 pages hold older conversations than the loaded rows: the list neither
    resets nor re-reads its page (a reset repaints every visible row); fetchMore finds them later."""
    reader = reader_with(conversations=100)
    model = ConversationListModel(reader, page_size=100)
    assert model.rowCount() == 100
    names = [f"c{n}" for n in range(100, 150)]  # older than c99, the last loaded row
    for n in range(100, 150):
        reader.put_conversation(make_conversation(n))
    pages = reader.calls["conversations_page"]
    with qtbot.assertNotEmitted(model.modelReset), qtbot.assertNotEmitted(model.rowsInserted):
        model.apply_changes(changed(*names))
    assert reader.calls["conversations_page"] == pages
    assert model.canFetchMore(QModelIndex())
    model.fetchMore(QModelIndex())
    assert keys(model) == [f"c{n}" for n in range(150)]
    # One among them that is newer than the last loaded row (or loaded already) still re-reads the page.
    reader.put_conversation(make_conversation(120, activity=NOW_MS + 1))
    with qtbot.waitSignal(model.modelReset, timeout=1_000):
        model.apply_changes(changed(*(f"c{n}" for n in range(120, 150))))
    assert keys(model)[0] == "c120"
