"""Links in message text (found in the plain text, opened after a confirmation) and day separators."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRect, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from sync.model import Message
from ui.days import day_label, local_day
from ui.links import find_links
from ui.main_window import MainWindow
from ui.message_delegate import MessageDelegate
from ui.message_model import MessageListModel

from .fakes import FakeInboxReader, make_message, reader_with
from .painting import option

URL = "https://example.com/notes?v=2&x=%3Cb%3E"


def test_links_are_found_in_plain_text_without_their_punctuation() -> None:
    text = f"See {URL}. Or (www.example.org/a_(b)) and http://x.io/path, then https:// alone."
    assert find_links(text) == (
        (4, 4 + len(URL), URL),
        (
            len(f"See {URL}. Or ("),
            len(f"See {URL}. Or (www.example.org/a_(b)"),
            "https://www.example.org/a_(b)",
        ),
        (text.index("http://x.io"), text.index(", then"), "http://x.io/path"),
    )
    assert find_links("no links here: example.com, mailto:a@b.c, javascript:alert(1), ftp://x") == ()
    # Markup is text: a link ends where a tag or a quote would begin, and nothing is taken from attributes
    # other than what is typed in the open.
    markup = "<a href='https://evil.example'>https://good.example</a>"
    assert [url for _s, _e, url in find_links(markup)] == ["https://evil.example", "https://good.example"]
    assert find_links("HTTPS://EXAMPLE.COM/UP") == ((0, 22, "HTTPS://EXAMPLE.COM/UP"),)


def message_model(reader: FakeInboxReader) -> MessageListModel:
    model = MessageListModel(reader)
    model.set_conversation("acc-1", "c1")
    return model


def test_a_bubble_knows_where_its_links_are(qapp: QApplication) -> None:
    reader = reader_with()
    reader.put_message(make_message(0, text=f"read {URL} today"))
    model = message_model(reader)
    delegate = MessageDelegate()
    opt = option(700, 10)
    geo = delegate.layout_for(opt, model.index(0, 0))
    text = geo.text_layout
    assert text.links == ((5, 5 + len(URL), URL),)
    opt.rect = QRect(0, 0, 700, geo.height)
    fm = delegate._layouts.fonts_for(opt.font).fm
    before = fm.horizontalAdvance("read ")
    y = int(geo.text_origin.y() + 4)
    inside = QPoint(int(geo.text_origin.x() + before + 10), y)
    assert delegate.link_at(opt, model.index(0, 0), inside) == URL
    assert delegate.link_at(opt, model.index(0, 0), QPoint(int(geo.text_origin.x() + 2), y)) is None
    after = QPoint(int(geo.text_origin.x() + text.width + 20), y)
    assert delegate.link_at(opt, model.index(0, 0), after) is None

    # A click there says which; elsewhere it does not.
    clicks: list[str] = []
    delegate.link_clicked.connect(clicks.append)

    def release(point: QPoint) -> bool:
        event = QMouseEvent(
            QEvent.Type.MouseButtonRelease,
            QPointF(point),
            QPointF(point),
            Qt.MouseButton.LeftButton,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        return bool(delegate.editorEvent(event, model, opt, model.index(0, 0)))

    assert release(inside) and clicks == [URL]
    assert not release(QPoint(int(geo.text_origin.x() + 2), y)) and clicks == [URL]


def test_a_text_without_links_is_drawn_the_fast_way(qapp: QApplication) -> None:
    reader = reader_with()
    reader.put_message(make_message(0, text="nothing to click, example.com is not a link"))
    model = message_model(reader)
    geo = MessageDelegate().layout_for(option(700, 10), model.index(0, 0))
    assert geo.text_layout.links == () and geo.text_layout._layout is None


class UrlCatcher(QObject):
    """Stands in for the browser: QDesktopServices hands it the URLs it would open."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


@pytest.fixture
def browser() -> Iterator[UrlCatcher]:
    catcher = UrlCatcher()
    for scheme in ("http", "https"):
        QDesktopServices.setUrlHandler(scheme, catcher, "open")
    yield catcher
    for scheme in ("http", "https"):
        QDesktopServices.unsetUrlHandler(scheme)


def window_with_link(qtbot: QtBot) -> tuple[MainWindow, Message]:
    reader = reader_with(conversations=2)
    message = make_message(0, text=f"<b>notes</b>: {URL}", own=True)
    reader.put_message(message)
    window = MainWindow(reader, style_sheet="")
    qtbot.addWidget(window)
    window.resize(1000, 600)
    window.show()
    qtbot.waitExposed(window)
    conversation = reader.conversation("acc-1", "c1")
    assert conversation is not None
    window.open_conversation(conversation)
    qtbot.wait(50)
    return window, message


def link_point(window: MainWindow) -> QPoint:
    view = window.message_view
    index = window.message_model.index(0, 0)
    opt = option(view.viewport().width(), 10)
    opt.rect = view.visualRect(index)
    opt.widget = view
    geo = view.bubble_delegate.layout_for(opt, index)
    start = geo.text_layout.links[0][0]
    fm = view.bubble_delegate._layouts.fonts_for(opt.font).fm
    x = geo.text_origin.x() + fm.horizontalAdvance(geo.text_layout.text()[:start]) + 8
    return QPoint(int(opt.rect.left() + x), int(opt.rect.top() + geo.text_origin.y() + 5))


def test_clicking_a_link_asks_with_the_whole_address_then_opens_it(qtbot: QtBot, browser: UrlCatcher) -> None:
    window, _message = window_with_link(qtbot)
    viewport = window.message_view.viewport()
    point = link_point(window)
    qtbot.mouseMove(viewport, point)
    assert viewport.cursor().shape() == Qt.CursorShape.PointingHandCursor
    qtbot.mouseMove(viewport, QPoint(5, point.y()))
    assert viewport.cursor().shape() != Qt.CursorShape.PointingHandCursor

    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=point)
    question = window.link_question
    assert isinstance(question, QMessageBox)
    labels = {label.objectName(): label for label in question.findChildren(QLabel)}
    informative = labels["qt_msgbox_informativelabel"]
    assert informative.text() == URL and informative.textFormat() == Qt.TextFormat.PlainText
    assert browser.opened == []  # nothing opens before the answer
    question.findChild(QPushButton, "openLinkButton").click()
    qtbot.waitUntil(lambda: browser.opened == [URL])
    assert window.link_question is None

    # Cancel opens nothing.
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=point)
    question = window.link_question
    assert question is not None
    question.reject()
    qtbot.wait(20)
    assert browser.opened == [URL]


def test_the_bubble_menu_offers_its_links(qtbot: QtBot, browser: UrlCatcher) -> None:
    window, message = window_with_link(qtbot)
    menu = window.message_menu(message)
    actions = {a.objectName(): a for a in menu.actions() if a.objectName()}
    assert actions["openLinkAction"].text() == f"Open link {URL}…"
    actions["copyLinkAction"].trigger()
    assert QApplication.clipboard().text() == URL
    actions["openLinkAction"].trigger()
    question = window.link_question
    assert question is not None
    question.findChild(QPushButton, "openLinkButton").click()
    qtbot.waitUntil(lambda: browser.opened == [URL])


def test_a_link_to_a_lookalike_site_shows_where_it_really_goes(qtbot: QtBot, browser: UrlCatcher) -> None:
    window, _message = window_with_link(qtbot)
    window.open_link("https://аpple.com/login")  # a Cyrillic "а"
    question = window.link_question
    assert question is not None
    assert question.informativeText() == "https://аpple.com/login\n\nSite: xn--pple-43d.com"
    question.reject()


# --- day separators -----------------------------------------------------------------------------------


def at(day: dt.date, hour: int) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, 0).timestamp() * 1000)


def test_day_words() -> None:
    today = local_day(int(time.time() * 1000))
    assert day_label(today, today) == "Today"
    assert day_label(today - 1, today) == "Yesterday"
    when = dt.date(2026, 3, 12)
    day = local_day(at(when, 12))
    assert day_label(day, local_day(at(dt.date(2026, 5, 1), 12))) == "Thursday, 12 March"
    assert day_label(day, local_day(at(dt.date(2027, 5, 1), 12))) == "12 March 2026"


def thread(reader: FakeInboxReader, days: list[tuple[dt.date, int]]) -> list[Message]:
    messages = []
    for n, (day, hour) in enumerate(days):
        message = dataclasses.replace(make_message(n), sent_at=at(day, hour))
        reader.put_message(message)
        messages.append(message)
    return messages


D1, D2, D3 = dt.date(2026, 5, 20), dt.date(2026, 5, 21), dt.date(2026, 5, 23)


def days_shown(model: MessageListModel) -> list[int]:
    return [data.day for r in range(model.rowCount()) if (data := model.bubble_data(r)) is not None]


def test_the_first_message_of_each_day_carries_the_separator() -> None:
    reader = reader_with()
    thread(reader, [(D1, 9), (D1, 10), (D2, 9), (D3, 8), (D3, 23)])
    model = message_model(reader)
    assert days_shown(model) == [local_day(at(D1, 9)), 0, local_day(at(D2, 9)), local_day(at(D3, 8)), 0]


def test_older_history_of_the_same_day_moves_the_separator_up(qtbot: QtBot) -> None:
    reader = reader_with()
    thread(reader, [(D1, 8), (D1, 9), (D1, 10), (D2, 9)])
    model = MessageListModel(reader, page_size=2)
    model.set_conversation("acc-1", "c1")
    assert days_shown(model) == [local_day(at(D1, 10)), local_day(at(D2, 9))]
    with qtbot.waitSignal(model.dataChanged) as changed:
        assert model.load_older() == 2
    assert changed.args[0].row() == 2  # the old first row: no separator any more, and a new height
    assert days_shown(model) == [local_day(at(D1, 8)), 0, 0, local_day(at(D2, 9))]


def test_recalling_the_first_message_of_a_day_gives_its_separator_to_the_next(qtbot: QtBot) -> None:
    reader = reader_with()
    thread(reader, [(D1, 9), (D2, 9), (D2, 10)])
    model = message_model(reader)
    assert days_shown(model) == [local_day(at(D1, 9)), local_day(at(D2, 9)), 0]
    second = model.message_at(1)
    assert second is not None
    with qtbot.waitSignal(model.dataChanged):
        model.apply_changes(reader.hide(second))
    assert days_shown(model) == [local_day(at(D1, 9)), local_day(at(D2, 10))]


def test_a_separator_row_is_taller_by_its_band_and_paints_its_words(qapp: QApplication) -> None:
    reader = reader_with()
    thread(reader, [(D1, 9), (D1, 10)])
    model = message_model(reader)
    delegate = MessageDelegate()
    opt = option(700, 10)
    first = delegate.layout_for(opt, model.index(0, 0))
    second = delegate.layout_for(opt, model.index(1, 0))
    band = delegate._layouts.day_height(delegate._layouts.fonts_for(opt.font))
    assert first.height == second.height + band
    assert first.day_text == day_label(local_day(at(D1, 9)), local_day(int(time.time() * 1000)))
    assert second.day.isNull() and second.day_text == ""
    assert first.day.bottom() < first.bubble.top() and first.day.center().x() in range(345, 356)
    assert delegate.sizeHint(opt, model.index(0, 0)).height() == first.height
