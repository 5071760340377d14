"""The stress runs' knobs and their figures.

``CONNECTSAFELY_STRESS=full`` selects the long versions (RELIABILITY.md); unset, every stress test runs
its short CI version. Each test records its figures with the ``figures`` fixture; they are printed in
the terminal summary and, when ``CONNECTSAFELY_STRESS_REPORT`` names a file, appended to it as JSON
lines (the source of RELIABILITY.md's tables).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

STRESS_ENV = "CONNECTSAFELY_STRESS"
REPORT_ENV = "CONNECTSAFELY_STRESS_REPORT"

_collected: list[dict[str, Any]] = []
HERE = Path(__file__).resolve().parent


def full() -> bool:
    """True when the long versions are asked for."""
    return os.environ.get(STRESS_ENV, "").strip().lower() == "full"


def knob(default: float, full_value: float, env: str | None = None) -> float:
    """A size or duration: ``env`` (an explicit override) wins, then the full or the default value."""
    if env and os.environ.get(env, "").strip():
        return float(os.environ[env])
    return full_value if full() else default


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict the test fills with its figures; reported (and optionally written) after the test."""
    found: dict[str, Any] = {}
    started = time.monotonic()
    yield found
    entry = {
        "test": request.node.nodeid,
        "mode": "full" if full() else "default",
        "seconds": round(time.monotonic() - started, 1),
        **found,
    }
    _collected.append(entry)
    target = os.environ.get(REPORT_ENV, "").strip()
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test of this folder is ``stress``: the quick tier leaves the folder to the full one."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.stress)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _collected:
        return
    terminalreporter.section("stress figures")
    for entry in _collected:
        terminalreporter.write_line(json.dumps(entry))
