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
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec

from sync import model, wire
from sync.clock import ServerClock
from sync.errors import (
    AnswerTooLarge,
    BadServerUrl,
    InvalidInput,
    KnownError,
    NotFound,
    ProtocolError,
    RateLimited,
    Refused,
    ServerError,
    SignedOut,
    TimedOut,
    Unreachable,
)
from sync.pacing import DEFAULT_BUDGET, Pacer, RateBudget
from sync.urns import encode_path_segment, parse_conversation

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

log = logging.getLogger(__name__)

_T = TypeVar("_T")
Params = Mapping[str, str | int | None]

USER_AGENT: Final = "connectsafely-desktop/0.1"
DEFAULT_MAX_BODY_BYTES: Final = 16 * 1024 * 1024
"""The largest answer read (a C1 page of 100 conversations is about 400 KB)."""
DEFAULT_DEADLINE_S: Final = 60.0
"""The longest one exchange may take, from sending to the last byte of the body."""
ERROR_BODY_BYTES: Final = 64 * 1024
"""What is read of an error answer's body: its text is cut to 500 characters anyway."""
MAX_URL_CHARS: Final = 32 * 1024
"""The longest URL this client sends (real ones are a few hundred characters; servers refuse far less)."""
SERVER_SYNC_TIMEOUT_S: Final = 300.0
"""C11 runs the server's LinkedIn sync before it answers (spec §8): minutes, not seconds."""
_SECURE_SCHEMES: Final = frozenset({"https", "wss"})
_PLAIN_SCHEMES: Final = frozenset({"http", "ws"})


TRANSPORT_MODULES: Final = ("httpcore", "h11", "sniffio", "anyio", "anyio._backends._asyncio", "certifi")
"""What httpx imports only on a client's first request (about 30 ms here), for :func:`preload_transport`."""


def preload_transport() -> None:
    """Import the modules a first request would import. Call it from a worker thread (a GUI does, after
    its first paint) so that the import does not freeze the window when the first sync starts."""
    for name in TRANSPORT_MODULES:
        importlib.import_module(name)


# --- transport URLs ---------------------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (spec §1: plain transport is for loopback only)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport_url(url: str) -> str:
    """Return ``url`` without a trailing ``/`` if it may carry the API key; else raise :class:`BadServerUrl`.

    ``https``/``wss`` anywhere; ``http``/``ws`` only to a loopback host. Credentials inside the URL are
    refused too: a URL ends up in logs and error messages, a secret must not.
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise BadServerUrl(f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in _SECURE_SCHEMES | _PLAIN_SCHEMES:
        raise BadServerUrl(f"unsupported scheme {scheme or '(none)'!r}")
    if not host:
        raise BadServerUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BadServerUrl("credentials inside the URL are not allowed")
    if scheme in _PLAIN_SCHEMES and not is_loopback_host(host):
        raise BadServerUrl(f"plain {scheme}:// is allowed only to this computer, not to {host}")
    del port
    return url[:-1] if url.endswith("/") else url


def ws_url(base_url: str) -> str:
    """The event-stream URL of spec §6: ``{base}/ws`` with ``https``→``wss`` and ``http``→``ws``."""
    base = check_transport_url(base_url)
    parts = urlsplit(base)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme.lower())
    if scheme is None:
        raise BadServerUrl(f"not an http(s) base URL: scheme {parts.scheme!r}")
    return check_transport_url(urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", "")))


def suggested_base_url(base_url: str) -> str | None:
    """The base URL a user probably meant when A1 answers 404: every path of the API is under
    ``/linkedin`` (spec §1), so ``https://api.connectsafely.ai`` becomes ``…/linkedin`` and
    ``…/linkedin/v1`` becomes ``…/linkedin``. None when the path already ends in ``/linkedin``."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/linkedin"):
        return None
    found = path.find("/linkedin/")
    path = path[: found + len("/linkedin")] if found >= 0 else path + "/linkedin"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _size_text(size: int) -> str:
    mib = 1024 * 1024
    if size >= mib and size % mib == 0:
        return f"{size // mib} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


# --- session id -------------------------------------------------------------------------------------

_process_session_id: str | None = None


def process_session_id() -> str:
    """This process's client session id (spec §6), made once and sent on every call and handshake."""
    global _process_session_id
    if _process_session_id is None:
        _process_session_id = uuid.uuid4().hex
    return _process_session_id


# --- the client -------------------------------------------------------------------------------------


class _Secret:
    """Holds the key so that no ``repr``, ``vars`` dump or traceback local shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"


def _check_key(api_key: str) -> _Secret:
    # A header value with control characters or spaces makes httpx raise an error that quotes the value.
    if not api_key or not api_key.isprintable() or not api_key.isascii() or any(c.isspace() for c in api_key):
        raise SignedOut("the API key is empty or contains characters an HTTP header cannot carry")
    return _Secret(api_key)


class ApiClient:
    """One per process: all HTTP calls of spec §2. Use as ``async with ApiClient(...) as api`` or call
    :meth:`aclose`.

    ``budget=None`` disables local pacing (tests, benchmarks). ``read_retries`` bounds the retries of a GET
    answered 429 (each after ``Retry-After``, skipped when that exceeds ``max_retry_wait_s``).
    ``timeout_s`` bounds each read and ``deadline_s`` a whole exchange, body included (None: no overall
    deadline); ``max_body_bytes`` caps the body of an answer. ``decode_in_thread_bytes=None`` decodes
    every body on the calling thread. ``transport``, ``clock`` and ``sleep`` exist for tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        session_id: str | None = None,
        timeout_s: float = 20.0,
        connect_timeout_s: float = 5.0,
        deadline_s: float | None = DEFAULT_DEADLINE_S,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        budget: RateBudget | None = DEFAULT_BUDGET,
        read_retries: int = 2,
        max_retry_wait_s: float = 30.0,
        decode_in_thread_bytes: int | None = 16 * 1024,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = check_transport_url(base_url)
        if urlsplit(self.base_url).query or urlsplit(self.base_url).fragment:
            # Paths are appended to the base: a query or fragment there would swallow them.
            raise BadServerUrl("the base URL must not carry a query or a fragment")
        self._key = _check_key(api_key)
        self.session_id = session_id or process_session_id()
        if deadline_s is not None and deadline_s <= 0:
            raise ValueError("deadline_s must be positive (or None for no overall deadline)")
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        self._pacer = None if budget is None else Pacer(budget, clock)
        self._deadline_s = deadline_s
        self._max_body_bytes = max_body_bytes
        self._connect_timeout_s = connect_timeout_s
        self._read_retries = read_retries
        self._max_retry_wait_s = max_retry_wait_s
        self._decode_in_thread_bytes = decode_in_thread_bytes
        self._clock = clock
        self._sleep = sleep
        self.server_clock = ServerClock(clock)
        self._http = httpx.AsyncClient(
            headers={
                "Authorization": f"Bearer {self._key.reveal()}",
                "X-Client-Session": self.session_id,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            # A redirect is not part of the contract, and following one could carry the key elsewhere.
            follow_redirects=False,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"ApiClient(base_url={self.base_url!r}, session_id={self.session_id!r})"

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def ws_url(self) -> str:
        """The event-stream URL derived from the base URL (spec §6)."""
        return ws_url(self.base_url)

    def server_now_ms(self) -> int:
        """The server's clock now, in epoch ms, estimated from the ``Date`` of every response so far."""
        return self.server_clock.now_ms()

    # --- plumbing ------------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        endpoint: str,
        decode: Callable[[bytes], _T],
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        write_account: str | None = None,
        slow_s: float | None = None,
    ) -> _T:
        """One call: pace, send, read the bounded body, map transport failures, type error answers, decode.

        ``write_account`` is set for the writes that count against spec §1's per-account write limit.
        ``slow_s`` raises the read timeout and the deadline of a call the server takes long to answer.
        """
        secrets = (self._key.reveal(),)
        request = self._build_request(method, path, endpoint, params, body, slow_s, secrets)
        deadline = self._deadline_s
        if deadline is not None and slow_s is not None:
            deadline = max(deadline, slow_s)
        retries = 0
        while True:
            if self._pacer is not None:
                wait = self._pacer.reserve(write_account)
                if wait > 0:
                    await self._sleep(wait)
            sent_at = self._clock()
            # Each ``from None`` below: the library's exception text is copied in redacted form; chaining
            # the original would print it unredacted in every traceback.
            try:
                async with asyncio.timeout(deadline):
                    response, content = await self._exchange(request, endpoint)
            except TimeoutError:
                detail = f"{method} {path}: no complete answer within {deadline:g} s"
                raise TimedOut(detail, endpoint=endpoint).scrub(secrets) from None
            except httpx.TimeoutException as exc:
                detail = f"{method} {path}: {type(exc).__name__}"
                raise TimedOut(detail, endpoint=endpoint).scrub(secrets) from None
            except httpx.TransportError as exc:
                # Refused, reset or dropped mid-answer: for a write, whether it was done is unknown.
                detail = f"{method} {path}: {type(exc).__name__}: {exc}"
                raise Unreachable(detail, endpoint=endpoint).scrub(secrets) from None
            except httpx.RequestError as exc:
                # An answer came but could not be read (e.g. a broken content encoding).
                detail = f"{method} {path}: {type(exc).__name__}: {exc}"
                raise ProtocolError(detail, endpoint=endpoint).scrub(secrets) from None
            except KnownError as exc:  # the body was over the cap
                raise exc.scrub(secrets) from None
            received_at = self._clock()
            self.server_clock.observe(response.headers.get("date"), sent_at, received_at)
            status = response.status_code
            log.debug("%s %s -> %d in %.1f ms", method, path, status, (received_at - sent_at) * 1000)
            if 200 <= status < 300:
                return await self._decode(decode, content, secrets)
            error = wire.error_from_response(
                status,
                content,
                reason_phrase=response.reason_phrase,
                headers=response.headers,
                endpoint=endpoint,
                secrets=secrets,
            )
            if method == "GET" and isinstance(error, RateLimited) and retries < self._read_retries:
                delay = 1.0 if error.retry_after_s is None else error.retry_after_s
                if delay <= self._max_retry_wait_s:
                    retries += 1
                    log.info("%s rate limited; retry %d in %.1f s", endpoint, retries, delay)
                    await self._sleep(delay)
                    continue
            log.info("%s %s failed: %s", method, endpoint, error)
            raise error.scrub(secrets)

    def _build_request(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Params | None,
        body: Mapping[str, Any] | None,
        slow_s: float | None,
        secrets: tuple[str],
    ) -> httpx.Request:
        """The request, or :class:`InvalidInput` when no URL can carry it (nothing is sent then)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        content = (
            None if body is None else msgspec.json.encode({k: v for k, v in body.items() if v is not None})
        )
        headers = None if content is None else {"Content-Type": "application/json"}
        timeout = None if slow_s is None else httpx.Timeout(slow_s, connect=self._connect_timeout_s)
        too_long = (
            f"{method} {endpoint}: the URL would be longer than {MAX_URL_CHARS} characters "
            "(a conversation or message id or a paging cursor is too long)"
        )
        try:
            request = self._http.build_request(
                method,
                f"{self.base_url}/{path}",
                params=query,
                content=content,
                headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.InvalidURL as exc:
            # A URN or cursor (from the server, via the cache) longer than a URL may be, or holding
            # characters no URL can carry: the input is wrong, not the server.
            detail = too_long if "too long" in str(exc) else f"{method} {endpoint}: {exc}"
            raise InvalidInput(detail, endpoint=endpoint).scrub(secrets) from None
        if len(str(request.url)) > MAX_URL_CHARS:
            raise InvalidInput(too_long, endpoint=endpoint)
        return request

    async def _exchange(self, request: httpx.Request, endpoint: str) -> tuple[httpx.Response, bytes]:
        """Send ``request`` and read its body, at most ``max_body_bytes`` of a 2xx (beyond that:
        :class:`AnswerTooLarge`, nothing kept) and the first :data:`ERROR_BODY_BYTES` of any other."""
        response = await self._http.send(request, stream=True)
        try:
            success = response.is_success
            limit = self._max_body_bytes if success else ERROR_BODY_BYTES
            too_big = AnswerTooLarge(_size_text(self._max_body_bytes), endpoint=endpoint)
            declared = response.headers.get("content-length", "").strip()
            if success and declared.isdigit() and int(declared) > limit:
                raise too_big
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    if success:
                        del chunks
                        raise too_big
                    chunks.append(chunk[: len(chunk) - (size - limit)])
                    break
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response, b"".join(chunks)

    async def _decode(self, decode: Callable[[bytes], _T], body: bytes, secrets: tuple[str]) -> _T:
        try:
            if self._decode_in_thread_bytes is not None and len(body) >= self._decode_in_thread_bytes:
                return await asyncio.to_thread(decode, body)
            return decode(body)
        except KnownError as exc:
            raise exc.scrub(secrets) from None

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
