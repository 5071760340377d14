"""``desktop.app.first_paint``: start-up waits for the first paint of the window, and a window closed
during that wait (a SIGTERM or Quit while the app starts) ends the wait instead of failing on a deleted
widget."""

from __future__ import annotations

import asyncio
import time

import pytest
import shiboken6
from PySide6.QtWidgets import QWidget

from desktop.app import first_paint

pytestmark = pytest.mark.gui


def test_a_shown_widget_ends_the_wait_with_its_first_paint(qloop: asyncio.AbstractEventLoop) -> None:
    widget = QWidget()
    widget.resize(200, 100)

    async def main() -> float:
        started = time.monotonic()
        widget.show()
        await first_paint(widget, timeout_s=60)
        return time.monotonic() - started

    try:
        assert qloop.run_until_complete(main()) < 30  # painted, not timed out
    finally:
        widget.close()
        widget.deleteLater()


def test_a_widget_deleted_while_waiting_ends_the_wait_cleanly(qloop: asyncio.AbstractEventLoop) -> None:
    """It raised "Internal C++ object already deleted" from removeEventFilter: the app exited 1 on a
    SIGTERM during start-up instead of closing cleanly."""
    widget = QWidget()  # never shown: it never paints

    async def main() -> float:
        started = time.monotonic()
        qloop.call_later(0.05, widget.deleteLater)
        await first_paint(widget, timeout_s=60)
        return time.monotonic() - started

    assert qloop.run_until_complete(main()) < 30  # ended by the deletion, not the 60 s timeout
    assert not shiboken6.isValid(widget)
