"""Known errors: the environment's fault (offline, signed out, refused, rate limited), shown as state.

Everything raised from here is a :class:`KnownError`. The UI shows ``user_message`` (plain words, DESIGN
"Recall, as the user sees it" item 6) and the log records ``str(exc)``; neither is a traceback. Any other
exception escaping ``sync/`` is a bug and goes to the crash dialog.

Each class has a stable ``kind`` (stored in the recall log, matched by the UI) and ``retryable`` (whether
repeating the same request later may succeed). No text built here may contain the API key: callers that
put server- or library-provided text into an error pass it through :func:`redact` first, and
:mod:`sync.api` does so for every error it raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar, Final

__all__ = [
    "AccountNotFound",
    "AnswerTooLarge",
    "BadServerUrl",
    "ConversationNotFound",
    "DailyQuotaExceeded",
    "InvalidAccountId",
    "InvalidCursor",
    "InvalidInput",
    "InvalidUrn",
    "KnownError",
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
    "redact",
]

REDACTED: Final = "[redacted]"
_MAX_TEXT: Final = 500
"""Server-provided text is cut here: an HTML error page must not flood the log or the status bar."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced, and cut to a sane length.

    Secrets shorter than 4 characters are ignored: replacing them would mangle ordinary words and they
    are not real keys anyway.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    # A "Bearer <token>" echoed back by a proxy is a secret even if it is not our key (e.g. an old one).
    text = re.sub(r"(?i)(bearer\s+)\S+", r"\1" + REDACTED, text)
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT] + "…"
    return text


class KnownError(Exception):
    """An error that is the environment's fault, shown to the user as state.

    ``detail`` is for the log; ``server_message`` is the server's own words (already redacted), which
    some user messages quote; ``status`` and ``code`` are the HTTP status and the error body's ``code``.
    """

    kind: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False
    _plain: ClassVar[str] = "Something went wrong."

    def __init__(
        self,
        detail: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        server_message: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.detail = detail
        self.status = status
        self.code = code
        self.server_message = server_message
        self.endpoint = endpoint
        super().__init__(self._log_text())

    def _log_text(self) -> str:
        parts = [self.kind]
        if self.endpoint:
            parts.append(self.endpoint)
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        text = self.detail or self.server_message or ""
        return f"{head}: {text}" if text else head

    @property
    def user_message(self) -> str:
        """One sentence in plain words for the status bar or the message's inline state."""
        return self._plain

    def scrub(self, secrets: Iterable[str]) -> KnownError:
        """Redact ``secrets`` from every text of this error, in place; returns ``self``.

        The API client passes every error it raises through here, so no code path that builds one from
        outside text (a server message, a library's exception) can leak the key.
        """
        secrets = tuple(secrets)
        self.detail = redact(self.detail, secrets)
        if self.server_message is not None:
            self.server_message = redact(self.server_message, secrets)
        self.args = (self._log_text(),)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._log_text()!r})"


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


# --- the local environment -------------------------------------------------------------------------
# qutebrowser's habit (misc/sql.py): SQLite's error codes are sorted into the environment's fault (busy,
# full, I/O, read-only, damaged, cannot open) and a bug (everything else: a constraint, a syntax error, a
# misuse). The former become the errors below, raised from ``Cache.open`` and from the cache writer's
# futures; the latter stay what they are and reach the crash dialog.

import errno as _errno  # noqa: E402 - this section's own imports, kept with it
import os as _os  # noqa: E402
import sqlite3 as _sqlite3  # noqa: E402
from pathlib import Path as _Path  # noqa: E402


class LocalStorageError(KnownError):
    """The data dir or the cache file in it cannot be used as it is: the machine's fault, not a bug.

    ``path`` is the file or folder concerned (str, so the error crosses the sync worker's pipe as it is);
    ``detail`` the system's own words ("database or disk is full", "Permission denied").
    """

    kind = "local_storage"
    _plain = "ConnectSafely cannot use its files on this computer."

    def __init__(self, detail: str = "", *, path: str | _Path | None = None) -> None:
        self.path = "" if path is None else str(path)
        super().__init__(detail)

    def _log_text(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.kind}{where}: {self.detail}" if self.detail else f"{self.kind}{where}"

    @property
    def user_message(self) -> str:
        return self._plain.format(path=self.path or "the data folder")


class DiskFull(LocalStorageError):
    """SQLITE_FULL / ENOSPC / EDQUOT: nothing was written; the same write works once there is space."""

    kind = "disk_full"
    retryable = True
    _plain = "The disk is full: nothing could be saved to {path}. Free some space, then try again."


class CacheBusy(LocalStorageError):
    """SQLITE_BUSY / SQLITE_LOCKED past the busy timeout: another process kept the cache locked."""

    kind = "cache_busy"
    retryable = True
    _plain = "The cache {path} is busy: another ConnectSafely process holds it. Try again in a moment."


class CacheReadOnly(LocalStorageError):
    """SQLITE_READONLY / EROFS: the file system (or the file) cannot be written."""

    kind = "cache_read_only"
    _plain = "The data folder cannot be written: {path} is read-only. Make it writable, or use another."


class StorageIOError(LocalStorageError):
    """SQLITE_IOERR / EIO: the disk itself failed a read or a write."""

    kind = "storage_io"
    retryable = True
    _plain = "The disk reported an error while reading or writing {path}. Check the disk, then try again."


class DataDirUnusable(LocalStorageError):
    """The data dir is not a folder, cannot be created or entered, or a file in it cannot be opened
    (permission denied, a file where the folder should be, SQLITE_CANTOPEN / SQLITE_PERM)."""

    kind = "data_dir_unusable"
    _plain = "ConnectSafely cannot use its data folder {path}. Check that it is a folder you can write to."


class CacheCorrupt(LocalStorageError):
    """SQLITE_CORRUPT / SQLITE_NOTADB, or a file at the cache's place that is not a cache: the file is
    damaged. Nothing repairs it in place; the remedy is to move it aside (kept, never deleted) and start
    a fresh cache (``sync.cache.move_damaged_cache_aside``), which the next sync fills again."""

    kind = "cache_corrupt"
    _plain = "The cache file {path} is damaged."


# Primary result codes (the low byte of an extended code), https://sqlite.org/rescode.html
_SQLITE_PERM: Final = 3
_SQLITE_BUSY: Final = 5
_SQLITE_LOCKED: Final = 6
_SQLITE_READONLY: Final = 8
_SQLITE_IOERR: Final = 10
_SQLITE_CORRUPT: Final = 11
_SQLITE_FULL: Final = 13
_SQLITE_CANTOPEN: Final = 14
_SQLITE_PROTOCOL: Final = 15
_SQLITE_NOTADB: Final = 26

_BY_SQLITE_CODE: Final[dict[int, type[LocalStorageError]]] = {
    _SQLITE_PERM: DataDirUnusable,
    _SQLITE_BUSY: CacheBusy,
    _SQLITE_LOCKED: CacheBusy,
    _SQLITE_PROTOCOL: CacheBusy,  # a file-locking race between processes: transient like busy
    _SQLITE_READONLY: CacheReadOnly,
    _SQLITE_IOERR: StorageIOError,
    _SQLITE_CORRUPT: CacheCorrupt,
    _SQLITE_NOTADB: CacheCorrupt,
    _SQLITE_FULL: DiskFull,
    _SQLITE_CANTOPEN: DataDirUnusable,
}

_BY_ERRNO: Final[dict[int, type[LocalStorageError]]] = {
    _errno.ENOSPC: DiskFull,
    _errno.EDQUOT: DiskFull,
    _errno.EFBIG: DiskFull,
    _errno.EROFS: CacheReadOnly,
    _errno.EIO: StorageIOError,
}


def storage_error(exc: BaseException, path: str | _Path | None = None) -> LocalStorageError | None:
    """The known error for a failure of the cache file or the data dir, or None when it is a bug.

    ``sqlite3.Error`` is sorted by ``sqlite_errorcode`` (what SQLite said, not its wording); an
    ``OSError`` from a file operation in the data dir is always the environment's fault. A
    :class:`LocalStorageError` is returned as it is.
    """
    if isinstance(exc, LocalStorageError):
        return exc
    if isinstance(exc, _sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if not isinstance(code, int):
            return None
        cls = _BY_SQLITE_CODE.get(code & 0xFF)
        if cls is StorageIOError and path is not None and _no_space_left(_Path(path)):
            # SQLite reports ENOSPC as SQLITE_FULL only from a plain write; growing the -shm or -wal
            # file on a full disk is an I/O error to it. A disk without free blocks says which it was.
            cls = DiskFull
        return None if cls is None else cls(str(exc) or type(exc).__name__, path=path)
    if isinstance(exc, OSError):
        # The file the system names is the precise one (the data dir when creating it failed).
        where = exc.filename if isinstance(exc.filename, str) and exc.filename else path
        reason = exc.strerror or str(exc) or type(exc).__name__
        return _BY_ERRNO.get(exc.errno or 0, DataDirUnusable)(reason, path=where)
    return None


STORAGE_ERROR_KINDS: Final[dict[str, type[LocalStorageError]]] = {
    cls.kind: cls
    for cls in (
        LocalStorageError,
        DiskFull,
        CacheBusy,
        CacheReadOnly,
        StorageIOError,
        DataDirUnusable,
        CacheCorrupt,
    )
}
"""The local-storage classes by ``kind``: a kind stored or passed along (a recall log row, an account's
last error) still tells the machine's failure from the server's."""


def _no_space_left(path: _Path) -> bool:
    """Whether the file system holding ``path`` (or its folder) has no block left for this user."""
    for candidate in (path, path.parent):
        try:
            stats = _os.statvfs(candidate)
        except OSError:
            continue
        return stats.f_bavail * stats.f_frsize < 64 * 1024
    return False


# This section's names, added here so that the list at the top stays the HTTP part's.
__all__ += [
    "STORAGE_ERROR_KINDS",
    "CacheBusy",
    "CacheCorrupt",
    "CacheReadOnly",
    "DataDirUnusable",
    "DiskFull",
    "LocalStorageError",
    "StorageIOError",
    "storage_error",
]
