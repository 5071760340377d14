"""Links in message text: found in the plain text (never from markup), opened only after a confirmation that
shows the whole address (``WindowLinks``, a mixin of the main window)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

LinkSpan = tuple[int, int, str]
"""(first character, one past the last, the address to open) of one link in a text."""

_LINK: Final = re.compile(r"(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING: Final = ".,;:!?…»”’"
_PAIRS: Final = {")": "(", "]": "[", "}": "{"}
MAX_LINKS: Final = 50
"""Links looked for in one text (a bubble lays out 4,000 characters at most)."""


def find_links(text: str) -> tuple[LinkSpan, ...]:
    """The web links in ``text``: ``http://``, ``https://`` and ``www.`` addresses (a ``www.`` one opens as
    ``https://``). Punctuation that ends a sentence is not part of a link, nor a closing bracket that has
    no opening one inside it ("(see https://example.com)")."""
    if "://" not in text and "www." not in text.casefold():
        return ()
    found: list[LinkSpan] = []
    for match in _LINK.finditer(text):
        start, end = match.span()
        while end > start and _dangling(text, start, end):
            end -= 1
        address = text[start:end]
        scheme_only = address.casefold() in ("http://", "https://", "www.")
        if scheme_only or not _host(address):
            continue
        url = address if "://" in address[:8] else "https://" + address
        found.append((start, end, url))
        if len(found) >= MAX_LINKS:
            break
    return tuple(found)


def _dangling(text: str, start: int, end: int) -> bool:
    """Whether the last character of ``text[start:end]`` ends a sentence or closes a bracket opened
    before the link, rather than belonging to the address."""
    last = text[end - 1]
    if last in _TRAILING:
        return True
    opening = _PAIRS.get(last)
    return opening is not None and text.count(opening, start, end) < text.count(last, start, end)


def _host(address: str) -> str:
    rest = address.split("://", 1)[1] if "://" in address[:8] else address
    return rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]


def link_at(links: tuple[LinkSpan, ...], index: int) -> str | None:
    """The address of the link holding character ``index``, if any."""
    for start, end, url in links:
        if start <= index < end:
            return url
    return None


def open_link_confirmed(parent: QWidget, url: str) -> QMessageBox:
    """Ask before opening ``url`` in the browser, showing it whole (and its site as the browser will
    reach it, when the address is written in non-ASCII letters); window-modal, no nested event loop.
    Returns the question (tests answer it)."""
    box = QMessageBox(parent)
    box.setObjectName("openLinkQuestion")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Open link")
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText("Open this link in your browser?")
    qurl = QUrl(url, QUrl.ParsingMode.StrictMode)
    details = url
    ascii_host = qurl.host(QUrl.ComponentFormattingOption.FullyEncoded) if qurl.isValid() else ""
    if ascii_host and ascii_host != qurl.host():
        details += f"\n\nSite: {ascii_host}"
    box.setInformativeText(details)
    open_button = box.addButton("Open link", QMessageBox.ButtonRole.AcceptRole)
    open_button.setObjectName("openLinkButton")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)

    def answered() -> None:
        if box.clickedButton() is open_button and qurl.isValid():
            QDesktopServices.openUrl(qurl)
        box.deleteLater()

    box.finished.connect(answered)
    box.open()
    return box


if TYPE_CHECKING:
    # What the mixin uses of its host, ui.main_window.MainWindow (a QMainWindow): declared for the type
    # checker only.
    _WindowHost = QMainWindow
else:
    _WindowHost = object


class WindowLinks(_WindowHost):
    """A window's question before a link is opened, one at a time (a mixin of
    ``ui.main_window.MainWindow``, which starts ``link_question`` at None)."""

    if TYPE_CHECKING:
        link_question: QMessageBox | None

    def open_link(self, url: str) -> None:
        """A link in a message was clicked: ask, showing the whole address, then open it in the browser."""
        if self.link_question is not None:
            self.link_question.close()
        question = open_link_confirmed(self, url)
        question.finished.connect(lambda _result, q=question: self._on_link_question_finished(q))
        self.link_question = question

    def _on_link_question_finished(self, question: QMessageBox) -> None:
        if self.link_question is question:
            self.link_question = None
