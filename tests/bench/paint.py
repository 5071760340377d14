"""The start-up child of figures 5, 6 and 7, and the runs that drive it.

One run = three fresh processes, launched by the parent with ``QT_QPA_PLATFORM=offscreen``, in an order
that rotates from run to run:

- ``app``: the real InboxService (cache opened on the pre-populated data dir; nothing is sent to any
  server), WindowManager and MainWindow, on a qasync loop as ``desktop.app.run_gui`` builds them, with
  empty settings (``WindowManager.open_window()``: nothing to restore). Times: the first paint event of
  the conversation list's viewport (an event filter); then ``MainWindow.open_conversation`` on the newest
  conversation and the first paint event of the thread's viewport; resident memory (``VmRSS``) after
  the inbox has painted and settled.
- ``restored``: the same, started as the app starts after a restart: the settings a previous session
  saved (one window, its geometry, an account filter, the newest conversation open, scrolled up to a
  message of its first page) and ``WindowManager.open_saved_windows()``. Times: the inbox's first paint,
  and the first paint of the thread's viewport with the restored conversation's rows in it. The saved
  state comes from ``save``, run once per invocation: the real app's window, filtered, the conversation
  opened and scrolled, then closed by ``WindowManager.close_all`` (File › Quit), which saves it.
- ``bare``: a bare ``QMainWindow`` holding a ``QListView`` of 100 fixed strings (figure 5 and 7's
  baseline); then a raw ``sqlite3`` query of the same 50 messages (same SQL shape as the app's page,
  connection opened beforehand as the app's is) shown in a second bare ``QListView`` (figure 6's baseline).

"Start" is the parent's ``perf_counter()`` just before it spawns the child: the child reports
``CLOCK_MONOTONIC`` times too, so interpreter start-up and imports count on both sides alike.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.bench.common import Options, emit, rss_mb, run_child, spawn_child

if TYPE_CHECKING:
    from desktop.backend import Backend

# The children import nothing of the app's at module level (nor tests.bench.dataset, which imports the
# cache package): whatever this module imports, the bare baseline would pay for too, from spawn (figure 5)
# and in its resident memory (figure 7). What the children need of the dataset comes on their command line.

PAGE = 50
SETTLE_S = 0.3


def _first_paint_filter(
    widget: Any, on_paint: Callable[[], None] | None = None, when: Callable[[], bool] | None = None
) -> Any:
    """An event filter recording when ``widget`` first receives a paint event (then calling ``on_paint``);
    with ``when``, the first paint event while ``when()`` holds."""
    from PySide6.QtCore import QEvent, QObject

    class FirstPaint(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.at: float | None = None

        def eventFilter(self, watched: Any, event: Any) -> bool:
            if self.at is None and event.type() == QEvent.Type.Paint and (when is None or when()):
                self.at = time.perf_counter()
                if on_paint is not None:
                    on_paint()
            return False

    watcher = FirstPaint()
    widget.installEventFilter(watcher)
    return watcher


PAINT_DONE_ATTR = "_bench_first_paint_done"


def _time_paints(view_class: Any) -> None:
    """Make every view of ``view_class`` (a ``QListView`` subclass) note when its viewport's first paint
    event *with rows in its model* has been handled: ``viewportEvent`` returned, the rows drawn (an event
    filter sees the event before it is handled). One Python call per viewport event, on both sides alike.
    The time is the view's attribute :data:`PAINT_DONE_ATTR` (absent until then)."""
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QListView

    paint = QEvent.Type.Paint

    def viewportEvent(self: Any, event: Any) -> bool:
        painting = event.type() == paint
        handled: bool = QListView.viewportEvent(self, event)
        if painting and not hasattr(self, PAINT_DONE_ATTR):
            model = self.model()
            if model is not None and model.rowCount() > 0:
                setattr(self, PAINT_DONE_ATTR, time.perf_counter())
        return handled

    view_class.viewportEvent = viewportEvent


async def _painted(view: Any, within_s: float = 30) -> float:
    """When ``view`` (see :func:`_time_paints`) finished its first paint with rows."""
    import asyncio

    deadline = time.perf_counter() + within_s
    while not hasattr(view, PAINT_DONE_ATTR):
        if time.perf_counter() > deadline:
            raise TimeoutError("the thread was never painted with its rows")
        await asyncio.sleep(0.001)
    done: float = getattr(view, PAINT_DONE_ATTR)
    return done


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


@dataclass(frozen=True, slots=True)
class Where:
    """What a child is told by the parent: the data dir, the cache file in it, the service identity."""

    data: Path
    settings: Path
    db: Path
    base_url: str
    key: str
    columns: str
    """The writer's message columns (``dataset.MESSAGE_COLUMNS``): the bare child's query reads these."""

    def backend(self) -> Backend:
        """``dataset.backend()``, built here without importing the dataset module."""
        from desktop.backend import Backend

        return Backend(self.base_url, None, self.key, False, "environment")


APP_MODULES = ("desktop.loop", "desktop.services", "desktop.settings", "desktop.windows", "ui.views")
"""What an app child imports before its window: timed as the app's imports (figure 5)."""


def _start_app_child() -> tuple[Any, dict[str, Any]]:
    """The start both app children share: the app's imports (timed), the thread view's paints timed
    (``_time_paints``), the ``QApplication``. Returns it and the result dict with the import times."""
    import importlib

    imports = time.perf_counter()
    from desktop.qt_import import import_qt_quickly

    import_qt_quickly()  # as desktop.cli does before it imports the GUI
    from PySide6.QtWidgets import QApplication

    for module in APP_MODULES:
        importlib.import_module(module)
    imported = time.perf_counter()
    from ui.views import MessageListView

    _time_paints(MessageListView)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    app.setQuitOnLastWindowClosed(False)
    return app, {"imports": imports, "imported": imported}


def child_app(where: Where) -> dict[str, Any]:
    app, result = _start_app_child()
    from desktop.loop import run
    from desktop.services import InboxService
    from desktop.settings import Settings
    from desktop.windows import WindowManager

    async def main() -> None:
        import asyncio

        bugs: list[BaseException] = []
        service = InboxService(where.backend(), where.data, on_bug=bugs.append)
        # Settings (window geometry, last open conversation) in a per-run dir: every run starts alike.
        manager = WindowManager(service, Settings(where.settings), sandbox=False, recall_grace_s=0)
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
        done = await _painted(window.message_view)
        result["open_ms"] = (thread.at - started) * 1000
        result["open_done_ms"] = (done - started) * 1000
        result["thread_rows"] = window.message_model.rowCount()
        await asyncio.sleep(SETTLE_S)
        result["rss_thread"] = rss_mb()
        window.close()
        await service.close()
        if bugs:
            raise RuntimeError(f"bug reached the GUI: {bugs[0]!r}")

    run(app, main)
    return result


def child_save(where: Where) -> dict[str, Any]:
    """The session before a restart: the window filtered to the newest conversation's account, that
    conversation open and scrolled up to the middle of its first page, then File › Quit
    (``WindowManager.close_all``), which saves the window's state as the app does. Returns what was
    saved (the restored child checks it got all of it back)."""
    from PySide6.QtWidgets import QApplication

    from desktop.loop import run
    from desktop.services import InboxService
    from desktop.settings import WINDOW_COUNT, Settings
    from desktop.windows import WindowManager

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    app.setQuitOnLastWindowClosed(False)
    result: dict[str, Any] = {}

    async def main() -> None:
        import asyncio

        bugs: list[BaseException] = []
        service = InboxService(where.backend(), where.data, on_bug=bugs.append)
        manager = WindowManager(service, Settings(where.settings), sandbox=False, recall_grace_s=0)
        window = manager.open_window()
        account_id, conversation_id = _newest_conversation(service.cache.path)
        window.show_account(account_id)
        conversation = service.reader.conversation(account_id, conversation_id)
        assert conversation is not None
        painted = asyncio.Event()
        rows = window.message_model.rowCount
        watcher = _first_paint_filter(window.message_view.viewport(), painted.set, lambda: rows() > 0)
        window.open_conversation(conversation)
        await painted.wait()
        await asyncio.sleep(SETTLE_S)
        assert watcher.at is not None
        bar = window.message_view.verticalScrollBar()
        bar.setValue(bar.maximum() // 2)
        await asyncio.sleep(0.1)
        anchor = window.message_view.scroll_anchor()
        assert anchor is not None, "the thread did not scroll"
        manager.close_all()
        await manager.wait_all_closed()
        await service.close()
        if bugs:
            raise RuntimeError(f"bug reached the GUI: {bugs[0]!r}")
        saved = Settings(where.settings)
        result["conversation"] = list(saved.last_conversation(0) or ())
        result["anchor"] = list(saved.scroll_anchor(0) or ())
        result["account"] = saved.account_filter(0)
        result["windows"] = saved.get_int(WINDOW_COUNT)
        result["geometry"] = saved.window_geometry(0) is not None

    run(app, main)
    return result


def child_restored(where: Where) -> dict[str, Any]:
    """The app's start after a restart (``desktop.app``: ``open_saved_windows()``, then the first paint)."""
    app, result = _start_app_child()
    from desktop.loop import run
    from desktop.services import InboxService
    from desktop.settings import Settings
    from desktop.windows import WindowManager

    async def main() -> None:
        import asyncio

        bugs: list[BaseException] = []
        service = InboxService(where.backend(), where.data, on_bug=bugs.append)
        manager = WindowManager(service, Settings(where.settings), sandbox=False, recall_grace_s=0)
        manager.open_saved_windows()
        result["window"] = time.perf_counter()
        window = manager.windows[0]
        inbox_painted = asyncio.Event()
        thread_painted = asyncio.Event()
        inbox = _first_paint_filter(window.conversation_view.viewport(), inbox_painted.set)
        rows = window.message_model.rowCount
        thread = _first_paint_filter(window.message_view.viewport(), thread_painted.set, lambda: rows() > 0)
        await inbox_painted.wait()
        await asyncio.wait_for(thread_painted.wait(), 30)
        result["inbox_painted"] = inbox.at
        result["thread_painted"] = thread.at
        result["thread_done"] = await _painted(window.message_view)
        result["inbox_rows"] = window.conversation_model.rowCount()
        result["thread_rows"] = window.message_model.rowCount()
        await asyncio.sleep(SETTLE_S)
        result["rss_inbox"] = rss_mb()
        current = window.current_conversation()
        anchor = window.message_view.scroll_anchor()
        result["windows"] = len(manager.windows)
        result["conversation"] = [] if current is None else [current.account_id, current.conversation_id]
        result["anchor"] = [] if anchor is None else [anchor.message_id, anchor.offset]
        result["account"] = (window.shown_account_ids() or (None,))[0]
        window.close()
        await service.close()
        if bugs:
            raise RuntimeError(f"bug reached the GUI: {bugs[0]!r}")

    run(app, main)
    return result


def child_bare(where: Where) -> dict[str, Any]:
    imports = time.perf_counter()
    import sqlite3

    from PySide6.QtCore import QStringListModel, QTimer
    from PySide6.QtWidgets import QApplication, QListView, QMainWindow, QSplitter

    imported = time.perf_counter()

    class ThreadView(QListView):
        """A bare ``QListView`` whose first paint with rows is timed like the app's (``_time_paints``)."""

    _time_paints(ThreadView)
    app = QApplication.instance() or QApplication([])
    result: dict[str, Any] = {"imports": imports, "imported": imported}
    window = QMainWindow()
    window.resize(1200, 760)
    splitter = QSplitter()
    inbox_view = QListView()
    inbox_view.setModel(QStringListModel([f"Conversation {i}" for i in range(100)]))
    thread_model = QStringListModel()
    thread_view = ThreadView()
    thread_view.setModel(thread_model)
    splitter.addWidget(inbox_view)
    splitter.addWidget(thread_view)
    window.setCentralWidget(splitter)
    window.show()
    result["window"] = time.perf_counter()
    inbox = _first_paint_filter(inbox_view.viewport())
    path = where.db
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
            f"SELECT {where.columns} FROM messages WHERE account_id = ? AND conversation_id = ?"  # noqa: S608
            " ORDER BY sent_at DESC, message_id DESC LIMIT ?",
            (account_id, conversation_id, PAGE),
        ).fetchall()
        thread_model.setStringList([r[5] for r in reversed(rows)])
        wait_thread()

    def wait_thread() -> None:
        thread = state["thread"]
        if thread.at is None or not hasattr(thread_view, PAINT_DONE_ATTR):
            QTimer.singleShot(1, wait_thread)
            return
        result["open_ms"] = (thread.at - state["started"]) * 1000
        result["open_done_ms"] = (getattr(thread_view, PAINT_DONE_ATTR) - state["started"]) * 1000
        result["thread_rows"] = thread_model.rowCount()
        QTimer.singleShot(int(SETTLE_S * 1000), finish)

    def finish() -> None:
        result["rss_thread"] = rss_mb()
        app.quit()

    QTimer.singleShot(0, after_inbox)
    app.exec()
    conn.close()
    return result


CHILDREN = {"app": child_app, "restored": child_restored, "save": child_save}
MODES = ("bare", "app", "restored")
"""The children of one run (their order rotates from run to run)."""


def child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=(*CHILDREN, "bare"))
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--settings", type=Path, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--columns", required=True)
    args = parser.parse_args(argv)
    where = Where(args.data, args.settings, args.db, args.base_url, args.key, args.columns)
    emit(child_bare(where) if args.mode == "bare" else CHILDREN[args.mode](where))


def _child_args(mode: str, data: Path, settings: Path) -> list[str]:
    from tests.bench import dataset

    return [
        mode,
        *("--data", str(data), "--settings", str(settings), "--db", str(dataset.cache_file(data))),
        *("--base-url", dataset.BASE_URL, "--key", dataset.KEY, "--columns", dataset.MESSAGE_COLUMNS),
    ]


def _spawn(mode: str, data: Path, settings: Path) -> dict[str, Any]:
    """One child; its times made relative to the moment the parent spawned it (ms)."""
    settings.mkdir(parents=True, exist_ok=True)
    raw, started = spawn_child("tests.bench.paint", _child_args(mode, data, settings), timeout=600)
    out: dict[str, Any] = {
        "start_ms": (raw["inbox_painted"] - started) * 1000,
        "imports_ms": (raw["imported"] - started) * 1000,
        "window_ms": (raw["window"] - started) * 1000,
        "rss_inbox": raw["rss_inbox"],
        "inbox_rows": raw["inbox_rows"],
        "thread_rows": raw["thread_rows"],
    }
    if mode == "restored":
        out["thread_ms"] = (raw["thread_painted"] - started) * 1000
        out["thread_done_ms"] = (raw["thread_done"] - started) * 1000
        out.update({k: raw[k] for k in ("windows", "conversation", "account", "anchor")})
    else:
        out["open_ms"] = raw["open_ms"]
        out["open_done_ms"] = raw["open_done_ms"]
        out["rss_thread"] = raw["rss_thread"]
    return out


def _saved_state(options: Options, data: Path, into: Path) -> dict[str, Any]:
    """Run the ``save`` child once into ``into`` (a settings dir); what it saved."""
    into.mkdir(parents=True, exist_ok=True)
    saved: dict[str, Any] = run_child("tests.bench.paint", _child_args("save", data, into), timeout=600)
    assert saved["windows"] == 1 and saved["geometry"], saved
    assert saved["conversation"] and saved["anchor"] and saved["account"], saved
    options.log(f"saved state to restore: {saved}")
    return saved


@functools.cache
def measure(options: Options) -> list[dict[str, dict[str, Any]]]:
    """``options.runs`` runs of the three children (cached per invocation: figures 5, 6 and 7 share them).
    Each run also holds ``load``: the 1-minute load average before it (``before``) and after (``after``)."""
    from desktop.settings import FILE_NAME
    from tests.bench import dataset
    from tests.bench.common import load_average, scratch

    data = dataset.populated_cache(options.workdir, options.size, options.log)
    runs = []
    with scratch(options, "paint-saved") as template:
        saved = _saved_state(options, data, template)
        for i in range(options.runs):
            result: dict[str, dict[str, Any]] = {"load": {"before": load_average()}}
            with scratch(options, "paint-settings") as settings:
                (settings / "restored").mkdir()
                shutil.copy(template / FILE_NAME, settings / "restored" / FILE_NAME)
                for mode in MODES[i % 3 :] + MODES[: i % 3]:
                    result[mode] = _spawn(mode, data, settings / mode)
            result["load"]["after"] = load_average()
            assert result["app"]["thread_rows"] >= PAGE, result
            assert result["restored"]["thread_rows"] >= PAGE, result
            options.log(
                f"paint run {i + 1}/{options.runs}: start {result['app']['start_ms']:.0f} (restored "
                f"{result['restored']['start_ms']:.0f}, its thread {result['restored']['thread_ms']:.0f}) vs "
                f"{result['bare']['start_ms']:.0f} ms; open {result['app']['open_done_ms']:.1f} vs "
                f"{result['bare']['open_done_ms']:.1f} ms (paint event {result['app']['open_ms']:.1f} vs "
                f"{result['bare']['open_ms']:.1f}); RSS {result['app']['rss_inbox']:.0f} vs "
                f"{result['bare']['rss_inbox']:.0f} MB; load {result['load']['before']:.2f}"
            )
            runs.append(result)
    _check_restored(saved, runs)
    return runs


def _check_restored(saved: dict[str, Any], runs: list[dict[str, dict[str, Any]]]) -> None:
    """Every restored child got back the window, its account filter, conversation and scroll anchor."""
    for run_ in runs:
        restored: Any = run_["restored"]
        problems = [k for k in ("windows", "conversation", "account") if restored[k] != saved[k]]
        if restored["anchor"][:1] != saved["anchor"][:1]:  # the message at the top (offsets: logged)
            problems.append("anchor")
        if problems:
            raise AssertionError(f"not restored: {problems}: saved {saved}, restored {restored}")


def loads(runs: list[dict[str, dict[str, Any]]]) -> list[float]:
    """The load averages sampled around the runs (for ``common.load_note``)."""
    return [v for r in runs for v in r["load"].values()]


if __name__ == "__main__":
    child(sys.argv[1:])
