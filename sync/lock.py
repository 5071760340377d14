"""The data dir's advisory lock: its holder owns the sync timer and the event stream (ARCHITECTURE.md
§4). The OS drops the lock when the holder exits, however it exits, so another process takes over.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path
from typing import Final

LOCK_NAME: Final = "sync.lock"


class DataDirLock:
    """``flock`` on ``<data dir>/sync.lock``; the file records the holder's pid for messages."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never waits."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held_elsewhere(self) -> bool:
        """True when another process (or another holder in this one) holds the lock now; never waits,
        never takes it. The answer may be stale the moment it is given: a hint, not a decision."""
        if self._fd is not None:
            return False
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError:  # no lock file yet (or none this user may open: try_acquire will say so)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing the descriptor drops the lock it may have taken
        return False

    async def acquire(self, poll_s: float = 0.5) -> None:
        """Wait (without blocking the loop) until the lock is ours."""
        # flock has no async wake-up, so polling is the only way to wait without blocking the loop.
        while not self.try_acquire():  # noqa: ASYNC110
            await asyncio.sleep(poll_s)

    def holder_pid(self) -> int | None:
        """The pid written by the current holder, if any (informational only)."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
