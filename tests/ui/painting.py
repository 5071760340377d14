"""Painting a delegate into an image, for the delegate tests and the hostile-text security test."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from ui.delegates import MessageDelegate
from ui.message_model import MessageListModel

from .fakes import make_message, reader_with


def one_message_model(text: str, *, own: bool = False) -> MessageListModel:
    """A message list of one conversation (acc-1/c1) holding one message with ``text``."""
    reader = reader_with()
    reader.put_message(make_message(0, text=text, own=own))
    model = MessageListModel(reader)
    model.set_conversation("acc-1", "c1")
    return model


def option(width: int, height: int) -> QStyleOptionViewItem:
    opt = QStyleOptionViewItem()
    opt.rect = QRect(0, 0, width, height)
    opt.font = QApplication.font()
    return opt


def render(
    delegate: MessageDelegate,
    opt: QStyleOptionViewItem,
    model: MessageListModel,
    extra: Callable[[QPainter], object] | None = None,
) -> QImage:
    """The first row painted by ``delegate`` on white, then ``extra(painter)`` on top when given."""
    image = QImage(opt.rect.width(), opt.rect.height(), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    delegate.paint(painter, opt, model.index(0, 0))
    if extra is not None:
        extra(painter)
    painter.end()
    return image
