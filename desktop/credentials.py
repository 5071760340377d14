"""The API key: the OS keyring, or ``$CONNECTSAFELY_API_KEY`` where no keyring backend exists.

The key is never written to a file of ours, never logged and never put on a command line. ``keyring``
(~0.1 s to import) is imported where it is used, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

KEY_ENV: Final = "CONNECTSAFELY_API_KEY"
KEYRING_SERVICE: Final = "connectsafely-desktop"


@dataclass(frozen=True, slots=True)
class KeyLookup:
    key: str | None
    source: str
    """"environment", "keyring" or "" when none was found."""
    keyring_available: bool


def keyring_available() -> bool:
    import keyring

    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken backend configuration is "no keyring", not a crash
        return False
    priority = getattr(backend, "priority", 0)
    return not isinstance(priority, (int, float)) or priority > 0


def lookup_key(base_url: str) -> KeyLookup:
    """The key for ``base_url``: the environment first (explicit wins), then the keyring."""
    import keyring
    import keyring.errors

    available = keyring_available()
    from_env = os.environ.get(KEY_ENV, "").strip()
    if from_env:
        return KeyLookup(from_env, "environment", available)
    if available:
        try:
            stored = keyring.get_password(KEYRING_SERVICE, base_url)
        except keyring.errors.KeyringError as exc:
            log.warning("the keyring could not be read: %s", type(exc).__name__)
            stored = None
        if stored:
            return KeyLookup(stored, "keyring", True)
    return KeyLookup(None, "", available)


def store_key(base_url: str, key: str) -> None:
    """Store the key in the keyring; raises ``keyring.errors.KeyringError`` when there is none."""
    import keyring
    import keyring.errors

    if not keyring_available():
        raise keyring.errors.NoKeyringError(f"no keyring backend: set {KEY_ENV} in the environment instead")
    keyring.set_password(KEYRING_SERVICE, base_url, key)


def forget_key(base_url: str) -> None:
    import keyring
    import keyring.errors

    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        keyring.delete_password(KEYRING_SERVICE, base_url)
