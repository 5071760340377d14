"""The parent's side of the sync worker: :class:`SyncWorker`, the engine's passes as awaitables.

The GUI process keeps the event stream, every action the user waits for and its own cache writer; a
:class:`SyncWorker` starts the worker process (:mod:`sync.worker.child`) on the first call, sends it the
calls, and hands the frames it sends back to the parent's event loop: change sets to ``on_changes``,
progress to ``on_progress``, results and failures to the awaiting calls, in frame order. It reads them
without blocking that loop, one frame decoded per loop callback (:mod:`sync.worker.protocol`). A worker
that is lost fails the calls in flight with :class:`~sync.worker.protocol.WorkerLost`, calls
``on_lost``, and is started again by the next call. The parent knows each worker's commit key, so its
``PRAGMA data_version`` watch does not take the worker's commits for another process's.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import logging
import multiprocessing.connection
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, ClassVar, Final

from sync.model import ChangeSet, Conversation, SyncProgress
from sync.pacing import RateBudget
from sync.worker.protocol import (
    PASSES,
    READ_CHUNK,
    STOP_TIMEOUT_S,
    Call,
    Changes,
    Failure,
    FrameError,
    FrameReader,
    Progress,
    Quit,
    Ready,
    Result,
    WorkerLost,
    decode_frame,
    error_of,
)

if TYPE_CHECKING:
    from sync.engine import SyncReport

log = logging.getLogger(__name__)

WORKER_BUDGET: Final = RateBudget(
    key_capacity=60, key_refill_per_s=0.7, write_capacity=1, write_refill_per_s=0.01
)
"""The worker's share of spec §1's key limit (it only reads): two thirds of the burst, 0.7/s sustained —
above what the poller may send (``sync.watcher.POLL_RATE_PER_S``: ~0.65/s sent; ~0.55/s measured while a
window is focused with 10 conversations in the horizon, BENCHMARKS.md figure 10), so the poller's own
bucket, not this pacer, spaces the rounds (it was 0.6/s). The GUI process keeps :data:`GUI_BUDGET`;
together they stay under the limit with the same headroom as one client alone."""
GUI_BUDGET: Final = RateBudget(key_capacity=30, key_refill_per_s=0.2)
"""The GUI process's share: the user's own actions, up to 30 at once and 12 a minute sustained (0.2/s,
it was 0.3/s: the two shares still add up to 0.9/s)."""

START_TIMEOUT_S: Final = 30.0
COMMAND: Final = (sys.executable, "-m", "sync.worker")
"""The worker process (:mod:`sync.worker.__main__`); its configuration comes down the pipe."""


_Launched = tuple["subprocess.Popen[bytes]", Connection, Connection]
"""A worker process and the parent's ends of its pipes (to its stdin, from its stdout)."""

_prelaunched: _Launched | None = None
_reaper_registered = False


def _spawn(command: list[str]) -> _Launched:
    """Start a worker process; it reads its configuration from the pipe (nothing on its command line).
    Raises :class:`WorkerLost` when it cannot be started."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Two one-way pipes (close-on-exec: no other child inherits an end); the worker gets its ends as
    # stdin and stdout, so nothing of the protocol is on its command line.
    child_in, to_child = multiprocessing.connection.Pipe(duplex=False)
    from_child, child_out = multiprocessing.connection.Pipe(duplex=False)
    try:
        # Popen, not asyncio's subprocess API: that needs a child watcher qasync does not promise, and
        # a spawn (vfork + exec) is a few milliseconds.
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            command, stdin=child_in.fileno(), stdout=child_out.fileno(), env=env, close_fds=True
        )
    except BaseException as exc:
        to_child.close()
        from_child.close()
        if isinstance(exc, OSError):
            raise WorkerLost(f"the sync worker did not start: {exc}") from None
        raise
    finally:
        child_in.close()
        child_out.close()
    return proc, to_child, from_child


def prelaunch() -> None:
    """Start a sync worker process now, before this process knows the service, the key or the cache: it
    imports what a pass needs (about 0.2 s on a 2-core machine) while this process imports and builds
    its window, and the first :class:`SyncWorker` to start adopts it and sends it its configuration
    (BENCHMARKS.md figure 8). ``desktop.cli`` calls it first thing. A worker never adopted ends at
    :func:`discard_prelaunched` or with this process: its pipe closes before a configuration came, and
    it exits quietly. Does nothing when one is waiting already; a failure to start is only logged (the
    first pass starts a worker the usual way, and reports)."""
    global _prelaunched, _reaper_registered
    if _prelaunched is not None:
        return
    try:
        _prelaunched = _spawn(list(COMMAND))
    except WorkerLost as exc:
        log.info("no sync worker started ahead: %s", exc)
        return
    if not _reaper_registered:
        atexit.register(_reap_at_exit)
        _reaper_registered = True


def discard_prelaunched() -> None:
    """End the prelaunched worker if no one adopted it (this process follows another's sync, or quits).
    Does not wait: the process is reaped at exit."""
    global _prelaunched
    launched, _prelaunched = _prelaunched, None
    if launched is not None:
        _close_pipes(launched)
        _discarded.append(launched[0])


def _adopt_prelaunched() -> _Launched | None:
    global _prelaunched
    launched, _prelaunched = _prelaunched, None
    if launched is not None and launched[0].poll() is not None:  # it died waiting: start another
        _close_pipes(launched)
        return None
    return launched


def _close_pipes(launched: _Launched) -> None:
    for conn in launched[1:]:
        with contextlib.suppress(OSError):
            conn.close()


_discarded: list[subprocess.Popen[bytes]] = []


def _reap_at_exit() -> None:
    # An unadopted worker holds nothing (no cache, no key): ended at once rather than waited for, since at
    # background priority it may still be importing behind a busy machine.
    discard_prelaunched()
    for proc in _discarded:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()
        proc.wait()
    _discarded.clear()


@dataclass(frozen=True)
class WorkerConfig:
    """What the worker needs; the first frame. The key is kept out of ``repr`` (and so out of logs)."""

    data_dir: str
    base_url: str
    api_key: str = field(repr=False)
    session_id: str
    budget: RateBudget | None = WORKER_BUDGET
    initial_message_conversations: int | None = None
    """None: the engine's default."""
    log_path: str | None = None
    cache_file: str | None = None
    """The parent's cache file (``Backend.open_cache``: the service's identity names it); None: the cache
    ``Cache.open(data_dir, base_url)`` names (tests against a sandbox known by its address)."""


ChangesCallback = Callable[[ChangeSet], None]
ProgressCallback = Callable[[SyncProgress], None]


class SyncWorker:
    """The parent's handle on the sync worker process: the engine's passes as awaitables.

    Started by the first call; calls may overlap (each runs as its own task in the worker, as they
    would on one engine in process). Callbacks run on the parent's event loop, in frame order.
    """

    PASSES: ClassVar[frozenset[str]] = PASSES

    def __init__(
        self,
        config: WorkerConfig,
        *,
        on_changes: ChangesCallback,
        on_progress: ProgressCallback | None = None,
        on_lost: Callable[[], None] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        command: list[str] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.config = config
        self._given_loop = loop
        """The loop it serves (its frames are read there); None: the running one when it starts. Given
        when :meth:`launch` may be called before that loop runs."""
        self._on_changes = on_changes
        self._on_progress = on_progress
        self._on_lost = on_lost
        """Called when a running worker is lost: it may have committed writes whose change sets never
        arrived, so whatever shows the cache should re-read it."""
        self._start_timeout_s = start_timeout_s
        self._command = command or list(COMMAND)
        self._proc: subprocess.Popen[bytes] | None = None
        self._to_child: Connection | None = None
        """The worker's stdin: frames are sent with ``Connection.send``."""
        self._from_child: Connection | None = None
        """The worker's frames, read without blocking by :meth:`_on_readable` (never ``recv``: see
        :mod:`sync.worker.protocol`)."""
        self._reader = FrameReader()
        self._inbox: collections.deque[tuple[subprocess.Popen[bytes], bytes | None]] = collections.deque()
        """Frames read but not yet handled (None: the end of the worker's output)."""
        self._draining = False
        self._ready: asyncio.Future[Ready] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._start_lock = asyncio.Lock()
        self._closed = False
        self.commit_key: str | None = None
        """The worker's commit key in ``meta`` (see ``CacheReader.commits_by_others``); set once ready."""
        self.commit_keys: set[str] = set()
        """Every commit key a worker of this handle has had (a restarted worker has a new one)."""
        self.starts = 0

    def __repr__(self) -> str:
        return f"SyncWorker(pid={self.pid}, config={self.config!r})"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- the passes ------------------------------------------------------------------------------------

    async def sync_once(
        self, *, reconcile: bool = True, accounts_max_age_s: float | None = None
    ) -> SyncReport:
        """``SyncEngine.sync_once`` in the worker. The report's ``changes`` is empty: the change sets came
        as they were written (a first sync's merged set would be megabytes to send for nothing)."""
        report: SyncReport = await self._call(
            "sync_once", reconcile=reconcile, accounts_max_age_s=accounts_max_age_s
        )
        return report

    async def reconcile_conversation(self, conversation: Conversation, last_complete: int | None) -> int:
        return int(await self._call("reconcile_conversation", conversation, last_complete))

    async def sync_new_messages(self, conversation: Conversation) -> None:
        await self._call("sync_new_messages", conversation)

    # --- lifecycle ---------------------------------------------------------------------------------------

    def launch(self) -> None:
        """Start the worker process now and return at once: its interpreter start, imports and cache open
        then overlap whatever the caller does next (the window's first paint). :meth:`start`, or the
        first pass, waits for it to be ready. A no-op when a worker runs or is starting, or once closed.
        Raises :class:`WorkerLost` when the process cannot be started."""
        if self._closed or self._proc is not None:
            return
        self._launch()

    async def start(self) -> None:
        """Start the worker unless it runs; returns once it is ready. Raises :class:`WorkerLost`."""
        async with self._start_lock:
            if self._closed:
                raise WorkerLost("the sync worker is closed")
            if self.running and self._ready is not None:
                if not self._ready.done():  # launched ahead (:meth:`launch`): wait for it
                    await self._wait_ready()
                return
            if self._proc is not None:
                self._lost("the sync worker exited")  # its end of output may not have been read yet
            self._launch()
            await self._wait_ready()

    async def close(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Ask the worker to stop (it finishes the write in hand), kill it after ``timeout_s``. Idempotent."""
        self._closed = True
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(OSError):
            self._send(Quit())
        try:
            await asyncio.to_thread(proc.wait, timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("the sync worker did not stop within %.0f s: killed", timeout_s)
            proc.kill()
            await asyncio.to_thread(proc.wait)
        self._lost("the sync worker was closed")

    def _launch(self) -> None:
        loop = self._given_loop or asyncio.get_running_loop()
        self._reader = FrameReader()
        self._ready = loop.create_future()
        launched = _adopt_prelaunched() if self._command == list(COMMAND) else None
        if launched is None:
            launched = _spawn(self._command)
        proc, to_child, from_child = launched
        self._proc, self._to_child, self._from_child = proc, to_child, from_child
        self.starts += 1
        os.set_blocking(from_child.fileno(), False)
        loop.add_reader(from_child.fileno(), self._on_readable, proc)
        try:
            self._send(self.config)
        except OSError as exc:
            self._lost(f"the sync worker could not be told its configuration: {exc}")
            raise WorkerLost(f"the sync worker did not start: {exc}") from None

    async def _wait_ready(self) -> None:
        proc, ready_future = self._proc, self._ready
        if proc is None or ready_future is None:
            raise WorkerLost("the sync worker is not running")
        try:
            async with asyncio.timeout(self._start_timeout_s):
                # Shielded: a caller cancelled while waiting must not cancel the readiness itself (a
                # cancelled future would count as "ready" for the next caller).
                ready = await asyncio.shield(ready_future)
        except TimeoutError:
            if self._proc is proc:
                self._lost("the sync worker did not start in time")
                proc.kill()
            raise WorkerLost("the sync worker did not start in time") from None
        self.commit_key = ready.commit_key
        self.commit_keys.add(ready.commit_key)
        log.info("sync worker %d ready (%s)", proc.pid, ready.priority)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        await self.start()
        self._next_id += 1
        call_id = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        try:
            self._send(Call(call_id, method, args, kwargs))
        except OSError as exc:
            self._lost(f"the sync worker stopped reading: {exc}")
        try:
            return await future
        finally:
            self._pending.pop(call_id, None)

    def _send(self, frame: object) -> None:
        conn = self._to_child
        if self._proc is None or conn is None:
            raise BrokenPipeError("no sync worker")
        # Frames to the worker are small (a config, a call): a blocking write never waits here.
        conn.send(frame)

    # --- the worker's frames -----------------------------------------------------------------------------

    def _on_readable(self, proc: subprocess.Popen[bytes]) -> None:
        conn = self._from_child
        if proc is not self._proc or conn is None or conn.closed:
            return  # a worker already given up (_lost removed its reader)
        fd = conn.fileno()
        eof = False
        try:
            while True:
                try:
                    chunk = os.read(fd, READ_CHUNK)
                except BlockingIOError:
                    break
                if not chunk:
                    eof = True
                    break
                self._inbox.extend((proc, body) for body in self._reader.split(chunk))
        except FrameError as exc:
            self._broken(proc, exc)
            return
        if eof:
            self._inbox.append((proc, None))
            asyncio.get_running_loop().remove_reader(fd)
        self._schedule_drain()

    def _schedule_drain(self) -> None:
        if self._inbox and not self._draining:
            self._draining = True
            asyncio.get_running_loop().call_soon(self._drain_one)

    def _drain_one(self) -> None:
        """Decode and handle the oldest frame, then schedule the next: one frame per loop callback, each
        scheduled after the last has run, so a timer or paint that falls due in a burst of change sets
        waits for one frame (~0.3 ms), not for the whole burst."""
        self._draining = False
        proc, body = self._inbox.popleft()
        try:
            if proc is not self._proc:
                return  # from a worker that is gone (its calls have failed already)
            if body is None:
                self._lost("the sync worker exited")
                return
            try:
                frame = decode_frame(body)
            except FrameError as exc:
                self._broken(proc, exc)
                return
            self._dispatch(frame)
        finally:
            self._schedule_drain()

    def _broken(self, proc: subprocess.Popen[bytes], exc: FrameError) -> None:
        log.error("sync worker %d: %s; stopping it", proc.pid, exc)
        proc.kill()
        self._lost(f"the sync worker sent an unreadable frame ({exc})")

    def _dispatch(self, frame: object) -> None:
        if isinstance(frame, Changes):
            if frame.changes:
                self._on_changes(frame.changes)
        elif isinstance(frame, Progress):
            if self._on_progress is not None:
                self._on_progress(frame.progress)
        elif isinstance(frame, Result):
            future = self._pending.get(frame.call_id)
            if future is not None and not future.done():
                future.set_result(frame.value)
        elif isinstance(frame, Failure):
            future = self._pending.get(frame.call_id)
            if future is not None and not future.done():
                future.set_exception(error_of(frame))
        elif isinstance(frame, Ready):
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(frame)
        else:
            log.error("sync worker sent an unknown frame %s; ignored", type(frame).__name__)

    def _lost(self, reason: str) -> None:
        proc, self._proc = self._proc, None
        to_child, self._to_child = self._to_child, None
        from_child, self._from_child = self._from_child, None
        if from_child is not None and not from_child.closed:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(from_child.fileno())
        for conn in (to_child, from_child):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
        if proc is not None:
            code = proc.poll()
            if code is None:
                # Exiting on its own (EOF came first) or killed: reap it without blocking the loop.
                with contextlib.suppress(RuntimeError):
                    asyncio.get_running_loop().run_in_executor(None, proc.wait)
            if not self._closed:
                log.warning("%s (pid %d, exit status %s)", reason, proc.pid, code)
                if self._on_lost is not None:
                    self._on_lost()
        self.commit_key = None
        error = WorkerLost(reason)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()  # retrieved: no one may be waiting for it
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(WorkerLost(reason))
