"""The local sandbox: an aiohttp HTTP + WebSocket server speaking spec §1–§7 for the desktop client and tests.

Routing is done here on ``request.raw_path``, not by aiohttp's router. aiohttp 3.14's
``match_info`` does keep ``%2F`` inside one segment and decodes it once (checked by
``tests/sync/sandbox/test_routing.py``), but it decodes leniently (an invalid ``%`` escape passes
through), and spec §4 wants the raw segment given to :mod:`sync.urns`, which decodes exactly once and
rejects bad escapes. One catch-all route also gives one place for the cross-cutting rules: auth,
faults, rate limits, the ``Date`` header, request counts and the response record used by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import logging
import math
import os
import random
import re
import secrets
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from aiohttp import WSCloseCode, web
from multidict import MultiMapping

from sync import urns
from sync.sandbox import data
from sync.sandbox.clock import Clock
from sync.sandbox.data import Account, Params, Thread
from sync.sandbox.events import MAX_FRAME_BYTES, EventLog
from sync.sandbox.limits import RateLimiter, Verdict
from sync.sandbox.state import DAILY_NEW_CONVERSATIONS, RECALL_WINDOW_MS, ApiError, Store

log = logging.getLogger("sync.sandbox")

BASE: Final = "/linkedin"
KEY_ENV: Final = "CONNECTSAFELY_SANDBOX_KEY"
RECORD_ENV: Final = "CONNECTSAFELY_SANDBOX_RECORD"
"""Hidden: append every API response (not ``/ws``, not ``_sandbox``) to this JSONL file, for spec checks."""
PARENT_ENV: Final = "CONNECTSAFELY_SANDBOX_PARENT_PID"
"""Hidden: exit when this process is no longer the parent (a killed test run leaves no sandbox behind)."""
OTHER_SESSION: Final = "sandbox-other-session"
MAX_TEXT: Final = 8000
RECORDED_HEADERS: Final = (
    "Date",
    "Content-Type",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)


class RateLimited(ApiError):
    def __init__(self, code: str, message: str, verdict: Verdict) -> None:
        super().__init__(429, code, message)
        self.verdict = verdict


@dataclass(slots=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Ctx:
    request: web.Request
    params: dict[str, str]
    """Raw (still percent-encoded) path parameters."""
    session: str | None
    now: int

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
            raise ApiError(400, "VALIDATION_ERROR", "The body must be a JSON object")
        return value


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
        }


DEFAULT_CODES: Final = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    404: "CONVERSATION_NOT_FOUND",
    429: "RATE_LIMITED",
}


@dataclass(slots=True)
class Options:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 7
    now: int | None = None
    conversations: int = 12
    per_conversation: int = 20
    heartbeat_s: float = 30.0
    rate_limit: bool = True
    events: bool = True
    live: bool = False
    live_interval_s: float | None = None
    state_dir: Path | None = None


Handler = Callable[[Ctx], Awaitable[Reply]]


def _ok(body: Any) -> Reply:
    return Reply(200, body)


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": message, "code": code, "message": message}


def _parse_int(
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


def _parse_bool(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ApiError(400, "VALIDATION_ERROR", f"{name} must be true or false")


def _conversation_from_path(raw: str) -> urns.ConversationUrn:
    try:
        return urns.parse_conversation(raw)  # decodes the raw segment exactly once
    except urns.UrnError as exc:
        raise ApiError(400, "INVALID_URN", f"Invalid conversation URN: {exc.reason}") from exc


def _message_from_path(raw: str) -> urns.MessageUrn:
    try:
        return urns.parse_message(raw)
    except urns.UrnError as exc:
        raise ApiError(400, "INVALID_URN", f"Invalid message URN: {exc.reason}") from exc


def _conversation_from_body(value: object) -> urns.ConversationUrn:
    """A URN in a JSON body is not percent-encoded: a ``%`` there is an error, not an escape."""
    if not isinstance(value, str) or not value:
        raise ApiError(400, "VALIDATION_ERROR", "conversationUrn must be a non-empty string")
    if "%" in value:
        raise ApiError(400, "INVALID_URN", "Invalid conversation URN: '%' in a JSON body")
    return _conversation_from_path(value)


def _decoded(raw: str) -> str:
    try:
        return urns.decode_percent(raw)
    except urns.UrnError as exc:
        raise ApiError(400, "INVALID_URN", exc.reason) from exc


def _http_date(ms: int) -> str:
    return email.utils.formatdate(ms / 1000, usegmt=True)


def _rate_headers(verdict: Verdict) -> dict[str, str]:
    headers = {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(math.ceil(verdict.reset_ms / 1000)),
    }
    if not verdict.allowed:
        headers["Retry-After"] = str(verdict.retry_after_s)
    return headers


class Sandbox:
    """One running sandbox: state, clock, limits, faults and the aiohttp application around them."""

    def __init__(self, opts: Options, key: str, params: Params, record_path: str | None = None) -> None:
        self.opts = opts
        self.key = key
        self.clock = Clock(opts.now)
        self.events = EventLog()
        self.initial_params = params
        self.store = Store(params, self.events, opts.state_dir)
        if opts.state_dir is not None:
            last_at = self.store.open_state()
            if last_at is not None:
                self.clock.at_least(last_at)
        self.limiter = RateLimiter(opts.rate_limit)
        self.faults: list[Fault] = []
        self.requests: Counter[str] = Counter()
        self.events_enabled = opts.events
        self.sockets: set[web.WebSocketResponse] = set()
        # The record holds message texts: user-only, like every file the sandbox writes.
        self._record: IO[str] | None = (
            os.fdopen(
                os.open(record_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a", encoding="utf-8"
            )
            if record_path
            else None
        )
        self._live_task: asyncio.Task[None] | None = None
        self._rng = random.Random()
        self.routes: list[tuple[str, tuple[str, ...], str, Handler]] = []
        for method, template, handler in self._route_table():
            self.routes.append((method, tuple(template.split("/")[1:]), template, handler))
        self.controls: dict[tuple[str, str], Handler] = {
            ("POST", "reset"): self.c_reset,
            ("POST", "inject"): self.c_inject,
            ("POST", "clock/advance"): self.c_advance,
            ("GET", "clock"): self.c_clock,
            ("POST", "faults"): self.c_add_fault,
            ("GET", "faults"): self.c_list_faults,
            ("DELETE", "faults"): self.c_clear_faults,
            ("POST", "ws/drop"): self.c_ws_drop,
            ("POST", "recall"): self.c_recall,
            ("POST", "events"): self.c_events,
            ("GET", "requests"): self.c_requests,
            ("GET", "info"): self.c_info,
        }

    def _route_table(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/accounts", self.a1_accounts),
            ("GET", "/account/status", self.a2_status),
            ("GET", "/conversations", self.c1_conversations),
            ("POST", "/conversations/send", self.c3_send),
            ("POST", "/conversations/sync", self.c11_sync),
            ("GET", "/conversations/sync/status", self.c12_sync_status),
            ("POST", "/conversations/refresh", self.c13_refresh),
            ("GET", "/conversations/exists/{publicId}", self.c14_exists),
            ("GET", "/conversations/{conversationUrn}/messages", self.c2_messages),
            ("DELETE", "/conversations/{conversationUrn}/messages/{messageUrn}", self.c6_recall),
            ("POST", "/conversations/{conversationUrn}/messages/{messageUrn}/react", self.c7_react),
            ("PATCH", "/conversations/{conversationUrn}/mark-unread", self.c8_mark_unread),
            ("PATCH", "/conversations/{conversationUrn}/star", self.c9_star),
            ("PATCH", "/conversations/{conversationUrn}/unstar", self.c10_unstar),
            ("POST", "/messaging/mark-seen", self.m1_mark_seen),
            ("GET", "/ws", self.ws_stub),
        ]

    # -- plumbing -------------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        application = web.Application(client_max_size=4 * 1024 * 1024)
        application.router.add_route("*", "/{tail:.*}", self.handle)
        application.on_startup.append(self._on_startup)
        application.on_shutdown.append(self._on_shutdown)
        return application

    async def _on_startup(self, _app: web.Application) -> None:
        if self.opts.live:
            self._live_task = asyncio.create_task(self._live())

    async def _on_shutdown(self, _app: web.Application) -> None:
        if self._live_task is not None:
            self._live_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._live_task
        await self.drop_sockets(WSCloseCode.GOING_AWAY)
        self.store.close()
        if self._record is not None:
            self._record.close()

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.encode(), self.key.encode())

    def _match(self, method: str, segments: list[str]) -> tuple[str, Handler, dict[str, str]] | None:
        for route_method, pattern, template, handler in self.routes:
            if route_method != method or len(pattern) != len(segments):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, segments, strict=True):
                if want.startswith("{"):
                    if not got:
                        break
                    params[want[1:-1]] = got
                elif want != got:
                    break
            else:
                return template, handler, params
        return None

    def _respond(self, reply: Reply, now: int) -> web.Response:
        response = web.json_response(reply.body, status=reply.status, dumps=_dumps)
        response.headers.update(reply.headers)
        response.headers["Date"] = _http_date(now)
        return response

    def _record_reply(
        self, method: str, template: str | None, reply: Reply, response: web.StreamResponse
    ) -> None:
        if self._record is None or template == "/ws":  # the handshake is checked by its own tests
            return
        headers = {name: response.headers[name] for name in RECORDED_HEADERS if name in response.headers}
        line = {
            "method": method,
            "route": template,
            "status": reply.status,
            "headers": headers,
            "body": reply.body,
        }
        self._record.write(_dumps(line) + "\n")
        self._record.flush()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        now = self.clock.now_ms()
        path = request.raw_path.split("?", 1)[0]
        if not path.startswith(BASE + "/"):
            return self._respond(Reply(404, _error_body("NOT_FOUND", f"Not under {BASE}")), now)
        rel = path[len(BASE) :]
        segments = rel.split("/")[1:]
        if segments and segments[0] == "_sandbox":
            return await self._control(request, "/".join(segments[1:]), now)
        method = request.method.upper()
        matched = self._match(method, segments)
        template = matched[0] if matched else None
        self.requests[f"{method} {template}" if template else "unmatched"] += 1
        ctx = Ctx(request, matched[2] if matched else {}, request.headers.get("X-Client-Session"), now)
        fault: Fault | None = None
        try:
            if not self._authorized(request):
                raise ApiError(401, "UNAUTHORIZED", "Missing or invalid API key")
            fault = self._take_fault(method, rel)
            if fault is not None and fault.phase == "before":
                early = await self._fault_before(request, fault)
                if early is not None:
                    return self._finish(method, template, early, now)
            key_verdict = self.limiter.take_key(now)
            if key_verdict is not None and not key_verdict.allowed:
                raise RateLimited("RATE_LIMITED", "Too many requests for this API key", key_verdict)
            if matched is None:
                return self._finish(
                    method, None, Reply(404, _error_body("NOT_FOUND", f"No route {method} {rel}")), now
                )
            if template == "/ws":
                return await self.ws_handler(ctx)
            reply = await matched[1](ctx)
            if key_verdict is not None:
                reply.headers = {**_rate_headers(key_verdict), **reply.headers}
        except RateLimited as exc:
            reply = Reply(exc.status, _error_body(exc.code, exc.message), _rate_headers(exc.verdict))
        except ApiError as exc:
            reply = Reply(exc.status, _error_body(exc.code, exc.message))
        except Exception:  # a sandbox bug: still answer in the contract's error shape, and say so on stderr
            log.exception("unhandled error in %s %s", method, template)
            reply = Reply(500, _error_body("INTERNAL", "Internal sandbox error"))
        if fault is not None and fault.phase == "after":
            replaced = await self._fault_after(request, fault)
            if replaced is not None:
                reply = replaced
        return self._finish(method, template, reply, self.clock.now_ms())

    def _finish(self, method: str, template: str | None, reply: Reply, now: int) -> web.StreamResponse:
        response = self._respond(reply, now)
        self._record_reply(method, template, reply, response)
        return response

    # -- faults ---------------------------------------------------------------------------------------------

    def _take_fault(self, method: str, rel: str) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0 and fault.method in ("*", method) and fault.path.search(rel):
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fault_reply(self, fault: Fault) -> Reply:
        status = fault.status or 500
        code = fault.code or DEFAULT_CODES.get(status, "INTERNAL")
        headers: dict[str, str] = {}
        if status == 429:
            headers = {
                "Retry-After": "1",
                "X-RateLimit-Limit": str(RateLimiter.KEY_CAPACITY),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(math.ceil(self.clock.now_ms() / 1000) + 1),
            }
        return Reply(status, _error_body(code, f"Injected fault ({status} {code})"), headers)

    async def _drop(self, request: web.Request) -> web.StreamResponse:
        """Close the connection without any answer (a lost response)."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # aiohttp treats a cancelled handler on a closed connection as gone

    async def _fault_before(self, request: web.Request, fault: Fault) -> Reply | None:
        if fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            await self._drop(request)
        if fault.status is not None:
            return self._fault_reply(fault)
        return None

    async def _fault_after(self, request: web.Request, fault: Fault) -> Reply | None:
        if fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            await self._drop(request)
        if fault.status is not None:
            return self._fault_reply(fault)
        return None

    # -- shared checks --------------------------------------------------------------------------------------

    def _write_limit(self, account: Account, now: int) -> None:
        verdict = self.limiter.take_write(account.id, now)
        if verdict is not None and not verdict.allowed:
            raise RateLimited("RATE_LIMITED", "Too many write calls for this account", verdict)

    def _op(self, ctx: Ctx, name: str, **fields: Any) -> dict[str, Any]:
        return {"op": name, "at": ctx.now, "session": ctx.session, **fields}

    def _new_message_token(self, thread: Thread | None, at: int) -> str:
        while True:
            token = data.message_token(at, self._rng.randrange(100_000), 100)
            if thread is None or thread.find(token) is None:
                return token

    def _message_in(
        self, ctx: Ctx, account: Account, *, member_code: str | None
    ) -> tuple[Thread, int | None, str]:
        """Resolve C6/C7's two path URNs: (thread, index of the message or None, decoded message URN)."""
        conv = _conversation_from_path(ctx.params["conversationUrn"])
        msg = _message_from_path(ctx.params["messageUrn"])
        if msg.mailbox is not None and msg.mailbox.profile_id != account.person.profile_id:
            raise ApiError(400, "INVALID_URN", "The message URN's mailbox prefix is not this account's")
        thread = self.store.thread_for(conv, account, member_code=member_code)
        index = None if msg.thread_token not in (None, thread.token) else thread.find(msg.token)
        return thread, index, _decoded(ctx.params["messageUrn"])

    # -- A1, A2 ---------------------------------------------------------------------------------------------

    @staticmethod
    def _account_json(account: Account) -> dict[str, Any]:
        person = account.person
        return {
            "id": account.id,
            "firstName": person.first_name,
            "lastName": person.last_name,
            "publicId": person.public_id,
            "picture": person.picture,
            "status": account.status,
            "enabled": account.enabled,
        }

    async def a1_accounts(self, ctx: Ctx) -> Reply:
        q = (ctx.query.get("q") or "").casefold()
        accounts = [
            self._account_json(a)
            for a in self.store.world.accounts
            if q in a.person.name.casefold() or q in a.person.public_id
        ]
        return _ok(accounts)

    async def a2_status(self, ctx: Ctx) -> Reply:
        account = self.store.account(ctx.query.get("accountId"))
        return _ok(
            {**self._account_json(account), "lastUsed": account.last_used, "profileUrn": account.person.urn}
        )

    # -- C1, C2 ---------------------------------------------------------------------------------------------

    async def c1_conversations(self, ctx: Ctx) -> Reply:
        q = ctx.query
        if q.get("accountId") is None and q.get("linkedinAccountIds"):
            accounts = [self.store.account(x) for x in q["linkedinAccountIds"].split(",") if x]
        else:
            accounts = [self.store.account(q.get("accountId"))]
        count = _parse_int(q.get("count"), "count", default=20, lo=1, hi=100)
        unread_only = bool(_parse_bool(q.get("unreadOnly"), "unreadOnly"))
        labeled = bool(_parse_bool(q.get("labeledOnly"), "labeledOnly")) or q.get("labelId") is not None
        return _ok(
            self.store.list_conversations(
                accounts, count, q.get("nextCursor"), unread_only=unread_only, labeled=labeled
            )
        )

    async def c2_messages(self, ctx: Ctx) -> Reply:
        q = ctx.query
        account = self.store.account(q.get("accountId"))
        conv = _conversation_from_path(ctx.params["conversationUrn"])
        count = _parse_int(q.get("count"), "count", default=50, lo=1, hi=100)
        since = None if q.get("since") is None else _parse_int(q.get("since"), "since", lo=0)
        _parse_bool(q.get("sync"), "sync")
        thread = self.store.thread_for(conv, account)
        return _ok(self.store.list_messages(thread, account, count, q.get("cursor"), since))

    # -- C3 -------------------------------------------------------------------------------------------------

    async def c3_send(self, ctx: Ctx) -> Reply:
        body = await ctx.body()
        account = self.store.account(body.get("accountId"))
        text = body.get("message")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "VALIDATION_ERROR", "message must be a non-empty string")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "VALIDATION_ERROR", f"message must be at most {MAX_TEXT} characters")
        if "subject" in body and body["subject"] is not None and not isinstance(body["subject"], str):
            raise ApiError(400, "VALIDATION_ERROR", "subject must be a string")
        attachments = body.get("attachments") or []
        if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
            raise ApiError(400, "VALIDATION_ERROR", "attachments must be an array of objects")
        world = self.store.world
        me = account.person.profile_id
        new: dict[str, Any] | None = None
        thread: Thread | None
        if body.get("conversationUrn") is not None:
            thread = self.store.thread_for(_conversation_from_body(body["conversationUrn"]), account)
            others = [pid for pid in thread.members if pid != me]
            recipient = world.people[others[0]] if others else account.person
        else:
            recipient_id = self._recipient(body)
            person = world.people.get(recipient_id)
            if person is None or recipient_id == me:
                raise ApiError(400, "VALIDATION_ERROR", "Unknown recipient")
            recipient = person
            thread = world.direct.get((account.id, recipient_id))
            if thread is None:
                if self.store.new_threads_on(account, ctx.now) >= DAILY_NEW_CONVERSATIONS:
                    midnight = (ctx.now // data.DAY_MS + 1) * data.DAY_MS
                    verdict = Verdict(
                        False,
                        DAILY_NEW_CONVERSATIONS,
                        0,
                        max(1, math.ceil((midnight - ctx.now) / 1000)),
                        midnight,
                    )
                    raise RateLimited(
                        "DAILY_QUOTA_EXCEEDED", "150 new conversations a day are spent", verdict
                    )
                token = data.thread_token(str(uuid.uuid4()), self._rng.randrange(1000))
                new = {"token": token, "members": [me, recipient_id]}
        self._write_limit(account, ctx.now)
        op = self._op(
            ctx,
            "send",
            sender=me,
            thread=None if thread is None else thread.token,
            new=new,
            token=self._new_message_token(thread, ctx.now),
            text=text,
            attachments=attachments,
        )
        thread, index = self.store.apply(op)
        return _ok(
            {
                "success": True,
                "message": "Message sent successfully",
                "recipientProfileUrn": recipient.urn,
                "sentMessage": self.store.message_item(thread, index, account),
                "conversationUrn": urns.conversation_urn(account.person.urn, thread.token),
            }
        )

    @staticmethod
    def _recipient(body: dict[str, Any]) -> str:
        if body.get("recipientProfileUrn") is not None:
            value = body["recipientProfileUrn"]
            if not isinstance(value, str) or "%" in value:
                raise ApiError(400, "INVALID_URN", "recipientProfileUrn must be a profile URN")
            try:
                return urns.parse_profile(value).profile_id
            except urns.UrnError as exc:
                raise ApiError(400, "INVALID_URN", f"Invalid recipientProfileUrn: {exc.reason}") from exc
        value = body.get("recipientProfileId")
        if value is None:
            raise ApiError(
                400, "VALIDATION_ERROR", "conversationUrn, recipientProfileId or recipientProfileUrn needed"
            )
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ApiError(400, "VALIDATION_ERROR", "recipientProfileId must be a profile id")
        return value

    # -- C6, C7 ---------------------------------------------------------------------------------------------

    async def c6_recall(self, ctx: Ctx) -> Reply:
        account = self.store.account(ctx.query.get("accountId"))
        thread, index, requested = self._message_in(ctx, account, member_code="RECALL_NOT_MEMBER")
        self._write_limit(account, ctx.now)
        if index is None:
            raise ApiError(400, "MESSAGE_NOT_FOUND", "LinkedIn does not know this message")
        token = thread.toks[index]
        if token not in thread.recalled:
            if thread.senders[index] != account.person.profile_id:
                raise ApiError(400, "RECALL_NOT_OWN", "Only messages this account sent can be recalled")
            if ctx.now - thread.sent[index] > RECALL_WINDOW_MS:
                raise ApiError(
                    400, "RECALL_WINDOW_EXPIRED", "Messages can be recalled for 60 minutes after sending"
                )
            self.store.apply(self._op(ctx, "recall", account=account.id, thread=thread.token, token=token))
        return _ok({"success": True, "messageUrn": requested})

    async def c7_react(self, ctx: Ctx) -> Reply:
        account = self.store.account(ctx.query.get("accountId"))
        thread, index, requested = self._message_in(ctx, account, member_code=None)
        body = await ctx.body()
        emoji, react = body.get("emoji"), body.get("react")
        if not isinstance(emoji, str) or not emoji or len(emoji) > 16:
            raise ApiError(400, "VALIDATION_ERROR", "emoji must be a non-empty string")
        if not isinstance(react, bool):
            raise ApiError(400, "VALIDATION_ERROR", "react must be true or false")
        if index is None or thread.toks[index] in thread.recalled:
            raise ApiError(400, "MESSAGE_NOT_FOUND", "LinkedIn does not know this message")
        self._write_limit(account, ctx.now)
        op = self._op(ctx, "react", account=account.id, thread=thread.token, token=thread.toks[index])
        self.store.apply({**op, "emoji": emoji, "react": react})
        return _ok({"success": True, "messageUrn": requested, "emoji": emoji, "react": react})

    # -- C8–C10, M1 -----------------------------------------------------------------------------------------

    async def _mark(self, ctx: Ctx, what: str) -> Reply:
        conv = _conversation_from_path(ctx.params["conversationUrn"])
        account = self.store.account_of_mailbox(conv)
        thread = self.store.thread_for(conv, account)
        self._write_limit(account, ctx.now)
        self.store.apply(self._op(ctx, "mark", account=account.id, thread=thread.token, what=what))
        return _ok({"success": True, "conversationUrn": _decoded(ctx.params["conversationUrn"])})

    async def c8_mark_unread(self, ctx: Ctx) -> Reply:
        return await self._mark(ctx, "unread")

    async def c9_star(self, ctx: Ctx) -> Reply:
        return await self._mark(ctx, "star")

    async def c10_unstar(self, ctx: Ctx) -> Reply:
        return await self._mark(ctx, "unstar")

    async def m1_mark_seen(self, ctx: Ctx) -> Reply:
        body = await ctx.body()
        account = self.store.account(body.get("accountId"))
        urn = body.get("conversationUrn")
        thread = self.store.thread_for(_conversation_from_body(urn), account)
        self._write_limit(account, ctx.now)
        self.store.apply(self._op(ctx, "mark", account=account.id, thread=thread.token, what="seen"))
        return _ok({"success": True, "conversationUrn": urn})

    # -- C11–C14 --------------------------------------------------------------------------------------------

    async def c11_sync(self, ctx: Ctx) -> Reply:
        started = time.perf_counter()
        body = await ctx.body(required=False)
        account = self.store.account(body.get("accountId"))
        if body.get("force") is not None and not isinstance(body["force"], bool):
            raise ApiError(400, "VALIDATION_ERROR", "force must be true or false")
        self.store.apply(self._op(ctx, "sync", account=account.id))
        elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        return _ok(
            {
                "success": True,
                "accountId": account.id,
                "conversationsProcessed": len(self.store.world.account_threads[account.id]),
                "messagesProcessed": self.store.total_messages(account),
                "durationMs": elapsed_ms,
                "durationSeconds": f"{elapsed_ms / 1000:.3f}",
            }
        )

    async def c12_sync_status(self, ctx: Ctx) -> Reply:
        value = ctx.query.get("accountId")
        accounts = self.store.world.accounts if value is None else [self.store.account(value)]
        return _ok(
            {
                "success": True,
                "accounts": [
                    {
                        "accountId": a.id,
                        "accountName": a.person.name,
                        "syncState": {
                            "lastSyncAt": self.store.sync_state.get(a.id),
                            "syncInProgress": False,
                            "totalConversations": len(self.store.world.account_threads[a.id]),
                            "totalMessages": self.store.total_messages(a),
                            "consecutiveFailures": 0,
                            "lastError": None,
                            "initialSyncCompleted": True,
                        },
                    }
                    for a in accounts
                ],
            }
        )

    async def c13_refresh(self, ctx: Ctx) -> Reply:
        body = await ctx.body()
        account = self.store.account(body.get("accountId"))
        urn = body.get("conversationUrn")
        thread = self.store.thread_for(_conversation_from_body(urn), account)
        self.store.apply(self._op(ctx, "refresh", account=account.id, thread=thread.token))
        return _ok(
            {
                "success": True,
                "message": "Refresh started; messages follow as conversation.refreshed",
                "conversationUrn": urn,
                "accountId": account.id,
            }
        )

    async def c14_exists(self, ctx: Ctx) -> Reply:
        account = self.store.account(ctx.query.get("accountId"))
        try:
            public_id = urns.decode_percent(ctx.params["publicId"])
        except urns.UrnError as exc:
            raise ApiError(400, "VALIDATION_ERROR", "publicId is not validly percent-encoded") from exc
        person = self.store.world.by_public_id.get(public_id)
        if person is None:
            raise ApiError(404, "CONVERSATION_NOT_FOUND", f"No LinkedIn profile {public_id!r}")
        thread = self.store.world.direct.get((account.id, person.profile_id))
        return _ok(
            {
                "success": True,
                "hasConversation": thread is not None,
                "conversationUrn": None
                if thread is None
                else urns.conversation_urn(account.person.urn, thread.token),
                "profileUrn": person.urn,
                "accountId": account.id,
            }
        )

    # -- the event stream -----------------------------------------------------------------------------------

    async def ws_stub(self, ctx: Ctx) -> Reply:  # pragma: no cover - /ws is dispatched before handlers
        raise AssertionError("unreachable")

    async def ws_handler(self, ctx: Ctx) -> web.StreamResponse:
        request = ctx.request
        if not self.events_enabled:
            reply = Reply(404, _error_body("NOT_FOUND", "The event stream is turned off"))
            return self._respond(reply, ctx.now)
        raw_since = request.query.get("since")
        try:
            since = None if raw_since is None else _parse_int(raw_since, "since", lo=0)
        except ApiError as exc:
            return self._respond(Reply(400, _error_body(exc.code, exc.message)), ctx.now)
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, compress=False, autoping=True)
        if not ws.can_prepare(request).ok:
            return self._respond(
                Reply(400, _error_body("VALIDATION_ERROR", "A WebSocket upgrade is required")), ctx.now
            )
        ws.headers["Date"] = _http_date(ctx.now)
        await ws.prepare(request)
        # Snapshot, replay list and subscription with no await in between: nothing lost, nothing twice.
        replay = None if since is None else self.events.replay_after(since, self.clock.now_ms())
        hello = {
            "type": "hello",
            "sessionId": ctx.session or f"sbx-{uuid.uuid4()}",
            "seq": self.events.seq,
            "resumed": replay is not None,
        }
        queue = self.events.subscribe()
        self.sockets.add(ws)
        pump = asyncio.create_task(self._pump(ws, queue, [_dumps(hello), *(replay or [])]))
        try:
            async for _message in ws:
                pass  # clients send nothing this protocol uses; reading keeps pings and close working
        except Exception:  # after the upgrade there is no HTTP answer left to give: log it, close the stream
            log.exception("event stream connection failed")
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self.events.unsubscribe(queue)
            self.sockets.discard(ws)
        return ws

    async def _pump(self, ws: web.WebSocketResponse, queue: asyncio.Queue[str], first: list[str]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            for text in first:
                await ws.send_str(text)
            loop = asyncio.get_running_loop()
            next_beat = loop.time() + self.opts.heartbeat_s
            while not ws.closed:
                # A fixed cadence, events or not: the client's 75 s watchdog then never depends on traffic.
                try:
                    text = await asyncio.wait_for(queue.get(), timeout=max(0.0, next_beat - loop.time()))
                except TimeoutError:
                    text = _dumps({"type": "heartbeat", "seq": self.events.seq})
                    next_beat = loop.time() + self.opts.heartbeat_s
                await ws.send_str(text)

    async def drop_sockets(self, code: int = WSCloseCode.SERVICE_RESTART) -> int:
        sockets = list(self.sockets)
        for ws in sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=code, message=b"closed by the sandbox"), timeout=2)
        return len(sockets)

    # -- live contacts --------------------------------------------------------------------------------------

    async def _live(self) -> None:
        rng = random.Random()
        interval = self.opts.live_interval_s
        while True:
            await asyncio.sleep(rng.uniform(interval / 2, interval) if interval else rng.uniform(20, 60))
            self.live_reply(rng)

    def live_reply(self, rng: random.Random) -> None:
        """A contact answers in one of the most recently active threads."""
        world = self.store.world
        account = rng.choice(world.accounts)
        candidates = [
            world.thread_by_token[token] for _, token, _ in reversed(self.store.order(account)[-8:])
        ]
        candidates = [t for t in candidates if any(p not in world.account_by_profile for p in t.members)]
        if not candidates:
            return
        thread = world.materialize(rng.choice(candidates))
        sender = rng.choice([p for p in thread.members if p not in world.account_by_profile])
        now = self.clock.now_ms()
        op = {
            "op": "send",
            "at": now,
            "session": None,
            "sender": sender,
            "thread": thread.token,
            "new": None,
            "token": self._new_message_token(thread, now),
            "text": rng.choice(data.LIVE_REPLIES),
        }
        self.store.apply(op)

    # -- /_sandbox/ controls --------------------------------------------------------------------------------

    async def _control(self, request: web.Request, name: str, now: int) -> web.StreamResponse:
        ctx = Ctx(request, {}, request.headers.get("X-Client-Session"), now)
        try:
            if not self._authorized(request):
                raise ApiError(401, "UNAUTHORIZED", "Missing or invalid API key")
            handler = self.controls.get((request.method.upper(), name))
            if handler is None:
                raise ApiError(404, "NOT_FOUND", f"No sandbox control {request.method} {name}")
            reply = await handler(ctx)
        except ApiError as exc:
            reply = Reply(exc.status, _error_body(exc.code, exc.message))
        return self._respond(reply, self.clock.now_ms())

    async def c_reset(self, ctx: Ctx) -> Reply:
        body = await ctx.body(required=False)
        old = self.initial_params  # an empty reset returns to the data the sandbox started with
        try:
            seed = int(body.get("seed", old.seed))
            conversations = int(body.get("conversations", old.conversations))
            per = int(body.get("messagesPerConversation", old.per_conversation))
            start = body.get("now", self.opts.now)
            start = None if start is None else int(start)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "VALIDATION_ERROR", "reset fields must be integers") from exc
        if conversations < 4 or per < 0:
            raise ApiError(
                400, "VALIDATION_ERROR", "conversations must be >= 4, messagesPerConversation >= 0"
            )
        self.clock.reset(start)
        params = Params(seed, self.clock.now_ms() if start is None else start, conversations, per)
        await self.drop_sockets()
        self.store.reset(params)
        self.limiter.reset()
        self.requests.clear()
        return _ok({"success": True, **params.to_json()})

    async def c_inject(self, ctx: Ctx) -> Reply:
        body = await ctx.body()
        account = self.store.account(body.get("accountId"))
        thread = self.store.thread_for(_conversation_from_body(body.get("conversationUrn")), account)
        text = body.get("text")
        if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
            raise ApiError(
                400, "VALIDATION_ERROR", "text must be a non-empty string of at most 8,000 characters"
            )
        world = self.store.world
        others = [p for p in thread.members if p != account.person.profile_id]
        contacts = [p for p in others if p not in world.account_by_profile] or others
        if not contacts:
            raise ApiError(400, "VALIDATION_ERROR", "The conversation has no other member")
        op = self._op(
            ctx,
            "send",
            sender=contacts[0],
            thread=thread.token,
            new=None,
            token=self._new_message_token(thread, ctx.now),
            text=text,
        )
        op["session"] = None  # an inbound message is nobody's echo
        thread, index = self.store.apply(op)
        item = self.store.message_item(thread, index, account)
        return _ok({"success": True, "messageUrn": item["messageUrn"], "message": item})

    async def c_advance(self, ctx: Ctx) -> Reply:
        body = await ctx.body()
        ms = body.get("ms")
        if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
            raise ApiError(400, "VALIDATION_ERROR", "ms must be a non-negative integer")
        now = self.clock.advance(ms)
        self.store.apply({"op": "clock", "at": now})
        return _ok({"success": True, "now": now})

    async def c_clock(self, ctx: Ctx) -> Reply:
        return _ok({"success": True, "now": self.clock.now_ms()})

    async def c_add_fault(self, ctx: Ctx) -> Reply:
        body = await ctx.body()
        try:
            fault = Fault(
                method=str(body.get("method", "*")).upper(),
                path=re.compile(str(body.get("path", ".*"))),
                count=int(body.get("count", 1)),
                phase=str(body.get("phase", "before")),
                status=None if body.get("status") is None else int(body["status"]),
                code=None if body.get("code") is None else str(body["code"]),
                delay_s=float(body.get("delay_s") or 0),
                drop=bool(body.get("drop", False)),
            )
        except (TypeError, ValueError, re.error) as exc:
            raise ApiError(400, "VALIDATION_ERROR", f"Bad fault: {exc}") from exc
        if fault.phase not in ("before", "after") or fault.count < 1:
            raise ApiError(400, "VALIDATION_ERROR", "phase must be before or after; count >= 1")
        self.faults.append(fault)
        return _ok({"success": True, "fault": fault.describe()})

    async def c_list_faults(self, ctx: Ctx) -> Reply:
        return _ok({"success": True, "faults": [f.describe() for f in self.faults]})

    async def c_clear_faults(self, ctx: Ctx) -> Reply:
        self.faults.clear()
        return _ok({"success": True})

    async def c_ws_drop(self, ctx: Ctx) -> Reply:
        return _ok({"success": True, "dropped": await self.drop_sockets()})

    async def c_recall(self, ctx: Ctx) -> Reply:
        body = await ctx.body()
        message_id = body.get("messageId")
        if not isinstance(message_id, str):
            raise ApiError(400, "VALIDATION_ERROR", "messageId must be a string")
        try:
            token = urns.message_id(message_id)
        except urns.UrnError as exc:
            raise ApiError(400, "INVALID_URN", exc.reason) from exc
        found = self.store.world.find_message(token)
        if found is None:
            raise ApiError(404, "MESSAGE_NOT_FOUND", "No such message")
        thread, index = found
        world = self.store.world
        sender_account = world.account_by_profile.get(thread.senders[index])
        actor = sender_account.id if sender_account else next(iter(thread.mailboxes))
        op = {
            "op": "recall",
            "at": ctx.now,
            "session": OTHER_SESSION,
            "account": actor,
            "thread": thread.token,
            "token": token,
            "emit": bool(body.get("emitEvent", True)),
        }
        self.store.apply(op)
        return _ok({"success": True, "messageId": token, "conversationId": thread.token, "accountId": actor})

    async def c_events(self, ctx: Ctx) -> Reply:
        body = await ctx.body()
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError(400, "VALIDATION_ERROR", "enabled must be true or false")
        self.events_enabled = enabled
        if not enabled:
            await self.drop_sockets()
        return _ok({"success": True, "enabled": enabled})

    async def c_requests(self, ctx: Ctx) -> Reply:
        return _ok({"success": True, "total": sum(self.requests.values()), "routes": dict(self.requests)})

    async def c_info(self, ctx: Ctx) -> Reply:
        world = self.store.world
        return _ok(
            {
                "success": True,
                "params": self.store.params.to_json(),
                "now": self.clock.now_ms(),
                "seq": self.events.seq,
                "eventsEnabled": self.events_enabled,
                "accounts": [
                    {"id": a.id, "profileUrn": a.person.urn, "threads": len(world.account_threads[a.id])}
                    for a in world.accounts
                ],
                "threads": len(world.threads),
            }
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- command line -------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connectsafely-desktop sandbox",
        description="Run the local ConnectSafely sandbox (HTTP + WebSocket). The key comes from "
        f"${KEY_ENV}, or is generated into a 0600 file; it is never taken on the command line.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", type=int, default=None, metavar="MS", help="sandbox clock start, epoch ms")
    parser.add_argument("--conversations", type=int, default=12)
    parser.add_argument("--messages-per-conversation", type=int, default=20)
    parser.add_argument("--heartbeat-s", type=float, default=30.0)
    parser.add_argument("--rate-limit", choices=("on", "off"), default="on")
    parser.add_argument("--no-events", action="store_true", help="serve no event stream (/ws answers 404)")
    parser.add_argument("--live", action="store_true", help="contacts reply now and then")
    parser.add_argument("--live-interval-s", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", type=Path, default=None, help="persist state between runs")
    parser.add_argument(
        "--background",
        action="store_true",
        help="run at background CPU priority (the app's embedded sandbox: it stands in for a remote server)",
    )
    return parser


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)


def _key(state_dir: Path | None) -> tuple[str, Path | None]:
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return from_env, None
    folder = state_dir if state_dir is not None else Path(tempfile.mkdtemp(prefix="connectsafely-sandbox-"))
    key_file = folder / "key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip(), key_file
    key = "sbx_" + secrets.token_urlsafe(32)
    _write_private(key_file, key + "\n")
    return key, key_file


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        host=args.host,
        port=args.port,
        seed=args.seed,
        now=args.now,
        conversations=args.conversations,
        per_conversation=args.messages_per_conversation,
        heartbeat_s=args.heartbeat_s,
        rate_limit=args.rate_limit == "on",
        events=not args.no_events,
        live=args.live,
        live_interval_s=args.live_interval_s,
        state_dir=args.state_dir,
    )


def _params(opts: Options) -> Params:
    wanted = Params(
        opts.seed,
        opts.now if opts.now is not None else int(time.time() * 1000),
        opts.conversations,
        opts.per_conversation,
    )
    if opts.state_dir is None:
        return wanted
    stored = opts.state_dir / "params.json"
    if stored.exists():
        # The state dir's data wins: its journal only makes sense on top of the data it was written against.
        params = Params.from_json(json.loads(stored.read_text(encoding="utf-8")))
        if (params.seed, params.conversations, params.per_conversation) != (
            wanted.seed,
            wanted.conversations,
            wanted.per_conversation,
        ):
            log.warning("using the data of %s (%s); reset to change it", opts.state_dir, params.to_json())
        return params
    _write_private(stored, json.dumps(wanted.to_json()))
    return wanted


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve(opts: Options, *, ready: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM; ``ready`` gets the endpoint line once the socket listens."""
    if opts.state_dir is not None:
        _private_dir(opts.state_dir)
    key, key_file = _key(opts.state_dir)
    sandbox = Sandbox(opts, key, _params(opts), os.environ.get(RECORD_ENV) or None)
    family = socket.AF_INET6 if ":" in opts.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((opts.host, opts.port))
    port = sock.getsockname()[1]
    runner = web.AppRunner(sandbox.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.SockSite(runner, sock, shutdown_timeout=1.0)
    await site.start()
    base = f"http://{_url_host(opts.host)}:{port}{BASE}"
    line = {
        "baseUrl": base,
        "wsUrl": f"ws://{_url_host(opts.host)}:{port}{BASE}/ws",
        "keyFile": key_file and str(key_file),
    }
    endpoint_file = None
    if opts.state_dir is not None:
        endpoint_file = opts.state_dir / "endpoint.json"
        _write_private(
            endpoint_file,
            json.dumps({"baseUrl": line["baseUrl"], "wsUrl": line["wsUrl"], "pid": os.getpid()}),
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before the line: whoever reads it may stop us at once
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    watcher = None
    if os.environ.get(PARENT_ENV, "").isdigit():
        watcher = asyncio.create_task(_exit_with_parent(int(os.environ[PARENT_ENV]), stop))
    if ready is not None:
        ready(line)
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await runner.cleanup()
        if endpoint_file is not None:
            with contextlib.suppress(FileNotFoundError):
                endpoint_file.unlink()


async def _exit_with_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent_pid:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
            return  # stopping anyway
    stop.set()


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.conversations < 4 or args.messages_per_conversation < 0:
        parser.error("--conversations must be at least 4 and --messages-per-conversation at least 0")
    if args.now is not None and not 10**12 <= args.now < 10**13:
        parser.error("--now is epoch milliseconds (13 digits)")  # message tokens hold a 13-digit sentAt
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="sandbox: %(levelname)s %(message)s")
    if args.background:
        from sync.priority import run_in_background

        run_in_background()
    opts = options_from(args)
    if opts.host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("serving plain HTTP on %s, beyond loopback", opts.host)

    def ready(line: dict[str, Any]) -> None:
        print(json.dumps(line), flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(opts, ready=ready))
    return 0
