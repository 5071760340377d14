"""Property tests: after any sequence of writes and their change sets, the models mirror the reader."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QApplication

from sync.model import ChangeSet, RowKey
from ui.conversation_model import ConversationFilter, ConversationListModel, ConversationRole
from ui.message_model import MessageListModel, MessageRole

from .fakes import NOW_MS, FakeInboxReader, make_conversation, make_message

conversation_ops = st.lists(
    st.tuples(
        st.sampled_from(["touch", "unread", "read", "delete", "new", "fetch"]),
        st.integers(0, 39),
        st.integers(-5_000, 5_000),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ops=conversation_ops, unread_only=st.booleans())
def test_conversation_rows_are_always_the_readers_prefix(
    qapp: QApplication, ops: list[tuple[str, int, int]], unread_only: bool
) -> None:
    reader = FakeInboxReader()
    for n in range(30):
        reader.put_conversation(make_conversation(n, unread=n % 2))
    model = ConversationListModel(reader, page_size=7)
    model.set_filter(ConversationFilter(unread_only=unread_only))
    for op, n, delta in ops:
        key = ("acc-1", f"c{n}")
        current = reader._conversations.get(key)
        if op == "fetch":
            model.fetchMore(QModelIndex())
            continue
        if op == "new" or current is None:
            reader.put_conversation(make_conversation(n, activity=NOW_MS + delta * 1000, unread=1))
        elif op == "touch":
            reader.put_conversation(dataclasses.replace(current, last_activity_at=NOW_MS + delta * 1000))
        elif op == "unread":
            reader.put_conversation(dataclasses.replace(current, unread_count=current.unread_count + 1))
        elif op == "read":
            reader.put_conversation(dataclasses.replace(current, unread_count=0))
        elif op == "delete":
            reader._conversations.pop(key)
        model.apply_changes(ChangeSet(conversations_changed=frozenset({key})))
        shown = [model.index(r, 0).data(ConversationRole.CONVERSATION) for r in range(model.rowCount())]
        expected = reader.conversations_page(
            account_id=None, unread_only=unread_only, search="", offset=0, limit=len(shown)
        )
        assert shown == expected
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    everything = reader.conversations_page(
        account_id=None, unread_only=unread_only, search="", offset=0, limit=999
    )
    assert [
        model.index(r, 0).data(ConversationRole.CONVERSATION) for r in range(model.rowCount())
    ] == everything


message_ops = st.lists(
    st.tuples(
        st.sampled_from(["insert", "hide", "edit", "older"]), st.integers(0, 59), st.integers(0, 2_000)
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ops=message_ops)
def test_message_rows_are_always_the_readers_newest_suffix(
    qapp: QApplication, ops: list[tuple[str, int, int]]
) -> None:
    reader = FakeInboxReader()
    for n in range(0, 60, 2):
        reader.put_message(make_message(n))
    model = MessageListModel(reader, page_size=8)
    model.set_conversation("acc-1", "c1")
    for op, n, minute in ops:
        row_key = RowKey("acc-1", "c1", f"m{n}")
        if op == "older":
            model.load_older()
            continue
        if op == "insert":
            reader.put_message(make_message(n, sent_at=NOW_MS - minute * 60_000))
            changes = ChangeSet(messages_inserted=frozenset({row_key}))
        elif op == "edit":
            reader.put_message(make_message(n, text=f"edited {minute}"))
            changes = ChangeSet(messages_updated=frozenset({row_key}))
        else:
            changes = reader.hide(make_message(n))
        model.apply_changes(changes)
        shown = [model.index(r, 0).data(MessageRole.MESSAGE) for r in range(model.rowCount())]
        newest_first = reader.messages_page("acc-1", "c1", before=None, limit=len(shown))
        assert shown == list(reversed(newest_first))
