"""SettingsDialog and CrashDialog."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit
from pytestqt.qtbot import QtBot

from ui.dialogs import CrashDialog, SettingsDialog


def test_settings_hide_the_key_and_emit_the_values(qtbot: QtBot) -> None:
    dialog = SettingsDialog(api_key="sk-secret", base_url="https://api.example", key_location="GNOME Keyring")
    qtbot.addWidget(dialog)
    assert dialog.api_key_edit.echoMode() == QLineEdit.EchoMode.Password
    assert "GNOME Keyring" in dialog.key_location_label.text()
    dialog.show_key_button.click()
    assert dialog.api_key_edit.echoMode() == QLineEdit.EchoMode.Normal
    dialog.show_key_button.click()
    assert dialog.api_key_edit.echoMode() == QLineEdit.EchoMode.Password
    with qtbot.waitSignal(dialog.test_connection_requested) as blocker:
        dialog.test_button.click()
    assert blocker.args == ["sk-secret", "https://api.example"]
    assert not dialog.test_button.isEnabled()
    dialog.set_test_result(True, "Connected as Ada Lovelace")
    assert dialog.test_button.isEnabled()
    assert "Connected as Ada Lovelace" in dialog.test_result_label.text()
    dialog.api_key_edit.setText("  sk-new ")
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    with qtbot.waitSignal(dialog.save_requested) as saved, qtbot.waitSignal(dialog.accepted):
        save.click()
    assert saved.args == ["sk-new", "https://api.example"]


def test_crash_dialog_is_short_with_details_folded_and_reused(qtbot: QtBot) -> None:
    details = "Traceback (most recent call last):\n  File 'x.py', line 1\nKeyError: 'boom'"
    dialog = CrashDialog.report("KeyError: 'boom'", details, "/home/ada/.local/state/connectsafely/app.log")
    qtbot.addWidget(dialog)
    assert dialog.isVisible()
    assert dialog.path_label.text().endswith("app.log")
    assert "Traceback" not in dialog.summary_label.text()
    assert not dialog.details.isVisibleTo(dialog)
    dialog.details_button.setChecked(True)
    assert dialog.details.isVisibleTo(dialog)
    again = CrashDialog.report("ValueError: second", "trace 2", "/ignored.log")
    assert again is dialog
    assert "trace 2" in dialog.details.toPlainText()
    dialog.close()
    dialog.done(0)
    assert CrashDialog._open is None


def test_settings_show_the_default_address_and_one_plain_line_per_account(qtbot: QtBot) -> None:
    dialog = SettingsDialog(default_base_url="https://api.connectsafely.ai/linkedin")
    qtbot.addWidget(dialog)
    assert dialog.base_url_edit.placeholderText() == "https://api.connectsafely.ai/linkedin"
    assert dialog.base_url() == ""  # empty means the default: nothing is forced into the field
    dialog.test_button.click()
    dialog.set_test_result(
        True,
        "Connected: 2 accounts, 1 without API access on your plan",
        ["<b>Ada</b> — API seat: yes; status: AVAILABLE", "Sam — API seat: no; status: AVAILABLE"],
    )
    assert dialog.test_details_label.isVisibleTo(dialog)
    assert dialog.test_details_label.textFormat() == Qt.TextFormat.PlainText
    assert dialog.test_details_label.text().splitlines() == [
        "<b>Ada</b> — API seat: yes; status: AVAILABLE",
        "Sam — API seat: no; status: AVAILABLE",
    ]
    # A new test starts clean: the old per-account lines do not linger under "Testing…".
    dialog.test_button.click()
    assert not dialog.test_details_label.isVisibleTo(dialog)


def test_did_you_mean_puts_the_address_in_and_tests_again_in_one_click(qtbot: QtBot) -> None:
    dialog = SettingsDialog(api_key="k", base_url="https://api.connectsafely.ai")
    qtbot.addWidget(dialog)
    assert not dialog.suggestion.isVisibleTo(dialog)
    dialog.set_test_result(False, "Nothing was found at this address (404).")
    dialog.offer_base_url("https://api.connectsafely.ai/linkedin")
    assert dialog.suggestion.isVisibleTo(dialog)
    assert dialog.suggestion_label.text() == "Did you mean https://api.connectsafely.ai/linkedin?"
    with qtbot.waitSignal(dialog.test_connection_requested) as tested:
        dialog.suggestion_button.click()
    assert tested.args == ["k", "https://api.connectsafely.ai/linkedin"]
    assert dialog.base_url() == "https://api.connectsafely.ai/linkedin"
    assert not dialog.suggestion.isVisibleTo(dialog)
