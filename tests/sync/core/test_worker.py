"""The sync worker process against the real sandbox: passes, change sets, failures, lifecycle, secrecy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection, Pipe
from pathlib import Path

import pytest

from sync.api import process_session_id
from sync.cache import Cache
from sync.errors import ServerError, SignedOut
from sync.model import ChangeSet, SyncProgress
from sync.worker import SyncWorker, WorkerBug, WorkerConfig, WorkerLost, protocol
from sync.worker.protocol import (
    Changes,
    Failure,
    FrameError,
    FrameReader,
    Ready,
    error_of,
    failure_of,
    send_frame,
)
from tests.fixtures.processes import in_background, live_children
from tests.fixtures.sandbox import SandboxHandle
from tests.sync.core.helpers import all_cached_messages


def on_the_wire(frame: object) -> bytes:
    """The bytes ``Connection.send`` writes for a frame (both ends send with it)."""
    reader, writer = Pipe(duplex=False)
    with reader, writer:
        writer.send(frame)
        data = b""
        os.set_blocking(reader.fileno(), False)
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(reader.fileno(), 1 << 16):
                data += chunk
        return data


class Seen:
    def __init__(self) -> None:
        self.changes: list[ChangeSet] = []
        self.progress: list[SyncProgress] = []
        self.lost = 0

    def on_lost(self) -> None:
        self.lost += 1


@asynccontextmanager
async def worker_on(
    sandbox: SandboxHandle, data: Path, *, key: str | None = None, **options: object
) -> AsyncIterator[tuple[SyncWorker, Seen, Cache]]:
    cache = Cache.open(data, sandbox.base_url)  # the parent's own cache, as the GUI has it
    seen = Seen()
    config = WorkerConfig(str(data), sandbox.base_url, key or sandbox.key, process_session_id(), budget=None)
    worker = SyncWorker(
        config,
        on_changes=seen.changes.append,
        on_progress=seen.progress.append,
        on_lost=seen.on_lost,
        **options,  # type: ignore[arg-type]
    )
    try:
        yield worker, seen, cache
    finally:
        await worker.close()
        cache.close()


def test_a_pass_in_the_worker_fills_the_cache_and_sends_every_change_set(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with worker_on(sandbox, tmp_path) as (worker, seen, cache):
            report = await worker.sync_once()
            assert worker.pid is not None and worker.pid != os.getpid()
            assert report.accounts == 2 and report.message_pages > 0
            assert report.changes == ChangeSet(), "the report leaves out what the change sets already said"
            cached = all_cached_messages(cache)
            assert cached, "the worker's writes are in the parent's cache"
            sent = set().union(*(c.messages_inserted for c in seen.changes))
            assert {(m.account_id, m.message_id) for m in cached} == {
                (k.account_id, k.message_id) for k in sent
            }
            assert seen.progress and seen.progress[-1].phase == "done"
            # The parent can tell the worker's commits from another process's.
            assert worker.commit_key is not None
            assert cache.reader.commits_by_others(cache.writer.commit_key) > 0
            assert cache.reader.commits_by_others(cache.writer.commit_key, worker.commit_key) == 0

            # A pass's change sets arrive before its result, even when its last write ends it at once.
            account = cache.reader.accounts()[0]
            conversation = cache.reader.conversations(account.account_id, limit=1)[0]
            sandbox.control(
                "POST",
                "inject",
                {
                    "accountId": account.account_id,
                    "conversationUrn": conversation.conversation_urn,
                    "text": "new",
                },
            )
            known = set().union(*(c.messages_inserted for c in seen.changes))
            await worker.sync_new_messages(conversation)
            fresh = set().union(*(c.messages_inserted for c in seen.changes)) - known
            assert [cache.reader.message(k.account_id, k.message_id).text for k in fresh] == ["new"]  # type: ignore[union-attr]

    asyncio.run(scenario())


def test_the_worker_runs_at_background_priority_and_its_key_is_not_on_its_command_line(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> bytes:
        async with worker_on(sandbox, tmp_path) as (worker, _seen, _cache):
            await worker.start()
            assert worker.pid is not None
            assert in_background(worker.pid)
            assert not in_background()  # the parent (the window) keeps its priority
            assert sandbox.key not in repr(worker) and sandbox.key not in repr(worker.config)
            return await asyncio.to_thread(Path(f"/proc/{worker.pid}/cmdline").read_bytes)

    cmdline = asyncio.run(scenario())
    assert b"sync.worker" in cmdline and sandbox.key.encode() not in cmdline


def test_known_errors_come_back_as_the_same_type_and_change_nothing(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with worker_on(sandbox, tmp_path, key="wrong-key") as (worker, seen, cache):
            with pytest.raises(SignedOut) as raised:
                await worker.sync_once()
            assert raised.value.status == 401
            assert "wrong-key" not in str(raised.value)
            assert cache.reader.counts().messages == 0 and not seen.changes
        async with worker_on(sandbox, tmp_path / "b") as (worker, _seen, cache):
            sandbox.control(
                "POST", "faults", {"method": "GET", "path": "/accounts", "count": 1, "status": 500}
            )
            with pytest.raises(ServerError) as server_error:
                await worker.sync_once()
            assert server_error.value.status == 500
            assert cache.reader.counts().messages == 0
            report = await worker.sync_once()  # the same worker goes on
            assert report.accounts == 2

    asyncio.run(scenario())


def test_a_worker_that_dies_mid_pass_fails_the_call_and_the_next_call_starts_a_new_one(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with worker_on(sandbox, tmp_path) as (worker, seen, cache):
            await worker.start()
            first_pid, first_key = worker.pid, worker.commit_key
            assert first_pid is not None
            sandbox.control(
                "POST", "faults", {"method": "GET", "path": "/accounts", "count": 1, "delay_s": 3}
            )
            call = asyncio.ensure_future(worker.sync_once())
            await asyncio.sleep(0.5)
            os.kill(first_pid, signal.SIGKILL)
            with pytest.raises(WorkerLost):
                await call
            assert not worker.running
            assert seen.lost == 1  # the parent is told to re-read what it shows
            report = await worker.sync_once()
            assert worker.pid not in (None, first_pid) and worker.starts == 2
            assert report.accounts == 2 and cache.reader.counts().messages > 0
            assert worker.commit_keys == {first_key, worker.commit_key}

    asyncio.run(scenario())


def test_a_worker_that_died_while_idle_is_replaced_by_the_next_call(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with worker_on(sandbox, tmp_path) as (worker, seen, cache):
            await worker.start()
            proc = worker._proc
            assert proc is not None
            proc.kill()
            proc.wait()  # dead, and the loop has not run since: its end of output is still unread
            report = await worker.sync_once()
            assert report.accounts == 2 and worker.starts == 2 and worker.pid != proc.pid
            assert seen.lost == 1 and cache.reader.counts().messages > 0

    asyncio.run(scenario())


def test_closing_stops_the_worker_and_a_worker_whose_parent_is_gone_exits(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    async def scenario() -> int:
        async with worker_on(sandbox, tmp_path) as (worker, _seen, _cache):
            await worker.start()
            pid = worker.pid
            assert pid is not None
            await worker.close()
            assert not worker.running
            with pytest.raises(WorkerLost):
                await worker.sync_once()  # closed for good
            return pid

    pid = asyncio.run(scenario())
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()

    # The parent vanishing is an EOF on the worker's stdin.
    config = WorkerConfig(str(tmp_path / "c"), sandbox.base_url, sandbox.key, "s", budget=None)
    child_in, to_child = Pipe(duplex=False)
    from_child, child_out = Pipe(duplex=False)
    with child_in, child_out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync.worker"], stdin=child_in.fileno(), stdout=child_out.fileno()
        )
    with from_child:
        to_child.send(config)
        assert from_child.poll(30)
        assert isinstance(from_child.recv(), Ready)
        to_child.close()
        assert proc.wait(timeout=20) == 0


def test_unreadable_frames_are_refused_with_a_clear_error() -> None:
    reader = FrameReader()
    whole = on_the_wire(Changes(ChangeSet(accounts_changed=frozenset({"a"}))))
    assert reader.feed(whole[:3]) == [] and reader.feed(whole[3:10]) == []
    assert reader.feed(whole[10:]) == [Changes(ChangeSet(accounts_changed=frozenset({"a"})))]
    with pytest.raises(FrameError, match="unreadable frame"):
        FrameReader().feed(len(b"garbage").to_bytes(4, "big") + b"garbage")
    with pytest.raises(FrameError, match="over the limit"):
        FrameReader().feed((2**31).to_bytes(4, "big"))
    # A worker that gets garbage instead of its configuration says so and exits.
    done = subprocess.run(
        [sys.executable, "-m", "sync.worker"], input=b"\x00\x00\x00\x03abc", capture_output=True, timeout=30
    )
    assert done.returncode == 2 and b"no configuration" in done.stderr


def test_the_frames_are_connection_frames_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    big = Changes(ChangeSet(accounts_changed=frozenset(str(i) for i in range(5_000))))
    # The parent's reader takes what ``Connection.send`` writes (over 16 KiB: header and body apart)...
    whole = on_the_wire(big)
    reader = FrameReader()
    assert len(whole) > 16_384 and reader.feed(whole[:4]) == [] and reader.feed(whole[4:]) == [big]
    # ... and ``Connection`` reads what the worker writes: each frame in one write (one wake-up).
    writes: list[int] = []
    real_write = os.write

    def counted(fd: int, data: bytes) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    reader_end, writer_end = Pipe(duplex=False)
    with reader_end, writer_end:
        monkeypatch.setattr(protocol.os, "write", counted)
        send_frame(writer_end, big)
        monkeypatch.undo()
        assert reader_end.recv() == big
    assert writes == [len(whole)]


def test_a_worker_that_sends_garbage_is_stopped_and_its_calls_fail(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    garbage = (
        "import os, sys, time; sys.stdin.buffer.read(4)"
        "; os.write(1, b'\\x00\\x00\\x00\\x05hello'); time.sleep(60)  # garbage-worker"
    )

    async def scenario() -> None:
        async with worker_on(sandbox, tmp_path, command=[sys.executable, "-c", garbage]) as (
            worker,
            seen,
            _c,
        ):
            with pytest.raises(WorkerLost, match="unreadable frame"):
                await worker.start()
            assert not worker.running and seen.lost == 1
            await asyncio.sleep(0.2)
            assert live_children(os.getpid(), b"garbage-worker") == []  # killed, not left behind

    asyncio.run(scenario())


def test_errors_cross_the_pipe_with_their_fields_and_bugs_keep_their_traceback() -> None:
    error = ServerError("upstream failed", status=503, code="UPSTREAM", endpoint="GET /accounts")
    (frame,) = FrameReader().feed(on_the_wire(failure_of(7, error)))
    assert isinstance(frame, Failure)
    back = error_of(frame)
    assert type(back) is ServerError
    assert (back.status, back.code, back.endpoint, str(back)) == (
        503,
        "UPSTREAM",
        "GET /accounts",
        str(error),
    )
    assert back.user_message == error.user_message
    try:
        raise KeyError("oops")
    except KeyError as exc:
        bug = error_of(failure_of(8, exc))
    assert isinstance(bug, WorkerBug) and "KeyError" in str(bug) and "raise KeyError" in str(bug)


def test_a_worker_started_ahead_is_adopted_by_the_first_start_and_used_by_its_passes(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """``prelaunch()`` (desktop.cli, before Qt is imported) starts a worker with no configuration yet; the
    first SyncWorker to start takes that process and sends it its configuration, instead of starting one."""
    from sync.worker import proxy

    proxy.prelaunch()
    launched = proxy._prelaunched
    assert launched is not None
    ahead = launched[0]
    deadline = time.monotonic() + 30
    while not in_background(ahead.pid):  # it lowers its priority first thing, before any configuration
        assert time.monotonic() < deadline, "the worker started ahead never went to background priority"
        time.sleep(0.01)

    async def scenario() -> None:
        async with worker_on(sandbox, tmp_path) as (worker, _seen, cache):
            report = await worker.sync_once()
            assert worker.pid == ahead.pid and worker.starts == 1  # that process, not a new one
            assert report.accounts == 2 and cache.reader.counts().messages > 0
            assert proxy._prelaunched is None
            proxy.prelaunch()  # another one waits for the next start (a worker lost, a new service)
            assert proxy._prelaunched is not None and proxy._prelaunched[0].pid != ahead.pid
            proxy.discard_prelaunched()

    try:
        asyncio.run(scenario())
    finally:
        proxy.discard_prelaunched()
        proxy._reap_at_exit()
    assert ahead.wait(timeout=20) == 0


def test_a_worker_started_ahead_and_not_needed_exits_quietly(tmp_path: Path) -> None:
    """A process that will follow another's sync (or quits first) discards it: its pipe closes before any
    configuration, and it exits 0 without a word on stderr."""
    from sync.worker import proxy

    stderr_path = tmp_path / "stderr"
    with stderr_path.open("wb") as stderr:
        child_in, to_child = Pipe(duplex=False)
        from_child, child_out = Pipe(duplex=False)
        with child_in, child_out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sync.worker"],
                stdin=child_in.fileno(),
                stdout=child_out.fileno(),
                stderr=stderr,
            )
        to_child.close()
        from_child.close()
        assert proc.wait(timeout=30) == 0
    assert stderr_path.read_bytes() == b""

    proxy.prelaunch()
    launched = proxy._prelaunched
    assert launched is not None
    proxy.discard_prelaunched()
    assert proxy._prelaunched is None
    proxy._reap_at_exit()  # what atexit does: nothing is left running
    assert launched[0].poll() is not None


def test_a_lone_change_set_goes_at_once_and_a_burst_goes_in_frames_at_growing_gaps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each change frame wakes the window's thread for a decode, a diff and a paint (figure 3): a burst
    of commits (a sync pass) must cost it frames at gaps growing to ``SEND_EVERY_S``, while a lone commit
    after a quiet spell (a poll's new message) goes at once, and so does a burst's first (the first page of
    a first run, figure 8)."""
    from sync.model import RowKey
    from sync.worker import child

    # Wider than the app's (0.05 s growing to 0.2 s): a loaded machine's stall must not end a gap mid-check.
    first_gap, widest = 0.5, 1.0
    monkeypatch.setattr(child, "SEND_FIRST_GAP_S", first_gap)
    monkeypatch.setattr(child, "SEND_EVERY_S", widest)

    def inserted(n: int) -> ChangeSet:
        return ChangeSet(messages_inserted=frozenset({RowKey("a", "c", f"m{n}")}))

    def received(parent_end: Connection) -> ChangeSet:
        assert parent_end.poll(0), "no frame when one was due"  # (receive() would block the loop)
        frame = protocol.receive(parent_end)
        assert isinstance(frame, Changes)
        return frame.changes

    async def scenario() -> None:
        parent_end, worker_end = Pipe()
        with parent_end, worker_end:
            config = WorkerConfig("/nonexistent", "http://127.0.0.1:9/linkedin", "key", "session", None)
            worker = child._Worker(config, worker_end, worker_end)
            worker._gather(inserted(1))
            assert received(parent_end) == inserted(1)  # a lone change set after a quiet spell: at once

            worker._gather(inserted(2))  # within the first gap: merged with the next, sent when it ends
            await asyncio.sleep(0.01)
            worker._gather(inserted(3))
            assert not parent_end.poll(0), "a burst's second change set went out on its own"
            await asyncio.sleep(first_gap + 0.1)
            assert received(parent_end) == inserted(2).merged(inserted(3))
            assert not parent_end.poll(0)

            worker._gather(inserted(4))  # the gap has doubled: not at the first gap's end
            await asyncio.sleep(first_gap)
            assert not parent_end.poll(0), "the gap did not grow during the burst"
            await asyncio.sleep(widest - first_gap + 0.1)
            assert received(parent_end) == inserted(4)

            await asyncio.sleep(widest + 0.1)  # quiet again: the next one goes at once
            worker._gather(inserted(5))
            assert received(parent_end) == inserted(5)

    asyncio.run(scenario())


def test_a_change_frame_with_a_malformed_message_key_is_refused_not_half_read() -> None:
    """The window builds the keys straight from the wire's tuples: a key that is not (account,
    conversation, message) must make the frame unreadable, never become a key with a field missing."""
    import pickle

    class Malformed:
        def __reduce__(self) -> tuple[object, ...]:
            good = ("a", "c", "m1")
            return (protocol._changes_from_wire, ((good, ("a", "c")), (), (), (), (), (), 0))

    class WellFormed:
        def __reduce__(self) -> tuple[object, ...]:
            return (protocol._changes_from_wire, ((("a", "c", "m1"),), (), (), (("a", "c"),), (), (), 0))

    with pytest.raises(FrameError, match="not \\(account, conversation, message\\)"):
        protocol.decode_frame(pickle.dumps(Malformed()))
    frame = protocol.decode_frame(pickle.dumps(WellFormed()))
    assert isinstance(frame, Changes)
    (key,) = frame.changes.messages_inserted
    assert (key.account_id, key.conversation_id, key.message_id) == ("a", "c", "m1")
    assert frame.changes.conversations_changed == {("a", "c")}
