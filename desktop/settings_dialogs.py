"""Settings and Help › About for the window manager: the Settings dialog (the key, the server address,
the on/off preferences, "Test connection") and what saving it does, and the About box's facts.

Saving another key or address reopens every window on the backend it selects (the app does that once
the windows have closed). A mixin of :class:`desktop.windows.WindowManager`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt

from desktop import backend as backends
from desktop import credentials
from desktop.settings import CTRL_ENTER_SENDS, PREFERENCES, Settings
from sync.errors import KnownError, NoApiAccess, NotFound, SignedOut
from sync.model import Account
from ui.main_window import MainWindow

if TYPE_CHECKING:
    from desktop.services import InboxService

    # Imported where used: the first window paints without the network side or the dialogs loaded.
    from sync.api import ApiClient
    from ui.dialogs import AboutDialog, SettingsDialog

    # What the mixin uses of its host, WindowManager (a QObject): declared for the type checker only.
    _Host = QObject
else:
    _Host = object

log = logging.getLogger(__name__)


def account_test_line(account: Account) -> str:
    """One plain line of "Test connection" for one account: its API seat, its A1 status and, when A2
    said, its LinkedIn plan (``linkedinPlan.premiumType``)."""
    name = account.name or account.account_id
    if account.api_seat is None:
        seat = "API seat: not reported"
    elif account.api_seat:
        seat = "API seat: yes"
    else:
        seat = "API seat: no (not synced)"
    parts = [seat, f"status: {account.status or 'UNKNOWN'}"]
    if account.plan:
        parts.append(f"plan: {account.plan}")
    if not account.enabled:
        parts.append("disabled")
    return f"{name} — " + "; ".join(parts)


async def _with_plan(api: ApiClient, account: Account) -> Account:
    """The account with its plan from A2 (a seatless account answers 403 there: asked nothing)."""
    if account.api_seat is False:
        return account
    try:
        status = await api.account_status(account.account_id)
    except KnownError as exc:  # the plan is a detail: the line says the rest
        log.info("test connection: A2 of %s: %s", account.account_id, exc)
        return account
    return dataclasses.replace(account, plan=status.plan)


def connection_failure_text(error: KnownError) -> str:
    """What a failed "Test connection" says, in the dialog's words."""
    if isinstance(error, SignedOut):
        return "The API key was rejected (401): check that the whole key was copied."
    if isinstance(error, NoApiAccess):
        return f"No API access on your ConnectSafely plan (403). {error.user_message}"
    if isinstance(error, NotFound) and error.suggested_base_url:
        return "Nothing was found at this address (404): the accounts are not there."
    return error.user_message


def app_version() -> str:
    """The installed package's version ("unknown" when run from a tree that was never installed)."""
    from importlib import metadata

    try:
        return metadata.version("connectsafely-desktop")
    except metadata.PackageNotFoundError:
        return "unknown"


class SettingsDialogs(_Host):
    """Opens Settings and About over a window, tests a connection, saves what the dialog says."""

    if TYPE_CHECKING:
        service: InboxService
        settings: Settings
        sandbox: bool
        windows: list[MainWindow]
        backend_changed: bool

        def close_all(self) -> None: ...

    def open_settings(self, window: MainWindow, *, suggested_base_url: str = "") -> SettingsDialog:
        from ui.dialogs import SettingsDialog

        location = (
            "the system keyring"
            if credentials.keyring_available()
            else (f"no keyring on this system: set {credentials.KEY_ENV} in the environment instead")
        )
        shown_base_url = "" if self.sandbox else self.service.backend.base_url
        dialog = SettingsDialog(
            base_url=shown_base_url,
            key_location=location,
            default_base_url=backends.DEFAULT_BASE_URL,
            key_placeholder=(
                "Leave empty to use the local sandbox"
                if self.sandbox
                else "Leave empty to keep the key in use"
            ),
            preferences=[(s.key, s.label, self.settings.get_bool(s)) for s in PREFERENCES],
            parent=window,
        )
        dialog.test_connection_requested.connect(
            lambda key, url, d=dialog: self._test_connection(d, key, url)
        )
        dialog.preferences_saved.connect(self._save_preferences)
        dialog.save_requested.connect(
            lambda key, url, w=window: self._save_settings(w, key, url, shown_base_url=shown_base_url)
        )
        if suggested_base_url:
            dialog.offer_base_url(suggested_base_url)
        dialog.open()
        return dialog

    def about_facts(self) -> dict[str, str]:
        """What Help › About says besides the version: where the files are and which service is in use
        (the sandbox, or the base URL and where its key comes from; never the key)."""
        from desktop.paths import log_file

        backend = self.service.backend
        if backend.sandbox:
            service = f"The local sandbox with demo data (no API key set)\n{backend.base_url}"
        else:
            source = {"environment": f"from {credentials.KEY_ENV}", "keyring": "from the system keyring"}
            service = f"{backend.base_url}\nAPI key {source.get(backend.key_source, backend.key_source)}"
        following = self.service.following
        return {
            "Service": service,
            "Data folder": str(self.service.data),
            "Cache": self.service.cache.path.name,
            "Log file": str(log_file(self.service.data)),
            "Sync": "this process" if following is None else following.text.removeprefix("● "),
        }

    def show_about(self, window: MainWindow) -> AboutDialog:
        """Help › About (window-modal, not blocking the loop)."""
        from ui.dialogs import AboutDialog

        dialog = AboutDialog(version=app_version(), facts=self.about_facts(), parent=window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _test_connection(self, dialog: SettingsDialog, key: str, base_url: str) -> asyncio.Task[None]:
        """A1 with the typed key and address: one line per account (seat, status), or what went wrong
        in the user's words (401: the key; 403: the plan; 404: "did you mean …/linkedin?")."""
        from sync.api import ApiClient

        current = self.service.backend
        url = base_url or (current.base_url if self.sandbox and not key else backends.DEFAULT_BASE_URL)
        if not key and (not self.sandbox or url == current.base_url):
            key = current.api_key  # the key in use (the sandbox's own, or the stored one)

        async def test() -> None:
            if not key:
                dialog.set_test_result(False, "Enter your ConnectSafely API key to test the connection.")
                return
            try:
                async with ApiClient(url, key, budget=None) as api:
                    listed = await api.accounts()
                    accounts = [await _with_plan(api, a) for a in listed.accounts]
            except KnownError as exc:
                dialog.set_test_result(False, connection_failure_text(exc))
                if isinstance(exc, NotFound) and exc.suggested_base_url:
                    dialog.offer_base_url(exc.suggested_base_url)
                return
            if not accounts:
                dialog.set_test_result(True, "Connected, but this key has no LinkedIn accounts yet.")
                return
            seated = sum(1 for a in accounts if a.api_seat is not False)
            summary = f"Connected: {len(accounts)} account{'s' if len(accounts) != 1 else ''}"
            if seated < len(accounts):
                summary += f", {len(accounts) - seated} without API access on your plan"
            dialog.set_test_result(seated > 0, summary, [account_test_line(a) for a in accounts])

        return self.service.tasks.spawn(test())

    def _save_preferences(self, values: dict[str, bool]) -> None:
        """The on/off settings as saved in the Settings dialog, applied to every window at once."""
        for setting in PREFERENCES:
            if setting.key in values:
                self.settings.set(setting, bool(values[setting.key]))
        self.settings.sync()
        ctrl_enter = self.settings.get_bool(CTRL_ENTER_SENDS)
        for window in self.windows:
            window.reply_box.set_ctrl_enter_sends(ctrl_enter)

    def _save_settings(
        self, window: MainWindow, key: str, base_url: str, *, shown_base_url: str | None = None
    ) -> None:
        """Store the key in the keyring (or forget it: back to the sandbox), then reopen every window
        on the backend it selects. Nothing is done when neither the key nor the address was changed
        from what the dialog showed (``shown_base_url``): the user saved only preferences."""
        from desktop.settings import BASE_URL

        if not key and shown_base_url is not None and base_url == shown_base_url:
            return

        target = base_url or backends.DEFAULT_BASE_URL
        current = self.service.backend
        if not key and not self.sandbox and target != current.base_url:
            # Only the address changed (e.g. the "did you mean …/linkedin?" fix): the key in use goes
            # with it, stored under the new address.
            key = current.api_key
        if key:
            try:
                credentials.store_key(target, key)
            except Exception as exc:  # no keyring backend, or it refused: say where the key must go instead
                window.show_banner(
                    f"The key was not stored ({type(exc).__name__}). Set {credentials.KEY_ENV} instead.",
                    "warning",
                )
                return
        else:
            credentials.forget_key(self.service.backend.base_url if not self.sandbox else target)
        self.settings.set(BASE_URL, base_url)
        self.settings.sync()
        self.backend_changed = True
        self.close_all()
