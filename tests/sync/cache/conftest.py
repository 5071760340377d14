"""Fixtures for the cache tests: a real cache file in a temp dir, with two accounts."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.cache import Cache
from tests.sync.cache.helpers import ACCOUNTS


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Cache]:
    opened = Cache.open_file(tmp_path / "cache.sqlite")
    opened.writer.upsert_accounts(ACCOUNTS).result()
    try:
        yield opened
    finally:
        opened.close()


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, read through a separate connection (what another process sees)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}  # noqa: S608 - names from sqlite_master
