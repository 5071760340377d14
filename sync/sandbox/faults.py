"""Fault injection (``_sandbox/faults``, spec §7): the next matching calls fail, stall or lose their answer.

A ``before`` fault strikes before the handler runs (nothing is done); an ``after`` fault strikes once
the work is done, so a test can lose the answer to a recall that did happen. Both strike the same way
(:func:`strike`): wait ``delay_s``, then drop the connection or replace the answer.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from sync.sandbox.clock import Clock
from sync.sandbox.limits import RateLimiter, Verdict
from sync.sandbox.state import ApiError
from sync.sandbox.wire import RateLimited

DEFAULT_CODES: Final = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    404: "CONVERSATION_NOT_FOUND",
    429: "RATE_LIMITED",
}


@dataclass(slots=True)
class Fault:
    method: str
    path: re.Pattern[str]
    count: int
    phase: str
    status: int | None
    code: str | None
    delay_s: float
    drop: bool
    corrupt: str | None = None
    """A message id: in the answer (``after``), the listed item with that id (else the first) gets a
    malformed ``sentAt`` — a page that decodes with a skipped item proves nothing (spec §9)."""

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Fault:
        try:
            fault = cls(
                method=str(body.get("method", "*")).upper(),
                path=re.compile(str(body.get("path", ".*"))),
                count=int(body.get("count", 1)),
                phase=str(body.get("phase", "before")),
                status=None if body.get("status") is None else int(body["status"]),
                code=None if body.get("code") is None else str(body["code"]),
                delay_s=float(body.get("delay_s") or 0),
                drop=bool(body.get("drop", False)),
                corrupt=None if body.get("corrupt") is None else str(body["corrupt"]),
            )
        except (TypeError, ValueError, re.error) as exc:
            raise ApiError(400, "VALIDATION_ERROR", f"Bad fault: {exc}") from exc
        if fault.phase not in ("before", "after") or fault.count < 1:
            raise ApiError(400, "VALIDATION_ERROR", "phase must be before or after; count >= 1")
        return fault

    def describe(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path.pattern,
            "count": self.count,
            "phase": self.phase,
            "status": self.status,
            "code": self.code,
            "delay_s": self.delay_s,
            "drop": self.drop,
            "corrupt": self.corrupt,
        }


class Faults:
    """The armed faults, in the order they were added; each is spent after ``count`` matching calls."""

    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.armed.append(fault)

    def clear(self) -> None:
        self.armed.clear()

    def take(self, method: str, rel: str) -> Fault | None:
        """The first armed fault matching this call (``rel``: the path below the base), spending one use."""
        for fault in self.armed:
            if fault.count > 0 and fault.method in ("*", method) and fault.path.search(rel):
                fault.count -= 1
                if fault.count == 0:
                    self.armed.remove(fault)
                return fault
        return None


def injected_error(fault: Fault, now_ms: int) -> ApiError:
    """The error a fault with a ``status`` answers; a 429 carries the headers a real limit would."""
    status = fault.status or 500
    code = fault.code or DEFAULT_CODES.get(status, "INTERNAL")
    message = f"Injected fault ({status} {code})"
    if status == 429:
        return RateLimited(code, message, Verdict(False, RateLimiter.KEY_CAPACITY, 0, 1, now_ms + 1000))
    return ApiError(status, code, message)


async def strike(request: web.Request, fault: Fault, clock: Clock) -> ApiError | None:
    """Wait, then drop the connection or return the error to answer with (None: carry on)."""
    if fault.delay_s > 0:
        await asyncio.sleep(fault.delay_s)
    if fault.drop:
        transport = request.transport
        if transport is not None:
            transport.abort()  # close the connection without any answer (a lost response)
        raise asyncio.CancelledError  # aiohttp treats a cancelled handler on a closed connection as gone
    if fault.status is not None:
        return injected_error(fault, clock.now_ms())
    return None


def corrupt_item(body: Any, message_id: str) -> bool:
    """Make the listed message whose URN ends in ``message_id`` malformed — or, when the page does not
    list it (it was recalled), its first message: either way the page has a skipped item. True when
    the page had a message to spoil."""
    items = [
        i for i in (body.get("messages") if isinstance(body, dict) else None) or () if isinstance(i, dict)
    ]
    target = next((i for i in items if str(i.get("messageUrn", "")).rstrip(")").endswith(message_id)), None)
    target = target or (items[0] if items else None)
    if target is None:
        return False
    target["sentAt"] = "not a time"
    return True
