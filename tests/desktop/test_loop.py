"""The qasync glue (``desktop.loop``): the loop the app, the tests' ``qloop`` and the benchmarks share."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest

from desktop.loop import close_loop, current_loop, event_loop


def test_before_it_runs_the_current_loop_is_the_one_event_loop_made(qapp: Any) -> None:
    with event_loop(qapp) as loop:
        assert current_loop() is loop  # a service built before run_until_complete binds here

        async def inside() -> asyncio.AbstractEventLoop:
            return current_loop()

        assert loop.run_until_complete(inside()) is loop


def test_without_a_loop_current_loop_refuses_instead_of_making_one(qapp: Any) -> None:
    with event_loop(qapp):
        pass
    with pytest.raises(RuntimeError, match="no event loop"):
        current_loop()  # asyncio.get_event_loop() would make a loop that nobody runs


def test_closing_cancels_what_is_pending_and_waits_at_most_the_timeout(
    qapp: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ran_to_the_end: list[str] = []

    async def obedient() -> None:
        await asyncio.sleep(3600)
        ran_to_the_end.append("obedient")

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(3600)  # ignores the cancellation: the close must not wait for it
        ran_to_the_end.append("stubborn")

    with event_loop(qapp, shutdown_timeout_s=0.3) as loop:
        cancelled = loop.create_task(obedient())
        loop.create_task(stubborn())
        loop.run_until_complete(asyncio.sleep(0))
        started = time.monotonic()
    assert time.monotonic() - started < 3
    assert loop.is_closed() and cancelled.cancelled() and not ran_to_the_end
    # Abandoned, not awaited forever; asyncio says so once the closed loop itself is freed.
    del loop, cancelled
    gc.collect()
    assert "Task was destroyed but it is pending" in caplog.text and "stubborn" in caplog.text


def test_a_running_loop_is_not_closed_and_a_closed_one_closes_once(qapp: Any) -> None:
    with event_loop(qapp) as loop:

        async def close_from_inside() -> None:
            close_loop(loop)

        with pytest.raises(RuntimeError, match="running loop cannot be closed"):
            loop.run_until_complete(close_from_inside())
        assert not loop.is_closed()
    assert loop.is_closed()
    close_loop(loop)  # nothing to do, nothing raised


def test_a_task_stepped_in_the_last_turn_after_run_until_complete_sees_its_loop_running(qapp: Any) -> None:
    """qasync's ``run_until_complete`` gives Qt's events one more turn once its loop has stopped; a task
    step in that turn found no running loop, so httpx (through sniffio and anyio) failed with "unknown
    async library" in whatever request it was making: a C12 freshness ask failed that way as a "bug"
    when a test's wait ended, and could at the app's exit."""
    import sniffio

    seen: list[str] = []

    async def request_in_flight() -> None:
        await asyncio.sleep(0)  # the next step is queued behind the loop's stop
        seen.append(sniffio.current_async_library())
        seen.append("running" if asyncio.get_running_loop() is loop else "another loop")

    async def main() -> None:
        loop.create_task(request_in_flight())

    with event_loop(qapp) as loop:
        loop.run_until_complete(main())
        assert not loop.is_running()
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()  # set for that last turn only
        loop.run_until_complete(asyncio.sleep(0.05))
    assert seen == ["asyncio", "running"]


def test_qt_ending_its_loop_under_the_work_says_so_and_closing_still_cancels_the_work(qapp: Any) -> None:
    """Qt's xcb plugin ends the application's event loop when the display connection breaks. The app must
    see that as its own kind of end (``QtLoopEnded``, not a bug), and the work left must be cancelled."""
    from PySide6.QtCore import QCoreApplication, QTimer

    from desktop.loop import QtLoopEnded

    ends: list[str] = []

    async def main() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            ends.append("cleaned up")

    with event_loop(qapp) as loop:
        QTimer.singleShot(20, lambda: QCoreApplication.exit(0))
        with pytest.raises(QtLoopEnded):
            loop.run_until_complete(main())
        assert ends == []
    assert ends == ["cleaned up"]  # closing the loop cancelled it and let it run its last step


def test_when_qt_ends_every_loop_at_once_closing_gives_up_on_the_tasks_in_one_line(
    qapp: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """With the display gone, each run of Qt's loop ends at once: closing cannot let the cancelled tasks
    finish. Not strict (the app's exit), that is one warning and a closed loop, not a traceback."""
    from PySide6.QtCore import QCoreApplication, QTimer

    from desktop.loop import QtLoopEnded

    def end_qt_at_once() -> None:
        QTimer.singleShot(0, lambda: QCoreApplication.exit(0))

    for strict in (False, True):
        with event_loop(qapp, strict=strict) as loop:
            task = loop.create_task(asyncio.sleep(30))
            caplog.clear()
            end_qt_at_once()
            if strict:
                with pytest.raises(QtLoopEnded):
                    close_loop(loop, strict=True)
            else:
                close_loop(loop, strict=False)
                assert "1 task(s) could not finish: Qt's event loop has ended" in caplog.text
                assert "Traceback" not in caplog.text
            assert loop.is_closed()
            assert task.cancelling() or task.cancelled()
