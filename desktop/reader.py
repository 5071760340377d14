"""The UI's ``InboxReader`` over the cache: every method is one short, indexed, LIMITed query."""

from __future__ import annotations

from collections.abc import Callable, Collection

from sync.cache import Cache
from sync.model import Account, AccountIssue, Conversation, ConversationHits, Message, RecallAttempt


class CacheInboxReader:
    """Implements ``ui.sources.InboxReader`` for every window of the process (reads only)."""

    def __init__(self, cache: Cache, server_now_ms: Callable[[], int]) -> None:
        self._cache = cache
        self._server_now_ms = server_now_ms

    def accounts(self) -> list[Account]:
        return self._cache.reader.accounts()

    def account_issues(self) -> list[AccountIssue]:
        return self._cache.reader.account_issues()

    def conversations_page(
        self,
        *,
        account_id: str | None,
        unread_only: bool,
        search: str,
        offset: int,
        limit: int,
        starred_only: bool = False,
    ) -> list[Conversation]:
        return self._cache.reader.conversations_page(
            account_id=account_id,
            unread_only=unread_only,
            search=search,
            offset=offset,
            limit=limit,
            starred_only=starred_only,
        )

    def conversations_matching(
        self,
        keys: Collection[tuple[str, str]],
        *,
        account_id: str | None,
        unread_only: bool,
        search: str,
        starred_only: bool = False,
    ) -> set[tuple[str, str]]:
        return self._cache.reader.conversations_matching(
            keys, account_id=account_id, unread_only=unread_only, search=search, starred_only=starred_only
        )

    def search_messages(
        self, query: str, *, account_id: str | None = None, limit: int = 100
    ) -> tuple[ConversationHits, ...]:
        return self._cache.reader.search_messages(query, account_id=account_id, limit=limit)

    def conversation(self, account_id: str, conversation_id: str) -> Conversation | None:
        return self._cache.reader.conversation(account_id, conversation_id)

    def newest_activity(self, keys: Collection[tuple[str, str]]) -> int | None:
        return self._cache.reader.newest_activity(keys)

    def messages_page(
        self, account_id: str, conversation_id: str, *, before: tuple[int, str] | None, limit: int
    ) -> list[Message]:
        return self._cache.reader.messages_before(account_id, conversation_id, before=before, limit=limit)

    def message(self, account_id: str, message_id: str) -> Message | None:
        return self._cache.reader.message(account_id, message_id)

    def recall_log(self, limit: int) -> list[RecallAttempt]:
        return self._cache.reader.recall_log(limit=limit)

    def server_now_ms(self) -> int:
        return self._server_now_ms()
