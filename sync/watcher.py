"""Keeps one data dir in step with the server: the event stream when there is one, polling when not.

Run by the process that holds the data dir's lock (``sync --watch`` or a GUI). It syncs once, then
follows the event stream; when the server has no stream it polls (incremental sync plus
reconciliation) and tries the stream again now and then (DESIGN "Realtime").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from sync.api import ApiClient
from sync.cache import Cache
from sync.engine import SyncEngine
from sync.errors import KnownError, RateLimited, SignedOut
from sync.model import StreamState
from sync.realtime import EventCallback, EventStream, StreamAbsent

log = logging.getLogger(__name__)

POLL_FOCUSED_S = 15.0
POLL_BACKGROUND_S = 60.0
STREAM_RETRY_S = 300.0


class Watcher:
    """The long-running sync of one process: event stream or polling, reported as a StreamState."""

    def __init__(
        self,
        api: ApiClient,
        cache: Cache,
        engine: SyncEngine,
        api_key: str,
        *,
        ws_url: str | None = None,
        on_state: Callable[[StreamState], None] | None = None,
        on_event: EventCallback | None = None,
        poll_focused_s: float = POLL_FOCUSED_S,
        poll_background_s: float = POLL_BACKGROUND_S,
        stream_retry_s: float = STREAM_RETRY_S,
    ) -> None:
        self.api = api
        self.cache = cache
        self.engine = engine
        self._key = api_key
        self.ws_url = ws_url or api.ws_url
        self._on_state = on_state
        self._on_event = on_event
        self.poll_focused_s = poll_focused_s
        self.poll_background_s = poll_background_s
        self.stream_retry_s = stream_retry_s
        self.focused = False
        """Set by a GUI while a window is focused or a conversation is open: poll more often."""
        self.state = StreamState.OFFLINE
        self.stream: EventStream | None = None
        self._wake = asyncio.Event()

    def __repr__(self) -> str:
        return f"Watcher(ws_url={self.ws_url!r})"

    def poke(self) -> None:
        """Poll now (e.g. a window gained focus)."""
        self._wake.set()

    async def run(self) -> None:
        await self._sync_safely()
        while True:
            self.stream = EventStream(
                self.ws_url,
                self._key,
                self.api.session_id,
                self.cache,
                catch_up=self.engine.sync_once,
                on_state=self._set_state,
                on_event=self._on_event,
            )
            try:
                await self.stream.run()
            except StreamAbsent as exc:
                log.info("no event stream (%s): polling", exc)
                await self._poll_for(self.stream_retry_s)
            except SignedOut:
                self._set_state(StreamState.OFFLINE)
                raise

    async def _poll_for(self, duration_s: float) -> None:
        self._set_state(StreamState.POLLING)
        until = time.monotonic() + duration_s
        while time.monotonic() < until:
            interval = self.poll_focused_s if self.focused else self.poll_background_s
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            await self._sync_safely()

    async def _sync_safely(self) -> None:
        try:
            await self.engine.sync_once()
        except RateLimited as exc:
            wait = exc.retry_after_s or self.poll_background_s
            log.info("sync rate limited: waiting %.0f s", wait)
            await asyncio.sleep(wait)
        except SignedOut:
            raise
        except KnownError as exc:
            # Offline or a server error: what is cached stays as it is; the next round tries again.
            log.warning("sync failed: %s", exc)

    def _set_state(self, state: StreamState) -> None:
        if state != self.state:
            self.state = state
            if self._on_state is not None:
                self._on_state(state)
