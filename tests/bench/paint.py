"""The start-up child of figures 5, 6 and 7, and the runs that drive it.

One run = two fresh processes, launched by the parent with ``QT_QPA_PLATFORM=offscreen``, in alternating
order:

- ``app``: the real InboxService (cache opened on the pre-populated data dir; nothing is sent to any
  server), WindowManager and MainWindow, on a qasync loop as ``desktop.app.run_gui`` builds them. Times:
  the first paint event of the conversation list's viewport (an event filter); then
  ``MainWindow.open_conversation`` on the newest conversation and the first paint event of the thread's
  viewport; resident memory (``VmRSS``) after the inbox has painted and settled.
- ``bare``: a bare ``QMainWindow`` holding a ``QListView`` of 100 fixed strings (figure 5 and 7's
  baseline); then a raw ``sqlite3`` query of the same 50 messages (same SQL shape as the app's page,
  connection opened beforehand as the app's is) shown in a second bare ``QListView`` (figure 6's baseline).

"Start" is the parent's ``perf_counter()`` just before it spawns the child: the child reports
``CLOCK_MONOTONIC`` times too, so interpreter start-up and imports count on both sides alike.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench import dataset
from tests.bench.common import Options, emit, rss_mb, spawn_child

PAGE = 50
SETTLE_S = 0.3


def _first_paint_filter(widget: Any, on_paint: Callable[[], None] | None = None) -> Any:
    """An event filter recording when ``widget`` first receives a paint event (then calling ``on_paint``)."""
    from PySide6.QtCore import QEvent, QObject

    class FirstPaint(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.at: float | None = None

        def eventFilter(self, watched: Any, event: Any) -> bool:
            if self.at is None and event.type() == QEvent.Type.Paint:
                self.at = time.perf_counter()
                if on_paint is not None:
                    on_paint()
            return False

    watcher = FirstPaint()
    widget.installEventFilter(watcher)
    return watcher


def _newest_conversation(path: Path) -> tuple[str, str]:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT account_id, conversation_id FROM conversations"
            " ORDER BY last_activity_at DESC, account_id, conversation_id LIMIT 1"
        ).fetchone()
        return row[0], row[1]
    finally:
        conn.close()


def child_app(data: Path, settings_dir: Path) -> dict[str, Any]:
    imports = time.perf_counter()
    from PySide6.QtWidgets import QApplication

    from desktop.loop import run
    from desktop.services import InboxService
    from desktop.settings import Settings
    from desktop.windows import WindowManager

    imported = time.perf_counter()
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    result: dict[str, Any] = {"imports": imports, "imported": imported}

    async def main() -> None:
        import asyncio

        bugs: list[BaseException] = []
        backend = dataset.backend()
        service = InboxService(backend, data, on_bug=bugs.append)
        # Settings (window geometry, last open conversation) in a per-run dir: every run starts alike.
        manager = WindowManager(service, Settings(settings_dir), sandbox=False, recall_grace_s=0)
        window = manager.open_window()
        result["window"] = time.perf_counter()
        inbox_painted = asyncio.Event()
        inbox = _first_paint_filter(window.conversation_view.viewport(), inbox_painted.set)
        await inbox_painted.wait()
        result["inbox_painted"] = inbox.at
        result["inbox_rows"] = window.conversation_model.rowCount()
        await asyncio.sleep(SETTLE_S)
        result["rss_inbox"] = rss_mb()
        conversation = service.reader.conversation(*_newest_conversation(service.cache.path))
        assert conversation is not None
        thread_painted = asyncio.Event()
        thread = _first_paint_filter(window.message_view.viewport(), thread_painted.set)
        started = time.perf_counter()
        window.open_conversation(conversation)
        await thread_painted.wait()
        result["open_ms"] = (thread.at - started) * 1000
        result["thread_rows"] = window.message_model.rowCount()
        await asyncio.sleep(SETTLE_S)
        result["rss_thread"] = rss_mb()
        window.close()
        await service.close()
        if bugs:
            raise RuntimeError(f"bug reached the GUI: {bugs[0]!r}")

    run(app, main)
    return result


def child_bare(data: Path) -> dict[str, Any]:
    imports = time.perf_counter()
    import sqlite3

    from PySide6.QtCore import QStringListModel, QTimer
    from PySide6.QtWidgets import QApplication, QListView, QMainWindow, QSplitter

    imported = time.perf_counter()
    app = QApplication.instance() or QApplication([])
    result: dict[str, Any] = {"imports": imports, "imported": imported}
    window = QMainWindow()
    window.resize(1200, 760)
    splitter = QSplitter()
    inbox_view = QListView()
    inbox_view.setModel(QStringListModel([f"Conversation {i}" for i in range(100)]))
    thread_model = QStringListModel()
    thread_view = QListView()
    thread_view.setModel(thread_model)
    splitter.addWidget(inbox_view)
    splitter.addWidget(thread_view)
    window.setCentralWidget(splitter)
    window.show()
    result["window"] = time.perf_counter()
    inbox = _first_paint_filter(inbox_view.viewport())
    path = dataset.cache_file(data)
    account_id, conversation_id = _newest_conversation(path)
    conn = sqlite3.connect(path)
    state: dict[str, Any] = {}

    def after_inbox() -> None:
        if inbox.at is None:
            QTimer.singleShot(1, after_inbox)
            return
        result["inbox_painted"] = inbox.at
        result["inbox_rows"] = 100
        QTimer.singleShot(int(SETTLE_S * 1000), open_thread)

    def open_thread() -> None:
        result["rss_inbox"] = rss_mb()
        state["thread"] = _first_paint_filter(thread_view.viewport())
        state["started"] = time.perf_counter()
        rows = conn.execute(
            f"SELECT {dataset.MESSAGE_COLUMNS} FROM messages WHERE account_id = ? AND conversation_id = ?"  # noqa: S608
            " ORDER BY sent_at DESC, message_id DESC LIMIT ?",
            (account_id, conversation_id, PAGE),
        ).fetchall()
        thread_model.setStringList([r[5] for r in reversed(rows)])
        wait_thread()

    def wait_thread() -> None:
        thread = state["thread"]
        if thread.at is None:
            QTimer.singleShot(1, wait_thread)
            return
        result["open_ms"] = (thread.at - state["started"]) * 1000
        result["thread_rows"] = thread_model.rowCount()
        QTimer.singleShot(int(SETTLE_S * 1000), finish)

    def finish() -> None:
        result["rss_thread"] = rss_mb()
        app.quit()

    QTimer.singleShot(0, after_inbox)
    app.exec()
    conn.close()
    return result


def child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("app", "bare"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--settings", type=Path, required=True)
    args = parser.parse_args(argv)
    emit(child_app(args.data, args.settings) if args.mode == "app" else child_bare(args.data))


def _spawn(mode: str, data: Path, settings: Path) -> dict[str, float]:
    """One child; its times made relative to the moment the parent spawned it (ms)."""
    settings.mkdir(parents=True, exist_ok=True)
    raw, started = spawn_child(
        "tests.bench.paint", [mode, "--data", str(data), "--settings", str(settings)], timeout=600
    )
    return {
        "start_ms": (raw["inbox_painted"] - started) * 1000,
        "imports_ms": (raw["imported"] - started) * 1000,
        "window_ms": (raw["window"] - started) * 1000,
        "open_ms": raw["open_ms"],
        "rss_inbox": raw["rss_inbox"],
        "rss_thread": raw["rss_thread"],
        "inbox_rows": raw["inbox_rows"],
        "thread_rows": raw["thread_rows"],
    }


@functools.cache
def measure(options: Options) -> list[dict[str, dict[str, float]]]:
    """``options.runs`` runs of both children (cached per invocation: figures 5, 6 and 7 share them)."""
    from tests.bench.common import scratch

    data = dataset.populated_cache(options.workdir, options.size, options.log)
    runs = []
    for i in range(options.runs):
        result: dict[str, dict[str, float]] = {}
        with scratch(options, "paint-settings") as settings:
            for mode in ("bare", "app") if i % 2 == 0 else ("app", "bare"):
                result[mode] = _spawn(mode, data, settings / mode)
        assert result["app"]["thread_rows"] >= PAGE, result
        options.log(
            f"paint run {i + 1}/{options.runs}: start {result['app']['start_ms']:.0f} vs "
            f"{result['bare']['start_ms']:.0f} ms; open {result['app']['open_ms']:.1f} vs "
            f"{result['bare']['open_ms']:.1f} ms; RSS {result['app']['rss_inbox']:.0f} vs "
            f"{result['bare']['rss_inbox']:.0f} MB"
        )
        runs.append(result)
    return runs


if __name__ == "__main__":
    child(sys.argv[1:])
