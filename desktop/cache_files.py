"""Earlier versions' caches of the embedded sandbox: adopted or cleaned once, at start.

Until issue 16 a cache file was named after the hash of its base URL, and the data dir's sandbox comes back
on a new port at every start: one more ``cache-<hash>.sqlite`` per start, each starting empty. The cache is
now the sandbox's own (``Backend.cache_identity``). When that cache does not exist yet, the files an earlier
version left for the sandbox's ports — recognised by their names: the hash of
``http://127.0.0.1:<port>/linkedin`` for some port, where the embedded sandbox always listened — are dealt
with once: the newest becomes the sandbox's cache (its recall log with it), the others are deleted. Nothing
else is touched: a real service's cache (whatever its key), damaged files moved aside, their CSV exports.

A file another process still has open (its shared ``flock`` on ``<file>.lock``, as every opener holds) is
left alone. Two processes starting together serialise on ``<data dir>/cache-adoption.lock``. Adoption is
best effort: a failure is logged and the app goes on with a fresh cache.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

try:  # POSIX only, like the cache's own lock
    import fcntl
except ImportError:  # pragma: no cover - not on the supported platforms
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LEGACY_NAME: Final = re.compile(r"cache-([0-9a-f]{12})\.sqlite")
LEGACY_SANDBOX_URL: Final = "http://127.0.0.1:{port}/linkedin"
"""The embedded sandbox's base URL in every earlier version (``--port 0`` on loopback)."""
ADOPTION_LOCK: Final = "cache-adoption.lock"
MOVED_SUFFIXES: Final = ("", "-wal", ".suspect")
"""What moves with an adopted file. The main file first: a crash after it leaves a consistent file at its
last checkpoint. ``-shm`` is rebuilt by SQLite from the WAL, so it is deleted instead."""
DELETED_SUFFIXES: Final = ("", "-wal", "-shm", ".suspect")


@dataclass(frozen=True, slots=True)
class Adoption:
    """What :func:`adopt_legacy_sandbox_caches` did."""

    adopted: Path | None
    """The earlier file that became the sandbox's cache (its old name), or None."""
    deleted: tuple[Path, ...]
    kept_in_use: tuple[Path, ...]
    """Earlier sandbox caches left alone because another process has them open."""


@functools.cache
def _sandbox_port_digests() -> frozenset[str]:
    """The 12-hex name of the cache of every loopback sandbox port (~80 ms: computed only when an unknown
    name is there and the sandbox's cache is not, i.e. once per data dir)."""
    return frozenset(
        hashlib.sha256(LEGACY_SANDBOX_URL.format(port=port).encode("utf-8")).hexdigest()[:12]
        for port in range(1, 65536)
    )


def legacy_sandbox_caches(data: Path, target: Path) -> list[Path]:
    """The cache files an earlier version named after one of the sandbox's ports (``target`` excluded)."""
    names = []
    for path in data.glob("cache-*.sqlite"):
        match = LEGACY_NAME.fullmatch(path.name)
        if match is not None and path.name != target.name:
            names.append((match.group(1), path))
    if not names:
        return []
    digests = _sandbox_port_digests()
    return sorted(path for digest, path in names if digest in digests)


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _newest_change(path: Path) -> float:
    """When the cache last changed: its main file or its WAL, whichever is later."""
    times = []
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            times.append(_sibling(path, suffix).stat().st_mtime)
    return max(times, default=0.0)


@contextlib.contextmanager
def _locked(path: Path, *, wait: bool) -> Iterator[IO[bytes] | None]:
    """Hold ``path`` exclusively (created 0600 if missing); None when ``wait`` is False and it is taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+b") as lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield None
                return
        yield lock


def adopt_legacy_sandbox_caches(data: Path, target: Path) -> Adoption | None:
    """When ``target`` (the data dir's sandbox's cache) does not exist yet, adopt the newest earlier
    per-port sandbox cache as it and delete the other ones; None when there was nothing to do."""
    if target.exists() or not legacy_sandbox_caches(data, target):
        return None
    try:
        with _locked(data / ADOPTION_LOCK, wait=True):
            if target.exists():  # another process adopted while this one waited
                return None
            return _adopt(data, target)
    except OSError as exc:
        log.warning("earlier caches of the sandbox could not be adopted: %s", exc)
        return None


def _adopt(data: Path, target: Path) -> Adoption:
    with contextlib.ExitStack() as held:
        free: list[Path] = []
        busy: list[Path] = []
        for path in legacy_sandbox_caches(data, target):
            lock = held.enter_context(_locked(_sibling(path, ".lock"), wait=False))
            (free if lock is not None else busy).append(path)
        free.sort(key=_newest_change, reverse=True)
        adopted = free[0] if free else None
        if adopted is not None:
            for suffix in MOVED_SUFFIXES:
                source = _sibling(adopted, suffix)
                if source.exists():
                    os.rename(source, _sibling(target, suffix))
            with contextlib.suppress(FileNotFoundError):
                _sibling(adopted, "-shm").unlink()
        deleted = []
        for path in free[1:]:
            for suffix in DELETED_SUFFIXES:
                with contextlib.suppress(FileNotFoundError):
                    _sibling(path, suffix).unlink()
            deleted.append(path)
        for path in free:  # the lock files last, while still held: nobody opens them meanwhile
            with contextlib.suppress(FileNotFoundError):
                _sibling(path, ".lock").unlink()
    if adopted is not None:
        log.info("cache: adopted %s (an earlier version's sandbox cache) as %s", adopted.name, target.name)
    if deleted:
        log.info("cache: deleted %d older caches of the sandbox's earlier ports", len(deleted))
    if busy:
        log.info("cache: %d earlier caches of the sandbox are open in another process: left", len(busy))
    return Adoption(adopted, tuple(deleted), tuple(busy))
