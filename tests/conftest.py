"""Test configuration shared by every test folder.

Qt is set to the offscreen platform here, before anything imports it. The qasync loop fixture
follows ENVIRONMENT.md's stable pattern: one loop per test bound to pytest-qt's ``qapp``, pending
tasks cancelled with a timeout, the loop closed, and ``gc.collect()`` so qasync's timers are freed
on the GUI thread.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

if TYPE_CHECKING:
    import qasync

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.secret_scan"]


@pytest.fixture
def qloop(qapp: Any) -> Iterator[qasync.QEventLoop]:
    """A qasync event loop on pytest-qt's QApplication, torn down cleanly after the test."""
    import PySide6.QtWidgets  # noqa: F401  (qasync must find PySide6 first)
    import qasync

    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
        del loop
        gc.collect()
