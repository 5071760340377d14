"""The GUI command: choose the backend, open the windows at once on the cached inbox, sync behind them.

With no key configured the app uses the data dir's sandbox (reusing a running one, else starting it as a
child process it stops on exit) and says "Sandbox" in the title and status bar. Unexpected exceptions go
to one crash dialog and the log file in the data dir; known errors are banners.
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
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

from desktop import backend as backends
from desktop import credentials
from desktop.loop import freeze_start_up_objects, run
from desktop.paths import data_dir, log_file
from desktop.settings import BASE_URL, Settings

log = logging.getLogger("connectsafely")


def configure_file_logging(data: Path) -> Path:
    """Log to ``<data dir>/connectsafely-desktop.log``, user-only, rotated."""
    path = log_file(data)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    path.chmod(0o600)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=2, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return path


class CrashReporter:
    """One crash dialog for every unexpected exception (more reports are added to the open one)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.dialog: object | None = None
        self.count = 0

    def report(self, error: BaseException) -> None:
        self.count += 1
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        log.error("unexpected error:\n%s", details)
        from ui.dialogs import CrashDialog

        summary = f"{type(error).__name__}: {error}"
        if isinstance(self.dialog, CrashDialog) and self.dialog.isVisible():
            self.dialog.add_report(summary, details)
            return
        self.dialog = CrashDialog.report(summary, details, str(self.log_path))

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


async def first_paint(widget: QWidget, timeout_s: float = 3.0) -> None:
    """Wait until ``widget`` has painted once (at most ``timeout_s``: never block start-up on it)."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    watcher = _PaintWatcher(done)
    widget.installEventFilter(watcher)
    try:
        await asyncio.wait_for(done, timeout_s)
    except TimeoutError:
        log.info("no paint within %.0f s; starting sync anyway", timeout_s)
    finally:
        widget.removeEventFilter(watcher)


def choose_backend(
    data: Path, settings: Settings, args: argparse.Namespace
) -> tuple[backends.Backend, backends.SandboxProcess | None, str]:
    """(backend, a sandbox this process started or None, a note for the user or "")."""
    base_url = args.base_url or os.environ.get(backends.BASE_URL_ENV) or settings.get_str(BASE_URL) or None
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
    data = data_dir(args.data_dir)
    log_path = configure_file_logging(data)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("ConnectSafely")
    from desktop.windows import app_icon

    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # the window manager decides when the app is done
    crashes = CrashReporter(log_path)
    sys.excepthook = crashes.excepthook
    settings = Settings(data)
    try:
        backend, sandbox, note = choose_backend(data, settings, args)
    except backends.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started: list[backends.SandboxProcess] = [] if sandbox is None else [sandbox]

    async def session(backend: backends.Backend, note: str) -> bool:
        """One backend's windows; True when the user switched service and wants them back."""
        from desktop.services import InboxService
        from desktop.windows import WindowManager

        service = InboxService(backend, data, on_bug=crashes.report)
        manager = WindowManager(service, settings, sandbox=backend.sandbox)
        try:
            manager.open_saved_windows()
            if note:
                for window in manager.windows:
                    window.show_banner(note, "info")
            # The cached inbox first; the network side (imports, client, sync, stream) right after.
            await first_paint(manager.windows[0].conversation_view.viewport())
            await service.prepare_network_side()
            freeze_start_up_objects()
            service.start()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                # A logout or `kill` closes the windows the normal way, so state is saved and a
                # sandbox this process started is stopped.
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(signum, manager.close_all)
            await manager.wait_all_closed()
        finally:
            await service.close()
        return manager.backend_changed

    async def main() -> int:
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

    try:
        return run(app, main)
    finally:
        for child in started:
            child.stop()
