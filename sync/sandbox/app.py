"""The sandbox core: one aiohttp catch-all route that authenticates, dispatches and records every call.

Routing is done here on ``request.raw_path``, not by aiohttp's router. aiohttp 3.14's
``match_info`` does keep ``%2F`` inside one segment and decodes it once (checked by
``tests/sync/sandbox/test_routing.py``), but it decodes leniently (an invalid ``%`` escape passes
through), and spec §4 wants the raw segment given to :mod:`sync.urns`, which decodes exactly once and
rejects bad escapes. One catch-all route also gives one place for the cross-cutting rules: auth,
faults, rate limits, the ``Date`` header, request counts and the response record used by the tests.
The handlers live in the ``routes_*`` modules, the ``_sandbox/`` controls in :mod:`.controls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from aiohttp import WSCloseCode, web

from sync import urns
from sync.sandbox import (
    contacts,
    controls,
    data,
    faults,
    routes_accounts,
    routes_conversations,
    routes_writes,
)
from sync.sandbox.clock import Clock
from sync.sandbox.data import Account, Params, Thread
from sync.sandbox.events import EventLog
from sync.sandbox.faults import Fault, Faults
from sync.sandbox.limits import RateLimiter
from sync.sandbox.profiles import PROFILES, ContractProfile
from sync.sandbox.state import ApiError, Store
from sync.sandbox.stream import EventStream
from sync.sandbox.wire import Ctx, RateLimited, Reply, dumps, error_body, http_date

log = logging.getLogger("sync.sandbox")

BASE: Final = "/linkedin"
RECORDED_HEADERS: Final = (
    "Date",
    "Content-Type",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Used",
    "X-RateLimit-Action",
)


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
    profile: str = "contract"
    ws_answer: str = "404"
    demo: bool = False


Handler = Callable[["Sandbox", Ctx], Awaitable[Reply]]

ROUTES: Final[tuple[tuple[str, str, Handler], ...]] = (
    ("GET", "/accounts", routes_accounts.a1_accounts),
    ("GET", "/account/status", routes_accounts.a2_status),
    ("GET", "/conversations", routes_conversations.c1_conversations),
    ("POST", "/conversations/send", routes_writes.c3_send),
    ("POST", "/conversations/sync", routes_conversations.c11_sync),
    ("GET", "/conversations/sync/status", routes_conversations.c12_sync_status),
    ("POST", "/conversations/refresh", routes_conversations.c13_refresh),
    ("GET", "/conversations/exists/{publicId}", routes_conversations.c14_exists),
    ("GET", "/conversations/{conversationUrn}/messages", routes_conversations.c2_messages),
    ("DELETE", "/conversations/{conversationUrn}/messages/{messageUrn}", routes_writes.c6_recall),
    ("POST", "/conversations/{conversationUrn}/messages/{messageUrn}/react", routes_writes.c7_react),
    ("PATCH", "/conversations/{conversationUrn}/mark-unread", routes_writes.c8_mark_unread),
    ("PATCH", "/conversations/{conversationUrn}/star", routes_writes.c9_star),
    ("PATCH", "/conversations/{conversationUrn}/unstar", routes_writes.c10_unstar),
    ("POST", "/messaging/mark-seen", routes_writes.m1_mark_seen),
    ("GET", "/ws", EventStream.unreachable),
)


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
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self.events_enabled = opts.events
        self.ws_answer = opts.ws_answer
        self.profile: ContractProfile = PROFILES[opts.profile]
        self.stream = EventStream(self)
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
        self.routes = [
            (method, tuple(template.split("/")[1:]), template, handler)
            for method, template, handler in ROUTES
        ]

    # -- lifecycle ------------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        application = web.Application(client_max_size=4 * 1024 * 1024)
        application.router.add_route("*", "/{tail:.*}", self.handle)
        application.on_startup.append(self._on_startup)
        application.on_shutdown.append(self._on_shutdown)
        return application

    async def _on_startup(self, _app: web.Application) -> None:
        if self.opts.live:
            self._live_task = asyncio.create_task(contacts.live(self))

    async def _on_shutdown(self, _app: web.Application) -> None:
        if self._live_task is not None:
            self._live_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._live_task
        await self.stream.drop(WSCloseCode.GOING_AWAY)
        self.store.close()
        if self._record is not None:
            self._record.close()

    # -- dispatch -------------------------------------------------------------------------------------------

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

    def respond(self, reply: Reply, now: int) -> web.Response:
        response = web.json_response(reply.body, status=reply.status, dumps=dumps)
        response.headers.update(reply.headers)
        response.headers["Date"] = http_date(now)
        return response

    def _record_reply(
        self, method: str, template: str | None, reply: Reply, response: web.StreamResponse
    ) -> None:
        if self._record is None or template == "/ws" or reply.unchecked:  # /ws: checked by its own tests
            return
        headers = {name: response.headers[name] for name in RECORDED_HEADERS if name in response.headers}
        line = {
            "method": method,
            "profile": self.profile.name,
            "route": template,
            "status": reply.status,
            "headers": headers,
            "body": reply.body,
        }
        self._record.write(dumps(line) + "\n")
        self._record.flush()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        now = self.clock.now_ms()
        path = request.raw_path.split("?", 1)[0]
        if not path.startswith(BASE + "/"):
            return self.respond(
                self.profile.error_reply(None, ApiError(404, "NOT_FOUND", f"Not under {BASE}")), now
            )
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
            fault = self.faults.take(method, rel)
            if fault is not None and fault.phase == "before":
                early = await faults.strike(request, fault, self.clock)
                if early is not None:
                    return self._finish(method, template, self.profile.error_reply(template, early), now)
            key_verdict = self.limiter.take_key(now)
            if key_verdict is not None and not key_verdict.allowed:
                raise RateLimited("RATE_LIMITED", "Too many requests for this API key", key_verdict)
            if matched is None:
                raise ApiError(404, "NOT_FOUND", f"No route {method} {rel}")
            if template == "/ws":
                return await self.stream.handle(ctx)
            reply = await matched[1](self, ctx)
            reply.body = self.profile.shape(self, ctx, matched[0], reply.body)
            if key_verdict is not None:
                reply.headers = {**self.profile.rate_headers(key_verdict), **reply.headers}
        except ApiError as exc:
            reply = self.profile.error_reply(template, exc)
        except Exception:  # a sandbox bug: still answer in the profile's error shape, and say so on stderr
            log.exception("unhandled error in %s %s", method, template)
            reply = self.profile.error_reply(template, ApiError(500, "INTERNAL", "Internal sandbox error"))
        if fault is not None and fault.phase == "after":
            if fault.corrupt is not None and faults.corrupt_item(reply.body, fault.corrupt):
                reply.unchecked = True  # off-contract on purpose: not for the schema checks
            replaced = await faults.strike(request, fault, self.clock)
            if replaced is not None:
                reply = self.profile.error_reply(template, replaced)
        return self._finish(method, template, reply, self.clock.now_ms())

    def _finish(self, method: str, template: str | None, reply: Reply, now: int) -> web.StreamResponse:
        response = self.respond(reply, now)
        self._record_reply(method, template, reply, response)
        return response

    async def _control(self, request: web.Request, name: str, now: int) -> web.StreamResponse:
        ctx = Ctx(request, {}, request.headers.get("X-Client-Session"), now)
        try:
            if not self._authorized(request):
                raise ApiError(401, "UNAUTHORIZED", "Missing or invalid API key")
            handler = controls.CONTROLS.get((request.method.upper(), name))
            if handler is None:
                raise ApiError(404, "NOT_FOUND", f"No sandbox control {request.method} {name}")
            reply = await handler(self, ctx)
        except ApiError as exc:
            reply = Reply(exc.status, error_body(exc.code, exc.message))
        return self.respond(reply, self.clock.now_ms())

    # -- helpers the handlers share -------------------------------------------------------------------------

    def account(self, ctx: Ctx, value: object) -> Account:
        """Resolve an ``accountId`` (None: the default account) for this call, refusing a seatless one."""
        self.profile.check_seat(self.store.world, value)
        ctx.account = self.store.account(value)
        return ctx.account

    def account_of_mailbox(self, ctx: Ctx, conv: urns.ConversationUrn) -> Account:
        """C8–C10's account: the owner of the URN's mailbox prefix."""
        if conv.mailbox is not None:
            self.profile.check_seat(self.store.world, conv.mailbox.profile_id)
        ctx.account = self.store.account_of_mailbox(conv)
        return ctx.account

    def set_profile(self, name: str) -> None:
        self.profile = PROFILES[name]

    def write_limit(self, account: Account, now: int) -> None:
        if not self.profile.write_limits:
            return
        verdict = self.limiter.take_write(account.id, now)
        if verdict is not None and not verdict.allowed:
            raise RateLimited("RATE_LIMITED", "Too many write calls for this account", verdict)

    @staticmethod
    def op(ctx: Ctx, name: str, **fields: Any) -> dict[str, Any]:
        """A journaled mutation (see :meth:`Store.apply`) carrying the call's time and session."""
        return {"op": name, "at": ctx.now, "session": ctx.session, **fields}

    def new_thread_token(self) -> str:
        return data.thread_token(str(uuid.uuid4()), self._rng.randrange(1000))

    def new_message_token(self, thread: Thread | None, at: int) -> str:
        while True:
            token = data.message_token(at, self._rng.randrange(100_000), 100)
            if thread is None or thread.find(token) is None:
                return token
