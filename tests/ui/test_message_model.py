"""MessageListModel: display order, older history, row diffs and the per-row recall state."""

from __future__ import annotations

import dataclasses

from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sync.model import ChangeSet, Message, RowKey
from ui.message_model import RECALLING_TEXT, MessageListModel, MessageRole

from .fakes import NOW_MS, make_message, reader_with


def ids(model: MessageListModel) -> list[str]:
    return [model.index(r, 0).data(MessageRole.KEY)[1] for r in range(model.rowCount())]


def opened(reader, page_size: int = 50) -> MessageListModel:  # type: ignore[no-untyped-def]
    model = MessageListModel(reader, page_size=page_size)
    model.set_conversation("acc-1", "c1")
    return model


def inserted(*message_ids: str) -> ChangeSet:
    return ChangeSet(messages_inserted=frozenset(RowKey("acc-1", "c1", m) for m in message_ids))


def test_passes_the_model_tester_through_paging_and_diffs(qtmodeltester: ModelTester) -> None:
    reader = reader_with(messages=120)
    model = opened(reader)
    qtmodeltester.check(model)
    assert model.load_older() == 50
    reader.put_message(make_message(500))
    model.apply_changes(reader.hide(model.message_at(3)).merged(inserted("m500")))  # type: ignore[arg-type]
    qtmodeltester.check(model)
    assert model.rowCount() == 100


def test_oldest_at_the_top_newest_at_the_bottom() -> None:
    model = opened(reader_with(messages=5))
    assert ids(model) == ["m0", "m1", "m2", "m3", "m4"]
    assert isinstance(model.index(0, 0).data(MessageRole.MESSAGE), Message)


def test_older_history_loads_at_the_top_by_keyset(qtbot: QtBot) -> None:
    reader = reader_with(messages=120)
    model = opened(reader)
    assert ids(model)[0] == "m70"
    assert model.can_load_older()
    with qtbot.waitSignal(model.rowsInserted) as blocker:
        assert model.load_older() == 50
    assert blocker.args[1:] == [0, 49]
    assert ids(model)[0] == "m20"
    assert model.load_older() == 20
    assert not model.can_load_older()
    assert ids(model) == [f"m{n}" for n in range(120)]


def test_hiding_a_message_removes_exactly_that_row(qtbot: QtBot) -> None:
    reader = reader_with(messages=5)
    model = opened(reader)
    victim = model.message_at(2)
    assert victim is not None
    with (
        qtbot.waitSignal(model.rowsRemoved) as blocker,
        qtbot.assertNotEmitted(model.dataChanged),
        qtbot.assertNotEmitted(model.rowsInserted),
        qtbot.assertNotEmitted(model.modelReset),
    ):
        model.apply_changes(reader.hide(victim))
    assert blocker.args[1:] == [2, 2]
    assert ids(model) == ["m0", "m1", "m3", "m4"]


def test_a_tombstone_alone_hides_every_copy() -> None:
    reader = reader_with(messages=3)
    model = opened(reader)
    model.apply_changes(ChangeSet(tombstones_added=frozenset({"m1"})))
    assert ids(model) == ["m0", "m2"]


def test_changes_to_other_conversations_are_ignored(qtbot: QtBot) -> None:
    reader = reader_with(messages=3)
    model = opened(reader)
    other = make_message(7, conversation="c2")
    reader.put_message(other)
    hidden = ChangeSet(messages_hidden=frozenset({RowKey("acc-1", "c2", "m0")}))
    with qtbot.assertNotEmitted(model.rowsRemoved), qtbot.assertNotEmitted(model.rowsInserted):
        model.apply_changes(ChangeSet(messages_inserted=frozenset({RowKey("acc-1", "c2", "m7")})))
        model.apply_changes(hidden)


def test_a_new_message_is_inserted_at_the_bottom(qtbot: QtBot) -> None:
    reader = reader_with(messages=3)
    model = opened(reader)
    reader.put_message(make_message(3, sent_at=NOW_MS))
    with qtbot.waitSignal(model.rowsInserted) as blocker:
        model.apply_changes(inserted("m3"))
    assert blocker.args[1:] == [3, 3]


def test_a_late_message_is_inserted_in_time_order() -> None:
    reader = reader_with(messages=3)
    model = opened(reader)
    reader.put_message(dataclasses.replace(make_message(9), sent_at=make_message(1).sent_at + 1))
    model.apply_changes(inserted("m9"))
    assert ids(model) == ["m0", "m1", "m9", "m2"]


def test_an_updated_message_emits_data_changed_for_its_row(qtbot: QtBot) -> None:
    reader = reader_with(messages=3)
    model = opened(reader)
    reader.put_message(make_message(1, text="edited"))
    with qtbot.waitSignal(model.dataChanged) as blocker, qtbot.assertNotEmitted(model.rowsRemoved):
        model.apply_changes(ChangeSet(messages_updated=frozenset({RowKey("acc-1", "c1", "m1")})))
    assert blocker.args[0].row() == 1
    assert model.index(1, 0).data(MessageRole.TEXT) == "edited"


def test_pending_and_failed_recall_states_show_in_the_row(qtbot: QtBot) -> None:
    reader = reader_with(messages=3)
    model = opened(reader)
    with qtbot.waitSignal(model.dataChanged):
        model.mark_recall_pending("acc-1", "m1")
    index = model.index(1, 0)
    assert index.data(MessageRole.RECALL_STATUS) == "pending"
    assert index.data(MessageRole.RECALL_STATUS_TEXT) == RECALLING_TEXT == "Recalling…"
    assert "Recalling…" in index.data()

    model.mark_recall_failed("acc-1", "m1", "rate limited — try again in a minute", True)
    assert index.data(MessageRole.RECALL_STATUS) == "failed"
    assert index.data(MessageRole.RECALL_STATUS_TEXT) == "Not recalled: rate limited — try again in a minute"
    assert index.data(MessageRole.RECALL_CAN_RETRY) is True
    assert index.data(MessageRole.RECALL_RETRY_TEXT) == "Retry"
    assert index.data().endswith("Not recalled: rate limited — try again in a minute — Retry")

    model.mark_recall_failed("acc-1", "m1", "The 60-minute recall window has closed", False)
    assert index.data(MessageRole.RECALL_RETRY_TEXT) == ""
    assert "Retry" not in index.data()

    model.clear_recall_state("acc-1", "m1")
    assert index.data(MessageRole.RECALL_STATUS) == "none"
    assert index.data() == "message 1"


def test_recall_state_survives_switching_conversations() -> None:
    reader = reader_with(messages=3)
    model = opened(reader)
    model.mark_recall_pending("acc-1", "m2")
    model.set_conversation("acc-1", "c9")
    model.set_conversation("acc-1", "c1")
    assert model.index(2, 0).data(MessageRole.RECALL_STATUS) == "pending"


def test_huge_and_many_line_text_is_bounded_for_layout() -> None:
    reader = reader_with(messages=0)
    reader.put_message(make_message(0, text="x" * 100_000))
    reader.put_message(make_message(1, text="line\n" * 5_000))
    model = opened(reader)
    assert len(model.index(0, 0).data(MessageRole.BUBBLE_TEXT)) <= 4_000
    assert model.index(0, 0).data(MessageRole.OMITTED_CHARS) == 96_000
    assert model.index(1, 0).data(MessageRole.BUBBLE_TEXT).count("\n") < 60
    assert len(model.index(0, 0).data(MessageRole.TEXT)) == 100_000


def test_bubble_data_is_reused_until_its_message_or_recall_state_changes() -> None:
    reader = reader_with(messages=3)
    model = opened(reader)
    first = model.index(1, 0).data(MessageRole.BUBBLE)
    assert model.index(1, 0).data(MessageRole.BUBBLE) is first
    model.mark_recall_pending("acc-1", "m1")
    pending = model.index(1, 0).data(MessageRole.BUBBLE)
    assert pending is not first and pending.recall_status == "pending"
    model.clear_recall_state("acc-1", "m1")
    assert model.index(1, 0).data(MessageRole.BUBBLE).recall_status == "none"
    reader.put_message(make_message(1, text="edited"))
    model.apply_changes(ChangeSet(messages_updated=frozenset({RowKey("acc-1", "c1", "m1")})))
    assert model.index(1, 0).data(MessageRole.BUBBLE).text == "edited"
    assert model.bubble_data(3) is None and model.bubble_data(-1) is None
