"""The request plumbing under every endpoint: pacing, deadline, bounded body, typed errors, decoding."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Self, TypeVar
from urllib.parse import urlsplit

import httpx
import msgspec

from sync import wire
from sync.api.transport import check_transport_url, process_session_id, ws_url
from sync.clock import ServerClock
from sync.errors import (
    AnswerTooLarge,
    BadServerUrl,
    InvalidInput,
    KnownError,
    ProtocolError,
    RateLimited,
    SignedOut,
    TimedOut,
    Unreachable,
)
from sync.pacing import DEFAULT_BUDGET, Pacer, RateBudget

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_BODY_BYTES",
    "ERROR_BODY_BYTES",
    "MAX_URL_CHARS",
    "USER_AGENT",
    "Params",
    "RequestPlumbing",
]

# The package's name, not the module's: log filters and the repeat collapser (sync.logs) key on it.
log = logging.getLogger("sync.api")

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


def _size_text(size: int) -> str:
    mib = 1024 * 1024
    if size >= mib and size % mib == 0:
        return f"{size // mib} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


def _plain_transport_context() -> ssl.SSLContext:
    """The TLS context of a client whose base URL is plain ``http`` (loopback only: see
    :func:`check_transport_url`) and which follows no redirect, so never speaks TLS: an empty trust store
    that fails closed should it ever try, instead of the CA bundle httpx would parse for nothing (20 to
    50 ms of every start of the embedded sandbox's worker and window: BENCHMARKS.md figure 8)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


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


class RequestPlumbing:
    """The client's state (the ``httpx.AsyncClient``, the key, the budget, the server clock) and the one
    path every call takes (:meth:`_request`). :class:`~sync.api.client.ApiClient` adds the endpoints; its
    docstring explains the constructor's arguments.
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
            verify=_plain_transport_context() if urlsplit(self.base_url).scheme == "http" else True,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, session_id={self.session_id!r})"

    async def __aenter__(self) -> Self:
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
