"""Settings: the key goes to the keyring (an in-memory backend here), and the windows switch service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

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


def run_connection_test(gui: Gui, dialog: Any, key: str, url: str) -> str:
    """Press "Test connection" with ``key`` and ``url`` typed in, wait for its answer, return all it says."""
    dialog.api_key_edit.setText(key)
    dialog.base_url_edit.setText(url)
    dialog.test_button.click()
    gui.drive_until(dialog.test_button.isEnabled)
    return str(dialog.test_results_text())


def test_connection_reports_each_account_seat_status_and_plan_in_plain_lines(
    gui_factory: Any, vendor_sandbox: Any, memory_keyring: MemoryKeyring
) -> None:
    gui = gui_factory(vendor_sandbox)
    window = gui.manager.open_window()
    dialog = gui.manager.open_settings(window)
    assert dialog.base_url_edit.placeholderText() == "https://api.connectsafely.ai/linkedin"
    said = run_connection_test(gui, dialog, gui.sandbox.key, gui.sandbox.base_url).splitlines()
    accounts = gui.service.reader.accounts()
    assert said[0] == "✓ Connected: 3 accounts, 1 without API access on your plan"
    expected = []
    client = gui.sandbox.client()
    for account in accounts:
        seat = "API seat: yes" if account.api_seat else "API seat: no (not synced)"
        line = f"{account.name} — {seat}; status: {account.status}"
        if account.api_seat:  # A2 says the plan (a seatless account is asked nothing: it answers 403)
            a2 = client.get("/account/status", params={"accountId": account.account_id}).json()
            plan = (a2.get("linkedinPlan") or {}).get("premiumType")
            line += f"; plan: {plan}" if plan else ""
        expected.append(line)
    assert any("; plan: " in line for line in expected)  # the vendor's A2 says it for these accounts
    assert sorted(said[1:]) == sorted(expected)
    assert dialog.test_details_label.textFormat() == Qt.TextFormat.PlainText


def test_connection_says_a_rejected_key_and_a_plan_without_api_access_in_plain_words(
    gui_factory: Any, vendor_sandbox: Any, memory_keyring: MemoryKeyring
) -> None:
    gui = gui_factory(vendor_sandbox)
    window = gui.manager.open_window()
    dialog = gui.manager.open_settings(window)
    said = run_connection_test(gui, dialog, "not-the-key", gui.sandbox.base_url)
    assert said == "✗ The API key was rejected (401): check that the whole key was copied."
    gui.sandbox.control("POST", "faults", {"method": "GET", "path": "/accounts$", "count": 1, "status": 403})
    said = run_connection_test(gui, dialog, gui.sandbox.key, gui.sandbox.base_url)
    assert said.startswith("✗ No API access on your ConnectSafely plan (403).")
    assert "LinkedIn" not in said.replace("LinkedIn account", "")  # the plan's problem, not LinkedIn's


def test_a_404_on_the_accounts_offers_the_linkedin_path_and_one_click_fixes_it(
    gui_factory: Any, vendor_sandbox: Any, memory_keyring: MemoryKeyring
) -> None:
    gui = gui_factory(vendor_sandbox)
    window = gui.manager.open_window()
    dialog = gui.manager.open_settings(window)
    root = gui.sandbox.base_url.removesuffix("/linkedin")
    said = run_connection_test(gui, dialog, gui.sandbox.key, root)
    assert said == "✗ Nothing was found at this address (404): the accounts are not there."
    assert dialog.suggestion.isVisibleTo(dialog)
    assert dialog.suggestion_label.text() == f"Did you mean {gui.sandbox.base_url}?"
    dialog.suggestion_button.click()  # one click: the address goes in and the test runs again
    assert dialog.base_url() == gui.sandbox.base_url
    gui.drive_until(dialog.test_button.isEnabled)
    assert dialog.test_result_label.text().startswith("✓ Connected: 3 accounts")
    assert not dialog.suggestion.isVisibleTo(dialog)


def test_a_first_sync_that_gets_404_offers_the_fix_in_every_window_and_in_settings(
    qloop: Any, tmp_path: Path, vendor_sandbox: Any, memory_keyring: MemoryKeyring
) -> None:
    from desktop.backend import Backend
    from desktop.services import InboxService
    from desktop.settings import Settings
    from desktop.windows import WindowManager
    from sync.errors import NotFound

    root = vendor_sandbox.base_url.removesuffix("/linkedin")
    backend = Backend(root, None, vendor_sandbox.key, False, "keyring")
    service = InboxService(backend, tmp_path, on_bug=lambda error: pytest.fail(f"bug: {error!r}"))
    manager = WindowManager(service, Settings(tmp_path), sandbox=False, recall_grace_s=0)
    try:
        first = manager.open_window()
        with pytest.raises(NotFound):
            qloop.run_until_complete(service.reported_pass(service.engine))
        second = manager.open_window()  # opened after: offered the same
        for window in (first, second):
            assert window.banner.isVisibleTo(window)
            assert f"Did you mean {vendor_sandbox.base_url}?" in window.banner.label.text()
            assert window.banner.action_button.isVisibleTo(window)
        second.banner.action_button.click()
        dialogs = [d for d in second.findChildren(QDialog) if d.objectName() == "settingsDialog"]
        assert len(dialogs) == 1 and dialogs[0].suggestion.isVisibleTo(dialogs[0])
        assert dialogs[0].suggestion_label.text() == f"Did you mean {vendor_sandbox.base_url}?"
    finally:
        for window in list(manager.windows):
            window.close()
        qloop.run_until_complete(service.close())


def test_fixing_only_the_address_keeps_the_key_in_use(
    gui_factory: Any, vendor_sandbox: Any, memory_keyring: MemoryKeyring
) -> None:
    """Not in sandbox mode: the user fixes the address and leaves the key field empty (it never shows
    the stored key); the key in use moves to the new address instead of being dropped."""
    from desktop.backend import Backend

    gui = gui_factory(vendor_sandbox)
    root = gui.sandbox.base_url.removesuffix("/linkedin")
    gui.service.backend = Backend(root, None, gui.sandbox.key, False, "keyring")
    gui.manager.sandbox = False
    window = gui.manager.open_window()
    dialog = gui.manager.open_settings(window)
    assert dialog.api_key_edit.placeholderText() == "Leave empty to keep the key in use"
    dialog.save_requested.emit("", gui.sandbox.base_url)
    assert memory_keyring.store == {(credentials.KEYRING_SERVICE, gui.sandbox.base_url): gui.sandbox.key}
    assert gui.manager.backend_changed
