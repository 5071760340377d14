"""A WebSocket proxy between clients and the sandbox's event stream that misbehaves on purpose.

While ``chaos`` is on, for every connection it may:

- **rewind** the client's ``since`` by 1..25, so the server replays events the client has already applied
  (they arrive twice), or drop ``since`` / push it past the latest seq (the server answers
  ``resumed: false``, forcing a catch-up);
- **delay** frames (a few ms to a few hundred, now and then a stall of over a second);
- **duplicate** an event already forwarded, later and out of its original timing;
- **cut** the connection, abruptly or with a close frame, after a random number of frames.

The hello frame is always forwarded first and never duplicated. Calm (``chaos = False``) it forwards
everything at once. It runs its own asyncio loop in a thread; counters are in :attr:`stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response


class ChaosProxy:
    def __init__(self, upstream_ws_url: str, seed: int) -> None:
        self.upstream = upstream_ws_url
        self.rng = random.Random(seed)
        self.chaos = True
        self.stats: Counter[str] = Counter()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chaos-proxy", daemon=True)
        self._server: Server | None = None
        self._upstreams: dict[int, ClientConnection] = {}
        """Upstream connections opened for a handshake whose handler has not started yet."""
        self._open_upstreams: set[ClientConnection] = set()
        self._connections: set[ServerConnection] = set()
        self.url = ""

    # --- lifecycle (called from the test's thread) -------------------------------------------------------

    def start(self) -> ChaosProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}{urlsplit(self.upstream).path}"
        return self

    def stop(self) -> None:
        """Close everything and finish every task on the proxy's loop, then close the loop."""

        async def shutdown() -> None:
            for connection in list(self._connections):
                connection.transport.abort()
            for upstream in [*self._upstreams.values(), *self._open_upstreams]:
                upstream.transport.abort()
            if self._server is not None:
                self._server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 5)
            current = asyncio.current_task()
            tasks = [task for task in asyncio.all_tasks() if task is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(20)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def cut_all(self) -> None:
        """Cut every client connection now (a forced reconnect)."""

        async def cut() -> None:
            for connection in list(self._connections):
                self.stats["cut_by_test"] += 1
                connection.transport.abort()

        asyncio.run_coroutine_threadsafe(cut(), self._loop).result(10)

    # --- the proxy -------------------------------------------------------------------------------------

    async def _serve(self) -> Server:
        return await serve(
            self._handle, "127.0.0.1", 0, process_request=self._open_upstream, compression=None, max_size=None
        )

    def _rewrite_since(self, query: dict[str, str]) -> dict[str, str]:
        if not self.chaos:
            return query
        roll = self.rng.random()
        since = query.get("since")
        if since is not None and roll < 0.45:
            rewound = max(0, int(since) - self.rng.randint(1, 25))
            self.stats["rewound_since"] += 1
            return {**query, "since": str(rewound)}
        if roll < 0.55:
            self.stats["resume_refused"] += 1
            return {**query, "since": str(10**12)}  # past the latest seq: resumed false
        if roll < 0.60 and since is not None:
            self.stats["since_dropped"] += 1
            return {k: v for k, v in query.items() if k != "since"}
        return query

    async def _open_upstream(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = self._rewrite_since(dict(parse_qsl(parts.query)))
        target = self.upstream + (f"?{urlencode(query)}" if query else "")
        headers = {
            name: request.headers[name]
            for name in ("Authorization", "X-Client-Session")
            if name in request.headers
        }
        try:
            upstream = await connect(
                target, additional_headers=headers, open_timeout=10, compression=None, max_size=None
            )
        except InvalidStatus as exc:
            self.stats["upstream_refused"] += 1
            return connection.respond(exc.response.status_code, "refused upstream\n")
        except OSError:
            self.stats["upstream_unreachable"] += 1
            return connection.respond(502, "upstream unreachable\n")
        self._upstreams[id(connection)] = upstream
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        upstream = self._upstreams.pop(id(connection))
        self._open_upstreams.add(upstream)
        self._connections.add(connection)
        self.stats["connections"] += 1
        pump = asyncio.create_task(self._pump(upstream, connection))
        try:
            async for _ in connection:
                pass  # clients send nothing this protocol uses
        except ConnectionClosed:
            pass
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
            self._connections.discard(connection)
            with contextlib.suppress(Exception):
                await upstream.close()
            self._open_upstreams.discard(upstream)

    async def _pump(self, upstream: ClientConnection, client: ServerConnection) -> None:
        forwarded: list[str | bytes] = []
        cut_after = self.rng.randint(3, 60)
        first = True
        try:
            async for frame in upstream:
                if not first and self.chaos:
                    await self._misbehave(client, forwarded)
                    if len(forwarded) >= cut_after and self.rng.random() < 0.5:
                        self.stats["cut"] += 1
                        if self.rng.random() < 0.5:
                            client.transport.abort()
                        else:
                            await client.close(1012, "chaos")
                        return
                await client.send(frame)
                self.stats["frames"] += 1
                if not first and _is_event(frame):
                    forwarded.append(frame)
                    self.stats["events_forwarded"] += 1
                first = False
        except ConnectionClosed:
            pass
        finally:
            with contextlib.suppress(Exception):
                await client.close(1012, "upstream closed")

    async def _misbehave(self, client: ServerConnection, forwarded: list[str | bytes]) -> None:
        roll = self.rng.random()
        if roll < 0.03:
            self.stats["stalls"] += 1
            await asyncio.sleep(self.rng.uniform(1.0, 2.0))
        elif roll < 0.5:
            self.stats["delayed"] += 1
            await asyncio.sleep(self.rng.uniform(0.005, 0.3))
        if forwarded and self.rng.random() < 0.15:
            self.stats["duplicated"] += 1
            await client.send(self.rng.choice(forwarded[-30:]))


def _is_event(frame: str | bytes) -> bool:
    try:
        decoded: Any = json.loads(frame)
    except ValueError:
        return False
    return isinstance(decoded, dict) and decoded.get("type") not in ("hello", "heartbeat")
