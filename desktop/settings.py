"""Every setting the app keeps, declared once with its default, stored in ``<data dir>/settings.ini``.

One settings file per data dir, so two data dirs (and every test) never share window geometry or the
recall grace period. The API key is *not* a setting: it lives in the keyring (desktop.credentials).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    default: Any
    label: str


RECALL_GRACE_S = Setting("recall/grace_s", 3, "Seconds to cancel a recall before it is sent")
BASE_URL = Setting("service/base_url", "", "ConnectSafely API base URL (empty: the default service)")
WINDOW_COUNT = Setting("windows/count", 1, "Windows open at the last exit")


class Settings:
    """Typed access to the data dir's settings file."""

    def __init__(self, data: Path) -> None:
        path = data / "settings.ini"
        # User-only like everything in the data dir; QSettings would create it with the umask's bits.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        path.chmod(0o600)
        self._store = QSettings(str(path), QSettings.Format.IniFormat)

    def get_int(self, setting: Setting) -> int:
        value = self._store.value(setting.key, setting.default)
        try:
            return int(str(value))
        except ValueError:
            return int(setting.default)

    def get_str(self, setting: Setting) -> str:
        value = self._store.value(setting.key, setting.default)
        return value if isinstance(value, str) else str(setting.default)

    def set(self, setting: Setting, value: Any) -> None:
        self._store.setValue(setting.key, value)

    def window_geometry(self, index: int) -> QByteArray | None:
        value = self._store.value(f"windows/{index}/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_window_geometry(self, index: int, geometry: QByteArray) -> None:
        self._store.setValue(f"windows/{index}/geometry", geometry)

    def last_conversation(self, index: int) -> tuple[str, str] | None:
        value = self._store.value(f"windows/{index}/conversation")
        if isinstance(value, str) and "\t" in value:
            account_id, conversation_id = value.split("\t", 1)
            return account_id, conversation_id
        return None

    def set_last_conversation(self, index: int, key: tuple[str, str] | None) -> None:
        self._store.setValue(f"windows/{index}/conversation", "" if key is None else "\t".join(key))

    def sync(self) -> None:
        self._store.sync()
