"""MainWindow against the real service's shape: accounts that fail alone, polling, Refresh from LinkedIn."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sync.model import Account, AccountIssue, StreamState
from ui.main_window import MainWindow
from ui.sources import AccountRefresh, RefreshOutcome, ServerFreshness
from ui.status_bar import ago_text

from .fakes import MINUTE, NOW_MS, FakeInboxReader, make_conversation

SEATLESS = AccountIssue(
    "acc-3", "Sam Roe", "no_api_access", "No API access for this account on your ConnectSafely plan.", True
)
FAILING = AccountIssue("acc-2", "Bea Lee", "server_error", "Server error (502); try again later.", False)


@pytest.fixture
def reader() -> FakeInboxReader:
    reader = FakeInboxReader()
    reader.add_account(Account("acc-1", "Ada Lovelace", api_seat=True))
    reader.add_account(Account("acc-2", "Bea Lee", api_seat=True))
    reader.add_account(Account("acc-3", "Sam Roe", api_seat=False))
    for n in range(3):
        reader.put_conversation(make_conversation(n, account_id="acc-1"))
        reader.put_conversation(make_conversation(n + 10, account_id="acc-2"))
    return reader


@pytest.fixture
def window(qtbot: QtBot, reader: FakeInboxReader) -> MainWindow:
    window = MainWindow(reader, style_sheet="")
    qtbot.addWidget(window)
    return window


def combo_texts(window: MainWindow) -> list[str]:
    return [window.account_combo.itemText(i) for i in range(window.account_combo.count())]


def test_a_seatless_account_says_so_in_the_filter_and_the_status_bar_before_any_sync(
    window: MainWindow,
) -> None:
    # Only A1's apiSeatAllocated: false is known yet (no pass has stored an issue).
    assert combo_texts(window) == [
        "All accounts",
        "Ada Lovelace",
        "Bea Lee",
        "Sam Roe — no API access on your plan",
    ]
    tip = window.account_combo.itemData(3, Qt.ItemDataRole.ToolTipRole)
    assert "never synced" in tip
    assert window.attention_button.isVisibleTo(window)
    assert window.attention_button.text() == "⚠ 1 account needs attention"
    assert window.attention_button.toolTip() == "Sam Roe — no API access on your plan"


def test_a_seatless_accounts_empty_list_says_why_instead_of_no_conversations_yet(window: MainWindow) -> None:
    window.show_account("acc-3")
    assert window.conversation_model.rowCount() == 0
    assert window.empty_list_label.isVisibleTo(window)
    assert window.empty_list_label.text() == (
        "Sam Roe has no API access on your ConnectSafely plan, so its conversations are not synced."
    )
    window.show_account("acc-1")
    assert not window.empty_list_label.isVisibleTo(window)


def test_a_pass_report_marks_the_failing_account_and_a_later_one_clears_it(
    window: MainWindow, reader: FakeInboxReader
) -> None:
    window.set_account_issues((SEATLESS, FAILING))
    assert combo_texts(window)[2] == "Bea Lee — sync failed: Server error (502); try again later"
    assert "The next sync tries again" in window.account_combo.itemData(2, Qt.ItemDataRole.ToolTipRole)
    assert window.attention_button.text() == "⚠ 2 accounts need attention"
    assert window.attention_button.toolTip().splitlines() == [
        "Bea Lee — sync failed: Server error (502); try again later",
        "Sam Roe — no API access on your plan",
    ]
    # The other accounts' conversations are still listed: one account's failure is its own.
    assert window.conversation_model.rowCount() == 6
    window.set_account_issues((SEATLESS,))
    assert combo_texts(window)[2] == "Bea Lee"
    assert window.attention_button.text() == "⚠ 1 account needs attention"


def test_the_attention_menu_filters_to_the_account(window: MainWindow) -> None:
    window.set_account_issues((SEATLESS, FAILING))
    actions = window.attention_menu.actions()
    assert [a.text() for a in actions] == [
        "Bea Lee — sync failed: Server error (502); try again later",
        "Sam Roe — no API access on your plan",
    ]
    actions[0].trigger()
    assert window.account_combo.currentData() == "acc-2"
    model = window.conversation_model
    shown = {c.account_id for r in range(model.rowCount()) if (c := model.conversation_at(r)) is not None}
    assert shown == {"acc-2"}


def test_stored_issues_are_read_again_when_another_process_changed_them(
    window: MainWindow, reader: FakeInboxReader
) -> None:
    assert "sync failed" not in " ".join(combo_texts(window))
    reader.issues = [FAILING]
    window.refresh()  # what a foreign commit does
    assert combo_texts(window)[2].startswith("Bea Lee — sync failed")
    reader.issues = []
    window.refresh()
    assert combo_texts(window)[2] == "Bea Lee"


def test_the_selection_survives_a_change_of_account_states(window: MainWindow) -> None:
    window.show_account("acc-2")
    window.set_account_issues((FAILING,))
    assert window.account_combo.currentData() == "acc-2"
    window.set_account_issues(())
    assert window.account_combo.currentData() == "acc-2"


def test_polling_says_it_is_polling_and_how_late_a_change_can_be(window: MainWindow) -> None:
    window.set_stream_state(StreamState.POLLING)
    assert window.stream_label.text() == "● Polling"
    assert "within one polling interval" in window.stream_label.toolTip()
    window.set_poll_intervals(12.0, 60.0)
    tip = window.stream_label.toolTip()
    assert "every 12 s while a window is active, every 1 min otherwise" in tip
    assert "Reconnecting" not in window.stream_label.text()


def test_f5_asks_to_refresh_the_accounts_shown(qtbot: QtBot, window: MainWindow) -> None:
    assert window.refresh_action.text() == "Refresh from LinkedIn"
    assert window.refresh_action.shortcut().toString() == "F5"
    with qtbot.waitExposed(window):
        window.show()
    with qtbot.waitActive(window):
        window.activateWindow()
    with qtbot.waitSignal(window.refresh_requested, timeout=1_000) as every:
        qtbot.keyClick(window.conversation_view, Qt.Key.Key_F5)
    assert every.args == [()]
    window.show_account("acc-2")
    with qtbot.waitSignal(window.refresh_requested) as one:
        window.refresh_action.trigger()
    assert one.args == [("acc-2",)]
    window.set_refreshing(True)
    assert not window.refresh_action.isEnabled()
    assert window.freshness_label.text() == "Refreshing from LinkedIn…"
    with qtbot.assertNotEmitted(window.refresh_requested):
        window.refresh_action.trigger()


def test_the_refresh_outcome_names_skipped_and_failed_accounts(window: MainWindow) -> None:
    window.set_refreshing(True)
    window.show_refresh_outcome(
        RefreshOutcome(
            (
                AccountRefresh("acc-1", "Ada Lovelace", True),
                AccountRefresh("acc-2", "Bea Lee", False, "Server error (500); try again later."),
                AccountRefresh("acc-3", "Sam Roe", False, "No API access…", skipped=True),
            )
        )
    )
    assert window.refresh_action.isEnabled()
    assert window.statusBar().currentMessage() == (
        "Refreshed from LinkedIn: 1 account; skipped Sam Roe (no API access)"
    )
    assert window.banner.isVisibleTo(window)
    assert window.banner.label.text() == (
        "Refresh from LinkedIn: Bea Lee: Server error (500); try again later."
    )


def test_the_servers_freshness_is_shown_for_the_accounts_shown_and_kept_current(
    window: MainWindow, reader: FakeInboxReader
) -> None:
    assert not window.freshness_label.isVisibleTo(window)  # unknown: nothing is claimed
    window.set_server_freshness(
        ServerFreshness((("acc-1", NOW_MS - 3 * MINUTE), ("acc-2", NOW_MS - 50 * MINUTE), ("acc-3", None)))
    )
    assert window.freshness_label.text() == "LinkedIn data as of 50 min ago"  # the oldest of all shown
    assert "Ada Lovelace: 3 min ago" in window.freshness_label.toolTip()
    window.show_account("acc-1")
    assert window.freshness_label.text() == "LinkedIn data as of 3 min ago"
    # Time passes: the once-a-minute timer brings the text up to date.
    assert window.freshness_timer.isActive() and window.freshness_timer.interval() == 60_000
    reader.now_ms += 2 * MINUTE
    assert window.freshness_label.text() == "LinkedIn data as of 3 min ago"
    window.freshness_timer.timeout.emit()
    assert window.freshness_label.text() == "LinkedIn data as of 5 min ago"
    window.show_account("acc-3")  # never synced by the server: nothing to claim
    assert not window.freshness_label.isVisibleTo(window)


def test_ago_text_in_whole_units() -> None:
    assert [ago_text(NOW_MS, NOW_MS - ms) for ms in (0, 59_999, 60_000, 3 * MINUTE + 59_000)] == [
        "just now",
        "just now",
        "1 min ago",
        "3 min ago",
    ]
    assert ago_text(NOW_MS, NOW_MS - 125 * MINUTE) == "2 h ago"
    assert ago_text(NOW_MS, NOW_MS - 25 * 60 * MINUTE) == "1 day ago"
    assert ago_text(NOW_MS, NOW_MS - 3 * 24 * 60 * MINUTE) == "3 days ago"
    assert ago_text(NOW_MS, NOW_MS + MINUTE) == "just now"  # a clock ahead is not "−1 min"


def test_a_404_on_the_accounts_offers_the_fix_in_settings(qtbot: QtBot, window: MainWindow) -> None:
    url = "https://api.connectsafely.ai/linkedin"
    window.offer_base_url(url)
    assert window.banner.isVisibleTo(window)
    assert window.banner.label.text() == (
        f"Nothing was found at the server address in Settings (404). Did you mean {url}?"
    )
    assert window.banner.action_button.isVisibleTo(window)
    with qtbot.waitSignal(window.base_url_fix_requested) as fix:
        window.banner.action_button.click()
    assert fix.args == [url]
    window.show_banner("Something else")  # an ordinary banner has no button and offers nothing
    assert not window.banner.action_button.isVisibleTo(window)
    with qtbot.assertNotEmitted(window.base_url_fix_requested):
        window.banner.action_clicked.emit()


def test_items_a_pass_skipped_are_said_not_dropped_silently(window: MainWindow) -> None:
    window.show_skipped_items(0)
    assert window.statusBar().currentMessage() == ""
    window.show_skipped_items(3)
    assert window.statusBar().currentMessage() == (
        "3 items from the server could not be read and were skipped (details in the log)."
    )
