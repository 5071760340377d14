"""Opening the cache file: pragmas, the schema version, migrations and the lock that guards them.

One cache file per service identity (``cache_path``). Every process that has the file open holds a
shared ``flock`` on ``<file>.lock``; a migration needs it exclusively, so it refuses to run
while another process has the cache open (ARCHITECTURE.md §4). SQLite's own
``BEGIN EXCLUSIVE`` cannot do that job: in WAL mode it does not keep readers out.

A file that cannot be opened raises a :class:`sync.errors.LocalStorageError` (busy, full, read-only,
damaged, data dir unusable) or a :class:`CacheError` (too new, in use): the environment's fault, never a
traceback. A damaged file is never repaired or deleted here: :func:`move_damaged_cache_aside` renames it
(and its ``-wal``/``-shm``) aside after exporting what it can of the recall log, so a fresh cache can
start. A corruption found after opening (a read that hits a bad page) leaves a ``.suspect`` marker
(:func:`note_damage`); the next open then runs ``PRAGMA quick_check`` before trusting the file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import peewee

from sync.cache import schema
from sync.errors import CacheBusy, CacheCorrupt, LocalStorageError, storage_error

try:  # POSIX only; elsewhere the "another process has it open" check is skipped.
    import fcntl
except ImportError:  # pragma: no cover - not on the supported platforms
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "BUSY_TIMEOUT_S",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CacheClosed",
    "CacheDatabase",
    "CacheError",
    "CacheInUse",
    "CacheSchemaTooNew",
    "Migration",
    "MovedAside",
    "cache_path",
    "move_damaged_cache_aside",
    "note_damage",
    "open_database",
    "storage_error_of",
]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S: Final = 10.0
"""How long a connection waits for another process's write transaction before giving up."""

Migration = Callable[[sqlite3.Connection], None]
"""One step: brings the schema from version ``n - 1`` to ``n`` inside an open transaction."""

MIGRATIONS: Final[Mapping[int, Migration]] = {
    1: schema.create_v1,
    2: schema.add_messages_behind_v2,
    3: schema.recall_states_v3,
    4: schema.message_search_v4,
    5: schema.local_state_v5,
}
SCHEMA_VERSION: Final = max(MIGRATIONS)


class CacheError(LocalStorageError):
    """The cache file cannot be used by this app as it is (too new, in use): a known error whose text is
    the whole sentence for the user."""

    kind = "cache_unusable"

    @property
    def user_message(self) -> str:
        return self.detail


class CacheSchemaTooNew(CacheError):
    def __init__(self, path: Path, found: int, supported: int) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            f"the cache {path} has schema version {found}, newer than version {supported} that this "
            f"version of the app understands; use a newer app or another data dir",
            path=path,
        )


class CacheInUse(CacheError):
    """A migration is due (or running elsewhere) while another process has the cache open."""

    kind = "cache_in_use"
    retryable = True

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"the cache {path} {detail}; close the other windows or sync processes and try again", path=path
        )


class CacheClosed(RuntimeError):
    """A write was submitted after the cache was closed: the caller's bug, not the environment's."""


def cache_path(data_dir: str | os.PathLike[str], identity: str) -> Path:
    """The cache file of one service identity inside a data dir (``cache-<sha256 prefix>.sqlite``), so two
    services never mix. The identity is ``desktop.backend.Backend.cache_identity`` (the data dir's sandbox by
    its stable id, another server by its URL and key fingerprint); only its hash is in the name."""
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12]
    return Path(data_dir) / f"cache-{digest}.sqlite"


def _pragmas(busy_timeout_s: float) -> list[tuple[str, Any]]:
    # journal_mode is not here: WAL is a property of the file, set once by _ensure_wal. Switching it
    # needs the file to itself and SQLite answers "database is locked" at once, without waiting,
    # so a per-connection pragma fails when two processes open a new cache together.
    return [
        ("foreign_keys", 1),
        ("synchronous", "normal"),
        # sqlite3's ``timeout`` sets this too; stated again so it survives a driver change.
        ("busy_timeout", int(busy_timeout_s * 1000)),
    ]


WRITER_CACHE_KIB: Final = 64 * 1024
"""The writer connection's page cache while it writes (readers keep SQLite's default 2 MiB). A first
sync inserts into random-order indexes far bigger than 2 MiB: a cache that holds their hot pages saves
re-reading and re-spilling them. Given back when the writer goes idle (:meth:`CacheDatabase.writer_idle`).
"""


WAL_SIZE_LIMIT_BYTES: Final = 16 * 1024 * 1024
"""The WAL file is cut back to this size when the writer starts it over after a checkpoint."""


def _writer_pragmas() -> list[tuple[str, Any]]:
    # Only what trades memory for speed: durability (synchronous, WAL), foreign keys and triggers
    # stay as every connection has them. SQLite's automatic checkpoint runs inside the COMMIT that
    # crosses its threshold, copying the WAL back and syncing the file (10-20 ms here) before that
    # write's caller hears back: a recall's tombstone could wait for it. The writer thread checkpoints
    # between writes instead (CacheWriter._checkpoint_between_writes).
    # With checkpoints spaced by time the WAL can grow past SQLite's usual few MiB during a first
    # sync: journal_size_limit gives the space back when the WAL starts over.
    return [
        ("cache_size", -WRITER_CACHE_KIB),
        ("wal_autocheckpoint", 0),
        ("journal_size_limit", WAL_SIZE_LIMIT_BYTES),
    ]


class CacheDatabase:
    """An open cache file: a peewee database (one SQLite connection per thread) and the shared lock.

    ``connection()`` gives the calling thread's own raw ``sqlite3.Connection`` (peewee keeps
    connection state in a ``threading.local``), so readers on any thread never share a
    connection with the writer thread.
    """

    def __init__(self, path: Path, db: peewee.SqliteDatabase, lock_file: IO[bytes] | None) -> None:
        self.path = path
        self.peewee = db
        self._lock_file = lock_file
        self._tuned: sqlite3.Connection | None = None
        """The writer thread's connection once :meth:`tune_writer` set its pragmas."""

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = self.peewee.connection()  # type: ignore[no-untyped-call]
        return conn

    def write_transaction(self) -> contextlib.AbstractContextManager[object]:
        """``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails at once with
        "database is locked" when another process committed in between, busy timeout or not."""
        return self.peewee.atomic("IMMEDIATE")

    def tune_writer(self) -> sqlite3.Connection:
        """The calling (writer) thread's connection, with the writer's pragmas (set once per connection)."""
        conn = self.connection()
        if conn is not self._tuned:
            for name, value in _writer_pragmas():
                conn.execute(f"PRAGMA {name} = {value}")
            self._tuned = conn
        return conn

    def writer_idle(self) -> None:
        """The writer has nothing queued: free its page cache beyond what it holds pinned."""
        if not self.peewee.is_closed() and self._tuned is self.connection():
            self._tuned.execute("PRAGMA shrink_memory")

    def checkpoint(self) -> bool:
        """On the writer thread, between writes: a PASSIVE checkpoint (it never waits for readers;
        what they still use is copied next time). False when this connection still checkpoints on its
        own (its pragmas are not set yet)."""
        if self.peewee.is_closed() or self._tuned is None or self._tuned is not self.connection():
            return False
        self._tuned.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        return True

    def close_thread_connection(self) -> None:
        """Close the calling thread's connection (each thread that read or wrote has one)."""
        if not self.peewee.is_closed():
            self.peewee.close()

    def close(self) -> None:
        self.close_thread_connection()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the shared flock
            self._lock_file = None


def _private(path: Path) -> None:
    """Create ``path`` owner-only if it does not exist: the cache holds private messages. SQLite gives
    its ``-wal`` and ``-shm`` files the permissions of the database file."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _connect(path: Path, busy_timeout_s: float) -> peewee.SqliteDatabase:
    return peewee.SqliteDatabase(str(path), pragmas=_pragmas(busy_timeout_s), timeout=busy_timeout_s)


def _ensure_wal(conn: sqlite3.Connection, path: Path, wait_s: float) -> None:
    """Put the file in WAL mode (persistent), retrying while another opener holds it briefly."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            if conn.execute("PRAGMA journal_mode = wal").fetchone()[0] == "wal":
                return
            raise CacheError(f"{path}: SQLite refused WAL mode (is the file on a network file system?)")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _flock(lock_file: IO[bytes], mode: int, wait_s: float, stop: Callable[[], bool] | None = None) -> bool:
    """Take ``mode`` on the lock file, polling for up to ``wait_s`` or until ``stop()``; False when
    it stays taken."""
    if fcntl is None:  # pragma: no cover - not POSIX (the import fallback above sets None)
        return True  # type: ignore[unreachable]
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(lock_file.fileno(), mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline or (stop is not None and stop()):
                return False
            time.sleep(0.01)


@contextlib.contextmanager
def _exclusive(lock_file: IO[bytes] | None, wait_s: float, stop: Callable[[], bool]) -> Iterator[bool]:
    """Hold the lock file exclusively (nobody else has the cache open); back to shared afterwards.

    Waits up to ``wait_s``, or until ``stop()`` says waiting is pointless (another opener did the work).
    """
    if lock_file is None or fcntl is None:  # pragma: no cover
        yield True
        return
    # flock cannot upgrade atomically; drop to unlocked first so two openers cannot deadlock.
    fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
    got = _flock(lock_file, fcntl.LOCK_EX, wait_s, stop)
    try:
        yield got
    finally:
        if not _flock(lock_file, fcntl.LOCK_SH, BUSY_TIMEOUT_S):
            log.warning("cache %s: could not take the shared lock back", lock_file.name)


def _backup(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    target = path.with_name(f"{path.name}.v{version}.bak")
    _private(target)
    with contextlib.closing(sqlite3.connect(target)) as dest:
        conn.backup(dest)  # consistent copy, WAL content included
    log.info("cache %s: backed up schema v%d to %s", path, version, target)
    return target


def _migrate(db: peewee.SqliteDatabase, path: Path, migrations: Mapping[int, Migration], target: int) -> None:
    conn: sqlite3.Connection = db.connection()  # type: ignore[no-untyped-call]
    found = _user_version(conn)
    if found >= target:
        return  # another process migrated while we waited for the lock
    if found == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()
        if tables[0]:
            raise CacheCorrupt(
                "an SQLite file with tables but no schema version: not a cache file", path=path
            )
    else:
        _backup(conn, path, found)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        for version in range(found + 1, target + 1):
            migrations[version](conn)
            log.info("cache %s: migrated to schema v%d", path, version)
        conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def open_database(
    path: str | os.PathLike[str],
    *,
    migrations: Mapping[int, Migration] | None = None,
    busy_timeout_s: float = BUSY_TIMEOUT_S,
    migration_wait_s: float = 2.0,
) -> CacheDatabase:
    """Open (creating or migrating) the cache file at ``path``.

    Raises :class:`CacheSchemaTooNew` for a file written by a newer app and :class:`CacheInUse`
    when an upgrade is due but another process has the file open. ``migrations`` is the step
    registry (version → step); the default is this app's, tests pass an extended one.
    """
    steps = MIGRATIONS if migrations is None else migrations
    target = max(steps)
    missing = [v for v in range(1, target + 1) if v not in steps]
    if missing:
        raise ValueError(f"migration steps missing for versions {missing}")
    file = Path(path)
    try:
        return _open(file, steps, target, busy_timeout_s, migration_wait_s)
    except LocalStorageError:
        raise
    except (sqlite3.Error, peewee.DatabaseError, OSError) as exc:
        known = storage_error_of(exc, file)
        if known is None:
            raise
        raise known from exc


def _open(
    file: Path, steps: Mapping[int, Migration], target: int, busy_timeout_s: float, migration_wait_s: float
) -> CacheDatabase:
    file.parent.mkdir(parents=True, exist_ok=True)
    lock_file: IO[bytes] | None = None
    if fcntl is not None:
        lock_path = file.with_name(file.name + ".lock")
        _private(lock_path)
        lock_file = open(lock_path, "a+b")  # noqa: SIM115 - held while the cache is open
        if not _flock(lock_file, fcntl.LOCK_SH, migration_wait_s):
            lock_file.close()
            raise CacheInUse(file, "is being upgraded by another process")
    _private(file)
    db = _connect(file, busy_timeout_s)
    try:
        conn: sqlite3.Connection = db.connection()  # type: ignore[no-untyped-call]
        _ensure_wal(conn, file, busy_timeout_s)
        # Reads page 1 and the whole schema: a file of garbage, a truncated one or a damaged schema
        # fails here (SQLITE_NOTADB / SQLITE_CORRUPT), not in the middle of the first page of the inbox.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        _check_if_suspect(conn, file)
        found = _user_version(conn)
        if found > target:
            raise CacheSchemaTooNew(file, found, target)
        if found < target:
            with _exclusive(lock_file, migration_wait_s, stop=lambda: _user_version(conn) >= target) as got:
                if not got:
                    if _user_version(conn) == target:  # another opener migrated while we waited
                        return CacheDatabase(file, db, lock_file)
                    detail = f"must be upgraded from schema version {found} to {target}"
                    raise CacheInUse(file, detail + ", but another process has it open")
                _migrate(db, file, steps, target)
        return CacheDatabase(file, db, lock_file)
    except BaseException:
        if not db.is_closed():
            db.close()
        if lock_file is not None:
            lock_file.close()
        raise


# --- damage: recognised, remembered, moved aside ----------------------------------------------------

SUSPECT_SUFFIX: Final = ".suspect"
"""``<cache>.suspect``: a read or write hit a damaged page; the next open checks the whole file."""


def storage_error_of(exc: BaseException, path: str | os.PathLike[str] | None) -> LocalStorageError | None:
    """:func:`sync.errors.storage_error` for an error peewee may have wrapped around SQLite's own."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        known = storage_error(current, None if path is None else Path(path))
        if known is not None:
            return known
        inner = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = inner or current.__cause__ or current.__context__
    return None


def note_damage(path: str | os.PathLike[str]) -> None:
    """Remember that the cache at ``path`` hit a damaged page (best effort: the disk may be the problem)."""
    marker = Path(path).with_name(Path(path).name + SUSPECT_SUFFIX)
    try:
        _private(marker)
    except OSError as exc:
        log.warning("cache %s: could not note the damage: %s", path, exc)


def _check_if_suspect(conn: sqlite3.Connection, path: Path) -> None:
    marker = path.with_name(path.name + SUSPECT_SUFFIX)
    if not marker.exists():
        return
    # Only when there is a reason: quick_check reads every page (seconds for a big cache).
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:  # damage bad enough that the check itself cannot walk the file
        raise CacheCorrupt(f"the integrity check failed: {exc}", path=path) from exc
    if rows != [("ok",)]:
        lines = [line for row in rows for line in str(row[0]).splitlines() if not line.startswith("***")]
        first = lines[0][:200] if lines else "no detail"
        raise CacheCorrupt(
            f"the integrity check failed ({len(lines)} problems; the first: {first})", path=path
        )
    log.info("cache %s: the integrity check found nothing wrong", path)
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()


@dataclass(frozen=True, slots=True)
class MovedAside:
    """What :func:`move_damaged_cache_aside` did."""

    moved: tuple[Path, ...]
    """The new names of the damaged file and of its ``-wal`` and ``-shm`` where they existed."""
    recall_log_csv: Path | None
    """The recall log exported as CSV next to them, or None when it could not be read."""
    recall_log_rows: int
    why_no_csv: str = ""


def move_damaged_cache_aside(path: str | os.PathLike[str], *, wait_s: float = 2.0) -> MovedAside:
    """Rename the damaged cache ``path`` and its ``-wal``/``-shm`` aside (never delete), after exporting its
    recall log as CSV when it can still be read. The next :meth:`Cache.open` starts a fresh file.

    Refused with :class:`sync.errors.CacheBusy` while another process has the cache open (its shared lock
    is held): renaming a file under an open connection would split the cache in two.
    """
    file = Path(path)
    lock_path = file.with_name(file.name + ".lock")
    _private(lock_path)
    with open(lock_path, "a+b") as lock_file:
        if fcntl is not None and not _flock(lock_file, fcntl.LOCK_EX, wait_s):
            raise CacheBusy("another process has the cache open: close it first", path=file)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = file.with_name(f"{file.name}.damaged-{stamp}")
        serial = 1
        while any(base.with_name(base.name + s).exists() for s in ("", "-wal", "-shm", ".recall-log.csv")):
            serial += 1
            base = file.with_name(f"{file.name}.damaged-{stamp}-{serial}")
        export = base.with_name(base.name + ".recall-log.csv")
        csv_path: Path | None = export
        rows, why = 0, ""
        try:
            rows = _export_recall_log(file, export)
        except (sqlite3.Error, OSError, UnicodeError) as exc:
            why = str(exc) or type(exc).__name__
            log.warning("cache %s: the recall log could not be exported: %s", file, why)
            with contextlib.suppress(OSError):
                export.unlink()
            csv_path = None
        moved = []
        for suffix in ("", "-wal", "-shm"):
            source = file.with_name(file.name + suffix)
            if source.exists():
                target = base.with_name(base.name + suffix)
                os.rename(source, target)
                moved.append(target)
        with contextlib.suppress(FileNotFoundError):
            file.with_name(file.name + SUSPECT_SUFFIX).unlink()
    log.warning("cache %s: moved aside as %s (recall log: %s)", file, base.name, csv_path or why)
    return MovedAside(tuple(moved), csv_path, rows, why)


def _export_recall_log(file: Path, target: Path) -> int:
    """Every row of the damaged file's recall log as CSV; the file itself is only read."""
    uri = f"{file.resolve().as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1.0)) as conn:
        # A truncated file is "malformed" to SQLite before any table is read (its header promises more
        # pages than the file has); with writable_schema it reads what is still there. The connection is
        # read-only, so nothing is written.
        conn.execute("PRAGMA writable_schema = ON")
        cursor = conn.execute("SELECT * FROM recall_log ORDER BY id")
        header = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    _private(target)
    with open(target, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)
