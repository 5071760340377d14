"""Opening the cache file: its name, pragmas, schema version, migrations and their guards."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sync.cache import SCHEMA_VERSION, Cache, CacheError, CacheInUse, CacheSchemaTooNew, cache_path
from sync.cache.db import MIGRATIONS
from sync.errors import CacheCorrupt, KnownError
from tests.sync.cache.helpers import (
    ACCOUNT_A,
    ACCOUNTS,
    MAILBOX_A,
    conv_urn,
    message_token,
    msg,
    msg_urn,
    thread_token,
)


def _user_version(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_cache_path_is_per_backend(tmp_path: Path) -> None:
    sandbox = cache_path(tmp_path, "http://127.0.0.1:8765/linkedin")
    real = cache_path(tmp_path, "https://api.connectsafely.ai/linkedin")

    assert sandbox != real
    assert sandbox.parent == tmp_path
    # sha256("https://api.connectsafely.ai/linkedin")[:12], computed independently of the code under test
    assert (
        real.name
        == "cache-"
        + __import__("hashlib").sha256(b"https://api.connectsafely.ai/linkedin").hexdigest()[:12]
        + ".sqlite"
    )


def test_new_file_gets_the_current_schema_and_pragmas(tmp_path: Path) -> None:
    with Cache.open(tmp_path, "http://x/linkedin") as cache:
        conn = cache.db.connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        path = cache.path
    assert not list(tmp_path.glob("*.bak"))  # a new file has nothing to back up
    assert _user_version(path) == SCHEMA_VERSION


def test_newer_schema_is_refused_with_both_versions_named(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Cache.open_file(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    before = path.read_bytes()

    with pytest.raises(CacheSchemaTooNew) as caught:
        Cache.open_file(path)

    assert f"version {SCHEMA_VERSION + 5}" in str(caught.value)
    assert f"version {SCHEMA_VERSION}" in str(caught.value)
    assert isinstance(caught.value, CacheError) and isinstance(caught.value, KnownError)
    assert path.read_bytes() == before


def test_a_version_1_file_is_upgraded_to_remember_conversations_behind(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Cache.open_file(path, migrations={1: MIGRATIONS[1]}).close()
    # Rows as a version-1 app wrote them (today's writer writes columns v1 does not have).
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO accounts (account_id, mailbox) VALUES (?, ?)", (ACCOUNT_A, MAILBOX_A))
        conn.execute(
            "INSERT INTO conversations (account_id, conversation_id, conversation_urn, last_activity_at)"
            " VALUES (?, ?, ?, 100)",
            (ACCOUNT_A, thread_token(1), conv_urn(ACCOUNT_A, 1)),
        )
        conn.execute(
            "INSERT INTO messages (account_id, conversation_id, message_id, message_urn, conversation_urn,"
            " text, sent_at) VALUES (?, ?, ?, ?, ?, 'hello', 100)",
            (
                ACCOUNT_A,
                thread_token(1),
                message_token(1),
                msg_urn(ACCOUNT_A, message_token(1)),
                conv_urn(ACCOUNT_A, 1),
            ),
        )
    assert _user_version(path) == 1

    with Cache.open_file(path) as new:
        assert new.reader.message(ACCOUNT_A, message_token(1)) is not None  # data survives
        conversation = new.reader.conversations(ACCOUNT_A, limit=1)[0]
        assert new.reader.messages_behind(ACCOUNT_A, conversation.conversation_id) is None
        assert new.reader.conversations_behind(ACCOUNT_A) == []
    assert _user_version(path) == SCHEMA_VERSION >= 2
    assert _user_version(path.with_name(f"{path.name}.v1.bak")) == 1


def _add_pinned_column(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")


NEXT = {**MIGRATIONS, SCHEMA_VERSION + 1: _add_pinned_column}


def test_older_schema_is_backed_up_then_migrated(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Cache.open_file(path) as old:
        old.writer.upsert_accounts(ACCOUNTS).result()
        old.writer.upsert_messages([msg(ACCOUNT_A, 1, message_token(1), 100)]).result()

    with Cache.open_file(path, migrations=NEXT) as new:
        assert new.reader.message(ACCOUNT_A, message_token(1)) is not None  # data survives
        columns = [r[1] for r in new.db.connection().execute("PRAGMA table_info(conversations)")]
        assert "pinned" in columns

    assert _user_version(path) == SCHEMA_VERSION + 1
    backup = path.with_name(f"{path.name}.v{SCHEMA_VERSION}.bak")
    assert backup.exists()
    assert _user_version(backup) == SCHEMA_VERSION
    with contextlib.closing(sqlite3.connect(backup)) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
        assert "pinned" not in [r[1] for r in conn.execute("PRAGMA table_info(conversations)")]


def test_failed_migration_leaves_the_old_schema(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Cache.open_file(path).close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER")
        raise RuntimeError("step failed half way")

    with pytest.raises(RuntimeError):
        Cache.open_file(path, migrations={**MIGRATIONS, SCHEMA_VERSION + 1: broken})

    assert _user_version(path) == SCHEMA_VERSION
    with Cache.open_file(path) as cache:  # still usable by this version, lock released
        columns = [r[1] for r in cache.db.connection().execute("PRAGMA table_info(conversations)")]
        assert "pinned" not in columns


_HOLDER = textwrap.dedent(
    """
    import sys
    from sync.cache import Cache
    cache = Cache.open_file(sys.argv[1])
    print("open", flush=True)
    sys.stdin.readline()
    cache.close()
    """
)


def test_migration_is_refused_while_another_process_has_the_cache_open(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Cache.open_file(path).close()
    root = Path(__file__).resolve().parents[3]
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"

        with pytest.raises(CacheInUse) as caught:
            Cache.open_file(path, migrations=NEXT, migration_wait_s=0.2)
        assert "another process" in str(caught.value)
        assert _user_version(path) == SCHEMA_VERSION

        # Opening without a migration is fine while the other process is there.
        Cache.open_file(path).close()
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()

    with Cache.open_file(path, migrations=NEXT):  # alone now: the migration runs
        pass
    assert _user_version(path) == SCHEMA_VERSION + 1


def test_sqlite_file_that_is_not_a_cache_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (x)")

    with pytest.raises(CacheCorrupt, match="not a cache file") as caught:
        Cache.open_file(path)
    assert caught.value.path == str(path)


def test_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"certainly not a database file, but long enough to have a header" * 20)
    before = path.read_bytes()

    with pytest.raises(CacheCorrupt, match="file is not a database"):
        Cache.open_file(path)

    assert path.read_bytes() == before


def test_cache_files_are_private_to_the_user(tmp_path: Path) -> None:
    with Cache.open(tmp_path, "http://x/linkedin") as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result()
        files = [
            cache.path,
            cache.path.with_name(cache.path.name + "-wal"),
            cache.path.with_name(cache.path.name + ".lock"),
        ]
        for file in files:
            assert file.exists() and file.stat().st_mode & 0o077 == 0, file
