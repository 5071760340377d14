"""The app's end when Qt ends its event loop under it (the display connection broke): a plain exit code and
one line in the log, the sandboxes it started stopped, never "unexpected error"."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QTimer

from desktop.app import EXIT_DISPLAY_LOST, run_until_quit


class StartedSandbox:
    def __init__(self) -> None:
        self.stopped = 0

    def stop(self) -> None:
        self.stopped += 1


def test_a_lost_display_ends_the_app_with_unavailable_and_stops_its_sandboxes(
    qapp: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = StartedSandbox()
    cleaned: list[bool] = []

    async def session() -> int:
        try:
            await asyncio.sleep(30)  # the windows are open
        finally:
            cleaned.append(True)
        return 0

    QTimer.singleShot(50, lambda: QCoreApplication.exit(1))  # what Qt's xcb plugin does
    with caplog.at_level(logging.INFO):
        code = run_until_quit(qapp, session, [sandbox])  # type: ignore[list-item]
    assert code == EXIT_DISPLAY_LOST == 4
    assert sandbox.stopped == 1
    assert cleaned == [True]
    assert "Qt's event loop ended under the app" in caplog.text
    assert "unexpected" not in caplog.text and "Traceback" not in caplog.text


def test_a_session_that_ends_normally_keeps_its_exit_code_and_stops_its_sandboxes(qapp: Any) -> None:
    sandbox = StartedSandbox()

    async def session() -> int:
        await asyncio.sleep(0)
        return 2

    assert run_until_quit(qapp, session, [sandbox]) == 2  # type: ignore[list-item]
    assert sandbox.stopped == 1
