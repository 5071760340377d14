"""The application's style sheet: the template shipped in ``resources/style.qss``, coloured from a palette."""

from __future__ import annotations

import string
from importlib import resources
from pathlib import Path

from .palette import LIGHT, Palette


def load_style_sheet(path: Path | None = None, palette: Palette = LIGHT) -> str:
    """The QSS of the template at ``path`` (or the shipped one) with ``palette``'s colours filled in;
    "" when it cannot be read (the app still works, unstyled)."""
    try:
        if path is not None:
            template = path.read_text(encoding="utf-8")
        else:
            # By name, not by import: resources/ is data, not a layer ui/ depends on.
            template = resources.files("resources").joinpath("style.qss").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        return ""
    return fill_style_sheet(template, palette)


def fill_style_sheet(template: str, palette: Palette) -> str:
    """``template`` with each ``$role`` replaced by that role's colour in ``palette``.

    A placeholder that names no role is a bug in the template, not something to show half-styled:
    ``ValueError`` names it."""
    try:
        return string.Template(template).substitute(palette.style_values())
    except KeyError as unknown:
        raise ValueError(f"the style sheet names a role the palette lacks: ${unknown.args[0]}") from None
