"""Change sets merged per frame: a burst becomes one model update, and a recall is never held back."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QObject, QTimer

from sync.model import ChangeSet

CHANGES_COALESCE_MS = 16
"""One frame: a burst of change sets becomes one model update (ARCHITECTURE.md §3)."""


class ChangeCoalescer(QObject):
    """Holds change sets until ``flush`` takes them, calling it at most once a frame.

    Leading edge: a change after a quiet frame is flushed at once, and so is any change that hides
    messages (a recall shows in every window without waiting a frame); what follows within a frame is
    merged and flushed when it ends.
    """

    def __init__(self, flush: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._flush = flush
        self._pending = ChangeSet()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(CHANGES_COALESCE_MS)
        self._timer.timeout.connect(flush)
        self._last_flush = QElapsedTimer()

    def add(self, changes: ChangeSet) -> None:
        self._pending = self._pending.merged(changes)
        if changes.messages_hidden or changes.tombstones_added:
            # A recall is what the user waits to see: it never waits for the frame to end.
            self._flush()
            return
        if self._timer.isActive():
            return
        if self._last_flush.isValid() and self._last_flush.elapsed() < CHANGES_COALESCE_MS:
            self._timer.start()
        else:
            self._flush()

    def take(self) -> ChangeSet:
        """Everything held, merged; the frame starts again from now."""
        self._timer.stop()
        self._last_flush.start()
        changes, self._pending = self._pending, ChangeSet()
        return changes
