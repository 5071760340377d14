"""Shared pieces of the realtime tests: a listener running against the real sandbox, waits with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from sync.cache import Cache
from sync.model import Message
from sync.realtime import AppliedEvent, EventStream
from tests.fixtures.sandbox import ROOT, SandboxHandle
from tests.sync.core.helpers import Core, all_cached_messages

SESSION = "test-listener-session"


async def until(predicate: Callable[[], bool], what: str, *, within: float = 10.0, task: Any = None) -> float:
    """Poll ``predicate`` every 5 ms until it holds; returns the seconds it took. A failed ``task``
    (the listener) is raised at once instead of waiting for the deadline."""
    started = time.monotonic()
    while not predicate():
        if task is not None and task.done():
            task.result()
            raise AssertionError(f"the listener stopped while waiting for {what}")
        if time.monotonic() - started > within:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.monotonic() - started


def wait_sync(predicate: Callable[[], bool], what: str, *, timeout: float = 10.0) -> float:
    """The same for synchronous tests (a child process)."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.002)
    return time.monotonic() - started


@dataclass
class Listener:
    stream: EventStream
    task: asyncio.Task[None]
    events: list[AppliedEvent] = field(default_factory=list)
    catch_ups: int = 0

    def seqs(self) -> list[int]:
        return [e.seq for e in self.events]

    async def until(self, predicate: Callable[[], bool], what: str, within: float = 10.0) -> float:
        return await until(predicate, what, within=within, task=self.task)


@contextlib.asynccontextmanager
async def listening(
    sandbox: SandboxHandle,
    core: Core,
    *,
    stream_class: type[EventStream] = EventStream,
    catch_up: Callable[[], Awaitable[object]] | None = None,
    **options: Any,
) -> AsyncIterator[Listener]:
    """An EventStream applying the sandbox's events into ``core.cache``, running as a task."""
    holder: list[Listener] = []

    async def counted_catch_up() -> None:
        holder[0].catch_ups += 1
        await (catch_up or core.engine.sync_once)()

    stream = stream_class(
        sandbox.ws_url,
        sandbox.key,
        SESSION,
        core.cache,
        catch_up=counted_catch_up,
        on_event=lambda event: holder[0].events.append(event),
        backoff_min_s=options.pop("backoff_min_s", 0.05),
        **options,
    )
    task = asyncio.create_task(stream.run())
    holder.append(Listener(stream, task))
    try:
        yield holder[0]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def server_seq(sandbox: SandboxHandle) -> int:
    """The server's latest ``seq``, from the ``hello`` of a connection of its own."""
    async with connect(sandbox.ws_url, additional_headers=sandbox.headers("test-probe")) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hello["type"] == "hello"
    return int(hello["seq"])


def visible_ids(cache: Cache) -> set[tuple[str, str]]:
    return {(m.account_id, m.message_id) for m in all_cached_messages(cache)}


def own_recent(cache: Cache, now_ms: int) -> Message:
    """A message the account sent within the last hour (the seeded recent threads have some)."""
    for message in all_cached_messages(cache):
        if message.is_sent_by_owner and now_ms - message.sent_at < 50 * 60_000:
            return message
    raise AssertionError("the cache holds no recent own message")


# --- a real `sync --watch` process ------------------------------------------------------------------


class WatchProcess:
    """``python -m desktop.cli sync --watch`` on a data dir, its stderr lines collected by a thread."""

    def __init__(self, sandbox: SandboxHandle, data_dir: Path, env: dict[str, str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTSAFELY_")}
        full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
        full_env["CONNECTSAFELY_API_KEY"] = sandbox.key
        full_env.update(env or {})
        self.data_dir = data_dir
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "desktop.cli",
                "sync",
                "--watch",
                "-v",
                "--data-dir",
                str(data_dir),
                "--base-url",
                sandbox.base_url,
            ],
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            self._queue.put(line)

    def modes(self) -> list[str]:
        return [line.removeprefix("mode: ") for line in self.lines if line.startswith("mode: ")]

    def wait_for_mode(self, mode: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while mode not in self.modes():
            if self.proc.poll() is not None:
                raise AssertionError(f"sync --watch exited {self.proc.returncode}:\n" + self.output())
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no 'mode: {mode}' within {timeout:g} s:\n" + self.output())
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=min(left, 0.1))

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@contextlib.contextmanager
def watch_process(
    sandbox: SandboxHandle, data_dir: Path, env: dict[str, str] | None = None
) -> Iterator[WatchProcess]:
    process = WatchProcess(sandbox, data_dir, env)
    try:
        yield process
    finally:
        process.stop()


StreamHandler = Callable[[Any, int], Awaitable[None]]
"""(connection, its number from 1): what a fake stream server does with each connection."""


async def fake_stream_server(handler: StreamHandler, **serve_options: Any) -> tuple[Any, str]:
    """A local WebSocket server standing in for the stream where the sandbox cannot misbehave (extra
    options go to ``websockets.serve``, e.g. ``process_request`` to answer the handshake with HTTP)."""
    from websockets.asyncio.server import ServerConnection, serve

    connections = 0

    async def on_connect(connection: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await handler(connection, connections)

    server = await serve(on_connect, "127.0.0.1", 0, **serve_options)
    port = next(iter(server.sockets)).getsockname()[1]
    return server, f"ws://127.0.0.1:{port}/linkedin/ws"
