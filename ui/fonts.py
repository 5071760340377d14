"""Fonts the delegates derive from a view's font (scaled, bold, link), built once per font; eliding."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics

_SCALED: dict[tuple[str, float, bool], QFont] = {}


def scaled(font: QFont, factor: float, *, bold: bool = False) -> QFont:
    """``font`` scaled (and bold), built once per base font."""
    key = (font.key(), factor, bold)
    found = _SCALED.get(key)
    if found is None:
        found = _SCALED[key] = make_scaled(font, factor, bold=bold)
    return found


def make_scaled(font: QFont, factor: float, *, bold: bool = False) -> QFont:
    """A new ``font`` scaled by ``factor`` (and bold): point sizes stay points, pixel sizes pixels."""
    result = QFont(font)
    if font.pointSizeF() > 0:
        result.setPointSizeF(font.pointSizeF() * factor)
    else:
        result.setPixelSize(max(8, round(font.pixelSize() * factor)))
    result.setBold(bold)
    return result


def link_font(font: QFont) -> QFont:
    """``font`` as a link: underlined and bold."""
    link = QFont(font)
    link.setUnderline(True)
    link.setBold(True)
    return link


def elide(metrics: QFontMetrics, text: str, width: int) -> str:
    """``text`` cut with "…" at the right to fit ``width`` pixels."""
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, width))
