"""The window's accounts and what is wrong with each: the words the account filter, tips and indicator use."""

from __future__ import annotations

from collections.abc import Iterable

from sync.model import Account, AccountIssue

from .sources import InboxReader
from .text import one_line

NO_API_ACCESS = "no API access on your plan"
"""How an account without an API seat (A1 ``apiSeatAllocated: false``, or a 403) is named everywhere."""


def account_problem(account: Account | None, issue: AccountIssue | None) -> str:
    """Why an account is not (fully) synced, in a few words ("" when nothing is wrong): a seatless
    account is never synced; any other issue is what the last sync pass met for that account."""
    if (account is not None and account.api_seat is False) or (
        issue is not None and issue.kind == "no_api_access"
    ):
        return NO_API_ACCESS
    if issue is not None:
        return f"sync failed: {one_line(issue.message, 120).rstrip('.')}"
    return ""


class AccountStates:
    """The accounts one window shows and the problems the last sync pass stored for them."""

    def __init__(self) -> None:
        self.accounts: list[Account] = []
        self._issues: dict[str, AccountIssue] = {}

    def reload(self, reader: InboxReader) -> None:
        """Re-read the accounts and their stored problems."""
        self.accounts = reader.accounts()
        self._issues = {issue.account_id: issue for issue in reader.account_issues()}

    def set_issues(self, issues: Iterable[AccountIssue]) -> bool:
        """A sync pass reported the accounts it could not serve (the others are fine again); whether
        anything changed."""
        fresh = {issue.account_id: issue for issue in issues}
        if fresh == self._issues:
            return False
        self._issues = fresh
        return True

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts if a.account_id == account_id), None)

    def names(self) -> dict[str, str]:
        """Account id → the name shown (the id when the account has no name)."""
        return {a.account_id: a.name or a.account_id for a in self.accounts}

    def row_labels(self) -> dict[str, str]:
        """Account id → the name each conversation row shows in "All accounts": none with one account
        (nothing to tell apart)."""
        return self.names() if len(self.accounts) > 1 else {}

    def problem(self, account_id: str) -> str:
        """What is wrong with one account, in a few words ("" when nothing is)."""
        return account_problem(self.account(account_id), self._issues.get(account_id))

    def needing_attention(self) -> list[tuple[str, str, str]]:
        """(account id, name, problem) of every account that is not synced or whose sync failed."""
        names = self.names()
        for issue in self._issues.values():
            names.setdefault(issue.account_id, issue.name or issue.account_id)
        found = [(account_id, name, self.problem(account_id)) for account_id, name in names.items()]
        return sorted((entry for entry in found if entry[2]), key=lambda e: (e[1].casefold(), e[0]))

    def tip(self, account_id: str) -> str:
        """The longer explanation of an account's problem, for tooltips ("" when nothing is wrong)."""
        issue = self._issues.get(account_id)
        problem = account_problem(self.account(account_id), issue)
        if problem == NO_API_ACCESS:
            tip = (
                "Your ConnectSafely plan has no API seat for this account, so it is shown but never "
                "synced. Add a seat for it on your ConnectSafely plan."
            )
            return f"{tip}\n{issue.message}" if issue is not None and issue.message else tip
        if issue is not None:
            retry = "" if issue.refused else " The next sync tries again."
            return f"The last sync could not read this account: {issue.message}{retry}"
        return ""
