"""Every setting the app keeps, declared once with its default, stored in ``<data dir>/settings.ini``.

One settings file per data dir, so two data dirs (and every test) never share window geometry or the
recall grace period. The API key is *not* a setting: it lives in the keyring (desktop.credentials).

The GUI reads and writes the file through ``QSettings`` (:class:`Settings`). The headless commands never
import Qt, so they read the few settings they share with the GUI (the base URL) with
:func:`saved_str`, a reader of the INI dialect ``QSettings`` writes; Qt is imported here only when a
:class:`Settings` is made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from PySide6.QtCore import QByteArray


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    default: Any
    label: str


RECALL_GRACE_S = Setting("recall/grace_s", 3, "Seconds to cancel a recall before it is sent")
BASE_URL = Setting("service/base_url", "", "ConnectSafely API base URL (empty: the default service)")
WINDOW_COUNT = Setting("windows/count", 1, "Windows open at the last exit")
CTRL_ENTER_SENDS = Setting(
    "composer/ctrl_enter_sends", False, "Send with Ctrl+Enter (Enter starts a new line)"
)
"""Off: Enter sends and Shift+Enter starts a new line, as in Signal, LinkedIn and Slack."""

PREFERENCES: Final = (CTRL_ENTER_SENDS,)
"""The on/off settings the Settings dialog shows, each with its label."""
THEME = Setting("view/theme", "system", "View › Theme: system (the desktop's light or dark), light or dark")

FILE_NAME: Final = "settings.ini"


def settings_file(data: Path) -> Path:
    return data / FILE_NAME


class Settings:
    """Typed access to the data dir's settings file."""

    def __init__(self, data: Path) -> None:
        from PySide6.QtCore import QSettings

        path = settings_file(data)
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

    def get_bool(self, setting: Setting) -> bool:
        value = self._store.value(setting.key, setting.default)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        return bool(setting.default)

    def get_str(self, setting: Setting) -> str:
        value = self._store.value(setting.key, setting.default)
        return value if isinstance(value, str) else str(setting.default)

    def set(self, setting: Setting, value: Any) -> None:
        self._store.setValue(setting.key, value)

    def window_geometry(self, index: int) -> QByteArray | None:
        from PySide6.QtCore import QByteArray

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

    def scroll_anchor(self, index: int) -> tuple[str, int] | None:
        """(message id, pixels of its row above the view's top) of the window's thread scrolled up, or
        None (the newest)."""
        value = self._store.value(f"windows/{index}/anchor")
        if isinstance(value, str) and "\t" in value:
            message_id, _, offset = value.rpartition("\t")
            if message_id and offset.isdigit():
                return message_id, int(offset)
        return None

    def set_scroll_anchor(self, index: int, anchor: tuple[str, int] | None) -> None:
        value = "" if anchor is None else f"{anchor[0]}\t{max(0, anchor[1])}"
        self._store.setValue(f"windows/{index}/anchor", value)

    def account_filter(self, index: int) -> str | None:
        """The account the window's list was filtered to, or None (all accounts)."""
        value = self._store.value(f"windows/{index}/account")
        return value if isinstance(value, str) and value else None

    def set_account_filter(self, index: int, account_id: str | None) -> None:
        self._store.setValue(f"windows/{index}/account", account_id or "")

    def sync(self) -> None:
        self._store.sync()


# --- the file without Qt (the headless commands) ----------------------------------------------------


def saved_str(data: Path, setting: Setting) -> str | None:
    """The string ``setting`` has in the data dir's settings file, or None when the file, the key or a
    plain string value is not there. Reads only: the file is neither created nor locked."""
    try:
        text = settings_file(data).read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return None
    group, _, name = setting.key.rpartition("/")
    return _ini_value(text, group or "General", name)


def _ini_value(text: str, group: str, name: str) -> str | None:
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            continue
        key, sep, raw = line.partition("=")
        if sep and section == group and key.strip() == name:
            return _qt_string(raw)
    return None


_ESCAPES: Final = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
    "'": "'",
    "?": "?",
}
_HEX: Final = frozenset("0123456789abcdefABCDEF")


def _qt_string(raw: str) -> str | None:
    """A value as ``QSettings`` wrote it (``QSettingsPrivate::iniEscapedString``): quotes around a value
    with ``,``/``;``/``=`` or edge spaces, C escapes, ``\\x`` hex and ``\\0`` octal escapes read greedily,
    ``@@`` for a leading ``@``. None for what is not one plain string (a list, ``@ByteArray(…)``)."""
    out: list[str] = []
    quoted = False
    value = raw.strip()
    i, end = 0, len(value)
    while i < end:
        ch = value[i]
        if ch == '"':
            quoted = not quoted
            i += 1
        elif ch == "\\" and i + 1 < end:
            nxt = value[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            elif nxt == "x":
                j = i + 2
                while j < end and value[j] in _HEX:
                    j += 1
                out.append(chr(int(value[i + 2 : j] or "0", 16)))
                i = j
            elif nxt in "01234567":
                j = i + 1
                while j < end and value[j] in "01234567":
                    j += 1
                out.append(chr(int(value[i + 1 : j], 8)))
                i = j
            else:
                out.append(nxt)
                i += 2
        elif not quoted and ch == ";":
            break  # a comment
        elif not quoted and ch == ",":
            return None  # a list of strings, not a string
        else:
            out.append(ch)
            i += 1
    text = "".join(out)
    if text.startswith("@@"):
        return text[1:]
    if text.startswith("@String(") and text.endswith(")"):
        return text[len("@String(") : -1]
    if text.startswith("@"):
        return None
    return text
