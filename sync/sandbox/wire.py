"""Request and response plumbing shared by every sandbox handler: replies, the request context, parsing.

Handlers raise :class:`~sync.sandbox.state.ApiError` for any refusal; the dispatcher in
:mod:`sync.sandbox.app` turns it into the error body. Path parameters stay percent-encoded until one of
the ``*_from_path`` helpers hands them to :mod:`sync.urns`, which decodes exactly once (spec §4).
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web
from multidict import MultiMapping

from sync import urns
from sync.sandbox.data import Account
from sync.sandbox.limits import Verdict
from sync.sandbox.state import ApiError

MAX_TEXT: Final = 8000
"""The longest message text the sandbox takes (C3, ``_sandbox/inject``)."""


class RateLimited(ApiError):
    def __init__(self, code: str, message: str, verdict: Verdict) -> None:
        super().__init__(429, code, message)
        self.verdict = verdict


class InvalidField(ApiError):
    """A JSON body value of the wrong type or size.

    The contract answers it like any error (its ``code``); the vendor profile answers a bad C3 body as
    a Zod error, so the check also says what Zod would: ``issue`` is one Zod issue.
    """

    def __init__(self, code: str, message: str, issue: dict[str, Any]) -> None:
        super().__init__(400, code, message)
        self.issue = issue

    @classmethod
    def wrong_type(
        cls, code: str, message: str, path: list[str | int], expected: str, value: object
    ) -> InvalidField:
        received = js_type(value)
        zod = "Required" if received == "undefined" else f"Expected {expected}, received {received}"
        issue = {
            "code": "invalid_type",
            "expected": expected,
            "received": received,
            "path": path,
            "message": zod,
        }
        return cls(code, message, issue)

    @classmethod
    def wrong_size(
        cls, code: str, message: str, path: list[str | int], *, least: int | None, most: int | None
    ) -> InvalidField:
        if least is not None:
            issue: dict[str, Any] = {
                "code": "too_small",
                "minimum": least,
                "type": "string",
                "inclusive": True,
                "exact": False,
                "message": f"String must contain at least {least} character(s)",
            }
        else:
            issue = {
                "code": "too_big",
                "maximum": most,
                "type": "string",
                "inclusive": True,
                "exact": False,
                "message": f"String must contain at most {most} character(s)",
            }
        return cls(code, message, {**issue, "path": path})

    @classmethod
    def rule(cls, code: str, message: str, path: list[str | int], zod_code: str = "custom") -> InvalidField:
        """A refinement (``custom``) or a string format (``invalid_string``) that the value breaks."""
        issue: dict[str, Any] = {"code": zod_code, "message": message, "path": path}
        if zod_code == "invalid_string":
            issue["validation"] = "regex"
        return cls(code, message, issue)


def js_type(value: object) -> str:
    """The type name Zod reports as ``received`` (JavaScript's, ``array`` and ``null`` apart)."""
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_MISSING: Final = object()


def field_of(body: dict[str, Any], name: str) -> object:
    """A body field, or a marker :func:`js_type` calls ``undefined`` when the field is absent."""
    return body.get(name, _MISSING)


@dataclass(slots=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    unchecked: bool = False
    """Made off-contract on purpose by a fault (``corrupt``): left out of the response record."""


@dataclass(slots=True)
class Ctx:
    request: web.Request
    params: dict[str, str]
    """Raw (still percent-encoded) path parameters."""
    session: str | None
    now: int
    account: Account | None = None
    """The account the call acts for, once a handler resolved it (the vendor profile's M1 answer names it)."""

    @property
    def query(self) -> MultiMapping[str]:
        return self.request.query

    async def body(self, *, required: bool = True) -> dict[str, Any]:
        try:
            raw = await self.request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            raise ApiError(400, "VALIDATION_ERROR", "The body is too large") from exc
        if not raw.strip():
            if required:
                raise ApiError(400, "VALIDATION_ERROR", "A JSON body is required")
            return {}
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "VALIDATION_ERROR", "The body is not valid JSON") from exc
        if not isinstance(value, dict):
            raise InvalidField.wrong_type(
                "VALIDATION_ERROR", "The body must be a JSON object", [], "object", value
            )
        return value


def ok(body: Any) -> Reply:
    return Reply(200, body)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": message, "code": code, "message": message}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def parse_int(
    value: str | None, name: str, *, default: int | None = None, lo: int = 0, hi: int | None = None
) -> int:
    if value is None:
        if default is None:
            raise ApiError(400, "VALIDATION_ERROR", f"{name} is required")
        return default
    if not re.fullmatch(r"-?[0-9]{1,18}", value):
        raise ApiError(400, "VALIDATION_ERROR", f"{name} must be an integer")
    number = int(value)
    if number < lo or (hi is not None and number > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ApiError(400, "VALIDATION_ERROR", f"{name} must be {bound}")
    return number


def parse_bool(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ApiError(400, "VALIDATION_ERROR", f"{name} must be true or false")


def conversation_from_path(raw: str) -> urns.ConversationUrn:
    try:
        return urns.parse_conversation(raw)  # decodes the raw segment exactly once
    except urns.UrnError as exc:
        raise ApiError(400, "INVALID_URN", f"Invalid conversation URN: {exc.reason}") from exc


def message_from_path(raw: str) -> urns.MessageUrn:
    try:
        return urns.parse_message(raw)
    except urns.UrnError as exc:
        raise ApiError(400, "INVALID_URN", f"Invalid message URN: {exc.reason}") from exc


def conversation_from_body(value: object) -> urns.ConversationUrn:
    """A URN in a JSON body is not percent-encoded: a ``%`` there is an error, not an escape."""
    if not isinstance(value, str) or not value:
        raise ApiError(400, "VALIDATION_ERROR", "conversationUrn must be a non-empty string")
    if "%" in value:
        raise ApiError(400, "INVALID_URN", "Invalid conversation URN: '%' in a JSON body")
    return conversation_from_path(value)


def decoded(raw: str) -> str:
    try:
        return urns.decode_percent(raw)
    except urns.UrnError as exc:
        raise ApiError(400, "INVALID_URN", exc.reason) from exc


def http_date(ms: int) -> str:
    return email.utils.formatdate(ms / 1000, usegmt=True)


def rate_headers(verdict: Verdict) -> dict[str, str]:
    headers = {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(math.ceil(verdict.reset_ms / 1000)),
    }
    if not verdict.allowed:
        headers["Retry-After"] = str(verdict.retry_after_s)
    return headers
