"""Where the app keeps its files: the data dir (cache files, the sandbox's state, logs), user-only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from platformdirs import user_data_dir

APP_NAME: Final = "connectsafely-desktop"
DATA_DIR_ENV: Final = "CONNECTSAFELY_DATA_DIR"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data dir (``--data-dir``, else ``$CONNECTSAFELY_DATA_DIR``, else the platform's), created 0700.

    Raises a :class:`sync.errors.LocalStorageError` (``DataDirUnusable``, ``CacheReadOnly``, ``DiskFull``)
    when it cannot be created or is not a folder this user can write to.
    """
    chosen = explicit or os.environ.get(DATA_DIR_ENV) or user_data_dir(APP_NAME, appauthor=False)
    path = Path(chosen).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkdir's mode is masked by the umask and ignored for an existing folder: make sure.
        path.chmod(0o700)
    except OSError as exc:
        from sync.errors import DataDirUnusable, storage_error

        known = storage_error(exc, path)
        if isinstance(known, DataDirUnusable) and isinstance(exc, FileExistsError | NotADirectoryError):
            known = DataDirUnusable("it is a file, not a folder", path=path)
        raise known or exc from exc
    return path


def sandbox_dir(data: Path) -> Path:
    """The data dir's one sandbox: its state, generated key and ``endpoint.json`` (ARCHITECTURE.md §4)."""
    return data / "sandbox"


def log_file(data: Path) -> Path:
    return data / "connectsafely-desktop.log"
