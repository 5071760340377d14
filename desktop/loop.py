"""The qasync glue, in one module: one asyncio loop driven by Qt's event loop on the GUI thread.

Python 3.11 has no ``asyncio.run(loop_factory=...)``; PySide6 must be imported before qasync (qasync
takes the first Qt binding it finds).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import qasync
from PySide6.QtWidgets import QApplication

T = TypeVar("T")


def run(app: QApplication, main: Callable[[], Awaitable[T]], *, shutdown_timeout_s: float = 5.0) -> T:
    """Run ``main()`` on a qasync loop bound to ``app`` until it returns, then tear the loop down.

    Tasks still pending at the end are cancelled and awaited (bounded), so nothing runs after the
    loop closes.
    """
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        result: T = loop.run_until_complete(main())
        return result
    finally:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.wait(pending, timeout=shutdown_timeout_s))
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


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
