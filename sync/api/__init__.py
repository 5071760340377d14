"""The ConnectSafely HTTP client: every endpoint of spec §2 over one ``httpx.AsyncClient``.

What this layer guarantees, so the layers above need not:

- Every error it raises is a :class:`sync.errors.KnownError` (typed by code, else by status class), with
  the API key redacted; anything else escaping it is a bug.
- URNs travel as exactly one percent-encoded path segment; ``accountId`` is always sent (except C8–C10,
  which take none); ``Authorization`` and ``X-Client-Session`` go on every request; the key is never in a
  URL, a log line, an exception or a ``repr``.
- A local request budget (token buckets just under spec §1's limits) paces calls instead of letting the
  server answer 429; a 429 that still comes back is retried for reads (GET) only, after the wait it names
  (``Retry-After``, else ``X-RateLimit-Reset`` in any of its forms, else the body's ``holdUntil``).
  Writes are never retried here: a write whose answer is lost may have been done. The one exception is
  the idempotent recall (C6), which the caller may repeat explicitly with :meth:`ApiClient.retry_recall`.
- Server time is estimated from the ``Date`` header of every response (:meth:`ApiClient.server_now_ms`),
  for the recall window (:mod:`sync.clock`); the budget is :mod:`sync.pacing`'s.
- Bounded input: an answer's body is read streamed and capped (``max_body_bytes``, 16 MiB by default;
  over it the answer is :class:`AnswerTooLarge`, a :class:`ProtocolError`, and nothing of it is decoded,
  so a 300 MB body costs no more memory than the cap), and every exchange has an overall deadline
  (``deadline_s``, 60 s by default, the body included), so a server trickling its answer a byte at a
  time ends in :class:`TimedOut` instead of holding the client forever. A request that cannot even be
  built (a URN or cursor too long for a URL) is :class:`InvalidInput`: nothing was sent, the server is
  not blamed.
- Decoding is :mod:`sync.wire`'s pure functions; bodies of at least ``decode_in_thread_bytes`` are decoded
  in a worker thread (``asyncio.to_thread``) so a big page never stalls the GUI loop.

The package's modules: :mod:`~sync.api.transport` (URL checks, the session id, the transport preload),
:mod:`~sync.api.plumbing` (the one path every request takes) and :mod:`~sync.api.client` (the
endpoints). Import the names from here.
"""

from sync.api.client import ApiClient
from sync.api.plumbing import DEFAULT_DEADLINE_S, DEFAULT_MAX_BODY_BYTES
from sync.api.transport import (
    check_transport_url,
    is_loopback_host,
    preload_transport,
    process_session_id,
    suggested_base_url,
    ws_url,
)

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_BODY_BYTES",
    "ApiClient",
    "check_transport_url",
    "is_loopback_host",
    "preload_transport",
    "process_session_id",
    "suggested_base_url",
    "ws_url",
]
