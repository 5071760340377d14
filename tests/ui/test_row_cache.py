"""Rendered rows kept in Qt's pixmap cache: drawn once, the least recently drawn dropped past the budget."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QPainter, QPixmapCache
from PySide6.QtWidgets import QApplication

from ui.row_cache import RowCache

ROW = QRect(0, 0, 100, 50)
"""20,000 bytes at a device pixel ratio of 1: 19 KB as the pixmap cache counts."""


@pytest.fixture
def empty_pixmap_cache(qapp: QApplication) -> Iterator[None]:
    """Qt's pixmap cache emptied and limited to what the test's row caches add to it."""
    limit = QPixmapCache.cacheLimit()
    QPixmapCache.clear()
    QPixmapCache.setCacheLimit(0)
    yield
    QPixmapCache.clear()
    QPixmapCache.setCacheLimit(limit)


def draw_all(rows: RowCache, keys: str) -> list[str]:
    """Draw the rows named by ``keys`` in order; the keys of the rows that had to be rendered."""
    image = QImage(100, 50, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    rendered: list[str] = []
    for key in keys:
        rows.draw(painter, key, ROW, lambda _p, k=key: rendered.append(k))
    painter.end()
    return rendered


def test_rendered_rows_past_their_byte_budget_drop_the_least_recently_drawn(empty_pixmap_cache: None) -> None:
    rows = RowCache(budget_bytes=45_000)
    # "a" was drawn again before "c" came: "b" was the least recently drawn and made room for "c".
    assert draw_all(rows, "abacab") == ["a", "b", "c", "b"]
    assert len(rows) == 2


def test_a_row_squeezed_to_nothing_is_not_rendered(empty_pixmap_cache: None) -> None:
    rows = RowCache(budget_bytes=45_000)
    image = QImage(100, 50, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    rendered: list[str] = []
    rows.draw(painter, "a", QRect(0, 0, 0, 50), lambda p: rendered.append("a"))
    painter.end()
    assert rendered == [] and len(rows) == 0


def test_each_cache_adds_its_budget_to_the_pixmap_cache_while_it_lives(empty_pixmap_cache: None) -> None:
    first, second = RowCache(budget_bytes=100 * 1024), RowCache(budget_bytes=50 * 1024)
    assert QPixmapCache.cacheLimit() == 150
    assert draw_all(first, "abab") == ["a", "b"]
    pixmaps = list(first._keys.values())
    assert len(pixmaps) == 2 and all(key.isValid() for key in pixmaps)
    del first
    assert QPixmapCache.cacheLimit() == 50
    assert not any(key.isValid() for key in pixmaps)  # its rows left the pixmap cache with it
    assert draw_all(second, "aa") == ["a"]
    second.clear()
    assert draw_all(second, "a") == ["a"]


def test_a_cache_collected_off_the_gui_thread_is_released_on_it(empty_pixmap_cache: None) -> None:
    held = [RowCache(budget_bytes=100 * 1024)]
    draw_all(held[0], "a")
    dropper = threading.Thread(target=held.clear)  # the last reference goes on another thread
    dropper.start()
    dropper.join()
    assert not held
    # QPixmapCache is not touched off the GUI thread: the budget goes when the GUI thread next uses a cache.
    assert QPixmapCache.cacheLimit() == 100
    RowCache(budget_bytes=0)
    assert QPixmapCache.cacheLimit() == 0
