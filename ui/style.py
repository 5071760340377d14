"""The application's style sheet, shipped as package data in ``resources/style.qss``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def load_style_sheet(path: Path | None = None) -> str:
    """The QSS text from ``path``, or the shipped one; "" when it cannot be read (the app still works)."""
    try:
        if path is not None:
            return path.read_text(encoding="utf-8")
        # By name, not by import: resources/ is data, not a layer ui/ depends on.
        return resources.files("resources").joinpath("style.qss").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        return ""
