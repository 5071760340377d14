"""Rows already painted, kept as pixmaps in Qt's ``QPixmapCache``, to which each delegate adds its budget."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Hashable

from PySide6.QtCore import QCoreApplication, QRect, Qt, QThread
from PySide6.QtGui import QPainter, QPixmap, QPixmapCache

ROW_PIXMAP_BUDGET = 16 * 1024 * 1024
"""Bytes of rendered rows each delegate adds to the pixmap cache (a few screens of rows at 2× device pixel
ratio)."""

_PRUNE_MIN = 256
"""Keys a cache remembers before it first forgets those whose pixmaps Qt has evicted."""

_Keys = dict[Hashable, QPixmapCache.Key]
_released_elsewhere: list[tuple[_Keys, int]] = []
"""Caches collected off the GUI thread, their keys and budgets: ``QPixmapCache`` is touched on the GUI thread
only, so they are released by the next cache made or row rendered there."""


class RowCache:
    """Rows already painted, as pixmaps, by everything their pixels depend on.

    A view repaints every visible row whenever anything in it moves (a row removed, a relayout, a
    scroll, a window uncovered): with rows drawn from scratch that is several milliseconds of text
    shaping and antialiased fills per window, during which nothing else on the GUI thread runs — a
    recall's change set included. A cached row is one ``drawPixmap``.

    The pixmaps live in Qt's ``QPixmapCache``, which Qt's styles share. While a ``RowCache`` lives it raises
    the cache's limit by its budget, so N delegates may keep what N budgets kept before; past the limit Qt
    drops the least recently drawn pixmap of the whole cache (another delegate's row, or a style's pixmap).
    Qt also trims it over time (``QPMCache::timerEvent``): the least recently used pixmap every 30 s, and,
    once nothing new came in for 30 s, a quarter of the cache every 10 s; a row dropped so is rendered again
    when next drawn.
    """

    def __init__(self, budget_bytes: int) -> None:
        _release_pending()
        self._budget_kb = budget_bytes // 1024  # the cache counts whole kilobytes
        self._keys: _Keys = {}
        """Our key of a row → Qt's key of its pixmap (which Qt may have evicted since)."""
        self._prune_at = _PRUNE_MIN
        QPixmapCache.setCacheLimit(QPixmapCache.cacheLimit() + self._budget_kb)
        weakref.finalize(self, _release, self._keys, self._budget_kb).atexit = False

    def draw(self, painter: QPainter, key: Hashable, area: QRect, render: Callable[[QPainter], None]) -> None:
        """Draw the row's ``area`` (painter coordinates), rendering it with ``render`` on a miss."""
        if area.isEmpty():
            return  # a view squeezed to nothing: a null pixmap cannot be painted on
        dpr = painter.device().devicePixelRatioF()
        full_key = (key, area.size().toTuple(), dpr)
        pixmap = QPixmap()
        cached = self._keys.get(full_key)
        if cached is None or not QPixmapCache.find(cached, pixmap):
            # Rendered at the device's pixels, not scaled up from 1× (which would blur every edge).
            pixmap = QPixmap(math.ceil(area.width() * dpr), math.ceil(area.height() * dpr))
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(Qt.GlobalColor.transparent)
            row_painter = QPainter(pixmap)
            row_painter.translate(-area.left(), -area.top())
            render(row_painter)
            row_painter.end()
            self._remember(full_key, QPixmapCache.insert(pixmap))
        painter.drawPixmap(area.topLeft(), pixmap)

    def _remember(self, key: Hashable, cached: QPixmapCache.Key) -> None:
        if _released_elsewhere:
            _release_pending()
        if not cached.isValid():
            return  # larger than the whole cache: drawn, not kept
        keys = self._keys
        keys[key] = cached
        if len(keys) >= self._prune_at:
            # Qt evicts without telling: now and then, forget the keys of pixmaps it no longer has.
            for gone in [k for k, value in keys.items() if not value.isValid()]:
                del keys[gone]
            self._prune_at = max(_PRUNE_MIN, 2 * len(keys))

    def clear(self) -> None:
        """Drop this cache's rows (the rows' layout changed)."""
        for cached in self._keys.values():
            QPixmapCache.remove(cached)
        self._keys.clear()

    def __len__(self) -> int:
        """Rows of this cache still in Qt's cache."""
        return sum(1 for cached in self._keys.values() if cached.isValid())


def _release(keys: _Keys, budget_kb: int) -> None:
    """A cache is gone: its rows leave Qt's cache and its budget the limit (on the GUI thread)."""
    app = QCoreApplication.instance()
    if app is not None:
        if not _on_gui_thread(app):
            _released_elsewhere.append((keys, budget_kb))
            return
        for cached in keys.values():
            QPixmapCache.remove(cached)
        QPixmapCache.setCacheLimit(max(0, QPixmapCache.cacheLimit() - budget_kb))
    keys.clear()  # without an application: it took its pixmap cache with it


def _release_pending() -> None:
    app = QCoreApplication.instance()
    if app is not None and _on_gui_thread(app):
        while _released_elsewhere:
            _release(*_released_elsewhere.pop())


def _on_gui_thread(app: QCoreApplication) -> bool:
    return QThread.currentThread() is app.thread()
