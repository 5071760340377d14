"""``InboxService`` start-up: a start that fails after the cache opened closes the cache again."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from desktop.backend import Backend
from desktop.services import InboxService


def writer_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "cache-writer" and thread.is_alive())


def test_a_start_that_fails_after_the_cache_opened_closes_the_cache(
    qloop: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer thread is not a daemon: left running, it kept the process alive after the user chose
    Quit in the storage dialog (``desktop.app.open_inbox_service`` builds the service in a loop)."""

    def damaged(self: InboxService) -> dict[str, int]:
        raise sqlite3.DatabaseError("database disk image is malformed")  # a damaged page, read after open

    monkeypatch.setattr(InboxService, "_commits_by_other_processes", damaged)
    backend = Backend("http://127.0.0.1:9/linkedin", None, "test-key-never-sent", True, "sandbox")
    before = writer_threads()
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        InboxService(backend, tmp_path, on_bug=lambda error: pytest.fail(f"bug: {error!r}"))
    assert writer_threads() == before

    monkeypatch.undo()  # the same data dir starts normally afterwards
    service = InboxService(backend, tmp_path, on_bug=lambda error: pytest.fail(f"bug: {error!r}"))
    assert writer_threads() == before + 1
    qloop.run_until_complete(service.close())
    assert writer_threads() == before
