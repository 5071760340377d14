"""The server's errors: what an answer (or the lack of one) says went wrong, typed by code and status."""

from __future__ import annotations

from typing import Final

from sync.errors.known import KnownError

__all__ = [
    "RECALL_ENDPOINT",
    "AccountNotFound",
    "AnswerTooLarge",
    "BadServerUrl",
    "ConversationNotFound",
    "DailyQuotaExceeded",
    "InvalidAccountId",
    "InvalidCursor",
    "InvalidInput",
    "InvalidUrn",
    "MessageNotFound",
    "NoApiAccess",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "RecallNotMember",
    "RecallNotOwn",
    "RecallWindowExpired",
    "Refused",
    "ServerError",
    "SignedOut",
    "TimedOut",
    "Unreachable",
    "ValidationFailed",
    "error_for_code",
]

# --- 400: the server refused the request ------------------------------------------------------------

RECALL_ENDPOINT: Final = "C6"
"""The one endpoint whose refusals are LinkedIn's (spec §2 C6: the recall is done on LinkedIn first)."""


class Refused(KnownError):
    """The server refused the request: 400, or another 4xx it did not explain. Final for this request.

    Only a refusal of a recall (C6) is LinkedIn's ("Refused by LinkedIn: …"); anywhere else the server's
    own reason is quoted without blaming LinkedIn (spec §8: a Zod 400 of C3 is the server's validation).
    Subclasses with a fixed sentence set ``_plain``; those with a fixed reason set ``_reason``; the others
    quote the server's message.
    """

    kind = "refused"
    _plain = ""
    _reason = ""

    @property
    def user_message(self) -> str:
        if self._plain:
            return self._plain
        who = "Refused by LinkedIn" if self.endpoint == RECALL_ENDPOINT else "The server refused the request"
        reason = self._reason or self.server_message
        return f"{who}: {reason}" if reason else f"{who}."


class RecallNotOwn(Refused):
    kind = "recall_not_own"
    _plain = "Refused by LinkedIn: only messages you sent can be recalled."


class RecallWindowExpired(Refused):
    """The server's clock says the 60-minute window has closed: final, whatever the local estimate says."""

    kind = "recall_window_expired"
    _plain = "The recall window has closed: a message can only be recalled within 60 minutes of sending."


class RecallNotMember(Refused):
    kind = "recall_not_member"
    _plain = "Refused by LinkedIn: this account is not in that conversation."


class MessageNotFound(Refused):
    kind = "message_not_found"
    _plain = "Refused by LinkedIn: LinkedIn does not know this message."


class InvalidUrn(Refused):
    kind = "invalid_urn"
    _reason = "the conversation or message id is not valid for this account."


class ValidationFailed(Refused):
    """Any other bad field (empty message, bad ``count``…): the server's message says which."""

    kind = "validation"


class InvalidCursor(Refused):
    """The paging cursor expired or is foreign: the caller starts again from the newest page."""

    kind = "invalid_cursor"
    _plain = "The list changed on the server; reading it again from the start."


class InvalidAccountId(Refused):
    kind = "invalid_account_id"
    _reason = "the account id is not valid."


# --- 401 / 404 -------------------------------------------------------------------------------------


class SignedOut(KnownError):
    """401: the API key is missing, wrong or revoked. Nothing works until the user fixes it."""

    kind = "signed_out"
    _plain = "Signed out: the API key was rejected. Check it in Settings."


class NotFound(KnownError):
    """404 with no code this client knows.

    ``suggested_base_url`` is set when the base URL itself is the likely fault (A1, the first call of
    every run, answered 404 while the base URL's path does not end in ``/linkedin``): the Settings
    dialog offers it, and the messages say "did you mean …?".
    """

    kind = "not_found"
    _plain = "Not found on the server."
    suggested_base_url: str | None = None

    def suggest_base_url(self, url: str) -> NotFound:
        """Name the base URL that would probably work; returns ``self``."""
        self.suggested_base_url = url
        hint = f"did you mean {url}?"
        self.detail = f"{self.detail}; {hint}" if self.detail else hint
        self.args = (self._log_text(),)
        return self

    @property
    def user_message(self) -> str:
        if self.suggested_base_url:
            return f"Not found on the server: did you mean {self.suggested_base_url}?"
        return self._plain


class AccountNotFound(NotFound):
    kind = "account_not_found"
    _plain = "This LinkedIn account is no longer connected."


class ConversationNotFound(NotFound):
    kind = "conversation_not_found"
    _plain = "This conversation no longer exists on LinkedIn."


# --- 403 -------------------------------------------------------------------------------------------


class NoApiAccess(KnownError):
    """403: the key's ConnectSafely plan gives no API access to this account (no API seat, trial expired,
    no subscription; spec §8). A problem of that one account: the others carry on. Never LinkedIn's."""

    kind = "no_api_access"

    @property
    def user_message(self) -> str:
        plain = "No API access for this account on your ConnectSafely plan"
        return f"{plain} ({self.server_message})." if self.server_message else f"{plain}."


# --- 429 -------------------------------------------------------------------------------------------


class RateLimited(KnownError):
    """429: over a rate limit. ``retry_after_s`` is the server's ``Retry-After`` when it sent one."""

    kind = "rate_limited"
    retryable = True

    def __init__(
        self,
        detail: str = "",
        *,
        retry_after_s: float | None = None,
        status: int | None = 429,
        code: str | None = None,
        server_message: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(detail, status=status, code=code, server_message=server_message, endpoint=endpoint)

    @property
    def user_message(self) -> str:
        if self.retry_after_s is not None:
            return f"Rate limited: too many requests; try again in {max(1, round(self.retry_after_s))} s."
        return "Rate limited: too many requests; try again shortly."


class DailyQuotaExceeded(KnownError):
    """429 on C3 for the day's quota: the account's 150 new conversations are spent (replies still work;
    the quota resets at 00:00 UTC). Not a pacing problem, so it is not a :class:`RateLimited` and
    nothing retries it. Recognised by ``code`` or, on C3, by a 429 without ``Retry-After`` or with a
    reset more than an hour away (the vendor's quota 429 carries only ``X-RateLimit-*``)."""

    kind = "daily_quota"
    _plain = "Daily limit of new conversations reached (resets 00:00 UTC); replies still work."


# --- server and network ----------------------------------------------------------------------------


class ServerError(KnownError):
    """5xx: the server failed. For a write, the work may or may not have been done."""

    kind = "server_error"
    retryable = True

    @property
    def user_message(self) -> str:
        if self.status:
            return f"Server error ({self.status}); try again later."
        return "Server error; try again later."


class Unreachable(KnownError):
    """No answer: connection refused, reset or dropped. For a write, the work may or may not be done."""

    kind = "unreachable"
    retryable = True
    _plain = "Offline: the server cannot be reached."


class TimedOut(KnownError):
    """The server did not answer within the client's timeout. For a write, the work may have been done."""

    kind = "timed_out"
    retryable = True
    _plain = "Offline: the server did not answer in time."


class ProtocolError(KnownError):
    """A response this client cannot read: not JSON, or a malformed envelope.

    The environment's fault (a server that differs from the contract), so it is a known error shown as
    state, not a crash; single malformed *items* inside a good envelope are skipped instead (sync.wire).
    """

    kind = "protocol"
    _plain = "Server error: the server sent an answer this app cannot read."


class AnswerTooLarge(ProtocolError):
    """An answer whose body is over the client's cap (16 MiB by default): not read past the cap, nothing
    of it decoded or stored. ``limit_text`` is the cap in words ("16 MiB")."""

    kind = "answer_too_large"

    def __init__(self, limit_text: str, *, endpoint: str | None = None) -> None:
        self.limit_text = limit_text
        super().__init__(f"the server's answer is larger than {limit_text}", endpoint=endpoint)

    @property
    def user_message(self) -> str:
        too_big = f"the server's answer is larger than {self.limit_text}"
        return f"Server error: {too_big}; nothing of it was stored."


class BadServerUrl(KnownError):
    """A configured server URL this client refuses (plain http off loopback, or not a URL at all)."""

    kind = "bad_url"
    _plain = "The server address is not allowed: use https:// (plain http:// only to this computer)."


class InvalidInput(KnownError):
    """A request this client cannot even build (a URN or paging cursor too long for a URL, a character a
    URL cannot carry). Nothing was sent, so the server is not to blame; the input is (CLI: exit 2)."""

    kind = "invalid_input"
    _plain = "This request cannot be sent: an id or paging cursor in it is too long or not valid in a URL."


_BY_CODE: Final[dict[str, type[KnownError]]] = {
    "INVALID_ACCOUNT_ID": InvalidAccountId,
    "INVALID_URN": InvalidUrn,
    "INVALID_CURSOR": InvalidCursor,
    "VALIDATION_ERROR": ValidationFailed,
    "RECALL_NOT_OWN": RecallNotOwn,
    "RECALL_WINDOW_EXPIRED": RecallWindowExpired,
    "RECALL_NOT_MEMBER": RecallNotMember,
    "MESSAGE_NOT_FOUND": MessageNotFound,
    "UNAUTHORIZED": SignedOut,
    "ACCOUNT_NOT_FOUND": AccountNotFound,
    "CONVERSATION_NOT_FOUND": ConversationNotFound,
    "RATE_LIMITED": RateLimited,
    "DAILY_QUOTA_EXCEEDED": DailyQuotaExceeded,
    "INTERNAL": ServerError,
}


def error_for_code(code: str | None, status: int) -> type[KnownError]:
    """The class for an error answer: by ``code`` when this client knows it (in any letter case: the
    vendor writes ``validation_error``), else by status class."""
    known = None if code is None else _BY_CODE.get(code.strip().upper())
    if known is not None:
        return known
    if status == 401:
        return SignedOut
    if status == 403:
        return NoApiAccess
    if status == 404:
        return NotFound
    if status == 408:
        return TimedOut
    if status == 429:
        return RateLimited
    if 400 <= status < 500:
        return Refused
    if 500 <= status < 600:
        return ServerError
    return ProtocolError
