"""The qasync glue, in one module: one asyncio loop driven by Qt's event loop on the GUI thread.

Python 3.11 has no ``asyncio.run(loop_factory=...)``; PySide6 must be imported before qasync (qasync
takes the first Qt binding it finds).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import qasync
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

T = TypeVar("T")

log = logging.getLogger(__name__)

_this_thread = threading.local()
"""``loop``: a weak reference to the loop :func:`event_loop` made for this thread, until it is closed."""

GUI_SWITCH_INTERVAL_S = 0.0005
"""How long another thread may hold the GIL while the GUI thread waits for it (Python's default: 5 ms).

The cache writer thread and the page decoder work in Python while a sync runs; each time the GUI
thread gives the GIL up (a socket call, a SQLite read, a queue put), it waited up to a whole 5 ms
interval to get it back, several times per event-loop turn: that, not its own work, made most of the
window's lateness during a big sync (BENCHMARKS.md figure 3). The cost is more frequent switches
between busy threads, a few percent of their throughput at most."""


def freeze_start_up_objects() -> None:
    """Move every object alive now (modules, Qt wrappers, the first page of the inbox) out of the
    garbage collector's sight (``gc.freeze``). A full collection walks every tracked object while it
    holds the GIL; during a big sync, with the start-up heap included, those pauses were 50-290 ms of
    a frozen window (BENCHMARKS.md figure 3). Called once the app has started."""
    gc.collect()
    gc.freeze()


def keep_the_gui_thread_responsive() -> None:
    """Shorten the GIL switch interval for this process (see :data:`GUI_SWITCH_INTERVAL_S`)."""
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)


def run(app: QApplication, main: Callable[[], Awaitable[T]], *, shutdown_timeout_s: float = 5.0) -> T:
    """Run ``main()`` on a qasync loop bound to ``app`` until it returns, then tear the loop down.

    Tasks still pending at the end are cancelled and awaited (bounded), so nothing runs after the
    loop closes.
    """
    keep_the_gui_thread_responsive()
    with event_loop(app, shutdown_timeout_s=shutdown_timeout_s, strict=False) as loop:
        result: T = loop.run_until_complete(main())
        return result


class QtLoopEnded(RuntimeError):
    """Qt's event loop ended while the work :func:`run` awaited was still running: the application was quit
    from under the asyncio loop. Qt's xcb plugin does that when the display connection breaks (the X
    server went away, as at some logouts); the awaited task is then cancelled like every other task."""


class QtEventLoop(qasync.QEventLoop):  # type: ignore[misc]  # qasync is untyped
    """qasync's loop, with one fix: the last turn its ``run_until_complete`` gives Qt's events after the
    loop stopped runs with this loop set as asyncio's running loop.

    qasync runs that turn after ``run_forever`` has unset it; a task step queued behind the stop then runs
    with no running loop, and anything in it that asks for one fails: httpx (through sniffio and anyio)
    with "unknown async library" in the middle of a request, reported as a bug. The app's exit and every
    test's wait end that way.
    """

    def run_until_complete(self, future: Awaitable[T]) -> T:
        if self.is_running():
            raise RuntimeError("Event loop already running")
        task = asyncio.ensure_future(future, loop=self)

        def stop(_: object) -> None:
            self.stop()

        task.add_done_callback(stop)
        try:
            self.run_forever()
        finally:
            task.remove_done_callback(stop)
        asyncio.events._set_running_loop(self)
        try:
            app = QApplication.instance()
            dispatcher = None if app is None else app.eventDispatcher()
            if dispatcher is not None:
                dispatcher.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
        finally:
            asyncio.events._set_running_loop(None)
        if not task.done():
            raise QtLoopEnded("Qt's event loop ended before the awaited work was done")
        return task.result()


@contextlib.contextmanager
def event_loop(
    app: QApplication, *, shutdown_timeout_s: float = 5.0, strict: bool = True
) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop bound to ``app``, the thread's current loop while the block runs, then closed by
    :func:`close_loop` (``strict`` is passed on). Drive it with ``loop.run_until_complete(...)``."""
    loop: asyncio.AbstractEventLoop = QtEventLoop(app)
    asyncio.set_event_loop(loop)
    _this_thread.loop = weakref.ref(loop)
    try:
        yield loop
    finally:
        close_loop(loop, timeout_s=shutdown_timeout_s, strict=strict)


def close_loop(loop: asyncio.AbstractEventLoop, *, timeout_s: float = 5.0, strict: bool = True) -> None:
    """Tear a stopped qasync loop down the safe way (ENVIRONMENT.md, "qasync with pytest-qt").

    Its pending tasks are cancelled and awaited for at most ``timeout_s`` (a task that ignores the
    cancellation must not hang the exit), async generators are finished, the loop is closed and unset,
    and the garbage the closing leaves is collected here, on the GUI thread: collected later by another
    thread, Qt warns "Timers cannot be stopped from another thread" and the process may crash. (The loop
    object itself, in a reference cycle with qasync's timer, goes with the next collection after its last
    holder lets it go.) A failure to cancel or finish is raised once the loop is closed when ``strict``
    (tests), logged otherwise (the app's exit goes on). Closing a closed loop does nothing.
    """
    if loop.is_running():
        raise RuntimeError("a running loop cannot be closed: close it after run_until_complete returns")
    if loop.is_closed():
        return
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=timeout_s))
        loop.run_until_complete(loop.shutdown_asyncgens())
    except QtLoopEnded:
        if strict:
            raise
        # The display went away: Qt's loop ends at once each time it is entered, so the cancelled tasks
        # cannot run their last steps. Their work is in the cache's transactions, never half-written.
        log.warning("%d task(s) could not finish: Qt's event loop has ended", len(pending))
    except Exception:
        if strict:
            raise
        log.warning("tearing the event loop down failed", exc_info=True)
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        _this_thread.loop = None
        gc.collect()


def current_loop() -> asyncio.AbstractEventLoop:
    """The loop this thread's coroutines run on: the running one or, called before it runs (a service
    built before ``run_until_complete``, as the tests do), the one :func:`event_loop` made for the thread.

    Unlike ``asyncio.get_event_loop()``, never a new loop that nobody would run."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        ref: weakref.ref[asyncio.AbstractEventLoop] | None = getattr(_this_thread, "loop", None)
        loop = None if ref is None else ref()
        if loop is None or loop.is_closed():
            raise RuntimeError(
                "no event loop: call this on the loop or inside desktop.loop.event_loop()"
            ) from None
        return loop


class TaskGroup:
    """Owns background tasks: keeps strong references (so none is collected mid-flight), logs the
    failures nobody awaited, and cancels them all on close."""

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self._tasks: set[asyncio.Task[object]] = set()
        self._on_error = on_error

    def spawn(self, coro: Awaitable[T], *, name: str | None = None) -> asyncio.Task[T]:
        task: asyncio.Task[T] = asyncio.ensure_future(coro)
        if name:
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._on_error(error)

    @property
    def running(self) -> int:
        return sum(1 for task in self._tasks if not task.done())

    async def close(self, timeout_s: float = 5.0) -> None:
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
