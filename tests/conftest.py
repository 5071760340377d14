"""Test configuration shared by every test folder.

Qt is set to the offscreen platform here, before anything imports it. The qasync loop fixture
follows ENVIRONMENT.md's stable pattern through the app's own ``desktop.loop.event_loop``: one loop
per test bound to pytest-qt's ``qapp``, pending tasks cancelled with a timeout, the loop closed, and
``gc.collect()`` so qasync's timers are freed on the GUI thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.secret_scan",
    "tests.fixtures.tiers",
    "tests.fixtures.qt_warnings",
]


@pytest.fixture
def qloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync event loop on pytest-qt's QApplication, torn down by the app's own helper
    (``desktop.loop.event_loop``: pending tasks cancelled with a timeout, closed, unset, collected)."""
    from desktop.loop import event_loop

    qapp.setQuitOnLastWindowClosed(False)
    with event_loop(qapp) as loop:
        yield loop
