"""In "All accounts" of several, each conversation row says which account it belongs to."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from sync.model import Account
from ui.conversation_delegate import ConversationDelegate
from ui.conversation_model import ConversationListModel, ConversationRole
from ui.main_window import MainWindow

from .fakes import FakeInboxReader, make_conversation


def two_account_reader() -> FakeInboxReader:
    reader = FakeInboxReader()
    reader.add_account(Account("acc-1", "Ada Lovelace"))
    reader.add_account(Account("acc-2", "Recruiting desk"))
    reader.put_conversation(make_conversation(1, account_id="acc-1"))
    reader.put_conversation(make_conversation(2, account_id="acc-2"))
    return reader


def labels(window: MainWindow) -> dict[str, str]:
    model = window.conversation_model
    return {
        model.index(r, 0).data(ConversationRole.KEY)[1]: model.index(r, 0).data(
            ConversationRole.ACCOUNT_LABEL
        )
        for r in range(model.rowCount())
    }


def test_rows_name_their_account_only_in_all_accounts(qtbot: QtBot) -> None:
    window = MainWindow(two_account_reader(), style_sheet="")
    qtbot.addWidget(window)
    assert labels(window) == {"c1": "Ada Lovelace", "c2": "Recruiting desk"}
    accessible = window.conversation_model.index(0, 0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert "(account " in accessible
    window.show_account("acc-2")
    assert labels(window) == {"c2": ""}
    window.show_account("acc-1")
    window.account_combo.setCurrentIndex(0)  # back to "All accounts"
    assert labels(window) == {"c1": "Ada Lovelace", "c2": "Recruiting desk"}


def test_a_single_account_needs_no_label(qtbot: QtBot) -> None:
    reader = FakeInboxReader()
    reader.add_account(Account("acc-1", "Ada Lovelace"))
    reader.put_conversation(make_conversation(1))
    window = MainWindow(reader, style_sheet="")
    qtbot.addWidget(window)
    assert labels(window) == {"c1": ""}


def test_an_account_added_later_labels_the_rows(qtbot: QtBot) -> None:
    reader = FakeInboxReader()
    reader.add_account(Account("acc-1", "Ada Lovelace"))
    reader.put_conversation(make_conversation(1))
    window = MainWindow(reader, style_sheet="")
    qtbot.addWidget(window)
    reader.add_account(Account("acc-2", "Recruiting desk"))
    with qtbot.waitSignal(window.conversation_model.dataChanged):
        window.reload_accounts()
    assert labels(window) == {"c1": "Ada Lovelace"}


def paint_row(model: ConversationListModel) -> QImage:
    delegate = ConversationDelegate()
    opt = QStyleOptionViewItem()
    opt.rect = QRect(0, 0, 380, ConversationDelegate.ROW_HEIGHT)
    opt.font = QApplication.font()
    image = QImage(380, ConversationDelegate.ROW_HEIGHT, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    delegate.paint(painter, opt, model.index(0, 0))
    painter.end()
    return image


def test_the_row_paints_the_account_right_of_the_headline(qapp: QApplication) -> None:
    model = ConversationListModel(two_account_reader())
    bare = paint_row(model)
    model.set_account_labels({"acc-1": "Ada Lovelace", "acc-2": "Recruiting desk"})
    labelled = paint_row(model)
    assert bare != labelled
    # The pill is in the right part of the second line; the left part (avatar, headline start) is unchanged.
    changed = [
        x
        for x in range(380)
        for y in range(ConversationDelegate.ROW_HEIGHT)
        if bare.pixelColor(x, y) != labelled.pixelColor(x, y)
    ]
    assert min(changed) > 380 // 2
