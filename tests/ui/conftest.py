"""Fixtures for the widget tests: the in-memory reader; every test here is marked ``gui``."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fakes import FakeInboxReader, reader_with

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.gui)


@pytest.fixture
def reader() -> FakeInboxReader:
    return reader_with(conversations=5, messages=5)
