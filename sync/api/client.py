"""The endpoints of spec §2, one method each, on top of the request plumbing."""

from __future__ import annotations

import logging
from typing import Final

from sync import model, wire
from sync.api.plumbing import RequestPlumbing
from sync.api.transport import suggested_base_url
from sync.errors import (
    KnownError,
    NotFound,
    RateLimited,
    Refused,
    ServerError,
    TimedOut,
    Unreachable,
)
from sync.urns import encode_path_segment, parse_conversation

__all__ = ["SERVER_SYNC_TIMEOUT_S", "ApiClient"]

# The package's name, not the module's: log filters and the repeat collapser (sync.logs) key on it.
log = logging.getLogger("sync.api")

SERVER_SYNC_TIMEOUT_S: Final = 300.0
"""C11 runs the server's LinkedIn sync before it answers (spec §8): minutes, not seconds."""


class ApiClient(RequestPlumbing):
    """One per process: all HTTP calls of spec §2. Use as ``async with ApiClient(...) as api`` or call
    :meth:`aclose`.

    ``budget=None`` disables local pacing (tests, benchmarks). ``read_retries`` bounds the retries of a GET
    answered 429 (each after ``Retry-After``, skipped when that exceeds ``max_retry_wait_s``).
    ``timeout_s`` bounds each read and ``deadline_s`` a whole exchange, body included (None: no overall
    deadline); ``max_body_bytes`` caps the body of an answer. ``decode_in_thread_bytes=None`` decodes
    every body on the calling thread. ``transport``, ``clock`` and ``sleep`` exist for tests.
    """

    def _conversation_path(self, conversation_urn: str) -> str:
        return f"conversations/{encode_path_segment(conversation_urn)}"

    def _message_path(self, conversation_urn: str, message_urn: str) -> str:
        return f"{self._conversation_path(conversation_urn)}/messages/{encode_path_segment(message_urn)}"

    # --- accounts ------------------------------------------------------------------------------------

    async def accounts(self, query: str | None = None) -> wire.AccountList:
        """A1: the caller's LinkedIn accounts (malformed items skipped and counted, repeats dropped).

        A1 is every run's first call, so its 404 usually means a wrong base URL: when the base URL's
        path does not end in ``/linkedin``, the :class:`NotFound` names the likely one in
        ``suggested_base_url`` ("did you mean …?").
        """
        try:
            return await self._request("GET", "accounts", "A1", wire.decode_accounts, params={"q": query})
        except NotFound as exc:
            suggestion = suggested_base_url(self.base_url)
            if suggestion is not None:
                exc.suggest_base_url(suggestion)
            raise

    async def account_status(self, account_id: str | None) -> model.Account:
        """A2: one account with its mailbox prefix (``mailbox`` is ``""`` when the server gives none).

        ``account_id=None`` asks for the default account: only for discovering it, never for acting.
        """
        return await self._request(
            "GET", "account/status", "A2", wire.decode_account_status, params={"accountId": account_id}
        )

    # --- reading -------------------------------------------------------------------------------------

    async def conversations(
        self,
        account_id: str,
        *,
        count: int = 20,
        cursor: str | None = None,
        unread_only: bool | None = None,
        label_id: str | None = None,
        labeled_only: bool | None = None,
    ) -> wire.ConversationPage:
        """C1: one page of ``account_id``'s conversations; pass the previous page's ``next_cursor``."""
        params: dict[str, str | int | None] = {
            "accountId": account_id,
            "count": count,
            "nextCursor": cursor,
            "labelId": label_id,
            "unreadOnly": _flag(unread_only),
            "labeledOnly": _flag(labeled_only),
        }
        return await self._request(
            "GET", "conversations", "C1", lambda b: wire.decode_conversations(b, account_id), params=params
        )

    async def messages(
        self,
        account_id: str,
        conversation_urn: str,
        *,
        count: int = 50,
        cursor: str | None = None,
        since: int | None = None,
        sync: bool | None = None,
    ) -> wire.MessagePage:
        """C2: one page of a conversation's messages, newest first; ``since`` is exclusive (epoch ms).

        ``conversation_urn`` must parse (``UrnError`` otherwise, before any request): the messages are
        keyed by its normalized id.
        """
        parse_conversation(conversation_urn)
        params: dict[str, str | int | None] = {
            "accountId": account_id,
            "count": count,
            "cursor": cursor,
            "since": since,
            "sync": _flag(sync),
        }
        return await self._request(
            "GET",
            f"{self._conversation_path(conversation_urn)}/messages",
            "C2",
            lambda b: wire.decode_messages(b, account_id, conversation_urn),
            params=params,
        )

    async def conversation_exists(self, account_id: str, public_id: str) -> wire.ExistsResult:
        """C14: is there a thread with the person whose vanity slug is ``public_id``?"""
        return await self._request(
            "GET",
            f"conversations/exists/{encode_path_segment(public_id)}",
            "C14",
            wire.decode_exists,
            params={"accountId": account_id},
        )

    async def server_sync_status(self, account_id: str) -> wire.SyncStatusList:
        """C12: the server-side sync state."""
        return await self._request(
            "GET",
            "conversations/sync/status",
            "C12",
            wire.decode_sync_status,
            params={"accountId": account_id},
        )

    # --- writes (never retried here) -----------------------------------------------------------------

    async def send(
        self,
        account_id: str,
        text: str,
        *,
        conversation_urn: str | None = None,
        recipient_profile_id: str | None = None,
        recipient_profile_urn: str | None = None,
        subject: str | None = None,
    ) -> wire.SendResult:
        """C3: send ``text`` into ``conversation_urn``, or start a thread with a recipient.

        Not retried: on :class:`Unreachable`/:class:`TimedOut`/:class:`ServerError` the message may or may
        not have been sent; the next sync tells.
        """
        body = {
            "accountId": account_id,
            "conversationUrn": conversation_urn,
            "recipientProfileId": recipient_profile_id,
            "recipientProfileUrn": recipient_profile_urn,
            "message": text,
            "subject": subject,
        }
        return await self._request(
            "POST",
            "conversations/send",
            "C3",
            lambda b: wire.decode_send(b, account_id, conversation_urn),
            body=body,
            write_account=account_id,
        )

    async def recall(self, account_id: str, conversation_urn: str, message_urn: str) -> wire.RecallResult:
        """C6: recall a message the account sent. One attempt; see :meth:`retry_recall` for a lost answer.

        Refusals are :class:`sync.errors.Refused` subclasses by code (a 400 with an unknown code is a
        plain ``Refused`` quoting the server's message).
        """
        return await self._request(
            "DELETE",
            self._message_path(conversation_urn, message_urn),
            "C6",
            lambda b: wire.decode_recall(b, message_urn),
            params={"accountId": account_id},
            write_account=account_id,
        )

    async def retry_recall(
        self,
        account_id: str,
        conversation_urn: str,
        message_urn: str,
        *,
        attempts: int = 3,
        backoff_s: float = 1.0,
    ) -> wire.RecallResult:
        """C6, repeated while the failure is retryable (no answer, timeout, 5xx, 429).

        A repeat is safe for LinkedIn (recalling twice cannot recall anything else), but its answer is not
        evidence: the contract's sandbox answers a repeat of a done recall 200, the vendor answers every
        repeat ``400 Recall failed on LinkedIn`` (spec §8). So a refusal after an attempt whose outcome is
        unknown (no answer, timeout, 5xx) raises that uncertain failure, not the refusal: the caller
        settles it by evidence (spec §9). A refusal of the first attempt is final and raised at once.
        Waits the 429's wait (see :func:`sync.wire.rate_limit_wait`), else ``backoff_s`` doubling; a 429
        that asks for more than ``max_retry_wait_s`` is raised at once.
        """
        delay = backoff_s
        uncertain: KnownError | None = None
        for attempt in range(1, attempts + 1):
            try:
                return await self.recall(account_id, conversation_urn, message_urn)
            except Refused:
                if uncertain is None:
                    raise
                log.info("recall repeat refused after an unknown outcome: not evidence, still unknown")
                raise uncertain from None
            except (Unreachable, TimedOut, ServerError, RateLimited) as exc:
                if not isinstance(exc, RateLimited):
                    uncertain = exc  # a 429 was not carried out; the others may have been
                wait = exc.retry_after_s if isinstance(exc, RateLimited) and exc.retry_after_s else delay
                if attempt == attempts or wait > self._max_retry_wait_s:
                    if uncertain is not None and uncertain is not exc:
                        raise uncertain from None  # an earlier attempt may have been done
                    raise
                log.info("recall attempt %d failed (%s); again in %.1f s", attempt, exc.kind, wait)
                await self._sleep(wait)
                delay *= 2
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    async def react(
        self, account_id: str, conversation_urn: str, message_urn: str, emoji: str, *, react: bool = True
    ) -> wire.ReactResult:
        """C7: add (``react=True``) or remove an emoji reaction."""
        return await self._request(
            "POST",
            f"{self._message_path(conversation_urn, message_urn)}/react",
            "C7",
            wire.decode_react,
            params={"accountId": account_id},
            body={"emoji": emoji, "react": react},
            write_account=account_id,
        )

    async def mark_unread(
        self, conversation_urn: str, *, account_id: str | None = None
    ) -> wire.ConversationAck:
        """C8. The server derives the account from the URN; ``account_id`` only paces the local budget."""
        return await self._conversation_patch(conversation_urn, "mark-unread", "C8", account_id)

    async def star(self, conversation_urn: str, *, account_id: str | None = None) -> wire.ConversationAck:
        """C9 (``account_id`` only paces the local budget)."""
        return await self._conversation_patch(conversation_urn, "star", "C9", account_id)

    async def unstar(self, conversation_urn: str, *, account_id: str | None = None) -> wire.ConversationAck:
        """C10 (``account_id`` only paces the local budget)."""
        return await self._conversation_patch(conversation_urn, "unstar", "C10", account_id)

    async def _conversation_patch(
        self, conversation_urn: str, action: str, endpoint: str, account_id: str | None
    ) -> wire.ConversationAck:
        return await self._request(
            "PATCH",
            f"{self._conversation_path(conversation_urn)}/{action}",
            endpoint,
            lambda b: wire.decode_ack(b, endpoint),
            # Unknown account: one shared bucket, which can only make the pacing stricter.
            write_account=account_id or "",
        )

    async def mark_seen(self, account_id: str, conversation_urn: str) -> wire.ConversationAck:
        """M1: mark a conversation read."""
        return await self._request(
            "POST",
            "messaging/mark-seen",
            "M1",
            lambda b: wire.decode_ack(b, "M1"),
            body={"accountId": account_id, "conversationUrn": conversation_urn},
            write_account=account_id,
        )

    async def server_sync(self, account_id: str, *, force: bool = False) -> wire.ServerSyncResult:
        """C11: ask the server to sync from LinkedIn (slow on the real service)."""
        return await self._request(
            "POST",
            "conversations/sync",
            "C11",
            wire.decode_server_sync,
            body={"accountId": account_id, "force": force},
            slow_s=SERVER_SYNC_TIMEOUT_S,
        )

    async def refresh(self, account_id: str, conversation_urn: str) -> wire.RefreshResult:
        """C13: refresh one conversation; the messages arrive on the event stream."""
        return await self._request(
            "POST",
            "conversations/refresh",
            "C13",
            wire.decode_refresh,
            body={"accountId": account_id, "conversationUrn": conversation_urn},
        )


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")
