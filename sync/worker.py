"""The background sync process: the sync engine's passes, run by a child process at background priority.

**Why a process.** A sync pass is a few milliseconds of Python per page (HTTP, decoding, building the
rows, the writer's statements). On the GUI thread, or on any thread of the GUI process, that Python holds
the interpreter lock in pieces the window's timers and paints have to wait behind; and at normal
priority, on a machine with two cores, the busy sync and a busy server took the cores the window needed
when its timer fired. Measured (BENCHMARKS.md figure 3): the window's p99 event-loop lateness during a
big sync was 4–5× idle with the sync in the GUI process, whichever thread ran it; with the passes in
this process, at background priority (:mod:`sync.priority`), it is close to idle.

**Who does what.** The GUI process keeps the event stream, every action the user waits for (send,
recall, mark read, open a conversation, older history) and its own cache writer, so none of them queues
behind a sync or a background-priority process. The worker runs :class:`~sync.engine.SyncEngine` passes
on request — :meth:`SyncWorker.sync_once`, :meth:`~SyncWorker.reconcile_conversation`,
:meth:`~SyncWorker.sync_new_messages` — with its own API client (a share of the request budget) and its
own cache writer. The change sets its writer commits are sent to the parent within 50 ms, those of a
burst merged into one frame (each frame wakes the window's thread and costs it a decode and a diff), and
always before the result of the pass that wrote them; the windows apply them as they apply their own
process's writes. The parent knows the worker's commit key, so its ``PRAGMA data_version`` watch does
not take the worker's commits for another process's (which would make every window re-read everything).

**Protocol.** Frames of a 4-byte big-endian length and a pickle, on the child's stdin (parent → child)
and on a private copy of its stdout (child → parent; fd 1 itself then points at stderr, so a stray print
cannot corrupt a frame). Pickle is fine here: both ends are this module, over anonymous pipes between a
parent and the child it started. The API key travels in the first frame, never on the command line.

- parent → child: :class:`WorkerConfig`, then :class:`Call` frames; :class:`Quit` (or EOF: the parent
  is gone) ends the worker.
- child → parent: :class:`Ready` once, then :class:`Changes`, :class:`Progress`, :class:`Result` and
  :class:`Failure` frames in the order they happen (a pass's change sets arrive before its result).

**Failures.** An environmental error in the worker (offline, 401, 429, 5xx, …) is raised again in the
parent as the same :class:`~sync.errors.KnownError` type with the same fields; anything else raises
:class:`WorkerBug` there with the worker's traceback. A worker that exits, crashes or sends an unreadable
frame fails every pending call with :class:`WorkerLost` (a KnownError: the watcher retries as after any
failed pass) and is started again by the next call.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import dataclasses
import gc
import logging
import logging.handlers
import os
import pickle
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final

from sync import errors
from sync.errors import KnownError
from sync.model import ChangeSet, Conversation, RowKey, SyncProgress
from sync.pacing import RateBudget
from sync.priority import run_in_background

if TYPE_CHECKING:
    from sync.engine import SyncReport

log = logging.getLogger(__name__)

WORKER_BUDGET: Final = RateBudget(
    key_capacity=60, key_refill_per_s=0.7, write_capacity=1, write_refill_per_s=0.01
)
"""The worker's share of spec §1's key limit (it only reads): two thirds of the burst, 0.7/s sustained —
above what the poller may send (``sync.watcher.POLL_RATE_PER_S``: ~0.65/s sent; ~0.55/s measured while a
window is focused with 10 conversations in the horizon, BENCHMARKS.md figure 9), so the poller's own
bucket, not this pacer, spaces the rounds (it was 0.6/s). The GUI process keeps :data:`GUI_BUDGET`;
together they stay under the limit with the same headroom as one client alone."""
GUI_BUDGET: Final = RateBudget(key_capacity=30, key_refill_per_s=0.2)
"""The GUI process's share: the user's own actions, up to 30 at once and 12 a minute sustained (0.2/s,
it was 0.3/s: the two shares still add up to 0.9/s)."""

SEND_EVERY_S: Final = 0.05
TRIM_AFTER_S: Final = 2.0
START_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 5.0
MAX_FRAME_BYTES: Final = 256 * 1024 * 1024
_HEADER = struct.Struct(">I")
_READ_CHUNK = 64 * 1024
"""A pipe's buffer. Not more: ``os.read(fd, n)`` allocates ``n`` bytes first, and a block past malloc's
mmap threshold (128 KiB) is mapped and unmapped on every call, ~0.4 ms each on the GUI thread."""


# --- frames -----------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Call:
    call_id: int
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Ready:
    commit_key: str
    priority: str


@dataclass(frozen=True)
class Changes:
    changes: ChangeSet

    def __reduce__(self) -> tuple[Any, ...]:
        # On the wire as tuples of strings: unpickling a frozen dataclass per row key costs the GUI
        # thread twice as much as building the keys from tuples.
        c = self.changes
        wire = (
            _key_tuples(c.messages_inserted),
            _key_tuples(c.messages_updated),
            _key_tuples(c.messages_hidden),
            tuple(c.conversations_changed),
            tuple(c.accounts_changed),
            tuple(c.tombstones_added),
            c.skipped,
        )
        return (_changes_from_wire, wire)


def _key_tuples(keys: frozenset[RowKey]) -> tuple[tuple[str, str, str], ...]:
    return tuple((k.account_id, k.conversation_id, k.message_id) for k in keys)


def _changes_from_wire(
    inserted: tuple[tuple[str, str, str], ...],
    updated: tuple[tuple[str, str, str], ...],
    hidden: tuple[tuple[str, str, str], ...],
    conversations: tuple[tuple[str, str], ...],
    accounts: tuple[str, ...],
    tombstones: tuple[str, ...],
    skipped: int,
) -> Changes:
    return Changes(
        ChangeSet(
            frozenset([RowKey(*k) for k in inserted]),
            frozenset([RowKey(*k) for k in updated]),
            frozenset([RowKey(*k) for k in hidden]),
            frozenset(conversations),
            frozenset(accounts),
            frozenset(tombstones),
            skipped,
        )
    )


@dataclass(frozen=True)
class Progress:
    progress: SyncProgress


@dataclass(frozen=True)
class Result:
    call_id: int
    value: Any


@dataclass(frozen=True)
class Failure:
    call_id: int
    error_type: str
    """A :mod:`sync.errors` class name for a known error, else the exception's qualified name."""
    fields: dict[str, Any]
    """A known error's attributes (detail, status, code, …); empty for a bug."""
    text: str
    """The log text of a known error; the traceback of a bug."""


def encode_frame(frame: object) -> bytes:
    body = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


class FrameError(Exception):
    """A frame that cannot be read: the other side is broken, nothing it says can be trusted."""


class FrameReader:
    """Splits a byte stream into frames (data arrives in arbitrary pieces)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def split(self, data: bytes) -> list[bytes]:
        """The whole frames' bodies so far, not decoded (see :func:`decode_frame`)."""
        self._buffer += data
        bodies: list[bytes] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if size > MAX_FRAME_BYTES:
                raise FrameError(f"a frame of {size} bytes is over the limit")
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            bodies.append(bytes(self._buffer[_HEADER.size : end]))
            del self._buffer[:end]
        return bodies

    def feed(self, data: bytes) -> list[object]:
        """The whole frames so far, decoded."""
        return [decode_frame(body) for body in self.split(data)]

    @property
    def pending(self) -> int:
        return len(self._buffer)


def decode_frame(body: bytes) -> object:
    try:
        return pickle.loads(body)  # noqa: S301 - our own child or parent, over a private pipe
    except Exception as exc:
        raise FrameError(f"unreadable frame: {type(exc).__name__}: {exc}") from None


def failure_of(call_id: int, exc: BaseException) -> Failure:
    if isinstance(exc, KnownError) and getattr(errors, type(exc).__name__, None) is type(exc):
        return Failure(call_id, type(exc).__name__, dict(vars(exc)), str(exc))
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Failure(call_id, f"{type(exc).__module__}.{type(exc).__qualname__}", {}, text)


def error_of(failure: Failure) -> BaseException:
    """The parent's exception for a worker's :class:`Failure` (see the module docstring)."""
    cls = getattr(errors, failure.error_type, None)
    if isinstance(cls, type) and issubclass(cls, KnownError):
        error = cls.__new__(cls)
        vars(error).update(failure.fields)
        error.args = (failure.text,)
        return error
    return WorkerBug(f"the sync worker failed: {failure.error_type}\n{failure.text}")


class WorkerLost(KnownError):
    """The sync worker exited, crashed or spoke nonsense; the next pass starts a new one."""

    kind = "worker_lost"
    retryable = True
    _plain = "The background sync stopped unexpectedly; it starts again with the next sync."


class WorkerBug(RuntimeError):
    """A bug in the worker (an exception that is not a known error); carries its traceback."""


# --- the parent's side ------------------------------------------------------------------------------


ChangesCallback = Callable[[ChangeSet], None]
ProgressCallback = Callable[[SyncProgress], None]


class SyncWorker:
    """The parent's handle on the sync worker process: the engine's passes as awaitables.

    Started by the first call; calls may overlap (each runs as its own task in the worker, as they
    would on one engine in process). Callbacks run on the parent's event loop, in frame order.
    """

    PASSES: ClassVar[frozenset[str]] = frozenset({"sync_once", "reconcile_conversation", "sync_new_messages"})

    def __init__(
        self,
        config: WorkerConfig,
        *,
        on_changes: ChangesCallback,
        on_progress: ProgressCallback | None = None,
        on_lost: Callable[[], None] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        command: list[str] | None = None,
    ) -> None:
        self.config = config
        self._on_changes = on_changes
        self._on_progress = on_progress
        self._on_lost = on_lost
        """Called when a running worker is lost: it may have committed writes whose change sets never
        arrived, so whatever shows the cache should re-read it."""
        self._start_timeout_s = start_timeout_s
        self._command = command or [sys.executable, "-m", "sync.worker"]
        self._proc: subprocess.Popen[bytes] | None = None
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

    async def start(self) -> None:
        """Start the worker unless it runs; returns once it is ready. Raises :class:`WorkerLost`."""
        async with self._start_lock:
            if self._closed:
                raise WorkerLost("the sync worker is closed")
            if self.running and self._ready is not None and self._ready.done():
                return
            if self._proc is not None:
                self._lost("the sync worker exited")  # its end of output may not have been read yet
            await self._spawn()

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

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        self._reader = FrameReader()
        self._ready = loop.create_future()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Popen, not asyncio's subprocess API: that needs a child watcher qasync does not promise, and a
        # spawn (vfork + exec) is a few milliseconds.
        proc = subprocess.Popen(  # noqa: S603, ASYNC220 - our own interpreter and module, no shell
            self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True
        )
        if proc.stdin is None or proc.stdout is None:  # pragma: no cover - PIPE always gives both
            raise RuntimeError("the sync worker has no pipes")
        self._proc = proc
        self.starts += 1
        os.set_blocking(proc.stdout.fileno(), False)
        loop.add_reader(proc.stdout.fileno(), self._on_readable, proc)
        try:
            self._send(self.config)
            async with asyncio.timeout(self._start_timeout_s):
                ready = await self._ready
        except TimeoutError:
            self._lost("the sync worker did not start in time")
            proc.kill()
            raise WorkerLost("the sync worker did not start in time") from None
        except OSError as exc:
            self._lost(f"the sync worker could not be told its configuration: {exc}")
            raise WorkerLost(f"the sync worker did not start: {exc}") from None
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
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise BrokenPipeError("no sync worker")
        data = encode_frame(frame)
        # Frames to the worker are small (a config, a call): a blocking write never waits here.
        proc.stdin.write(data)
        proc.stdin.flush()

    def _on_readable(self, proc: subprocess.Popen[bytes]) -> None:
        if proc is not self._proc or proc.stdout is None or proc.stdout.closed:
            return  # a worker already given up (_lost removed its reader)
        fd = proc.stdout.fileno()
        eof = False
        try:
            while True:
                try:
                    chunk = os.read(fd, _READ_CHUNK)
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
        if proc is not None:
            if proc.stdout is not None:
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().remove_reader(proc.stdout.fileno())
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
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
            self._ready.exception()  # retrieved: _spawn may be gone already
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(WorkerLost(reason))


# --- the worker's side ------------------------------------------------------------------------------


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


def _read_exactly(fd: int, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError("the parent closed the pipe")
        data += chunk
    return bytes(data)


def _read_config(fd: int) -> WorkerConfig:
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise FrameError(f"a frame of {size} bytes is over the limit")
    try:
        config = pickle.loads(_read_exactly(fd, size))  # noqa: S301 - from the parent that started us
    except EOFError:
        raise
    except Exception as exc:
        raise FrameError(f"unreadable frame: {type(exc).__name__}: {exc}") from None
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

    def __init__(self, config: WorkerConfig, out_fd: int) -> None:
        self.config = config
        self._out_fd = out_fd
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._reader = FrameReader()
        self._parent_gone = False
        self._unsent = ChangeSet()
        self._send_timer: asyncio.TimerHandle | None = None
        self._trim_timer: asyncio.TimerHandle | None = None

    def send(self, frame: object) -> None:
        """Write a frame to the parent (blocking: a parent busy painting slows the sync down, which is
        the right way round). A parent that has gone away stops the worker."""
        if self._parent_gone:
            return
        data = memoryview(encode_frame(frame))
        try:
            while data:
                written = os.write(self._out_fd, data)
                data = data[written:]
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
        """Merge change sets for up to :data:`SEND_EVERY_S` and send them as one frame: each frame wakes
        the window's thread and costs it a decode and a diff, and a burst of pages needs one."""
        self._unsent = self._unsent.merged(changes)
        if self._send_timer is None:
            self._send_timer = asyncio.get_running_loop().call_later(SEND_EVERY_S, self.send_changes)

    def send_changes(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        if self._unsent:
            changes, self._unsent = self._unsent, ChangeSet()
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
        os.set_blocking(0, False)
        loop.add_reader(0, self._on_readable)
        self.send(Ready(cache.writer.commit_key, priority))
        try:
            await self._stop.wait()
        finally:
            loop.remove_reader(0)
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            self.send_changes()  # what was written before the stop (a no-op when the parent is gone)
            await api.aclose()
            unsubscribe()
            await asyncio.to_thread(cache.close)

    def _on_readable(self) -> None:
        try:
            while True:
                try:
                    chunk = os.read(0, _READ_CHUNK)
                except BlockingIOError:
                    return
                if not chunk:
                    self._stop.set()  # the parent is gone, or closed the pipe: stop
                    return
                for frame in self._reader.feed(chunk):
                    self._take(frame)
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
            if call.method not in SyncWorker.PASSES:
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
    """The worker process (``python -m sync.worker``, started by :class:`SyncWorker`)."""
    out_fd = os.dup(1)
    os.dup2(2, 1)  # a stray print goes to stderr, not into a frame
    try:
        config = _read_config(0)
    except (EOFError, FrameError, struct.error) as exc:
        print(f"sync-worker: no configuration: {exc}", file=sys.stderr)
        return 2
    _configure_logging(config)
    priority = run_in_background()
    started = time.monotonic()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_Worker(config, out_fd).serve(priority))
    log.info("stopped after %.0f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    # Through the imported module, not this ``__main__`` copy: the frames are its classes.
    from sync import worker

    sys.exit(worker.main())
