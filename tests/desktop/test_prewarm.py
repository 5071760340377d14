"""The sync worker is started as soon as the cache is open (``InboxService.prewarm_sync_worker``), so its
process start overlaps the window's first paint instead of delaying the first sync (BENCHMARKS.md
figure 8); never by a process that will follow another's sync."""

from __future__ import annotations

import pytest

from sync.lock import DataDirLock
from tests.desktop.gui_harness import Gui

pytestmark = pytest.mark.gui


def test_the_worker_is_ready_before_the_sync_starts_and_the_first_pass_uses_it(gui: Gui) -> None:
    gui.service.prewarm_sync_worker()
    worker = gui.service.sync_worker
    gui.drive_until(lambda: worker.running and worker.commit_key is not None)
    assert worker.starts == 1 and not gui.service.is_leader  # started, yet nothing synced or led

    gui.service.start()
    assert gui.service.is_leader
    gui.run(gui.service.sync_now())
    assert worker.starts == 1  # the first pass ran in the worker started ahead of it
    assert worker.commit_key in worker.commit_keys


def test_a_process_that_will_follow_starts_no_worker(gui: Gui) -> None:
    from sync.worker import proxy

    other = DataDirLock(gui.data)
    assert other.try_acquire()
    proxy.prelaunch()  # as desktop.cli does first thing
    launched = proxy._prelaunched
    assert launched is not None
    try:
        gui.service.prewarm_sync_worker()
        assert "sync_worker" not in gui.service.__dict__
        # The worker started ahead is not kept waiting for a configuration that will never come.
        assert proxy._prelaunched is None
        assert launched[0].wait(timeout=30) == 0
        gui.service.start()
        assert not gui.service.is_leader
        assert "sync_worker" not in gui.service.__dict__
    finally:
        other.release()


def test_the_lock_says_when_another_holder_has_it(tmp_path: object) -> None:
    from pathlib import Path

    data = Path(str(tmp_path))
    mine, theirs = DataDirLock(data), DataDirLock(data)
    assert not mine.held_elsewhere()  # no lock file yet
    assert theirs.try_acquire()
    assert mine.held_elsewhere()
    assert not theirs.held_elsewhere()  # its own holder
    theirs.release()
    assert not mine.held_elsewhere()  # the file stays, with the old pid in it: the lock is what counts
    assert mine.try_acquire()
    assert theirs.held_elsewhere()
    mine.release()
