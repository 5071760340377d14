"""The GUI when its cache cannot be opened: a dialog that says what happened, never a silent exit.

Issue 15 item 5: a truncated cache made the app exit in 0.6 s with nothing on screen. Now the start-up
opens the real InboxService through ``desktop.app.open_inbox_service``; a damaged cache brings up the
real dialog (offscreen), and these tests press its buttons as a user would.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QPushButton

from desktop.app import FRESH_START, StorageQuit, open_inbox_service, storage_problem_dialog
from desktop.backend import Backend
from sync.cache import Cache
from sync.errors import CacheBusy, CacheCorrupt, DataDirUnusable, DiskFull
from tests.fixtures.sandbox import SandboxHandle
from tests.sync.cache.helpers import ACCOUNT_A, ACCOUNTS, conv_urn, message_token, msg, msg_urn
from ui.dialogs import StorageProblemDialog

pytestmark = pytest.mark.gui


def damaged_cache(path: Path, *, recalls: int) -> None:
    """A cache with a recall log (early pages), many messages after it, then cut in half."""
    with Cache.open_file(path) as cache:
        cache.writer.upsert_accounts(ACCOUNTS).result()
        for n in range(recalls):
            cache.writer.begin_recall(
                ACCOUNT_A, conv_urn(ACCOUNT_A, 1), msg_urn(ACCOUNT_A, message_token(n))
            ).result()
        items = [
            msg(ACCOUNT_A, n % 10, message_token(100 + n), 1_000 + n, text="x" * 300) for n in range(3000)
        ]
        cache.writer.upsert_messages(items).result()
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size // 2)


def buttons(dialog: StorageProblemDialog) -> list[str]:
    return [b.text() for b in dialog.findChildren(QPushButton) if not b.isHidden()]


async def press_when_shown(pick: Callable[[StorageProblemDialog], QPushButton | None]) -> str:
    """Wait (30 s at most) for the storage dialog to be on screen, read it, press the button ``pick``
    chooses."""
    return await asyncio.wait_for(_press_when_shown(pick), 30)


async def _press_when_shown(pick: Callable[[StorageProblemDialog], QPushButton | None]) -> str:
    while True:
        shown = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, StorageProblemDialog) and w.isVisible()
        ]
        if shown:
            dialog = shown[0]
            text = f"{dialog.windowTitle()}\n{dialog.message_label.text()}\n{dialog.path_label.text()}"
            button = pick(dialog)
            assert button is not None
            button.click()
            return text
        await asyncio.sleep(0.01)


def test_each_kind_of_problem_offers_what_can_be_done(qapp: Any) -> None:
    corrupt = storage_problem_dialog(
        CacheCorrupt("database disk image is malformed", path="/d/cache-1.sqlite")
    )
    assert buttons(corrupt) == [FRESH_START, "Quit"]
    assert corrupt.windowTitle() == "The cache file is damaged"
    assert corrupt.path_label.text() == "/d/cache-1.sqlite"
    assert "never deleted" in corrupt.explanation_label.text()

    assert buttons(storage_problem_dialog(DiskFull("database or disk is full", path="/d/c"))) == [
        "Try again",
        "Quit",
    ]
    assert buttons(storage_problem_dialog(CacheBusy("database is locked", path="/d/c"))) == [
        "Try again",
        "Quit",
    ]
    unusable = storage_problem_dialog(DataDirUnusable("Permission denied", path="/d"))
    assert buttons(unusable) == ["Quit"]
    assert "/d" in unusable.message_label.text()
    for dialog in (corrupt, unusable):
        dialog.deleteLater()


def test_a_damaged_cache_is_moved_aside_and_a_fresh_one_opens(
    qloop: Any, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    backend = Backend(sandbox.base_url, None, sandbox.key, True, "sandbox")
    path = backend.cache_path(data)
    damaged_cache(path, recalls=2)
    damaged = path.read_bytes()

    async def scenario() -> tuple[Any, str, str]:
        pressing = asyncio.ensure_future(press_when_shown(lambda d: d.fresh_button))
        service, note = await open_inbox_service(backend, data, lambda e: pytest.fail(f"bug: {e!r}"))
        return service, note, await pressing

    service, note, shown = qloop.run_until_complete(scenario())
    try:
        assert "The cache file is damaged" in shown and str(path) in shown
        assert "moved aside" in note and ".recall-log.csv" in note
        assert service.cache.reader.accounts() == []  # a fresh cache, filled by the next sync
    finally:
        qloop.run_until_complete(service.close())

    (kept,) = data.glob(f"{path.name}.damaged-*[0-9]")
    assert kept.read_bytes() == damaged  # renamed, never deleted or rewritten
    (exported,) = data.glob("*.recall-log.csv")
    with exported.open(encoding="utf-8", newline="") as file:
        assert len(list(csv.DictReader(file))) == 2


def test_quit_leaves_the_damaged_cache_where_it_is(
    qloop: Any, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    backend = Backend(sandbox.base_url, None, sandbox.key, True, "sandbox")
    path = backend.cache_path(data)
    damaged_cache(path, recalls=0)

    async def scenario() -> None:
        pressing = asyncio.ensure_future(press_when_shown(lambda d: d.quit_button))
        try:
            await open_inbox_service(backend, data, lambda e: pytest.fail(f"bug: {e!r}"))
        finally:
            await pressing

    with pytest.raises(StorageQuit) as caught:
        qloop.run_until_complete(scenario())
    assert caught.value.exit_code == 5
    assert path.exists() and not list(data.glob("*.damaged-*"))


def test_a_storage_failure_while_running_is_explained_not_a_crash(qapp: Any, tmp_path: Path) -> None:
    """An SQLite error of the environment's kind that escaped to the crash reporter (a read of the inbox
    that hit a damaged page): the storage dialog, not the crash dialog; the damage is noted for the next
    start, and Quit closes the windows."""
    import sqlite3

    from desktop.app import CrashReporter
    from ui.dialogs import CrashDialog

    cache = tmp_path / "cache-x.sqlite"
    reporter = CrashReporter(tmp_path / "app.log")
    reporter.cache_path = cache
    quits: list[bool] = []
    reporter.on_quit = lambda: quits.append(True)
    error = sqlite3.DatabaseError("database disk image is malformed")
    error.sqlite_errorcode = 11  # type: ignore[attr-defined]  # SQLITE_CORRUPT, as SQLite sets it

    reporter.report(error)

    dialog = reporter.storage_dialog
    assert isinstance(dialog, StorageProblemDialog) and dialog.isVisible()
    assert reporter.count == 0 and not isinstance(reporter.dialog, CrashDialog)
    assert "Quit and start ConnectSafely again" in dialog.explanation_label.text()
    assert (tmp_path / "cache-x.sqlite.suspect").exists()
    dialog.quit_button.click()
    assert quits == [True]
    dialog.deleteLater()
