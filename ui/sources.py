"""The read-only data sources the widgets need, as Protocols the desktop layer implements over the cache.

The UI never talks HTTP or SQL: every model reads through one of these, on the GUI thread, with short
``LIMIT``ed queries (ARCHITECTURE.md §3). User intents leave the widgets as Qt signals instead.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from sync.model import Account, AccountIssue, Conversation, ConversationHits, Message, RecallAttempt


class InboxReader(Protocol):
    """What the inbox window reads. Every method is a short indexed query; none may block for long.

    Ordering contracts the models rely on to apply row diffs without re-reading whole lists:

    - ``conversations_page`` returns conversations ordered by ``last_activity_at`` descending, ties broken
      by ``(account_id, conversation_id)`` ascending (``ui.conversation_model.conversation_sort_key``).
      ``search`` keeps the conversations whose participants' names or preview (the latest visible
      message's text) hold every word of it, the last one also as a prefix, case and diacritics folded
      ("emile" finds "Émile"); a search with no letter or digit matches nothing. ``unread_only`` keeps
      conversations with ``unread_count > 0``, ``starred_only`` the starred ones; ``account_id=None``
      means every account. The reader is the one judge of that rule: a list model asks
      ``conversations_matching`` where a changed conversation belongs, it never applies a rule of its own.
    - ``search_messages`` finds visible messages by every word in their text or sender's name (the last
      word a prefix from three letters on; the same folding), the newest first, grouped by conversation.
    - ``messages_page`` returns the *visible* (not tombstoned) messages of one conversation, newest first,
      by the keyset ``(sent_at, message_id)``: with ``before`` set, only messages strictly older than it.
    """

    def accounts(self) -> list[Account]: ...

    def account_issues(self) -> list[AccountIssue]:
        """Accounts the last sync pass could not serve (no API seat, refused, failing), by name."""
        ...

    def conversations_page(
        self,
        *,
        account_id: str | None,
        unread_only: bool,
        search: str,
        offset: int,
        limit: int,
        starred_only: bool = False,
    ) -> list[Conversation]: ...

    def conversation(self, account_id: str, conversation_id: str) -> Conversation | None:
        """The conversation's current row, or None when it no longer exists."""
        ...

    def newest_activity(self, keys: Collection[tuple[str, str]]) -> int | None:
        """The latest ``last_activity_at`` among these (account id, conversation id); None if none exists."""
        ...

    def conversations_matching(
        self,
        keys: Collection[tuple[str, str]],
        *,
        account_id: str | None,
        unread_only: bool,
        search: str,
        starred_only: bool = False,
    ) -> set[tuple[str, str]]:
        """Which of these (account id, conversation id) ``conversations_page`` lists under this filter."""
        ...

    def search_messages(
        self, query: str, *, account_id: str | None = None, limit: int = 100
    ) -> tuple[ConversationHits, ...]:
        """The newest ``limit`` visible messages matching ``query``, grouped by conversation (the
        conversation of the newest match first), each with the spans of its text and sender's name to
        highlight. A recalled message is never found."""
        ...

    def messages_page(
        self, account_id: str, conversation_id: str, *, before: tuple[int, str] | None, limit: int
    ) -> list[Message]: ...

    def message(self, account_id: str, message_id: str) -> Message | None:
        """The message's current row, or None when it is hidden (tombstoned) or unknown."""
        ...

    def recall_log(self, limit: int) -> list[RecallAttempt]:
        """The newest ``limit`` recall attempts, newest first."""
        ...

    def server_now_ms(self) -> int:
        """The server's clock as best known (local clock + offset from the API's ``Date`` headers)."""
        ...


# --- values the desktop layer hands the windows (signals carry these, frozen) ----------------------------


@dataclass(frozen=True, slots=True)
class ServerFreshness:
    """How fresh the server's copy of LinkedIn is, per account (C12 ``lastSyncAt``, epoch ms; None when
    the server has not synced that account yet)."""

    last_sync_at: tuple[tuple[str, int | None], ...] = ()

    def of(self, account_ids: Iterable[str] | None = None) -> list[tuple[str, int | None]]:
        """The entries of ``account_ids`` (every entry when None), in the order they were given."""
        if account_ids is None:
            return list(self.last_sync_at)
        wanted = set(account_ids)
        return [entry for entry in self.last_sync_at if entry[0] in wanted]


@dataclass(frozen=True, slots=True)
class AccountRefresh:
    """What "Refresh from LinkedIn" did for one account."""

    account_id: str
    name: str
    ok: bool
    detail: str = ""
    """Why it was skipped or failed (plain words), or the server's note on a partial sync."""
    skipped: bool = False
    """Not refreshed because the plan gives no API access to it (not a failure of this refresh)."""


@dataclass(frozen=True, slots=True)
class MarkAllRead:
    """How far one "Mark all read" is: conversations handled of ``total`` (``failed`` of them refused by
    the server), and whether it has ended. ``error``: the last failure, in plain words (a failure of the
    key or the network ends the run early)."""

    total: int
    done: int = 0
    failed: int = 0
    error: str = ""
    finished: bool = False

    @property
    def text(self) -> str:
        """One status-bar line."""
        if not self.finished:
            return f"Marking conversations read: {self.done} of {self.total}…"
        if self.total == 0:
            return "No unread conversations."
        read = self.done - self.failed
        if read == self.total:
            return f"Marked {read} conversation{'s' if read != 1 else ''} read."
        stopped = f": {self.error}" if self.error else ""
        return f"Marked {read} of {self.total} conversations read{stopped}"


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """The end of one "Refresh from LinkedIn": each account's result, and a failure of the whole (signed
    out, offline, the re-read failed) in ``error``."""

    accounts: tuple[AccountRefresh, ...] = ()
    error: str = ""
