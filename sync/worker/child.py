"""The sync worker process: one engine, one API client, one cache writer, at background priority.

**Why a process.** A sync pass is a few milliseconds of Python per page (HTTP, decoding, building the
rows, the writer's statements). On the GUI thread, or on any thread of the GUI process, that Python holds
the interpreter lock in pieces the window's timers and paints have to wait behind; and at normal
priority, on a machine with two cores, the busy sync and a busy server took the cores the window needed
when its timer fired. Measured (BENCHMARKS.md figure 3): the window's p99 event-loop lateness during a
big sync was 4–5× idle with the sync in the GUI process, whichever thread ran it; with the passes in
this process, at background priority (:mod:`sync.priority`), it is close to idle.

The worker runs :class:`~sync.engine.SyncEngine` passes on request, each call as its own task, with its
own API client (a share of the request budget) and its own cache writer. The change sets its writer
commits are sent to the parent at once after a quiet spell; in a burst they are merged into frames sent
at gaps growing to :data:`SEND_EVERY_S` (each frame wakes the window's thread and costs it a decode, a
diff and a paint), and always before the result of the pass that wrote them.
Once idle for :data:`TRIM_AFTER_S` after a pass it hands freed memory back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import gc
import importlib
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Final

from sync.errors import KnownError
from sync.model import ChangeSet
from sync.priority import run_in_background
from sync.worker.protocol import (
    PASSES,
    STOP_TIMEOUT_S,
    Call,
    Changes,
    FrameError,
    Progress,
    Quit,
    Ready,
    Result,
    failure_of,
    receive,
    send_frame,
)
from sync.worker.proxy import WorkerConfig

log = logging.getLogger(__name__)

SEND_FIRST_GAP_S: Final = 0.05
SEND_EVERY_S: Final = 0.2
"""Change frames in a burst of commits (a sync pass: one every few milliseconds): the first at once, the
next ones merged and sent after a gap that doubles from :data:`SEND_FIRST_GAP_S` up to this. The first
page of a first run shows at once (figure 8), and a long sync costs the window's event loop five frames a
second (figure 3). A quiet spell of this long starts the next burst again."""
TRIM_AFTER_S: Final = 2.0


def _load_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, where there is one (Linux with glibc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_malloc_trim = _load_malloc_trim()


def _preload() -> None:
    """Import what :meth:`_Worker.serve` and a first request need."""
    for name in ("sync.api", "sync.cache", "sync.engine"):
        importlib.import_module(name)
    from sync.api import preload_transport

    preload_transport()


def _read_config(conn: Connection) -> WorkerConfig:
    config = receive(conn)
    if not isinstance(config, WorkerConfig):
        raise FrameError(f"expected the configuration, got {type(config).__name__}")
    return config


def _configure_logging(config: WorkerConfig) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("sync-worker: %(levelname)s %(name)s: %(message)s"))
    stderr.setLevel(logging.WARNING)
    root.addHandler(stderr)
    if config.log_path:
        # The GUI process rotates this file; a watched handler reopens it after a rotation.
        handler = logging.handlers.WatchedFileHandler(config.log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s sync-worker %(name)s: %(message)s"))
        root.addHandler(handler)
    logging.getLogger("httpx").setLevel(logging.WARNING)


class _Worker:
    """The child: one engine, one API client, one cache writer; serves calls until told to stop."""

    def __init__(self, config: WorkerConfig, inbox: Connection, outbox: Connection) -> None:
        self.config = config
        self._inbox = inbox
        self._outbox = outbox
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._parent_gone = False
        self._unsent = ChangeSet()
        self._send_timer: asyncio.TimerHandle | None = None
        self._last_sent_at = -SEND_EVERY_S
        """The loop's time of the last change frame sent."""
        self._send_gap = SEND_FIRST_GAP_S
        """The least time between that frame and the next one (grows during a burst)."""
        self._trim_timer: asyncio.TimerHandle | None = None

    def send(self, frame: object) -> None:
        """Write a frame to the parent (blocking: a parent busy painting slows the sync down, which is
        the right way round). A parent that has gone away stops the worker."""
        if self._parent_gone:
            return
        try:
            send_frame(self._outbox, frame)
        except BrokenPipeError:
            self._parent_gone = True
            self._stop.set()

    def _trim_later(self) -> None:
        """Once the worker has been idle a while after a pass, hand freed memory back to the system."""
        if self._trim_timer is not None:
            self._trim_timer.cancel()
        self._trim_timer = asyncio.get_running_loop().call_later(TRIM_AFTER_S, self._trim)

    def _trim(self) -> None:
        self._trim_timer = None
        if self._tasks:
            return  # a pass is running: the next one to end schedules it again
        gc.collect()
        if _malloc_trim is not None:
            # After a big pass the writer has released its page cache (sync.cache: PRAGMA shrink_memory
            # when idle) and the decoded pages are garbage, but glibc keeps the freed heap: 166 MB
            # resident after a pass of 200,000 messages, 76 MB after the trim (37 MB at start).
            _malloc_trim(0)

    def _gather(self, changes: ChangeSet) -> None:
        """Send a change set at once when the gap since the last frame has passed (always after a quiet
        spell); else merge it with what comes until then and send them as one frame: each frame wakes
        the window's thread and costs it a decode, a diff and a paint (see :data:`SEND_EVERY_S`)."""
        self._unsent = self._unsent.merged(changes)
        if self._send_timer is not None:
            return  # a frame is due: this set goes with it
        loop = asyncio.get_running_loop()
        wait = self._last_sent_at + self._send_gap - loop.time()
        if wait <= 0:
            self.send_changes()
        else:
            self._send_timer = loop.call_later(wait, self.send_changes)

    def send_changes(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        if self._unsent:
            changes, self._unsent = self._unsent, ChangeSet()
            now = asyncio.get_running_loop().time()
            quiet = now - self._last_sent_at > SEND_EVERY_S
            self._send_gap = SEND_FIRST_GAP_S if quiet else min(2 * self._send_gap, SEND_EVERY_S)
            self._last_sent_at = now
            self.send(Changes(changes))

    async def serve(self, priority: str) -> None:
        from sync.api import ApiClient
        from sync.cache import Cache
        from sync.engine import SyncEngine

        config = self.config
        loop = asyncio.get_running_loop()
        cache = (
            Cache.open_file(config.cache_file)
            if config.cache_file
            else Cache.open(config.data_dir, config.base_url)
        )

        def on_changes(changes: ChangeSet) -> None:  # on the writer thread
            loop.call_soon_threadsafe(self._gather, changes)

        unsubscribe = cache.writer.subscribe(on_changes)
        api = ApiClient(config.base_url, config.api_key, session_id=config.session_id, budget=config.budget)
        options: dict[str, Any] = {}
        if config.initial_message_conversations is not None:
            options["initial_message_conversations"] = config.initial_message_conversations
        self.engine = SyncEngine(api, cache, on_progress=lambda p: self.send(Progress(p)), **options)
        inbox_fd = self._inbox.fileno()
        loop.add_reader(inbox_fd, self._on_readable)
        self.send(Ready(cache.writer.commit_key, priority))
        try:
            await self._stop.wait()
        finally:
            loop.remove_reader(inbox_fd)
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            self.send_changes()  # what was written before the stop (a no-op when the parent is gone)
            await api.aclose()
            unsubscribe()
            await asyncio.to_thread(cache.close)

    def _on_readable(self) -> None:
        """Every frame the parent has sent so far (its frames are small and written whole: a frame begun
        is a frame that arrives at once, so ``recv`` does not wait here for long)."""
        if self._stop.is_set():
            return
        try:
            while self._inbox.poll():
                self._take(receive(self._inbox))
        except EOFError:
            self._stop.set()  # the parent is gone, or closed the pipe: stop
        except FrameError as exc:
            log.error("%s: stopping", exc)
            self._stop.set()

    def _take(self, frame: object) -> None:
        if isinstance(frame, Quit):
            self._stop.set()
        elif isinstance(frame, Call):
            task = asyncio.get_running_loop().create_task(self._run(frame))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            log.error("unexpected frame %s: ignored", type(frame).__name__)

    async def _run(self, call: Call) -> None:
        try:
            if call.method not in PASSES:
                raise ValueError(f"no such pass: {call.method!r}")
            value = await getattr(self.engine, call.method)(*call.args, **call.kwargs)
            if call.method == "sync_once":
                value = dataclasses.replace(value, changes=ChangeSet())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, KnownError):
                log.exception("pass %s failed", call.method)
            self.send_changes()  # what the pass wrote arrives before its end
            self.send(failure_of(call.call_id, exc))
        else:
            self.send_changes()
            self.send(Result(call.call_id, value))
        finally:
            self._trim_later()


def main() -> int:
    """The worker process (``python -m sync.worker``, started by :class:`~sync.worker.proxy.SyncWorker`)."""
    outbox = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # a stray print goes to stderr, not into a frame
    inbox = Connection(0, writable=False)
    # Background priority and what a pass needs, before the configuration: a worker started ahead
    # (sync.worker.proxy.prelaunch) does this while its parent imports and builds its window, at a
    # priority that leaves the cores to it.
    priority = run_in_background()
    _preload()
    try:
        config = _read_config(inbox)
    except EOFError:
        return 0  # the parent closed the pipe before a configuration: a worker started ahead, not needed
    except FrameError as exc:
        print(f"sync-worker: no configuration: {exc}", file=sys.stderr)
        return 2
    _configure_logging(config)
    started = time.monotonic()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_Worker(config, inbox, outbox).serve(priority))
    log.info("stopped after %.0f s", time.monotonic() - started)
    return 0
