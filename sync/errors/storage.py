"""The local environment's errors: a data dir or cache file this machine cannot use (disk, SQLite)."""

# qutebrowser's habit (misc/sql.py): SQLite's error codes are sorted into the environment's fault (busy,
# full, I/O, read-only, damaged, cannot open) and a bug (everything else: a constraint, a syntax error, a
# misuse). The former become the errors below, raised from ``Cache.open`` and from the cache writer's
# futures; the latter stay what they are and reach the crash dialog.

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Final

from sync.errors.known import KnownError

__all__ = [
    "STORAGE_ERROR_KINDS",
    "CacheBusy",
    "CacheCorrupt",
    "CacheReadOnly",
    "DataDirUnusable",
    "DiskFull",
    "LocalStorageError",
    "StorageIOError",
    "storage_error",
]


class LocalStorageError(KnownError):
    """The data dir or the cache file in it cannot be used as it is: the machine's fault, not a bug.

    ``path`` is the file or folder concerned (str, so the error crosses the sync worker's pipe as it is);
    ``detail`` the system's own words ("database or disk is full", "Permission denied").
    """

    kind = "local_storage"
    _plain = "ConnectSafely cannot use its files on this computer."

    def __init__(self, detail: str = "", *, path: str | Path | None = None) -> None:
        self.path = "" if path is None else str(path)
        super().__init__(detail)

    def _log_text(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.kind}{where}: {self.detail}" if self.detail else f"{self.kind}{where}"

    @property
    def user_message(self) -> str:
        return self._plain.format(path=self.path or "the data folder")


class DiskFull(LocalStorageError):
    """SQLITE_FULL / ENOSPC / EDQUOT: nothing was written; the same write works once there is space."""

    kind = "disk_full"
    retryable = True
    _plain = "The disk is full: nothing could be saved to {path}. Free some space, then try again."


class CacheBusy(LocalStorageError):
    """SQLITE_BUSY / SQLITE_LOCKED past the busy timeout: another process kept the cache locked."""

    kind = "cache_busy"
    retryable = True
    _plain = "The cache {path} is busy: another ConnectSafely process holds it. Try again in a moment."


class CacheReadOnly(LocalStorageError):
    """SQLITE_READONLY / EROFS: the file system (or the file) cannot be written."""

    kind = "cache_read_only"
    _plain = "The data folder cannot be written: {path} is read-only. Make it writable, or use another."


class StorageIOError(LocalStorageError):
    """SQLITE_IOERR / EIO: the disk itself failed a read or a write."""

    kind = "storage_io"
    retryable = True
    _plain = "The disk reported an error while reading or writing {path}. Check the disk, then try again."


class DataDirUnusable(LocalStorageError):
    """The data dir is not a folder, cannot be created or entered, or a file in it cannot be opened
    (permission denied, a file where the folder should be, SQLITE_CANTOPEN / SQLITE_PERM)."""

    kind = "data_dir_unusable"
    _plain = "ConnectSafely cannot use its data folder {path}. Check that it is a folder you can write to."


class CacheCorrupt(LocalStorageError):
    """SQLITE_CORRUPT / SQLITE_NOTADB, or a file at the cache's place that is not a cache: the file is
    damaged. Nothing repairs it in place; the remedy is to move it aside (kept, never deleted) and start
    a fresh cache (``sync.cache.move_damaged_cache_aside``), which the next sync fills again."""

    kind = "cache_corrupt"
    _plain = "The cache file {path} is damaged."


# Primary result codes (the low byte of an extended code), https://sqlite.org/rescode.html
_SQLITE_PERM: Final = 3
_SQLITE_BUSY: Final = 5
_SQLITE_LOCKED: Final = 6
_SQLITE_READONLY: Final = 8
_SQLITE_IOERR: Final = 10
_SQLITE_CORRUPT: Final = 11
_SQLITE_FULL: Final = 13
_SQLITE_CANTOPEN: Final = 14
_SQLITE_PROTOCOL: Final = 15
_SQLITE_NOTADB: Final = 26

_BY_SQLITE_CODE: Final[dict[int, type[LocalStorageError]]] = {
    _SQLITE_PERM: DataDirUnusable,
    _SQLITE_BUSY: CacheBusy,
    _SQLITE_LOCKED: CacheBusy,
    _SQLITE_PROTOCOL: CacheBusy,  # a file-locking race between processes: transient like busy
    _SQLITE_READONLY: CacheReadOnly,
    _SQLITE_IOERR: StorageIOError,
    _SQLITE_CORRUPT: CacheCorrupt,
    _SQLITE_NOTADB: CacheCorrupt,
    _SQLITE_FULL: DiskFull,
    _SQLITE_CANTOPEN: DataDirUnusable,
}

_BY_ERRNO: Final[dict[int, type[LocalStorageError]]] = {
    errno.ENOSPC: DiskFull,
    errno.EDQUOT: DiskFull,
    errno.EFBIG: DiskFull,
    errno.EROFS: CacheReadOnly,
    errno.EIO: StorageIOError,
}


def storage_error(exc: BaseException, path: str | Path | None = None) -> LocalStorageError | None:
    """The known error for a failure of the cache file or the data dir, or None when it is a bug.

    ``sqlite3.Error`` is sorted by ``sqlite_errorcode`` (what SQLite said, not its wording); an
    ``OSError`` from a file operation in the data dir is always the environment's fault. A
    :class:`LocalStorageError` is returned as it is.
    """
    if isinstance(exc, LocalStorageError):
        return exc
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if not isinstance(code, int):
            return None
        cls = _BY_SQLITE_CODE.get(code & 0xFF)
        if cls is StorageIOError and path is not None and _no_space_left(Path(path)):
            # SQLite reports ENOSPC as SQLITE_FULL only from a plain write; growing the -shm or -wal
            # file on a full disk is an I/O error to it. A disk without free blocks says which it was.
            cls = DiskFull
        return None if cls is None else cls(str(exc) or type(exc).__name__, path=path)
    if isinstance(exc, OSError):
        # The file the system names is the precise one (the data dir when creating it failed).
        where = exc.filename if isinstance(exc.filename, str) and exc.filename else path
        reason = exc.strerror or str(exc) or type(exc).__name__
        return _BY_ERRNO.get(exc.errno or 0, DataDirUnusable)(reason, path=where)
    return None


STORAGE_ERROR_KINDS: Final[dict[str, type[LocalStorageError]]] = {
    cls.kind: cls
    for cls in (
        LocalStorageError,
        DiskFull,
        CacheBusy,
        CacheReadOnly,
        StorageIOError,
        DataDirUnusable,
        CacheCorrupt,
    )
}
"""The local-storage classes by ``kind``: a kind stored or passed along (a recall log row, an account's
last error) still tells the machine's failure from the server's."""


def _no_space_left(path: Path) -> bool:
    """Whether the file system holding ``path`` (or its folder) has no block left for this user."""
    for candidate in (path, path.parent):
        try:
            stats = os.statvfs(candidate)
        except OSError:
            continue
        return stats.f_bavail * stats.f_frsize < 64 * 1024
    return False
