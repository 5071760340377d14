"""Delegates paint user text as plain text, bounded in size, and report clicks on "Retry"."""

from __future__ import annotations

import dataclasses
import time

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QMouseEvent, QPainter, QTextDocument
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from sync.model import Reaction
from ui.conversation_delegate import ConversationDelegate
from ui.conversation_model import ConversationListModel, ConversationRole
from ui.message_delegate import MessageDelegate
from ui.message_model import RECALLING_TEXT, MessageListModel
from ui.palette import LIGHT
from ui.text import format_time

from .fakes import FakeInboxReader, make_conversation, make_message, reader_with
from .painting import one_message_model, option, render

MARKUP = "<b>bold</b><script>alert(1)</script>"


def test_markup_in_a_message_is_painted_literally(qapp: QApplication) -> None:
    model = one_message_model(MARKUP)
    delegate = MessageDelegate()
    opt = option(700, 10)
    geo = delegate.layout_for(opt, model.index(0, 0))
    opt.rect = QRect(0, 0, 700, geo.height)
    painted = render(delegate, opt, model)
    text_rect = QRectF(geo.text_origin, QSizeF(geo.header.width(), geo.text_layout.boundingRect().height()))

    def plain(painter: QPainter) -> None:
        painter.fillRect(text_rect, QColor(LIGHT.other_bubble))
        painter.setFont(opt.font)
        painter.setPen(QColor(LIGHT.other_text))
        painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), MARKUP)

    def rich(painter: QPainter) -> None:
        painter.fillRect(text_rect, QColor(LIGHT.other_bubble))
        doc = QTextDocument()
        doc.setDefaultFont(opt.font)
        doc.setDocumentMargin(0)
        doc.setHtml(MARKUP)
        painter.translate(text_rect.topLeft())
        doc.drawContents(painter)

    # Pixel-identical to drawing the literal string with plain drawText over the same bubble…
    assert painted == render(delegate, opt, model, plain)
    # …and the comparison can tell: interpreting the markup paints something else.
    assert painted != render(delegate, opt, model, rich)


def test_a_100_kb_message_lays_out_quickly_and_stays_bounded(qapp: QApplication) -> None:
    words = ("lorem ipsum dolor sit amet " * 4_000)[:100_000]
    for text in (words, "x" * 100_000, "\n" * 100_000):
        model = one_message_model(text)
        delegate = MessageDelegate()
        opt = option(800, 10)
        started = time.perf_counter()
        height = delegate.sizeHint(opt, model.index(0, 0)).height()
        opt.rect = QRect(0, 0, 800, height)
        render(delegate, opt, model)
        assert time.perf_counter() - started < 1.0
        assert height < 2_500


def test_size_hints_are_cached_per_message_and_width(qapp: QApplication) -> None:
    model = one_message_model("hello " * 200)
    delegate = MessageDelegate()
    narrow = delegate.sizeHint(option(400, 10), model.index(0, 0))
    wide = delegate.sizeHint(option(1200, 10), model.index(0, 0))
    assert narrow.height() > wide.height()
    assert delegate.layout_for(option(400, 10), model.index(0, 0)) is delegate.layout_for(
        option(400, 10), model.index(0, 0)
    )


def test_own_messages_sit_on_the_right(qapp: QApplication) -> None:
    delegate = MessageDelegate()
    # Keep the models referenced: an index outliving its model is a dangling pointer.
    own_model, their_model = one_message_model("hi", own=True), one_message_model("hi")
    mine = delegate.layout_for(option(800, 10), own_model.index(0, 0))
    theirs = delegate.layout_for(option(800, 10), their_model.index(0, 0))
    assert mine.bubble.right() > 700
    assert theirs.bubble.left() < 100


def test_clicking_retry_under_a_failed_recall_emits_the_message(qtbot: QtBot) -> None:
    model = one_message_model("oops", own=True)
    model.mark_recall_failed("acc-1", "m0", "server error", True)
    delegate = MessageDelegate()
    opt = option(800, 10)
    geo = delegate.layout_for(opt, model.index(0, 0))
    assert not geo.retry.isNull()
    opt.rect = QRect(0, 0, 800, geo.height)
    click = QMouseEvent(
        QEvent.Type.MouseButtonRelease,
        QPointF(geo.retry.center()),
        QPointF(geo.retry.center()),
        Qt.MouseButton.LeftButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(delegate.retry_clicked) as blocker:
        assert delegate.editorEvent(click, model, opt, model.index(0, 0))
    assert blocker.args[0].message_id == "m0"


def test_conversation_rows_are_uniform_and_keep_markup_literal(qapp: QApplication) -> None:
    reader = FakeInboxReader()
    reader.put_conversation(make_conversation(0, name="<i>Eve</i>", text=MARKUP, unread=3, starred=True))
    reader.put_conversation(make_conversation(1))
    model = ConversationListModel(reader)
    delegate = ConversationDelegate()
    hints = {delegate.sizeHint(option(380, 10), model.index(r, 0)).height() for r in range(2)}
    assert hints == {ConversationDelegate.ROW_HEIGHT}
    assert model.index(0, 0).data(ConversationRole.TITLE) == "<i>Eve</i>"
    assert model.index(0, 0).data(ConversationRole.PREVIEW) == MARKUP
    image = QImage(380, ConversationDelegate.ROW_HEIGHT, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    delegate.paint(painter, option(380, ConversationDelegate.ROW_HEIGHT), model.index(0, 0))
    painter.end()
    assert not image.isNull()


def test_size_hint_is_the_painted_layout_height_and_the_text_fits_its_bubble(qapp: QApplication) -> None:
    long_word = "see https://example.com/" + "y" * 300 + " thanks"
    texts = ["hi", "three\nshort\nlines", "lorem ipsum dolor sit amet " * 40, long_word, "", "x" * 100_000]
    for text in texts:
        for own in (False, True):
            for recall in ("", "pending", "failed"):
                reader = reader_with()
                reactions = (Reaction("👍", 2),) if own else ()
                message = make_message(0, text=text, own=own, reactions=reactions)
                reader.put_message(dataclasses.replace(message, has_attachment=not own))
                model = MessageListModel(reader)
                model.set_conversation("acc-1", "c1")
                if recall == "pending":
                    model.mark_recall_pending("acc-1", "m0")
                elif recall == "failed":
                    model.mark_recall_failed("acc-1", "m0", "server error " * 20, True)
                for width in (300, 800, 1400):
                    delegate = MessageDelegate()
                    hint = delegate.sizeHint(option(width, 10), model.index(0, 0))
                    geo = delegate.layout_for(option(width, 10), model.index(0, 0))
                    assert hint.height() == geo.height, (text[:20], own, recall, width)
                    text_box = geo.text_layout.boundingRect()
                    assert text_box.width() <= geo.header.width() <= geo.bubble.width()
                    assert geo.text_origin.y() + text_box.height() <= geo.note.top()
                    assert geo.bubble.left() >= 0 and geo.bubble.right() < width


def test_newlines_in_a_message_start_new_lines(qapp: QApplication) -> None:
    delegate = MessageDelegate()
    # Keep the models referenced: an index outliving its model is a dangling pointer.
    one, three = one_message_model("one line"), one_message_model("one\ntwo\nthree")
    single = delegate.layout_for(option(800, 10), one.index(0, 0)).text_layout.boundingRect()
    triple = delegate.layout_for(option(800, 10), three.index(0, 0)).text_layout.boundingRect()
    assert triple.height() >= 3 * single.height()
    assert triple.width() < single.width() + 10


def test_a_word_longer_than_the_bubble_wraps_inside_it(qapp: QApplication) -> None:
    model = one_message_model("x" * 300)
    delegate = MessageDelegate()
    opt = option(800, 10)
    geo = delegate.layout_for(opt, model.index(0, 0))
    box = geo.text_layout.boundingRect()
    assert box.width() <= geo.header.width()
    assert box.height() >= 2 * QFontMetrics(opt.font).height()
    opt.rect = QRect(0, 0, 800, geo.height)
    painted = render(delegate, opt, model)
    # Nothing of the text is painted right of the bubble (below the day separator, which spans the row).
    top = geo.bubble.top()
    outside = QRect(geo.bubble.right() + 2, top, 800 - geo.bubble.right() - 2, geo.height - top)
    blank = QImage(outside.size(), painted.format())
    blank.fill(QColor("white"))
    assert painted.copy(outside) == blank


def test_a_text_measured_wider_is_reused_while_it_still_fits(qapp: QApplication) -> None:
    short, long = one_message_model("hello there"), one_message_model("hello there " * 40)
    delegate = MessageDelegate()
    wide = delegate.layout_for(option(811, 10), short.index(0, 0)).text_layout
    long_wide = delegate.layout_for(option(811, 10), long.index(0, 0)).text_layout
    delegate.clear_cache()  # as on a resize: the row layouts go, the measured texts stay
    assert delegate.layout_for(option(801, 10), short.index(0, 0)).text_layout is wide
    long_narrow = delegate.layout_for(option(400, 10), long.index(0, 0)).text_layout
    assert long_narrow is not long_wide
    assert long_narrow.boundingRect().height() > long_wide.boundingRect().height()


def test_a_recall_in_flight_shows_in_the_header_and_keeps_the_row_height(qapp: QApplication) -> None:
    model = one_message_model("see you tomorrow", own=True)
    delegate = MessageDelegate()
    sent = delegate.layout_for(option(800, 10), model.index(0, 0))
    model.mark_recall_pending("acc-1", "m0")
    pending = delegate.layout_for(option(800, 10), model.index(0, 0))
    assert pending.time_text == RECALLING_TEXT != sent.time_text
    assert pending.status.isNull()
    assert pending.height == sent.height == delegate.sizeHint(option(800, 10), model.index(0, 0)).height()
    # A failure needs its line under the bubble: the reason and "Retry".
    model.mark_recall_failed("acc-1", "m0", "LinkedIn did not answer", True)
    failed = delegate.layout_for(option(800, 10), model.index(0, 0))
    assert failed.height > sent.height
    assert not failed.status.isNull() and failed.time_text == sent.time_text


def _direct_bubble(delegate: MessageDelegate, opt: QStyleOptionViewItem, model: MessageListModel) -> QImage:
    """The row painted straight onto the image, without the rendered-rows cache."""
    geo = delegate.layout_for(opt, model.index(0, 0))
    image = QImage(opt.rect.width(), opt.rect.height(), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    delegate._paint_bubble(painter, geo, delegate._layouts.fonts_for(opt.font), selected=False)
    painter.end()
    return image


def _largest_difference(a: QImage, b: QImage) -> int:
    """The largest difference of one colour channel between two images of the same size (0-255)."""
    assert a.size() == b.size()
    a, b = a.convertToFormat(QImage.Format.Format_RGB32), b.convertToFormat(QImage.Format.Format_RGB32)
    return max(
        (abs(x - y) for x, y in zip(a.constBits().tobytes(), b.constBits().tobytes(), strict=True)), default=0
    )


def test_bubbles_painted_from_the_cache_match_a_direct_paint_and_show_each_change(qapp: QApplication) -> None:
    for own in (True, False):
        model = one_message_model("one\ntwo three", own=own)
        delegate = MessageDelegate()
        opt = option(700, 10)
        opt.rect = QRect(0, 0, 700, delegate.layout_for(opt, model.index(0, 0)).height)
        first = render(delegate, opt, model)
        # Composited from a transparent pixmap: antialiased edges may round 1/255 differently, no more.
        assert _largest_difference(first, _direct_bubble(delegate, opt, model)) <= 1
        assert render(delegate, opt, model) == first  # painted again, from the cache
        model.mark_recall_pending("acc-1", "m0")
        pending = render(delegate, opt, model)
        assert _largest_difference(pending, first) > 100  # "Recalling…" in the header, not the cached row
        assert _largest_difference(pending, _direct_bubble(delegate, opt, model)) <= 1
        model.clear_recall_state("acc-1", "m0")
        assert render(delegate, opt, model) == first


def test_conversation_rows_painted_from_the_cache_match_a_direct_paint_and_show_each_change(
    qapp: QApplication,
) -> None:
    reader = FakeInboxReader()
    reader.put_conversation(make_conversation(0, name="Ada", text="lunch?", unread=0))
    model = ConversationListModel(reader)
    delegate = ConversationDelegate()
    opt = option(380, ConversationDelegate.ROW_HEIGHT)

    def paint(direct: bool) -> QImage:
        image = QImage(380, ConversationDelegate.ROW_HEIGHT, QImage.Format.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        if direct:
            time_text = format_time(
                int(model.index(0, 0).data(ConversationRole.LAST_ACTIVITY)), int(time.time() * 1000)
            )
            delegate._paint_row(painter, opt, model.index(0, 0), time_text)
        else:
            delegate.paint(painter, opt, model.index(0, 0))
        painter.end()
        return image

    read = paint(direct=False)
    assert read == paint(direct=True)
    assert paint(direct=False) == read
    reader.put_conversation(make_conversation(0, name="Ada", text="lunch?", unread=2))
    model.reload()
    unread = paint(direct=False)
    assert unread != read  # the badge, not the cached row without it
    assert unread == paint(direct=True)


def test_rows_rendered_on_a_high_dpi_screen_keep_its_device_pixels(qapp: QApplication) -> None:
    reader = FakeInboxReader()
    reader.put_conversation(make_conversation(0, name="Ada", text="lunch?", unread=2, starred=True))
    model = ConversationListModel(reader)
    delegate = ConversationDelegate()
    opt = option(380, ConversationDelegate.ROW_HEIGHT)

    def paint(direct: bool) -> QImage:
        image = QImage(760, 2 * ConversationDelegate.ROW_HEIGHT, QImage.Format.Format_ARGB32)
        image.setDevicePixelRatio(2.0)
        image.fill(QColor("white"))
        painter = QPainter(image)
        if direct:
            last = int(model.index(0, 0).data(ConversationRole.LAST_ACTIVITY))
            delegate._paint_row(painter, opt, model.index(0, 0), format_time(last, int(time.time() * 1000)))
        else:
            delegate.paint(painter, opt, model.index(0, 0))
        painter.end()
        return image

    # Rendered at twice the pixels, not scaled up from a 1× pixmap (which would blur every edge).
    assert paint(direct=False) == paint(direct=True)
