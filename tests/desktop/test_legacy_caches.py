"""Caches an earlier version named after one of the sandbox's ports: adopted or cleaned once, at start.

Real SQLite files made by the cache's own code under the names earlier versions gave them
(``cache_path(data, "http://127.0.0.1:<port>/linkedin")``), each marked with its own ``last_applied_seq``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from desktop.backend import DEFAULT_BASE_URL, Backend, keyed_identity, running_sandbox
from desktop.cache_files import adopt_legacy_sandbox_caches
from sync.cache import Cache, cache_path
from tests.fixtures.cli import run_cli
from tests.fixtures.sandbox import start_sandbox

ROOT = Path(__file__).resolve().parents[2]


def legacy(data: Path, port: int, *, age_s: float) -> Path:
    """An earlier version's cache of the sandbox on ``port``, marked with seq = port, last changed
    ``age_s`` ago."""
    with Cache.open(data, f"http://127.0.0.1:{port}/linkedin") as cache:
        cache.writer.set_last_applied_seq(port).result()
        path = cache.path
    when = time.time() - age_s
    os.utime(path, (when, when))
    return path


def marker(path: Path) -> int | None:
    with Cache.open_file(path) as cache:
        return cache.reader.last_applied_seq()


def sandbox_backend() -> Backend:
    return Backend("http://127.0.0.1:45678/linkedin", None, "k", True, "sandbox", sandbox_id="sbx-test")


def test_the_newest_earlier_sandbox_cache_is_adopted_and_the_others_deleted(tmp_path: Path) -> None:
    data = tmp_path
    old = legacy(data, 40001, age_s=3600)
    newest = legacy(data, 40002, age_s=60)
    older = legacy(data, 40003, age_s=7200)
    # Not the sandbox's: the real service's cache of an earlier version (URL only), another key's cache, a
    # damaged file moved aside with its recall log.
    with Cache.open(data, DEFAULT_BASE_URL) as real:
        real.writer.set_last_applied_seq(1).result()
    with Cache.open(data, keyed_identity(DEFAULT_BASE_URL, "another-key-entirely")) as other_key:
        other_key.writer.set_last_applied_seq(2).result()
    aside = data / (older.name + ".damaged-20250101-000000")
    aside.write_bytes(b"kept for the user")
    (data / (older.name + ".damaged-20250101-000000.recall-log.csv")).write_text("id\n")
    untouched = {p.name for p in data.iterdir()} - {p.name for p in (old, newest, older)}
    untouched -= {p.name + ".lock" for p in (old, newest, older)}

    backend = sandbox_backend()
    with backend.open_cache(data) as cache:
        assert cache.path == backend.cache_path(data)
        assert cache.reader.last_applied_seq() == 40002  # the newest one's content
    for path in (old, newest, older):
        assert not path.exists()
        assert not Path(str(path) + ".lock").exists()
    left = {p.name for p in data.iterdir()}
    assert untouched <= left
    assert marker(cache_path(data, DEFAULT_BASE_URL)) == 1
    assert marker(cache_path(data, keyed_identity(DEFAULT_BASE_URL, "another-key-entirely"))) == 2


def test_once_the_sandbox_has_its_cache_earlier_files_are_left_as_they_are(tmp_path: Path) -> None:
    backend = sandbox_backend()
    with backend.open_cache(tmp_path) as cache:
        cache.writer.set_last_applied_seq(7).result()
    late = legacy(tmp_path, 40010, age_s=0)  # e.g. an earlier version was started again since

    assert adopt_legacy_sandbox_caches(tmp_path, backend.cache_path(tmp_path)) is None
    with backend.open_cache(tmp_path) as cache:
        assert cache.reader.last_applied_seq() == 7
    assert late.exists()


def test_a_real_services_cache_is_never_adopted_for_the_sandbox(tmp_path: Path) -> None:
    with Cache.open(tmp_path, DEFAULT_BASE_URL) as real:
        real.writer.set_last_applied_seq(1).result()
    backend = sandbox_backend()
    assert adopt_legacy_sandbox_caches(tmp_path, backend.cache_path(tmp_path)) is None
    with backend.open_cache(tmp_path) as cache:
        assert cache.reader.last_applied_seq() is None  # a fresh cache
    assert marker(cache_path(tmp_path, DEFAULT_BASE_URL)) == 1


HOLD = """
import sys
from sync.cache import Cache
cache = Cache.open_file(sys.argv[1])
print("open", flush=True)
sys.stdin.read()
cache.close()
"""


def test_an_earlier_cache_another_process_has_open_is_left_alone(tmp_path: Path) -> None:
    busy = legacy(tmp_path, 40020, age_s=0)  # the newest, but in use by an earlier version still running
    free = legacy(tmp_path, 40021, age_s=600)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(busy)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        backend = sandbox_backend()
        done = adopt_legacy_sandbox_caches(tmp_path, backend.cache_path(tmp_path))
        assert done is not None
        assert done.adopted == free and done.kept_in_use == (busy,) and done.deleted == ()
        assert busy.exists() and not free.exists()
        assert marker(backend.cache_path(tmp_path)) == 40021
    finally:
        holder.communicate("", timeout=30)
    assert marker(busy) == 40020  # its holder's file is intact


def test_a_headless_command_adopts_the_sandboxs_earlier_cache_at_start(tmp_path: Path) -> None:
    """The real CLI process against the data dir's running sandbox: the earlier version's cache of that
    sandbox (named after the port it had then) becomes its cache, with what it held."""
    data = tmp_path / "data"
    data.mkdir()
    earlier = legacy(data, 40030, age_s=0)
    handle = start_sandbox(tmp_path / "run", "--state-dir", str(data / "sandbox"), key=None)
    try:
        result = run_cli("conversations", "--json", data_dir=data)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == []  # nothing synced in it yet: it is the earlier file
        found = running_sandbox(data)
        assert found is not None
        assert not earlier.exists()
        assert marker(found.cache_path(data)) == 40030
        assert sorted(p.name for p in data.glob("cache-*.sqlite")) == [found.cache_path(data).name]
    finally:
        handle.stop()
