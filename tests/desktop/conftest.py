"""Fixtures of the desktop tests (the GUI harness lives in gui_harness.py)."""

from tests.desktop.gui_harness import gui, gui_factory

__all__ = ["gui", "gui_factory"]
