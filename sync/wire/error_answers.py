"""Error answers: the typed error for a non-2xx answer, and how long a 429 says to wait.

Typed by ``code`` (any letter case), else by status, and saying what the server said: ``message``, else
``error``, else a Zod body's issues as ``path: message``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import msgspec

from sync.errors import (
    DailyQuotaExceeded,
    KnownError,
    ProtocolError,
    RateLimited,
    ValidationFailed,
    error_for_code,
    redact,
)
from sync.wire.structs import NUMBER_RE

__all__ = [
    "QUOTA_RESET_AFTER_S",
    "error_from_response",
    "parse_error_body",
    "parse_rate_limit_reset",
    "parse_retry_after",
    "rate_limit_wait",
]

QUOTA_RESET_AFTER_S: Final = 3600.0
"""A C3 429 whose wait is longer than this is the daily quota, not the per-key rate limit."""


@dataclass(frozen=True, slots=True)
class _ErrorBody:
    code: str | None = None
    message: str | None = None
    hold_until: str | None = None
    zod: bool = False


def _zod_text(issues: list[Any]) -> str | None:
    """A Zod error's issues as ``path.a: message; path.b: message`` (an empty path: the message alone)."""
    parts: list[str] = []
    for issue in issues:
        if not isinstance(issue, dict):
            continue
        message = issue.get("message")
        if not isinstance(message, str) or not message.strip():
            continue
        path = issue.get("path")
        names = (
            [str(p) for p in path if isinstance(p, str | int) and not isinstance(p, bool)]
            if isinstance(path, list)
            else []
        )
        parts.append(f"{'.'.join(names)}: {message}" if names else message)
    return "; ".join(parts) or None


def _read_error_body(body: bytes) -> _ErrorBody:
    try:
        decoded = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return _ErrorBody()
    if not isinstance(decoded, dict):
        return _ErrorBody()
    hold = decoded.get("holdUntil")
    hold_until = hold if isinstance(hold, str) else None
    nested = decoded.get("error")
    zod_text = None
    if isinstance(nested, dict):
        issues = nested.get("issues")
        if isinstance(issues, list):
            zod_text = _zod_text(issues)
        decoded = {**nested, **{k: v for k, v in decoded.items() if k != "error"}}
        nested = nested.get("message")
    code = decoded.get("code")
    message = decoded.get("message")
    text = zod_text
    if text is None and isinstance(message, str) and message.strip():
        text = message
    if text is None and isinstance(nested, str) and nested.strip():
        text = nested
    return _ErrorBody(
        code if isinstance(code, str) and code else None, text, hold_until, zod=zod_text is not None
    )


def parse_error_body(body: bytes) -> tuple[str | None, str | None]:
    """``(code, message)`` from any documented error shape (spec §1, §8).

    ``message`` is a Zod body's issues as ``path: message`` (joined by ``"; "``), else ``message``, else
    ``error``. Tolerant of anything: a non-JSON body (an HTML page from a proxy), a non-object, fields of
    the wrong type, or ``error`` as a nested object all give what can be read, else None.
    """
    read = _read_error_body(body)
    return read.code, read.message


def _http_date_s(value: str) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso_s(value: str) -> float | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _now_s(now_s: float | None) -> float:
    return datetime.now(UTC).timestamp() if now_s is None else now_s


def _finite_wait(seconds: float) -> float | None:
    return max(0.0, seconds) if math.isfinite(seconds) else None


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (relative to ``now_s``)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        moment = _http_date_s(text)
        if moment is None:
            return None
        seconds = moment - _now_s(now_s)
    return _finite_wait(seconds)


def parse_rate_limit_reset(value: str | None, now_s: float | None = None) -> float | None:
    """Seconds until an ``X-RateLimit-Reset`` (or ``holdUntil``) time, relative to ``now_s``.

    The sources disagree on its form (vendor-shapes §1.3), so all are read: epoch seconds, epoch
    milliseconds (a number above 10^12), a small number as seconds from now, ISO-8601 with ``T`` or a
    space (``2026-08-28 00:00:00+00:00``), or an HTTP date.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    now = _now_s(now_s)
    if NUMBER_RE.fullmatch(text):
        number = float(text)
        if number >= 1e12:
            return _finite_wait(number / 1000 - now)
        if number >= 1e9:
            return _finite_wait(number - now)
        return _finite_wait(number)  # too small for an epoch time: seconds from now
    moment = _iso_s(text)
    if moment is None:
        moment = _http_date_s(text)
    return None if moment is None else _finite_wait(moment - now)


def rate_limit_wait(
    headers: Mapping[str, str], hold_until: str | None = None, now_s: float | None = None
) -> float | None:
    """How long a 429 says to wait: ``Retry-After``, else ``X-RateLimit-Reset``, else the body's
    ``holdUntil``; None when nothing readable says."""
    wait = parse_retry_after(headers.get("retry-after"), now_s)
    if wait is None:
        wait = parse_rate_limit_reset(headers.get("x-ratelimit-reset"), now_s)
    if wait is None:
        wait = parse_rate_limit_reset(hold_until, now_s)
    return wait


class _Headers(dict[str, str]):
    """Header lookups by lower-case name, whatever mapping the caller passed."""

    def __init__(self, headers: Mapping[str, str] | None) -> None:
        super().__init__({k.lower(): v for k, v in (headers or {}).items()})


def error_from_response(
    status: int,
    body: bytes,
    *,
    reason_phrase: str = "",
    retry_after: str | None = None,
    headers: Mapping[str, str] | None = None,
    endpoint: str | None = None,
    secrets: Iterable[str] = (),
    now_s: float | None = None,
) -> KnownError:
    """The typed error for a non-2xx answer (or a 2xx saying ``success: false``).

    Typed by ``code`` when known (any letter case), else by status class: a Zod body is
    :class:`ValidationFailed`; a 400 with an unknown code is :class:`Refused` (on C6, "refused by
    LinkedIn", elsewhere "the server refused the request", with the server's reason either way). The text
    is the body's (see :func:`parse_error_body`), else the status line, with every secret redacted.

    A 429 carries ``retry_after_s`` (:func:`rate_limit_wait`, relative to ``now_s``, else the answer's
    ``Date``, else the local clock). On C3 a 429 without ``Retry-After``, or with a wait of more than an
    hour, is the daily quota of new conversations (:class:`DailyQuotaExceeded`), as the vendor documents
    it with ``X-RateLimit-*`` headers only. ``retry_after`` overrides the header of that name.
    """
    read = _read_error_body(body)
    code = read.code
    found = _Headers(headers)
    if retry_after is not None:
        found["retry-after"] = retry_after
    status_line = f"{status} {reason_phrase}".strip()
    text = redact(read.message if read.message is not None else status_line, secrets)
    known_code = code is not None and error_for_code(code, 0) is not ProtocolError
    cls = error_for_code(code, status)
    if read.zod and status == 400 and not known_code:
        cls = ValidationFailed  # the server's own validation of the request (spec §8: C3's body)
    if status == 429 or issubclass(cls, RateLimited | DailyQuotaExceeded):
        if now_s is None and (date := found.get("date")):
            now_s = _http_date_s(date)
        wait = rate_limit_wait(found, read.hold_until, now_s)
        if (
            endpoint == "C3"
            and status == 429
            and not known_code
            and (found.get("retry-after") is None or (wait is not None and wait > QUOTA_RESET_AFTER_S))
        ):
            cls = DailyQuotaExceeded
        if issubclass(cls, RateLimited):
            return cls(
                text,
                retry_after_s=wait,
                status=status,
                code=code,
                server_message=text,
                endpoint=endpoint,
            )
    return cls(text, status=status, code=code, server_message=text, endpoint=endpoint)
