"""Layout glitches (issue 16, Why §7), on the real app's windows over the sandbox: thread rows laid out
again when the thread's width changes, notifications wrapped, one button shape, no stock icons."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage
from PySide6.QtWidgets import QDialogButtonBox, QPushButton, QStyleOptionViewItem, QWidget

from sync.model import Conversation, Message
from tests.desktop.gui_harness import Gui
from tests.fixtures.exposed import exposed, quiet
from ui.main_window import MainWindow
from ui.notifications import PADDING_X, PADDING_Y

pytestmark = pytest.mark.gui


def longest_conversation(gui: Gui) -> Conversation:
    best: tuple[int, Conversation] | None = None
    for account in gui.service.reader.accounts():
        for conversation in gui.service.cache.reader.conversations(account.account_id, limit=100):
            count = len(
                gui.service.cache.reader.messages(account.account_id, conversation.conversation_id, limit=200)
            )
            if best is None or count > best[0]:
                best = (count, conversation)
    assert best is not None and best[0] >= 8, best
    return best[1]


def settle(gui: Gui, seconds: float = 0.4) -> None:
    """Let Qt lay out and paint (QListView's delayed layout waits up to 100 ms after a resize)."""
    gui.run(asyncio.sleep(seconds))


def thread_rows(window: MainWindow) -> list[tuple[int, int]]:
    """Each thread row's (top, height) as laid out, after checking that the rows follow each other with
    no gap and no overlap, each as tall as its delegate wants it at the view's width now.

    (QListView places rows where its last layout put them but asks their heights afresh: rows not laid
    out again after a width change overlap where bubbles grew and leave gaps where they shrank.)"""
    view = window.message_view
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    model = window.message_model
    rows: list[tuple[int, int]] = []
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        rect = view.visualRect(index)
        wanted = view.itemDelegate().sizeHint(option, index).height()
        assert rect.height() == wanted, (row, rect, wanted)
        if rows:
            top, height = rows[-1]
            assert rect.top() == top + height + view.spacing(), (row, rows[-1], rect)
        rows.append((rect.top(), rect.height()))
    return rows


def test_thread_rows_are_laid_out_again_when_a_dock_beside_them_opens_and_closes(
    gui: Gui, qtbot: Any
) -> None:
    window = gui.manager.open_window()
    window.resize(1200, 760)
    exposed(gui, window)
    window.open_conversation(longest_conversation(gui))
    quiet(gui)
    settle(gui)
    wide = thread_rows(window)
    wide_width = window.message_view.viewport().width()

    window.notifications_action.trigger()  # View › Notifications: the dock opens beside the thread
    settle(gui)
    assert window.notifications_dock.isVisible()
    assert window.message_view.viewport().width() < wide_width - 100
    narrow = thread_rows(window)
    assert sum(h for _, h in narrow) > sum(h for _, h in wide)  # some bubbles wrap onto more lines

    window.notifications_action.trigger()
    settle(gui)
    assert not window.notifications_dock.isVisible()
    assert window.message_view.viewport().width() == wide_width
    assert [h for _, h in thread_rows(window)] == [h for _, h in wide]


def inbound(gui: Gui, count: int) -> list[Message]:
    found: list[Message] = []
    for account in gui.service.reader.accounts():
        for conversation in gui.service.cache.reader.conversations(account.account_id, limit=100):
            for message in gui.service.cache.reader.messages(
                account.account_id, conversation.conversation_id
            ):
                if not message.is_sent_by_owner and len(message.text) > 20:
                    found.append(message)
    assert len(found) >= count
    return found[:count]


def test_notifications_wrap_their_whole_text_to_the_panels_width_without_a_horizontal_scroll_bar(
    gui: Gui, qtbot: Any
) -> None:
    import dataclasses

    window = gui.manager.open_window()
    window.resize(1200, 760)
    exposed(gui, window)
    long_text = (
        "Are you open to a quick call next week? Tuesday or Thursday afternoon works for me, or Friday."
    )
    messages = [dataclasses.replace(m, text=long_text) for m in inbound(gui, 2)]
    messages.append(dataclasses.replace(inbound(gui, 3)[2], text="Thanks!"))
    for message in messages:
        window.add_notification(message)
    window.notifications_dock.show()
    settle(gui)
    panel = window.notifications.list

    def check(width_hint: str) -> list[int]:
        assert panel.horizontalScrollBar().maximum() == 0, width_hint
        assert not panel.horizontalScrollBar().isVisible(), width_hint
        viewport = panel.viewport().width()
        heights = []
        for row in range(panel.count()):
            item = panel.item(row)
            rect = panel.visualItemRect(item)
            assert rect.width() <= viewport, (width_hint, rect, viewport)
            # The whole text fits the rectangle it is painted in, at the width it is painted at.
            text_rect = rect.adjusted(PADDING_X, PADDING_Y, -PADDING_X, -PADDING_Y)
            needed = QFontMetrics(panel.font()).boundingRect(
                QRect(0, 0, text_rect.width(), 1_000_000), Qt.TextFlag.TextWordWrap, item.text()
            )
            assert needed.height() <= text_rect.height(), (width_hint, item.text(), needed, text_rect)
            heights.append(rect.height())
        return heights

    heights = check("default width")
    assert len(set(heights)) > 1  # not one height for every row (a short one is one line)
    assert panel.visualItemRect(panel.item(0)).width() <= panel.viewport().width()
    assert panel.width() - 2 * PADDING_X < QFontMetrics(panel.font()).horizontalAdvance(long_text)  # wraps
    window.resizeDocks([window.notifications_dock], [220], Qt.Orientation.Horizontal)
    settle(gui)
    narrower = check("narrower")
    assert max(narrower) > max(heights)  # more lines at a smaller width, laid out again


def corner_is_rounded(button: QPushButton) -> bool:
    """Whether the button's top-left corner pixel is left unpainted by its border (a square corner is
    painted in the border's colour)."""
    top = button.window()
    image: QImage = top.grab(QRect(button.mapTo(top, QPoint(0, 0)), button.size())).toImage()
    corner = QColor(image.pixel(0, 0))
    edge = QColor(image.pixel(image.width() // 2, 0))  # the top border, mid-way
    return corner != edge


def bordered_buttons(root: QWidget) -> list[QPushButton]:
    return [
        b
        for b in root.findChildren(QPushButton)
        if b.isVisible() and b.objectName() not in ("flatButton", "bannerClose")
    ]


def test_every_button_has_the_one_rounded_shape_and_dialog_buttons_no_stock_icon(
    gui: Gui, qtbot: Any
) -> None:
    window = gui.manager.open_window()
    exposed(gui, window)
    message = gui.own_recallable()
    window.open_conversation(gui.conversation_of(message))
    quiet(gui)
    window.set_recall_grace_seconds(30)
    window.request_recall(message)
    dialog = window.confirm_dialog
    assert dialog is not None
    exposed(gui, dialog)
    # The confirmation's Cancel is a standard button: no stock icon beside it (the app's style).
    assert [b.text() for b in dialog.findChildren(QPushButton) if not b.icon().isNull()] == []
    dialog.accept()  # the grace bar with its Cancel button
    settle(gui)
    buttons = bordered_buttons(window)
    names = {b.text() for b in buttons}
    assert {"Unread only", "Send", "Cancel"} <= names, names
    for button in buttons:
        # Qt squares a corner whose radius is over half the height: every button is tall enough.
        assert corner_is_rounded(button), (button.objectName(), button.text(), button.height())
    window._recall.grace_bar.cancel()

    settings = gui.manager.open_settings(window)
    exposed(gui, settings)
    settle(gui)
    for button in bordered_buttons(settings):
        assert corner_is_rounded(button), (button.text(), button.height())
        assert button.icon().isNull(), button.text()
    box = settings.findChild(QDialogButtonBox)
    assert box is not None and [b.text() for b in box.buttons() if b.icon().isNull()] == [
        b.text() for b in box.buttons()
    ]
    settings.reject()
    about = gui.manager.show_about(window)
    exposed(gui, about)
    for button in bordered_buttons(about):
        assert corner_is_rounded(button) and button.icon().isNull(), button.text()
    about.reject()
