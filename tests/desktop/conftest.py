"""Fixtures of the desktop tests (the GUI harness lives in gui_harness.py)."""

from collections.abc import Generator

import pytest

from tests.desktop.gui_harness import CLOSE_GUIS, gui, gui_factory

__all__ = ["gui", "gui_factory"]


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Close the test's services and windows on the loop right after its body, before pytest-qt's own
    (outer, tryfirst) wrapper processes Qt events outside the loop."""
    try:
        return (yield)
    finally:
        closer = item.stash.get(CLOSE_GUIS, None)
        if closer is not None:
            closer()
