"""Known errors: the environment's fault (offline, signed out, refused, rate limited), shown as state.

One vocabulary in three modules: :mod:`~sync.errors.known` (the base class and :func:`redact`),
:mod:`~sync.errors.server` (what the server's answers say) and :mod:`~sync.errors.storage` (a data dir or
cache file this machine cannot use). Import the names from here.

Everything raised from here is a :class:`KnownError`. The UI shows ``user_message`` (plain words,
ARCHITECTURE.md §2, "Known errors vs bugs") and the log records ``str(exc)``; neither is a traceback. Any
other exception escaping ``sync/`` is a bug and goes to the crash dialog.

Each class has a stable ``kind`` (stored in the recall log, matched by the UI) and ``retryable`` (whether
repeating the same request later may succeed). No text built here may contain the API key: callers that
put server- or library-provided text into an error pass it through :func:`redact` first, and
:mod:`sync.api` does so for every error it raises.
"""

from sync.errors.known import KnownError, redact
from sync.errors.server import (
    AccountNotFound,
    AnswerTooLarge,
    BadServerUrl,
    ConversationNotFound,
    DailyQuotaExceeded,
    InvalidAccountId,
    InvalidCursor,
    InvalidInput,
    InvalidUrn,
    MessageNotFound,
    NoApiAccess,
    NotFound,
    ProtocolError,
    RateLimited,
    RecallNotMember,
    RecallNotOwn,
    RecallWindowExpired,
    Refused,
    ServerError,
    SignedOut,
    TimedOut,
    Unreachable,
    ValidationFailed,
    error_for_code,
)
from sync.errors.storage import (
    STORAGE_ERROR_KINDS,
    CacheBusy,
    CacheCorrupt,
    CacheReadOnly,
    DataDirUnusable,
    DiskFull,
    LocalStorageError,
    StorageIOError,
    storage_error,
)

__all__ = [
    "STORAGE_ERROR_KINDS",
    "AccountNotFound",
    "AnswerTooLarge",
    "BadServerUrl",
    "CacheBusy",
    "CacheCorrupt",
    "CacheReadOnly",
    "ConversationNotFound",
    "DailyQuotaExceeded",
    "DataDirUnusable",
    "DiskFull",
    "InvalidAccountId",
    "InvalidCursor",
    "InvalidInput",
    "InvalidUrn",
    "KnownError",
    "LocalStorageError",
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
    "StorageIOError",
    "TimedOut",
    "Unreachable",
    "ValidationFailed",
    "error_for_code",
    "redact",
    "storage_error",
]
