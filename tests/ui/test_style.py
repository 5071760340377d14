"""One home for the colours: the style sheet is a template filled from the palette the delegates use."""

from __future__ import annotations

import dataclasses
import re
import string
from importlib import resources
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from ui.message_delegate import MessageDelegate
from ui.message_model import MessageListModel
from ui.palette import LIGHT
from ui.style import fill_style_sheet, load_style_sheet

from .fakes import make_message, reader_with

UI = Path(__file__).resolve().parents[2] / "ui"
COLOUR_LITERAL = re.compile(r"#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{2})?)?\b|\brgba?\(")


def template() -> str:
    return resources.files("resources").joinpath("style.qss").read_text(encoding="utf-8")


def test_the_style_sheet_writes_no_colour_and_names_only_palette_roles() -> None:
    assert not COLOUR_LITERAL.findall(template())
    named = {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(template())}
    assert named - {None} <= set(LIGHT.style_values())
    assert len(named) > 30  # the check above would pass on a template that lost its placeholders


def test_no_ui_module_but_the_palette_writes_a_colour() -> None:
    found = [
        f"{path.name}: {literal}"
        for path in sorted(UI.glob("*.py"))
        if path.name != "palette.py"
        for literal in COLOUR_LITERAL.findall(path.read_text(encoding="utf-8"))
    ]
    assert not found
    assert COLOUR_LITERAL.findall((UI / "palette.py").read_text(encoding="utf-8"))  # the pattern can tell


def test_the_loaded_style_sheet_takes_each_colour_from_the_palette() -> None:
    sheet = load_style_sheet()
    assert "$" not in sheet
    assert f"#primaryButton {{ background: {LIGHT.accent};" in sheet
    green = dataclasses.replace(LIGHT, name="test", accent="#00FF00")
    assert "#primaryButton { background: #00FF00;" in load_style_sheet(palette=green)


def test_a_placeholder_the_palette_lacks_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\$accnet"):
        fill_style_sheet("QWidget { color: $accnet; }", LIGHT)
    assert load_style_sheet(tmp_path / "missing.qss") == ""  # unreadable: unstyled, not a crash


def test_the_delegates_paint_with_the_palette(qapp: QApplication) -> None:
    reader = reader_with()
    reader.put_message(make_message(0, text="hello", own=True))
    model = MessageListModel(reader)
    model.set_conversation("acc-1", "c1")
    green = dataclasses.replace(LIGHT, name="test", own_bubble="#00FF00")
    for palette, expected in ((LIGHT, LIGHT.own_bubble), (green, "#00FF00")):
        delegate = MessageDelegate(palette=palette)
        opt = QStyleOptionViewItem()
        opt.rect = QRect(0, 0, 700, 10)
        opt.font = QApplication.font()
        geo = delegate.layout_for(opt, model.index(0, 0))
        opt.rect = QRect(0, 0, 700, geo.height)
        image = QImage(700, geo.height, QImage.Format.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        delegate.paint(painter, opt, model.index(0, 0))
        painter.end()
        # Inside the bubble, left of its text: the bubble's own colour.
        assert image.pixelColor(QPoint(geo.bubble.left() + 6, geo.bubble.center().y())) == QColor(expected)
