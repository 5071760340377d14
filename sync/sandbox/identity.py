"""A sandbox state dir's stable id: written once into ``<state dir>/id``, the same at every start.

The sandbox comes back on a new port at every start, so its address cannot name it. The app keeps one cache
per service identity (ARCHITECTURE.md §5), and for the data dir's embedded sandbox that identity is this id:
restarts keep the cache and the recall log, and a state dir made afresh (deleted, a new data dir) gets a new
id, hence a new cache that does not show messages the new sandbox never had.

Light on purpose (stdlib only): the app reads it without importing the server (aiohttp).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Final

ID_FILE: Final = "id"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def state_dir_id(state_dir: Path) -> str:
    """The id of the sandbox whose state lives in ``state_dir``, created (0600) the first time.

    Two processes asking at once get the same id: the new one is written to a private temporary file and
    linked into place, which fails when another process linked its own first.
    """
    path = state_dir / ID_FILE
    found = _read(path)
    if found:
        return found
    fresh = "sbx-" + secrets.token_hex(8)
    temporary = state_dir / f".{ID_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(fresh + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            if not _read(path):  # an empty or blank file (a crash before this scheme wrote it): replace it
                os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return _read(path)
