"""Buttons without the style's stock icons: a dialog's Save, Cancel or Close is a word in the app's one
button shape (the style sheet's pill), never a platform icon beside it."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleHintReturn, QStyleOption, QWidget


class PlainButtonsStyle(QProxyStyle):
    """The platform's style, but a dialog's standard buttons carry no icon (``QDialogButtonBox`` and
    ``QMessageBox`` ask the style whether theirs should have one)."""

    def styleHint(
        self,
        hint: QStyle.StyleHint,
        option: QStyleOption | None = None,
        widget: QWidget | None = None,
        returnData: QStyleHintReturn | None = None,
    ) -> int:
        if hint == QStyle.StyleHint.SH_DialogButtonBox_ButtonsHaveIcons:
            return 0
        return int(super().styleHint(hint, option, widget, returnData))


_installed: list[PlainButtonsStyle] = []
"""The style given to the application (kept referenced: Qt owns it, Python must not collect it)."""


def use_plain_buttons(app: Any = None) -> None:
    """Give the application the platform's style without stock icons on dialog buttons (once; before the
    widgets that should have it are made)."""
    application = QApplication.instance() if app is None else app
    if isinstance(application, QApplication) and not isinstance(application.style(), PlainButtonsStyle):
        style = PlainButtonsStyle()
        _installed.append(style)
        QApplication.setStyle(style)


def without_icons(buttons: Any) -> None:
    """Take the stock icons off a ``QDialogButtonBox``'s buttons (whatever the application's style)."""
    for button in buttons.buttons():
        button.setIcon(QIcon())
