"""The ``{base}/ws`` event stream of spec §6: ``hello``, replay after ``since``, live events, heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Final

from aiohttp import WSCloseCode, web

from sync.sandbox.events import MAX_FRAME_BYTES
from sync.sandbox.state import ApiError
from sync.sandbox.wire import Ctx, Reply, dumps, error_body, http_date, parse_int

if TYPE_CHECKING:
    from sync.sandbox.app import Sandbox

log = logging.getLogger("sync.sandbox")

STREAM_OFF: Final = "The event stream is turned off"
APP_PAGE: Final = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ConnectSafely</title>'
    '<script type="module" src="/assets/index.js"></script></head><body><div id="root"></div></body></html>'
)
BAD_GATEWAY_PAGE: Final = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


class EventStream:
    """The open stream connections of one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.sockets: set[web.WebSocketResponse] = set()

    @staticmethod
    async def unreachable(sb: Sandbox, ctx: Ctx) -> Reply:  # pragma: no cover - dispatched before handlers
        raise AssertionError("unreachable")

    async def handle(self, ctx: Ctx) -> web.StreamResponse:
        sb = self.sandbox
        request = ctx.request
        if not sb.events_enabled or not sb.profile.stream:
            return self.absent(ctx)
        raw_since = request.query.get("since")
        try:
            since = None if raw_since is None else parse_int(raw_since, "since", lo=0)
        except ApiError as exc:
            return sb.respond(Reply(400, error_body(exc.code, exc.message)), ctx.now)
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, compress=False, autoping=True)
        if not ws.can_prepare(request).ok:
            return sb.respond(
                Reply(400, error_body("VALIDATION_ERROR", "A WebSocket upgrade is required")), ctx.now
            )
        ws.headers["Date"] = http_date(ctx.now)
        await ws.prepare(request)
        # Snapshot, replay list and subscription with no await in between: nothing lost, nothing twice.
        replay = None if since is None else sb.events.replay_after(since, sb.clock.now_ms())
        hello = {
            "type": "hello",
            "sessionId": ctx.session or f"sbx-{uuid.uuid4()}",
            "seq": sb.events.seq,
            "resumed": replay is not None,
        }
        queue = sb.events.subscribe()
        self.sockets.add(ws)
        pump = asyncio.create_task(self._pump(ws, queue, [dumps(hello), *(replay or [])]))
        try:
            async for _message in ws:
                pass  # clients send nothing this protocol uses; reading keeps pings and close working
        except Exception:  # after the upgrade there is no HTTP answer left to give: log it, close the stream
            log.exception("event stream connection failed")
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            sb.events.unsubscribe(queue)
            self.sockets.discard(ws)
        return ws

    def absent(self, ctx: Ctx) -> web.StreamResponse:
        """The answer to a handshake when there is no stream (``--ws-answer``): never a ``hello``.

        ``404`` is a server without the route (spec §6); ``html200`` a web app's catch-all page, which a
        client that only checks for a 2xx would take for a stream; ``502`` a proxy whose upstream is gone.
        """
        sb = self.sandbox
        if sb.ws_answer == "html200":
            return self._html(200, APP_PAGE, ctx.now)
        if sb.ws_answer == "502":
            return self._html(502, BAD_GATEWAY_PAGE, ctx.now)
        return sb.respond(sb.profile.error_reply("/ws", ApiError(404, "NOT_FOUND", STREAM_OFF)), ctx.now)

    @staticmethod
    def _html(status: int, page: str, now: int) -> web.Response:
        response = web.Response(status=status, text=page, content_type="text/html")
        response.headers["Date"] = http_date(now)
        return response

    async def _pump(self, ws: web.WebSocketResponse, queue: asyncio.Queue[str], first: list[str]) -> None:
        sb = self.sandbox
        with contextlib.suppress(ConnectionError, RuntimeError):
            for text in first:
                await ws.send_str(text)
            loop = asyncio.get_running_loop()
            next_beat = loop.time() + sb.opts.heartbeat_s
            while not ws.closed:
                # A fixed cadence, events or not: the client's 75 s watchdog then never depends on traffic.
                try:
                    text = await asyncio.wait_for(queue.get(), timeout=max(0.0, next_beat - loop.time()))
                except TimeoutError:
                    text = dumps({"type": "heartbeat", "seq": sb.events.seq})
                    next_beat = loop.time() + sb.opts.heartbeat_s
                await ws.send_str(text)

    async def drop(self, code: int = WSCloseCode.SERVICE_RESTART) -> int:
        """Close every connection; returns how many there were."""
        sockets = list(self.sockets)
        for ws in sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=code, message=b"closed by the sandbox"), timeout=2)
        return len(sockets)
