"""What the GUI benchmark children share: a qasync loop on an offscreen QApplication, the real
InboxService/WindowManager against a sandbox, and a 5 ms QTimer that records event-loop lateness.

Imported only inside child processes (it imports Qt). The loop is the app's own
(``desktop.loop.event_loop``: ENVIRONMENT.md's stable teardown, in one place).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# QT_API makes qasync take PySide6 whatever the import order.
os.environ.setdefault("QT_API", "pyside6")

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

from desktop.backend import Backend
from desktop.loop import event_loop, freeze_start_up_objects, keep_the_gui_thread_responsive
from desktop.services import InboxService
from desktop.settings import Settings
from desktop.windows import WindowManager
from sync.api import ApiClient
from sync.engine import SyncEngine
from sync.recall import RecallService

TICK_MS = 5


class LatenessProbe(QObject):
    """A 5 ms precise QTimer on the GUI thread; each tick records how much later than 5 ms after the
    previous one it fired. A loop that is never blocked shows ~0; a blocked loop shows the block."""

    def __init__(self) -> None:
        super().__init__()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._last: float | None = None
        self.samples: list[float] = []
        self.collections: list[tuple[int, float]] = []
        """This process's garbage collections while probing: (generation, milliseconds)."""
        self.worst_at: tuple[float, float] = (0.0, 0.0)
        """(start, end) of the worst tick interval (``perf_counter()``), for :meth:`worst_in_gc_ms`."""
        self._worst = -1.0
        self._spans: list[tuple[float, float, int]] = []
        self._gc_started = 0.0

    def start(self) -> None:
        self.samples = []
        self.collections = []
        self._spans = []
        self._worst = -1.0
        self._last = None
        gc.callbacks.append(self._on_gc)
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        return self.samples

    def worst_in_gc_ms(self) -> float:
        """Milliseconds of garbage collection inside the worst tick interval (0: the worst stall was
        something else)."""
        start, end = self.worst_at
        return sum(max(0.0, min(end, b) - max(start, a)) for a, b, _ in self._spans) * 1000

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            ended = time.perf_counter()
            self._spans.append((self._gc_started, ended, info["generation"]))
            self.collections.append((info["generation"], (ended - self._gc_started) * 1000))

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            late = max(0.0, (now - self._last) * 1000 - TICK_MS)
            self.samples.append(late)
            if late > self._worst:
                self._worst, self.worst_at = late, (self._last, now)
        self._last = now


@contextlib.contextmanager
def qasync_loop() -> Iterator[Any]:
    """One qasync loop for the whole child. Drive it with a *single* ``run_until_complete`` of the
    whole scenario: tasks in flight between two ``run_until_complete`` calls were seen stepped with no
    running loop ("RuntimeError: no running event loop" inside httpcore)."""
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    keep_the_gui_thread_responsive()  # what desktop.loop.run does for the app
    with event_loop(app) as loop:
        yield loop


@dataclass
class Session:
    service: InboxService
    manager: WindowManager
    bugs: list[BaseException]


async def open_session(base_url: str, key: str, data: Path) -> Session:
    """The real process-wide service and window manager over ``data``, talking to the sandbox (call it
    on the running loop: the service binds to it).

    The service's API client is replaced by one with ``budget=None``: the sandbox runs with
    ``--rate-limit off`` here and the app's local pacing (just under the real service's limits) would
    otherwise set the pace of every figure. The engine and recall service are rebuilt on it, and the
    sync worker is told not to pace either.
    """
    bugs: list[BaseException] = []
    backend = Backend(base_url, None, key, True, "sandbox")
    service = InboxService(backend, data, on_bug=bugs.append)
    # The service builds its network side lazily (cached properties): set ours before first use.
    assert "api" not in service.__dict__, "the service built its API client already"
    service.api = ApiClient(base_url, key, budget=None)
    service.engine = SyncEngine(service.api, service.cache, on_progress=service.sync_progress_changed.emit)
    service.recalls = RecallService(service.api, service.cache)
    service.unpaced_sync = True  # the sync worker's client likewise
    manager = WindowManager(service, Settings(data), sandbox=True, recall_grace_s=0)
    await service.prepare_network_side()  # as desktop.app does between the first paint and the sync
    freeze_start_up_objects()  # likewise
    return Session(service, manager, bugs)


async def close_session(session: Session) -> None:
    for window in list(session.manager.windows):
        window.close()
    await session.service.close()
    if session.bugs:
        raise RuntimeError(f"bug reached the GUI: {session.bugs[0]!r}") from session.bugs[0]


async def until(predicate: Callable[[], bool], within_s: float, what: str, step: float = 0.001) -> None:
    """Let the loop run until ``predicate()`` holds (polling it every ``step`` seconds)."""
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(step)
