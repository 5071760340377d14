"""The command line on a broken machine: one clear line and a documented exit code, never a traceback.

Exit 5 for a damaged cache (the line says where it is and how to start fresh); exit 2 for a data dir
that is a file, read-only, not writable by this user, on a full disk, or a cache another process keeps
locked. The disks are real (tests/fixtures/hostile_disk.py): a read-only bind mount, a small tmpfs, an
unmapped user for whom the folder's mode bits apply, as root too.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from tests.fixtures.cli import LAUNCHER, ROOT, cli, synced
from tests.fixtures.hostile_disk import as_nobody, read_only, tiny_disk
from tests.fixtures.sandbox import SandboxHandle


def assert_one_clean_line(result: Any, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return str(lines[0])


def cli_in(runner: Any, sandbox: SandboxHandle, data: Path, *args: str) -> Any:
    """The CLI (as tests/desktop/test_cli.py runs it) inside a hostile_disk ``runner``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTSAFELY_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "CONNECTSAFELY_API_KEY": sandbox.key,
            "CONNECTSAFELY_BASE_URL": sandbox.base_url,
        }
    )
    argv = [sys.executable, "-c", LAUNCHER, *args, "--data-dir", str(data)]
    return runner(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def the_cache(data: Path) -> Path:
    (path,) = data.glob("cache-*.sqlite")
    return path


def test_a_truncated_cache_exits_5_and_says_how_to_start_fresh(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    synced(sandbox, tmp_path)
    cache = the_cache(tmp_path)
    with open(cache, "r+b") as file:
        file.truncate(cache.stat().st_size // 2)

    for command in (["conversations"], ["sync", "--once"]):
        line = assert_one_clean_line(cli(sandbox, tmp_path, *command), 5)
        assert str(cache) in line and "damaged" in line
        assert "start fresh" in line and "-wal" in line
    assert cache.exists()  # the CLI never moves or deletes it


def test_a_cache_of_garbage_exits_5(sandbox: SandboxHandle, tmp_path: Path) -> None:
    synced(sandbox, tmp_path)
    cache = the_cache(tmp_path)
    cache.write_bytes(os.urandom(32 * 1024))

    line = assert_one_clean_line(cli(sandbox, tmp_path, "conversations"), 5)
    assert "file is not a database" in line


def test_damage_found_by_a_read_exits_5_and_is_checked_at_the_next_start(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    synced(sandbox, tmp_path)
    cache = the_cache(tmp_path)
    # The root pages of the conversations table and its indexes, which listing conversations must read;
    # page 1 and the schema stay sound, so the file opens. (Damaging "the second half of the file" missed
    # those pages once the search index made the file bigger: the listing read only sound pages.)
    with contextlib.closing(sqlite3.connect(cache)) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            row[0]
            for row in db.execute(
                "SELECT rootpage FROM sqlite_master WHERE tbl_name = 'conversations' AND rootpage > 1"
            )
        ]
    assert roots
    with open(cache, "r+b") as file:
        for page in roots:
            file.seek((page - 1) * page_size)
            file.write(b"\xff" * 16)

    line = assert_one_clean_line(cli(sandbox, tmp_path, "conversations"), 5)
    assert "malformed" in line
    line = assert_one_clean_line(cli(sandbox, tmp_path, "conversations"), 5)
    assert "integrity check failed" in line


def test_a_data_dir_that_is_a_file_exits_2(sandbox: SandboxHandle, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("not a folder")

    line = assert_one_clean_line(cli(sandbox, data, "sync", "--once"), 2)
    assert str(data) in line and "a file, not a folder" in line


def test_a_read_only_data_dir_exits_2(sandbox: SandboxHandle, tmp_path: Path) -> None:
    data = tmp_path / "data"
    synced(sandbox, data)

    def runner(argv: list[str], **kwargs: Any) -> Any:
        return read_only(data, argv, **kwargs)

    for command in (["conversations"], ["sync", "--once"]):
        line = assert_one_clean_line(cli_in(runner, sandbox, data, *command), 2)
        assert "read-only" in line and str(data) in line


def test_a_data_dir_this_user_may_not_create_exits_2(sandbox: SandboxHandle, tmp_path: Path) -> None:
    # Its parent is not writable for this user. (Not an existing 0500 data dir: on this project's VM
    # kernel an unmapped user's chmod of a root-owned folder succeeds, and data_dir() chmods to 0700.)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    locked.chmod(0o500)
    data = locked / "data"

    line = assert_one_clean_line(cli_in(as_nobody, sandbox, data, "sync", "--once"), 2)
    assert str(data) in line and "Permission denied" in line


def test_a_full_disk_exits_2(sandbox: SandboxHandle, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()

    def runner(argv: list[str], **kwargs: Any) -> Any:
        return tiny_disk(data, "160k", argv, **kwargs)

    result = cli_in(runner, sandbox, data, "sync", "--once")
    # Where the disk filled decides whether the pass ends at once (one error line) or the engine reports
    # it against the account it was syncing (one line per account): exit 2 either way.
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "The disk is full" in result.stderr.strip().splitlines()[-1]


def test_a_cache_another_process_keeps_locked_exits_2(sandbox: SandboxHandle, tmp_path: Path) -> None:
    synced(sandbox, tmp_path)
    with contextlib.closing(sqlite3.connect(the_cache(tmp_path), isolation_level=None)) as other:
        other.execute("PRAGMA locking_mode = EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        try:
            line = assert_one_clean_line(cli(sandbox, tmp_path, "conversations"), 2)
        finally:
            other.execute("COMMIT")
    assert "busy" in line
