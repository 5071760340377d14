"""The frames between the GUI process and its sync worker, their wire format and how failures cross it.

**Wire.** :class:`multiprocessing.connection.Connection`'s: a 4-byte big-endian length, then the
frame's pickle. The parent sends with :meth:`Connection.send` and the worker reads with
:meth:`Connection.recv_bytes` (:func:`receive`). The other way, the GUI-thread side, keeps two things
``Connection`` would change. The worker writes each frame whole (:func:`send_frame`): ``Connection.send``
writes a frame over 16 KiB as two writes, header then body, and each wakes the window's thread (measured:
one wake-up more per big change set, nothing gained). The parent reads with :class:`FrameReader`, on a
non-blocking pipe from ``loop.add_reader``: ``Connection.recv`` blocks until a whole frame is in, and
the worker writes a big change set in pieces from background priority, so the window's thread would wait
on the least favoured process on the machine; the parent also decodes one frame per loop callback
(:meth:`~sync.worker.proxy.SyncWorker._drain_one`), which ``recv`` (read and unpickle in one call)
cannot split. Pickle is fine here: both ends are this package, over anonymous pipes between a parent
and the child it started. The API key travels in the first frame, never on the command line.

- parent → child (its stdin): :class:`~sync.worker.proxy.WorkerConfig`, then :class:`Call` frames;
  :class:`Quit` (or EOF: the parent is gone) ends the worker.
- child → parent (a private copy of its stdout; fd 1 itself then points at stderr, so a stray print
  cannot corrupt a frame): :class:`Ready` once, then :class:`Changes`, :class:`Progress`,
  :class:`Result` and :class:`Failure` frames in the order they happen (a pass's change sets arrive
  before its result).

**Failures.** An environmental error in the worker (offline, 401, 429, 5xx, …) is raised again in the
parent as the same :class:`~sync.errors.KnownError` type with the same fields (:func:`failure_of`,
:func:`error_of`); anything else raises :class:`WorkerBug` there with the worker's traceback. A worker
that exits, crashes or sends an unreadable frame fails every pending call with :class:`WorkerLost` (a
KnownError: the watcher retries as after any failed pass) and is started again by the next call.
"""

from __future__ import annotations

import functools
import os
import pickle
import struct
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Final

from sync import errors
from sync.errors import KnownError
from sync.model import ChangeSet, RowKey, SyncProgress

PASSES: Final = frozenset({"sync_once", "reconcile_conversation", "sync_new_messages"})
"""The engine's methods a :class:`Call` may name."""
STOP_TIMEOUT_S: Final = 5.0
MAX_FRAME_BYTES: Final = 256 * 1024 * 1024
_HEADER = struct.Struct(">I")
"""``Connection``'s header (``!i``) read unsigned: its ``-1`` (an 8-byte length follows, for a frame
over 2 GiB) and every size past :data:`MAX_FRAME_BYTES` are over the limit."""
READ_CHUNK: Final = 64 * 1024
"""A pipe's buffer. Not more: ``os.read(fd, n)`` allocates ``n`` bytes first, and a block past malloc's
mmap threshold (128 KiB) is mapped and unmapped on every call, ~0.4 ms each on the GUI thread."""


# --- frames -----------------------------------------------------------------------------------------


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
        # On the wire as plain tuples of strings: unpickled as RowKeys, each would cost the GUI thread a
        # Python call to RowKey.__new__; from plain tuples they are built in C (_row_keys).
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
    return tuple(map(tuple, keys))  # type: ignore[arg-type]  # a RowKey is a (str, str, str)


_row_key: Final = functools.partial(tuple.__new__, RowKey)


def _row_keys(wire: tuple[tuple[str, str, str], ...]) -> frozenset[RowKey]:
    """Wire tuples as :class:`RowKey` s, built without a Python call per key (the window's thread decodes
    hundreds of thousands in a big sync); a key of the wrong length makes the frame unreadable."""
    if wire and set(map(len, wire)) != {3}:
        raise ValueError("a message key is not (account, conversation, message)")
    return frozenset(map(_row_key, wire))


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
            _row_keys(inserted),
            _row_keys(updated),
            _row_keys(hidden),
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


# --- writing and reading frames ---------------------------------------------------------------------


def send_frame(conn: Connection, frame: object) -> None:
    """``conn.send(frame)`` in one write, however big the frame (see the module docstring). Blocking;
    raises BrokenPipeError when the other side has gone."""
    body = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(_HEADER.pack(len(body)) + body)
    fd = conn.fileno()
    while data:
        written = os.write(fd, data)
        data = data[written:]


class FrameError(Exception):
    """A frame that cannot be read: the other side is broken, nothing it says can be trusted."""


class FrameReader:
    """Splits a byte stream of ``Connection`` frames into frames (data arrives in arbitrary pieces)."""

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


def receive(conn: Connection) -> object:
    """The next frame, blocking until it is whole. Raises EOFError at the end (the other side closed its
    end before a frame began) and :class:`FrameError` for anything unreadable."""
    try:
        body = conn.recv_bytes(MAX_FRAME_BYTES)
    except EOFError:
        raise
    except OSError as exc:  # "bad message length" (over the limit), an end of file inside a frame
        raise FrameError(f"unreadable frame: {exc}") from None
    return decode_frame(body)


# --- failures ---------------------------------------------------------------------------------------


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
