"""The realtime tests' one local rule: ``slow`` tests run only when asked for with ``-m`` naming ``slow``.

(The ``slow`` marker is registered in pyproject; nothing new is registered here.) Each slow test has a
shorter version that always runs.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    here = str(__file__).rsplit("/", 1)[0]
    for item in items:
        if item.get_closest_marker("slow") is not None and str(item.path).startswith(here):
            item.add_marker(skip)
