"""The cache on a broken machine: damaged files, read-only and unwritable folders, full and busy disks.

Every case is real: a truncated or scribbled-on file, a read-only bind mount, a tmpfs that fills up, a
folder whose mode bits apply (tests/fixtures/hostile_disk.py says how, as root too), SQLite's own
``max_page_count`` for a write that runs out of room in this process. Each must end in a known
:class:`sync.errors.LocalStorageError`, never in a raw ``sqlite3`` error or a dead writer thread.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sync.cache import Cache, move_damaged_cache_aside, note_damage
from sync.cache.db import SUSPECT_SUFFIX
from sync.errors import (
    CacheBusy,
    CacheCorrupt,
    CacheReadOnly,
    DataDirUnusable,
    DiskFull,
    KnownError,
    LocalStorageError,
    storage_error,
)
from tests.fixtures.hostile_disk import as_nobody, read_only, tiny_disk
from tests.sync.cache.helpers import ACCOUNT_A, ACCOUNTS, conv_urn, message_token, msg, msg_urn

ROOT = Path(__file__).resolve().parents[3]
URL = "http://127.0.0.1:9/linkedin"

# A child process that opens (and optionally writes to) a cache and says what happened, as JSON.
_PROBE = textwrap.dedent(
    """
    import json, sys
    from sync.cache import Cache
    from sync.errors import LocalStorageError
    from tests.sync.cache.helpers import ACCOUNTS
    try:
        with Cache.open(sys.argv[1], sys.argv[2]) as cache:
            cache.writer.upsert_accounts(ACCOUNTS).result()
        print(json.dumps({"ok": True}))
    except LocalStorageError as exc:
        print(json.dumps({"error": type(exc).__name__, "path": exc.path, "detail": exc.detail,
                          "message": exc.user_message}))
    """
)


def probe(runner: Any) -> dict[str, Any]:
    """Run :data:`_PROBE` through ``runner(argv, **kwargs)`` (a hostile_disk helper; it adds the probe's
    arguments) and decode its answer."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", _PROBE]
    result = runner(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert result.stdout.strip(), result.stderr
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert "Traceback" not in result.stderr, result.stderr
    return answer


def filled_cache(path: Path, *, recalls: int = 0, messages: int = 3000) -> None:
    """A real cache with ``recalls`` recall-log rows written first (low pages), then many messages."""
    with Cache.open_file(path) as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result()
        for n in range(recalls):
            cache.writer.begin_recall(
                ACCOUNT_A, conv_urn(ACCOUNT_A, 1), msg_urn(ACCOUNT_A, message_token(n))
            ).result()
        items = [
            msg(ACCOUNT_A, n % 10, message_token(100 + n), 1_000 + n, text="x" * 300) for n in range(messages)
        ]
        cache.writer.upsert_messages(items).result()


def truncate_to_half(path: Path) -> None:
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size // 2)


# --- opening -----------------------------------------------------------------------------------------


def test_a_truncated_cache_is_damaged_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    filled_cache(path)
    truncate_to_half(path)
    before = path.read_bytes()

    with pytest.raises(CacheCorrupt) as caught:
        Cache.open_file(path)

    assert caught.value.path == str(path)
    assert "malformed" in caught.value.detail
    assert caught.value.__cause__ is not None  # SQLite's own error, kept for the log
    assert path.read_bytes() == before  # never repaired in place


def test_a_data_dir_that_is_a_file_is_unusable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("I am a file")

    with pytest.raises(DataDirUnusable) as caught:
        Cache.open(data, URL)

    assert caught.value.path == str(data)
    assert data.read_text() == "I am a file"


def test_a_read_only_data_dir_with_a_cache_in_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Cache.open(data, URL).close()

    answer = probe(lambda argv, **kw: read_only(data, [*argv, str(data), URL], **kw))

    assert answer["error"] == "CacheReadOnly", answer
    assert "Read-only file system" in answer["detail"]
    assert answer["path"].startswith(str(data))


def test_a_read_only_empty_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()

    answer = probe(lambda argv, **kw: read_only(data, [*argv, str(data), URL], **kw))

    assert answer["error"] == "CacheReadOnly", answer
    assert not list(data.iterdir())


def test_a_data_dir_this_user_may_not_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o500)
    data.chmod(0o500)

    answer = probe(lambda argv, **kw: as_nobody([*argv, str(data), URL], **kw))

    assert answer["error"] == "DataDirUnusable", answer
    assert "Permission denied" in answer["detail"]


def test_a_full_disk_while_creating_the_cache(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()

    answer = probe(lambda argv, **kw: tiny_disk(data, "12k", [*argv, str(data), URL], **kw))

    assert answer["error"] == "DiskFull", answer
    assert "disk is full" in answer["message"]


def test_a_cache_locked_by_another_connection_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Cache.open_file(path).close()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("PRAGMA locking_mode = EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(CacheBusy) as caught:
            Cache.open_file(path, busy_timeout_s=0.2)
        other.execute("COMMIT")
    assert caught.value.retryable
    Cache.open_file(path).close()  # free again: opens


def _scribble_on_second_half(path: Path) -> None:
    """Garbage over the page headers of the second half of the file: it opens, then reads fail."""
    pages = path.stat().st_size // 4096
    with open(path, "r+b") as file:
        for page in range(pages // 2, pages):
            file.seek(page * 4096)
            file.write(b"\xff" * 16)


def test_damage_found_while_running_is_checked_at_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    filled_cache(path)
    _scribble_on_second_half(path)

    cache = Cache.open_file(path)  # page 1 and the schema are fine: nothing to see yet
    try:
        items = [
            msg(ACCOUNT_A, n % 10, message_token(100 + n), 1_000 + n, text="y" * 300) for n in range(3000)
        ]
        with pytest.raises(CacheCorrupt):
            cache.writer.upsert_messages(items).result()
        assert path.with_name(path.name + SUSPECT_SUFFIX).exists()  # the writer noted it
    finally:
        cache.close()

    with pytest.raises(CacheCorrupt, match="integrity check failed"):
        Cache.open_file(path)


def test_a_suspect_mark_on_a_sound_file_is_cleared(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    filled_cache(path, messages=10)
    note_damage(path)

    Cache.open_file(path).close()

    assert not path.with_name(path.name + SUSPECT_SUFFIX).exists()


# --- writing ------------------------------------------------------------------------------------------


def _limit_pages(cache: Cache, extra: int | None) -> None:
    """SQLite's own "disk full": the writer connection may not grow the file past ``extra`` more pages."""

    def limit(db: Any) -> None:
        conn = db.connection()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + extra if extra is not None else 1_073_741_823}")

    cache.writer.submit(limit).result()


def _count(path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - a table name the test names


def test_a_write_on_a_full_disk_fails_alone_and_the_writer_carries_on(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Cache.open_file(path) as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result()
        _limit_pages(cache, 3)
        items = [msg(ACCOUNT_A, n % 10, message_token(n), 1_000 + n, text="x" * 400) for n in range(2000)]

        with pytest.raises(DiskFull) as caught:
            cache.writer.upsert_messages(items).result()

        assert caught.value.path == str(path)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert _count(path, "messages") == 0  # rolled back: nothing of it stored
        assert cache.writer._thread.is_alive()

        # A recall log row (a write that runs alone) on the same full disk: the same known error.
        with pytest.raises(DiskFull):
            for n in range(200):
                cache.writer.begin_recall(
                    ACCOUNT_A, conv_urn(ACCOUNT_A, 1), msg_urn(ACCOUNT_A, message_token(n))
                ).result()

        _limit_pages(cache, None)  # space is back
        change = cache.writer.upsert_messages(items).result()
        assert len(change.messages_inserted) == 2000
        attempt = cache.writer.begin_recall(
            ACCOUNT_A, conv_urn(ACCOUNT_A, 1), msg_urn(ACCOUNT_A, message_token(1))
        ).result()
        assert attempt.attempt_id > 0
    assert _count(path, "messages") == 2000


_FILL_UNTIL_FULL = textwrap.dedent(
    """
    import json, os, sys
    from sync.cache import Cache
    from sync.errors import DiskFull
    from tests.sync.cache.helpers import ACCOUNT_A, ACCOUNTS, message_token, msg
    data = sys.argv[1]
    filler = os.path.join(data, "filler")
    with open(filler, "wb") as f:
        f.write(b"\\0" * 400_000)
    out = {}
    with Cache.open(data, "http://127.0.0.1:9/linkedin") as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result()
        n = 0
        while True:
            batch = [msg(ACCOUNT_A, 1, message_token(n + i), n + i, text="x" * 500) for i in range(200)]
            try:
                cache.writer.upsert_messages(batch).result()
            except DiskFull as exc:
                out["full"] = {"detail": exc.detail, "cause": type(exc.__cause__).__name__}
                break
            n += 200
        out["stored_before"] = n
        os.remove(filler)  # space is back
        cache.writer.upsert_messages(batch).result()
        out["stored_after"] = len(cache.reader.messages(ACCOUNT_A, batch[0].conversation_urn, limit=100_000))
        out["writer_alive"] = cache.writer._thread.is_alive()
    print(json.dumps(out))
    """
)


def test_a_real_full_disk_fails_the_write_and_later_writes_work(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", _FILL_UNTIL_FULL, str(data)]

    result = tiny_disk(data, "1m", argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["full"]["cause"] == "OperationalError", out
    assert out["stored_before"] > 0 and out["writer_alive"], out
    assert out["stored_after"] > 0, out


def test_a_bug_is_not_dressed_up_as_the_environment(cache: Cache) -> None:
    def broken(db: Any) -> None:
        db.connection().execute("SELECT no_such_column FROM accounts")

    with pytest.raises(sqlite3.OperationalError) as caught:
        cache.writer.submit(broken).result()
    assert not isinstance(caught.value, KnownError)
    assert storage_error(caught.value) is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (5, CacheBusy),  # SQLITE_BUSY
        (6, CacheBusy),  # SQLITE_LOCKED
        (8, CacheReadOnly),  # SQLITE_READONLY
        (13, DiskFull),  # SQLITE_FULL
        (11, CacheCorrupt),  # SQLITE_CORRUPT
        (26, CacheCorrupt),  # SQLITE_NOTADB
        (14, DataDirUnusable),  # SQLITE_CANTOPEN
        (10 | (4 << 8), LocalStorageError),  # SQLITE_IOERR_WRITE (extended)
    ],
)
def test_sqlite_codes_are_sorted_by_their_primary_code(code: int, expected: type[LocalStorageError]) -> None:
    error = sqlite3.OperationalError("from SQLite")
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    known = storage_error(error, "/some/cache.sqlite")
    assert isinstance(known, expected)
    assert known.path == "/some/cache.sqlite" and known.detail == "from SQLite"


def test_other_sqlite_codes_are_bugs() -> None:
    for code in (1, 19, 21, 20):  # ERROR, CONSTRAINT, MISUSE, MISMATCH
        error = sqlite3.OperationalError("x")
        error.sqlite_errorcode = code  # type: ignore[attr-defined]
        assert storage_error(error) is None


# --- moving a damaged cache aside ---------------------------------------------------------------------


def test_moving_a_damaged_cache_aside_keeps_it_and_exports_its_recall_log(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    filled_cache(path, recalls=3)
    truncate_to_half(path)
    with pytest.raises(CacheCorrupt):
        Cache.open_file(path)
    before = path.read_bytes()

    moved = move_damaged_cache_aside(path)

    assert not path.exists()
    assert moved.moved[0].read_bytes() == before  # renamed, not rewritten, not deleted
    assert all(p.name.startswith("c.sqlite.damaged-") for p in moved.moved)
    assert {p.name[len(moved.moved[0].name) :] for p in moved.moved} <= {"", "-wal", "-shm"}
    assert moved.recall_log_csv is not None and moved.recall_log_rows == 3
    with moved.recall_log_csv.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [r["message_urn"] for r in rows] == [msg_urn(ACCOUNT_A, message_token(n)) for n in range(3)]
    assert moved.recall_log_csv.stat().st_mode & 0o077 == 0  # private, like the cache

    with Cache.open_file(path) as fresh:  # a new, empty cache in its place
        assert fresh.reader.accounts() == []


def test_a_cache_of_garbage_is_moved_aside_without_a_recall_log(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(os.urandom(64 * 1024))
    before = path.read_bytes()

    moved = move_damaged_cache_aside(path)

    assert moved.recall_log_csv is None and moved.why_no_csv
    assert moved.moved[0].read_bytes() == before
    assert not list(tmp_path.glob("*.csv"))


def test_a_cache_another_process_has_open_is_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    holder = Cache.open_file(path)  # holds the shared lock, as another process would
    try:
        with pytest.raises(CacheBusy):
            move_damaged_cache_aside(path, wait_s=0.2)
        assert path.exists()
    finally:
        holder.close()
