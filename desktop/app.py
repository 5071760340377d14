"""The GUI command: choose the backend, open the windows at once on the cached inbox, sync behind them.

With no key configured the app uses the data dir's sandbox (reusing a running one, else starting it as a
child process it stops on exit) and says "Sandbox" in the title and status bar. Unexpected exceptions go
to one crash dialog and the log file in the data dir; known errors are banners.

A data dir or cache that cannot be used (``sync.errors.LocalStorageError``: damaged, read-only, full,
busy, not a folder) is a dialog that says what happened and what can be done, never a silent exit: for a
damaged cache, "Move the damaged cache aside and start fresh" (the file is renamed, not deleted, and its
recall log saved as CSV next to it first); for a busy cache or a full disk, "Try again"; always Quit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import logging.handlers
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

import shiboken6
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from desktop import backend as backends
from desktop import credentials
from desktop.loop import QtLoopEnded, freeze_start_up_objects, run
from desktop.paths import data_dir, log_file
from desktop.settings import BASE_URL, Settings
from sync.cache.db import move_damaged_cache_aside, note_damage, storage_error_of
from sync.errors import CacheBusy, CacheCorrupt, DiskFull, LocalStorageError
from sync.logs import flush_repeats, limit_repeats

if TYPE_CHECKING:
    from desktop.services import InboxService
    from desktop.windows import WindowManager
    from ui.dialogs import StorageProblemDialog

log = logging.getLogger("connectsafely")

EXIT_STORAGE: Final = 2
EXIT_DAMAGED_CACHE: Final = 5
"""The command line's exit codes for the same problems (desktop.cli)."""
EXIT_DISPLAY_LOST: Final = 4
"""Qt's event loop ended under the app (the display connection broke): the command line's "unavailable"."""


def configure_file_logging(data: Path) -> Path:
    """Log to ``<data dir>/connectsafely-desktop.log``, user-only, rotated, repeated warnings collapsed
    (sync.logs: a hostile server's 100,000 bad items are not 100,000 lines)."""
    path = log_file(data)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    path.chmod(0o600)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=2, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    limit_repeats(handler)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return path


# --- a data dir or cache that cannot be used --------------------------------------------------------

FRESH_START: Final = "Move the damaged cache aside and start fresh"


def storage_problem_dialog(error: LocalStorageError, *, at_start: bool = True) -> StorageProblemDialog:
    """The dialog for ``error``, not shown yet.

    ``at_start``: the cache could not be opened (a damaged one can be moved aside now); otherwise it
    failed while the app was running (the choices are to keep working or to quit).
    """
    from ui.dialogs import StorageProblemDialog

    path = error.path
    if isinstance(error, CacheCorrupt):
        title = "The cache file is damaged"
        message = f"ConnectSafely cannot read its cache ({error.detail})."
        if at_start:
            explanation = (
                "Your messages are on LinkedIn: a fresh cache is filled again by the next sync. The damaged "
                "file is kept (renamed next to it, never deleted), and the recall log is saved beside it as "
                "a CSV file first when it can still be read."
            )
        else:
            explanation = "Quit and start ConnectSafely again: it will offer to move the damaged cache aside."
    elif isinstance(error, DiskFull):
        title = "The disk is full"
        message = error.user_message
        explanation = ""
    elif isinstance(error, CacheBusy):
        title = "The cache is busy"
        message = error.user_message
        explanation = ""
    else:
        title = "ConnectSafely cannot use its files"
        message = error.user_message
        explanation = f"({error.detail})" if error.detail else ""
    if not at_start:
        return StorageProblemDialog(title, message, path=path, explanation=explanation, retry="Keep working")
    return StorageProblemDialog(
        title,
        message,
        path=path,
        explanation=explanation,
        fresh_start=FRESH_START if isinstance(error, CacheCorrupt) else "",
        retry="Try again" if error.retryable else "",
    )


async def ask_about_storage(
    error: LocalStorageError, on_quit_signal: Callable[[], None] | None = None
) -> str:
    """Show the dialog for a cache that could not be opened and wait for the user's choice (``"fresh"``,
    ``"retry"`` or ``"quit"``). SIGTERM and SIGINT answer Quit, so a logout still ends the app cleanly;
    afterwards they go back to ``on_quit_signal`` (the app's own handler), else to the default action."""
    dialog = storage_problem_dialog(error)
    loop = asyncio.get_running_loop()
    choice: asyncio.Future[str] = loop.create_future()

    def chosen(value: str) -> None:
        if not choice.done():
            choice.set_result(value)

    dialog.chosen.connect(chosen)
    signals = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, dialog.reject)
            signals.append(signum)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    try:
        return await choice
    finally:
        for signum in signals:
            if on_quit_signal is None:
                loop.remove_signal_handler(signum)
            else:
                loop.add_signal_handler(signum, on_quit_signal)
        dialog.hide()
        dialog.deleteLater()


class StorageQuit(Exception):
    """The user chose Quit in the dialog about a cache that cannot be used."""

    def __init__(self, error: LocalStorageError) -> None:
        super().__init__(str(error))
        self.error = error
        self.exit_code = EXIT_DAMAGED_CACHE if isinstance(error, CacheCorrupt) else EXIT_STORAGE


async def open_inbox_service(
    backend: backends.Backend,
    data: Path,
    on_bug: Callable[[BaseException], None],
    on_quit_signal: Callable[[], None] | None = None,
) -> tuple[InboxService, str]:
    """The process's InboxService on ``backend``'s cache, asking the user what to do while the cache
    cannot be opened; returns it with a note for the windows (what was moved aside), or raises
    :class:`StorageQuit`. ``on_quit_signal``: the SIGTERM/SIGINT handler to put back after a dialog."""
    from desktop.services import InboxService

    path = backend.cache_path(data)
    note = ""
    while True:
        try:
            return InboxService(backend, data, on_bug=on_bug), note
        except Exception as exc:
            error = storage_error_of(exc, path)
            if error is None:
                raise
        log.warning("the cache cannot be opened: %s", error)
        choice = await ask_about_storage(error, on_quit_signal)
        while choice == "fresh":
            try:
                moved = move_damaged_cache_aside(path)
            except Exception as exc:
                problem = storage_error_of(exc, path)
                if problem is None:
                    raise
                log.warning("the damaged cache could not be moved aside: %s", problem)
                choice = await ask_about_storage(problem, on_quit_signal)
                continue
            kept = moved.moved[0].name if moved.moved else path.name
            saved = (
                f" The recall log was saved as {moved.recall_log_csv.name}."
                if moved.recall_log_csv is not None
                else " Its recall log could not be read."
            )
            note = f"The damaged cache was moved aside as {kept} in {data}.{saved} A fresh cache is filling."
            choice = "retry"
        if choice != "retry":
            raise StorageQuit(error)


def explain_unusable_data_dir(app: QApplication, error: LocalStorageError) -> int:
    """Before anything else could start (no log file, no loop): say so in a dialog, then exit."""
    print(f"error: {error.user_message} ({error})", file=sys.stderr, flush=True)
    dialog = storage_problem_dialog(error)
    if dialog.retry_button is not None:  # nothing to retry without a loop: the user starts the app again
        dialog.retry_button.hide()
    # SIGTERM/SIGINT (a logout, Ctrl+C) answer Quit. Python runs a signal handler only between bytecodes:
    # a timer gives it the chance while Qt's loop waits.
    previous = {
        signum: signal.signal(signum, lambda *_: dialog.reject())
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    tick = QTimer()
    tick.timeout.connect(lambda: None)
    tick.start(200)
    try:
        dialog.exec()
    finally:
        tick.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_DAMAGED_CACHE if isinstance(error, CacheCorrupt) else EXIT_STORAGE


class CrashReporter:
    """One crash dialog for every unexpected exception (more reports are added to the open one)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.dialog: object | None = None
        self.count = 0
        self.cache_path: Path | None = None
        """The open cache, for a storage error that escaped without naming its file."""
        self.storage_dialog: StorageProblemDialog | None = None
        self.on_quit: Callable[[], object] | None = None
        """Called when the user chooses Quit in a storage problem's dialog (closes every window)."""

    def report(self, error: BaseException) -> None:
        known = storage_error_of(error, self.cache_path)
        if known is not None:
            self.report_storage_problem(known, error)
            return
        self.count += 1
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        log.error("unexpected error:\n%s", details)
        from ui.dialogs import CrashDialog

        summary = f"{type(error).__name__}: {error}"
        if isinstance(self.dialog, CrashDialog) and self.dialog.isVisible():
            self.dialog.add_report(summary, details)
            return
        self.dialog = CrashDialog.report(summary, details, str(self.log_path))

    def report_storage_problem(self, known: LocalStorageError, error: BaseException) -> None:
        """A failure of the disk or the cache while running: the environment's, not a bug. One dialog
        (not the crash dialog); a damaged cache is noted so that the next start checks it."""
        log.warning("local storage problem: %s (%s: %s)", known, type(error).__name__, error)
        if isinstance(known, CacheCorrupt) and (known.path or self.cache_path):
            note_damage(known.path or str(self.cache_path))
        if self.storage_dialog is not None and self.storage_dialog.isVisible():
            return
        dialog = storage_problem_dialog(known, at_start=False)
        dialog.chosen.connect(self._on_storage_dialog_chosen)
        self.storage_dialog = dialog
        dialog.show()
        dialog.raise_()

    def _on_storage_dialog_chosen(self, choice: str) -> None:
        if choice == "quit" and self.on_quit is not None:
            self.on_quit()

    def excepthook(self, kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        self.report(error.with_traceback(tb))


class _PaintWatcher(QObject):
    def __init__(self, done: asyncio.Future[None]) -> None:
        super().__init__()
        self._done = done

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self._done.done():
            # Resolved on the next loop pass, after this paint has reached the screen. The future's own
            # loop, not get_running_loop(): Qt may deliver a paint while no asyncio callback is running.
            loop = self._done.get_loop()
            if not loop.is_closed():
                loop.call_soon(self._resolve)
        return False

    def _resolve(self) -> None:
        if not self._done.done():  # several paints may queue this before it runs
            self._done.set_result(None)

    def on_widget_destroyed(self) -> None:
        self._resolve()


async def first_paint(widget: QWidget, timeout_s: float = 3.0) -> None:
    """Wait until ``widget`` has painted once (at most ``timeout_s``: never block start-up on it)."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    watcher = _PaintWatcher(done)
    widget.installEventFilter(watcher)
    # Closed while waiting (a SIGTERM or Quit during start-up): nothing will paint, and the widget
    # may be gone by the time the wait ends.
    widget.destroyed.connect(watcher.on_widget_destroyed)
    try:
        await asyncio.wait_for(done, timeout_s)
    except TimeoutError:
        log.info("no paint within %.0f s; starting sync anyway", timeout_s)
    finally:
        if shiboken6.isValid(widget):
            widget.removeEventFilter(watcher)


def choose_backend(
    data: Path, settings: Settings, args: argparse.Namespace
) -> tuple[backends.Backend, backends.SandboxProcess | None, str]:
    """(backend, a sandbox this process started or None, a note for the user or "")."""
    base_url = backends.configured_base_url(args.base_url, settings.get_str(BASE_URL))
    note = ""
    if not getattr(args, "sandbox", False):
        target = base_url or backends.DEFAULT_BASE_URL
        found = credentials.lookup_key(target)
        if found.key:
            if found.source == "environment" and not found.keyring_available:
                note = f"No keyring here: the API key is taken from {credentials.KEY_ENV} for this run."
            backend = backends.Backend(
                target, args.ws_url, found.key, False, found.source, found.keyring_available
            )
            return backend, None, note
    running = backends.running_sandbox(data)
    if running is not None:
        return running, None, note
    started = backends.start_sandbox(data, live=True)
    ready = backends.running_sandbox(data)
    if ready is None:
        started.stop()
        raise backends.ConfigError("the local sandbox started but wrote no endpoint.json")
    return ready, started, note


def run_gui(args: argparse.Namespace) -> int:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("ConnectSafely")
    from desktop.windows import app_icon

    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # the window manager decides when the app is done
    try:
        data = data_dir(args.data_dir)
        log_path = configure_file_logging(data)
        settings = Settings(data)
    except (LocalStorageError, OSError) as exc:
        known = storage_error_of(exc, None)
        if known is None:
            raise
        return explain_unusable_data_dir(app, known)
    try:
        return _run_gui(app, args, data, log_path, settings)
    finally:
        flush_repeats()


def _run_gui(
    app: QApplication, args: argparse.Namespace, data: Path, log_path: Path, settings: Settings
) -> int:
    crashes = CrashReporter(log_path)
    sys.excepthook = crashes.excepthook
    # A SIGTERM or Ctrl+C while the sandbox starts, before the loop runs, is kept and honoured once it
    # does: the default action would end the process there and then, leaving the sandbox it started.
    early_signals: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, _frame: early_signals.append(signum))
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        return _run_gui_session(app, args, data, settings, crashes, early_signals)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_gui_session(
    app: QApplication,
    args: argparse.Namespace,
    data: Path,
    settings: Settings,
    crashes: CrashReporter,
    early_signals: list[int],
) -> int:
    try:
        backend, sandbox, note = choose_backend(data, settings, args)
    except backends.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started: list[backends.SandboxProcess] = [] if sandbox is None else [sandbox]

    # A logout or `kill` (SIGTERM) and Ctrl+C close the windows the normal way, so state is saved and a
    # sandbox this process started is stopped. The handlers are installed before anything else runs on
    # the loop: a signal during start-up (before the first paint, while the sync worker starts) must not
    # end the process by the default action, skipping all of that.
    quitting: list[bool] = []
    managers: list[WindowManager] = []

    def on_quit_signal() -> None:
        quitting.append(True)
        for manager in managers:
            manager.close_all()

    async def session(backend: backends.Backend, note: str) -> bool:
        """One backend's windows; True when the user switched service and wants them back."""
        from desktop.windows import WindowManager

        service, moved_note = await open_inbox_service(backend, data, crashes.report, on_quit_signal)
        service.prewarm_sync_worker()  # its start overlaps the first paint (figure 8)
        crashes.cache_path = service.cache.path
        manager = WindowManager(service, settings, sandbox=backend.sandbox)
        crashes.on_quit = manager.close_all
        managers[:] = [manager]
        try:
            manager.open_saved_windows()
            if quitting:  # asked to quit while the cache was being opened
                manager.close_all()
            for text in [t for t in (note, moved_note) if t]:
                for window in manager.windows:
                    window.show_banner(text, "info")
            # The cached inbox first; the network side (imports, client, sync, stream) right after. The
            # window's paint, not its list's: an empty list is hidden and never paints (ui.sidebar).
            if manager.windows:
                await first_paint(manager.windows[0])
            if manager.windows and not quitting:
                await service.prepare_network_side()
                freeze_start_up_objects()
                service.start()
            await manager.wait_all_closed()
        finally:
            managers.clear()
            await service.close()
        return manager.backend_changed and not quitting

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, on_quit_signal)
        if early_signals:
            log.info("quit: signal %d came while the app was starting", early_signals[0])
            return 0
        current, current_note = backend, note
        while await session(current, current_note):
            # Settings saved a key (or removed it): reopen the windows on the newly chosen backend.
            args.sandbox = False
            try:
                current, fresh, current_note = choose_backend(data, settings, args)
            except backends.ConfigError as exc:
                log.error("could not switch service: %s", exc)
                return 2
            if fresh is not None:
                started.append(fresh)
            if not current.sandbox:
                for child in started:
                    child.stop()
        return 0

    async def main_or_storage_quit() -> int:
        try:
            return await main()
        except StorageQuit as quit_:
            log.warning("quit: the cache cannot be used: %s", quit_.error)
            return quit_.exit_code

    return run_until_quit(app, main_or_storage_quit, started)


def run_until_quit(
    app: QApplication, main: Callable[[], Awaitable[int]], started: Sequence[backends.SandboxProcess]
) -> int:
    """``main()``'s exit code, run on the app's loop; the sandboxes in ``started`` (the list grows while it
    runs) stopped at the end, whatever the end was."""
    try:
        return run(app, main)
    except QtLoopEnded:
        # Not a bug: the display went away (an X server that died, a logout that ended it before its
        # SIGTERM came). The loop's tasks were cancelled; what they wrote is in the cache's transactions.
        log.warning("quit: Qt's event loop ended under the app (the display connection was lost?)")
        return EXIT_DISPLAY_LOST
    finally:
        for child in started:
            child.stop()
