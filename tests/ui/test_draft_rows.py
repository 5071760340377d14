"""A conversation with a reply not sent yet says "Draft:" and the draft's text on its row, in place of its
latest message (as Signal, Slack and WhatsApp do)."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from ui.conversation_delegate import ConversationDelegate
from ui.conversation_model import ConversationListModel, ConversationRole
from ui.palette import LIGHT

from .fakes import FakeInboxReader, make_conversation

WIDTH = 380
TEXT_LEFT = 14 + ConversationDelegate.AVATAR + 12


def three_rows() -> ConversationListModel:
    reader = FakeInboxReader()
    for n in (1, 2, 3):
        reader.put_conversation(make_conversation(n, text=f"latest of {n}", unread=n % 2))
    return ConversationListModel(reader)


def drafts_shown(model: ConversationListModel) -> dict[str, str]:
    return {
        model.index(r, 0).data(ConversationRole.KEY)[1]: model.index(r, 0).data(ConversationRole.DRAFT)
        for r in range(model.rowCount())
    }


def paint(model: ConversationListModel, row: int) -> QImage:
    image = QImage(WIDTH, ConversationDelegate.ROW_HEIGHT, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, WIDTH, ConversationDelegate.ROW_HEIGHT)
    option.font = QApplication.font()
    painter = QPainter(image)
    ConversationDelegate(palette=LIGHT).paint(painter, option, model.index(row, 0))
    painter.end()
    return image


def test_a_draft_takes_the_place_of_the_latest_message_on_its_row_only(qtbot: QtBot) -> None:
    model = three_rows()
    assert drafts_shown(model) == {"c1": "", "c2": "", "c3": ""}
    changed: list[int] = []
    model.dataChanged.connect(lambda top, bottom, roles: changed.extend(range(top.row(), bottom.row() + 1)))

    model.set_drafts({("acc-1", "c2"): "  Half a reply\n\nto finish  ", ("acc-1", "c9"): "not listed"})
    assert drafts_shown(model) == {"c1": "", "c2": "Half a reply to finish", "c3": ""}
    assert changed == [model.row_of("acc-1", "c2")]  # only the row whose draft changed is repainted
    spoken = model.index(model.row_of("acc-1", "c2") or 0, 0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert spoken.endswith(": Draft: Half a reply to finish")
    assert "latest of 2" not in spoken

    changed.clear()
    model.set_drafts({("acc-1", "c2"): "Half a reply\n\nto finish", ("acc-1", "c9"): "not listed"})
    assert changed == []  # the same line shown: nothing to repaint
    model.set_drafts({("acc-1", "c3"): "   "})  # c2 sent, c3 only blank: no draft to show
    assert drafts_shown(model) == {"c1": "", "c2": "", "c3": ""}
    assert changed == [model.row_of("acc-1", "c2")]


def test_a_draft_listed_later_shows_on_the_row_it_comes_in_with(qtbot: QtBot) -> None:
    reader = FakeInboxReader()
    reader.put_conversation(make_conversation(1))
    model = ConversationListModel(reader)
    model.set_drafts({("acc-1", "c2"): "waiting for its row"})
    reader.put_conversation(make_conversation(2, activity=make_conversation(1).last_activity_at + 1))
    model.reload()
    assert drafts_shown(model) == {"c1": "", "c2": "waiting for its row"}


def test_the_row_paints_the_draft_label_in_the_danger_colour_instead_of_the_preview(qtbot: QtBot) -> None:
    model = three_rows()
    row = model.row_of("acc-1", "c2")
    assert row is not None
    plain = paint(model, row)
    model.set_drafts({("acc-1", "c2"): "Half a reply"})
    drafted = paint(model, row)
    danger = QColor(LIGHT.danger)
    third_line = range(ConversationDelegate.ROW_HEIGHT // 2 + 8, ConversationDelegate.ROW_HEIGHT)

    def reds(image: QImage) -> int:
        return sum(
            1
            for x in range(TEXT_LEFT, WIDTH)  # right of the avatar, whose colour depends on the person
            for y in third_line
            if image.pixelColor(x, y).red() > 150 and image.pixelColor(x, y).green() < 110
        )

    assert reds(plain) == 0
    assert reds(drafted) > 10, f"no {danger.name()} 'Draft:' label painted on the third line"
    # The name, headline and time above are painted as before.
    top = range(0, ConversationDelegate.ROW_HEIGHT // 2 - 4)
    assert all(plain.pixelColor(x, y) == drafted.pixelColor(x, y) for x in range(WIDTH) for y in top)
