"""Settings: the key goes to the keyring (an in-memory backend here), and the windows switch service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keyring
import keyring.backend
import pytest

from desktop import credentials
from tests.desktop.gui_harness import Gui
from tests.fixtures.memory_keyring import MemoryKeyring

pytestmark = pytest.mark.gui


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.delenv(credentials.KEY_ENV, raising=False)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_saving_a_key_stores_it_in_the_keyring_and_reopens_the_windows(
    gui: Gui, memory_keyring: MemoryKeyring, tmp_path: Any
) -> None:
    window = gui.manager.open_window()
    dialog = gui.manager.open_settings(window)
    assert "keyring" in dialog.key_location_label.text()

    # "Test connection" talks to the service with the typed key, and says what it found.
    dialog.test_connection_requested.emit(gui.sandbox.key, gui.sandbox.base_url)
    gui.drive_until(lambda: dialog.test_result_label.text() != "")
    assert "Connected" in dialog.test_result_label.text()
    dialog.test_connection_requested.emit("not-the-key", gui.sandbox.base_url)
    gui.drive_until(lambda: "Connected" not in dialog.test_result_label.text())
    assert "key" in dialog.test_result_label.text().lower()

    dialog.save_requested.emit(gui.sandbox.key, gui.sandbox.base_url)
    assert memory_keyring.store == {(credentials.KEYRING_SERVICE, gui.sandbox.base_url): gui.sandbox.key}
    assert gui.manager.backend_changed and gui.manager.windows == []  # reopened on the new backend
    found = credentials.lookup_key(gui.sandbox.base_url)
    assert (found.key, found.source) == (gui.sandbox.key, "keyring")
    # The key is in the keyring only: not in the settings file, nor the cache.
    for path in gui.data.rglob("*"):
        if path.is_file():
            assert gui.sandbox.key.encode() not in path.read_bytes(), path


def test_without_a_keyring_the_dialog_says_where_the_key_must_go(
    gui: Gui, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "keyring_available", lambda: False)
    window = gui.manager.open_window()
    dialog = gui.manager.open_settings(window)
    assert credentials.KEY_ENV in dialog.key_location_label.text()
    dialog.save_requested.emit("some-key", gui.sandbox.base_url)
    assert not gui.manager.backend_changed
    assert credentials.KEY_ENV in window.banner.label.text()
