"""The reply box's drafts, one per conversation, kept in ``<data dir>/drafts.json`` across restarts.

Plain text in a small JSON file of its own, user-only like everything in the data dir: never in the cache's
message tables (a draft is not a message, and nothing there may hold what was not sent). Bounded: a draft
keeps its first ``MAX_DRAFT_CHARS`` characters, and the file the ``MAX_DRAFTS`` most recently edited.

Every window of the process shares one store; two processes on the same data dir share the file: each
write re-reads it first and changes only its own conversation's entry, so neither drops the other's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

FILE_NAME: Final = "drafts.json"
MAX_DRAFT_CHARS: Final = 20_000
MAX_DRAFTS: Final = 100
MAX_FILE_BYTES: Final = 4 * MAX_DRAFT_CHARS * MAX_DRAFTS
"""A bigger file is not ours to read (UTF-8 takes at most 4 bytes a character)."""
VERSION: Final = 1

Key = tuple[str, str]
"""(account id, conversation id)."""


def drafts_file(data: Path) -> Path:
    return data / FILE_NAME


class DraftFile:
    """The drafts of every conversation, read from and written through to the data dir's file.

    Reading or writing it never raises: a draft is a convenience, so a file that cannot be read is taken
    as empty (and logged), and a write that fails is logged and kept in memory for this run.
    """

    def __init__(self, data: Path) -> None:
        self.path = drafts_file(data)
        self._drafts: dict[Key, tuple[str, int]] = {}
        """(text, when last edited in epoch ms) by conversation."""
        self._read_stamp: tuple[int, int] | None = None
        self._loaded = False

    def draft(self, key: Key) -> str:
        self._refresh()
        entry = self._drafts.get(key)
        return "" if entry is None else entry[0]

    def set_draft(self, key: Key, text: str) -> bool:
        """Keep ``text`` (its first ``MAX_DRAFT_CHARS`` characters) as ``key``'s draft; a blank text drops
        it. Written to the file at once when it changed; returns whether it did."""
        self._refresh()
        text = text[:MAX_DRAFT_CHARS] if text.strip() else ""
        current = self._drafts.get(key)
        if (current[0] if current is not None else "") == text:
            return False
        if text:
            # Strictly after every other draft's time: the newest are the ones kept.
            newest = max((edited for _, edited in self._drafts.values()), default=0)
            self._drafts[key] = (text, max(int(time.time() * 1000), newest + 1))
        else:
            self._drafts.pop(key, None)
        self._trim()
        self._write()
        return True

    def texts(self) -> dict[Key, str]:
        """Every conversation's draft (the file is read again when another process changed it)."""
        self._refresh()
        return {key: text for key, (text, _) in self._drafts.items()}

    def keys(self) -> list[Key]:
        self._refresh()
        return sorted(self._drafts)

    # --- the file -----------------------------------------------------------------------------------------

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _refresh(self) -> None:
        """Read the file again when another process (or run) changed it since it was last read."""
        stamp = self._stamp()
        if self._loaded and stamp == self._read_stamp:
            return
        self._loaded = True
        self._read_stamp = stamp
        self._drafts = {} if stamp is None else self._read()

    def _read(self) -> dict[Key, tuple[str, int]]:
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
            if len(raw) > MAX_FILE_BYTES:
                raise ValueError(f"over {MAX_FILE_BYTES} bytes")
            document = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("the drafts in %s could not be read (%s): starting without them", self.path, exc)
            return {}
        drafts: dict[Key, tuple[str, int]] = {}
        entries = document.get("drafts") if isinstance(document, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            account, conversation = entry.get("account"), entry.get("conversation")
            text, edited = entry.get("text"), entry.get("edited_ms", 0)
            if (
                isinstance(account, str)
                and isinstance(conversation, str)
                and isinstance(text, str)
                and text.strip()
                and isinstance(edited, int)
            ):
                drafts[(account, conversation)] = (text[:MAX_DRAFT_CHARS], edited)
        self._drafts = drafts
        self._trim()
        return self._drafts

    def _trim(self) -> None:
        if len(self._drafts) > MAX_DRAFTS:
            newest = sorted(self._drafts.items(), key=lambda item: item[1][1], reverse=True)[:MAX_DRAFTS]
            self._drafts = dict(newest)

    def _write(self) -> None:
        document = {
            "version": VERSION,
            "drafts": [
                {"account": account, "conversation": conversation, "text": text, "edited_ms": edited}
                for (account, conversation), (text, edited) in sorted(self._drafts.items())
            ],
        }
        data = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
        temporary = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("the drafts could not be saved in %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                temporary.unlink()
            return
        self._read_stamp = self._stamp()


class PublishedDrafts:
    """What the reply boxes keep their drafts in: ``file``, and ``on_change`` called after every change of
    a draft, so that each window's conversation list shows the draft on its row at once."""

    def __init__(self, file: DraftFile, on_change: Callable[[], None]) -> None:
        self.file = file
        self._on_change = on_change

    def draft(self, key: Key) -> str:
        return self.file.draft(key)

    def set_draft(self, key: Key, text: str) -> None:
        if self.file.set_draft(key, text):
            self._on_change()
