"""The event-stream listener (spec §6, ARCHITECTURE.md §6): applies other sessions' changes as they happen.

One connection per data dir (the lock holder runs it). ``last_applied_seq`` advances in the same
writer transaction as the event it applies, so a crash never skips or repeats an event; an event at or
below it is a replay and is skipped; a gap means reconnecting with ``since``; ``resumed: false`` means
the stream cannot fill the gap and a catch-up (sync + reconciliation) runs. Malformed, oversized or
inconsistent frames are logged and skipped: input from the network never crashes the listener and
never reaches the cache unchecked.

"No event stream here" and "temporarily unreachable" are told apart (ARCHITECTURE.md §6): until a stream
has sent a valid ``hello`` in this session, **anything but a hello within 10 s** of the handshake — any
HTTP status instead of the upgrade (404, a 200 HTML page, 3xx, 5xx, 429), a closed socket, garbage —
raises :class:`StreamAbsent`, and the caller (``sync.watcher``) polls instead; the real service has no
stream at all (spec §8). Only a refused connection (nothing listens: polling would fail the same way)
stays ``offline`` and is retried. Once a stream has proven itself with a hello, a 404 and the other
:data:`ABSENT_STATUSES` still mean it is gone, but the other failures are temporary and retried with
jittered exponential backoff (``reconnecting``) for at most :data:`ABSENT_AFTER_S` without a hello;
then it is absent too, and polling takes over. The backoff
starts again from its minimum after a connection that applied an event or stayed up for 10 s; a gap
reconnects at once when the connection made progress. Waits use ``asyncio.timeout`` rather than
``asyncio.wait_for``, which on Python 3.11 can swallow a cancellation racing its timeout (a cancelled
listener then kept reconnecting forever); the loop also re-raises a cancellation a library swallowed.

A frame larger than 1 MiB is refused by ``websockets`` itself (``max_size``): the connection closes
with code 1009, the frame is counted as skipped and the listener reconnects with ``since``. (A server
that keeps sending the same oversized event breaks the contract; the backoff keeps that loop slow.)
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Final

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode

from sync import urns, wire
from sync.api import check_transport_url
from sync.cache import Cache
from sync.engine import message_in
from sync.errors import KnownError, RateLimited, SignedOut, TimedOut, Unreachable
from sync.model import ChangeSet, Reaction, StreamState, TombstoneReason
from sync.wire import Int64

log = logging.getLogger(__name__)
_WS_LOG = logging.getLogger(f"{__name__}.websocket")
# websockets logs the handshake request, ``Authorization: Bearer <key>`` included, at DEBUG: its logger
# for our connections never goes below INFO, whatever level the root logger is at.
_WS_LOG.setLevel(logging.INFO)

MAX_FRAME_BYTES: Final = 1 << 20
HELLO_TIMEOUT_S: Final = 10.0
WATCHDOG_S: Final = 75.0
BACKOFF_MIN_S: Final = 0.5
BACKOFF_MAX_S: Final = 30.0
HEALTHY_AFTER_S: Final = 10.0
"""A connection that applied an event or stayed up this long resets the backoff when it ends."""
ABSENT_STATUSES: Final = frozenset({400, 403, 404, 405, 410, 426, 501})
"""Handshake answers that say "no event stream here" even after one was live (it was taken away)."""
ABSENT_AFTER_S: Final = 60.0
"""A stream that was live and has not sent a hello for this long is treated as absent (then: polling)."""


class StreamAbsent(Exception):
    """The server offers no event stream (or no valid ``hello``): the caller falls back to polling."""


class _Reconnect(Exception):
    """Leave this connection and open another one resuming from ``last_applied_seq``."""


class _CatchUpFailed(Exception):
    """The catch-up after ``resumed: false`` failed: nothing is lost, the next connection tries again."""

    def __init__(self, error: KnownError) -> None:
        super().__init__(str(error))
        self.error = error


class _Unreachable(Exception):
    """The handshake could not be completed at the network level (refused, reset, timed out)."""


class _Frame(msgspec.Struct, rename="camel", kw_only=True):
    """Every field any frame type carries; each type checks the ones it needs. Integers are bounded to
    SQLite's int64: a bigger one makes the frame malformed (skipped), never an OverflowError later."""

    type: str
    seq: Int64 | None = None
    at: Int64 | None = None
    account_id: str | None = None
    session_id: str | None = None
    resumed: bool | None = None
    conversation_urn: str | None = None
    message_urn: str | None = None
    message_id: str | None = None
    recalled_at: Int64 | None = None
    origin_session_id: str | None = None
    message: msgspec.Raw = msgspec.Raw()
    """Empty when absent (msgspec cannot decode ``Raw | None``: a union with Raw only accepts null)."""
    messages: list[msgspec.Raw] | None = None
    reactions: list[wire.WireReaction] | None = None
    emoji: str | None = None
    react: bool | None = None
    unread_count: Int64 | None = None
    starred: bool | None = None
    last_activity_at: Int64 | None = None


_decode_frame = msgspec.json.Decoder(_Frame).decode


class _Numbered(msgspec.Struct):
    """Just enough of a malformed frame to keep the sequence: it is skipped, its ``seq`` taken."""

    seq: Int64 | None = None


_decode_numbered = msgspec.json.Decoder(_Numbered).decode
MALFORMED: Final = "__malformed__"
"""The type given to a frame whose content is invalid but whose ``seq`` is readable."""


class BadFrame(ValueError):
    """A frame that is not a valid event; it is logged and skipped."""


@dataclass(frozen=True, slots=True)
class AppliedEvent:
    """One event that reached the cache, for notifications and the UI."""

    type: str
    seq: int
    account_id: str
    conversation_urn: str
    message_id: str
    origin_session_id: str
    changes: ChangeSet
    inbound: bool = False
    """``message.created`` of a message the account did not send."""


StateCallback = Callable[[StreamState], None]
EventCallback = Callable[[AppliedEvent], None]
CatchUp = Callable[[], Awaitable[object]]


class EventStream:
    """Keeps one event-stream connection alive and applies its events through the cache writer."""

    def __init__(
        self,
        url: str,
        api_key: str,
        session_id: str,
        cache: Cache,
        *,
        catch_up: CatchUp,
        on_state: StateCallback | None = None,
        on_event: EventCallback | None = None,
        hello_timeout_s: float = HELLO_TIMEOUT_S,
        watchdog_s: float = WATCHDOG_S,
        backoff_min_s: float = BACKOFF_MIN_S,
        backoff_max_s: float = BACKOFF_MAX_S,
    ) -> None:
        self.url = check_transport_url(url)
        self._key = api_key
        self.session_id = session_id
        self.cache = cache
        self._catch_up = catch_up
        self._on_state = on_state
        self._on_event = on_event
        self._hello_timeout_s = hello_timeout_s
        self._watchdog_s = watchdog_s
        self._backoff_min_s = backoff_min_s
        self._backoff_max_s = backoff_max_s
        self.state = StreamState.OFFLINE
        self.last_seq: int | None = None
        self.connections = 0
        """Connections opened (handshake completed)."""
        self.catch_ups = 0
        """Catch-ups started after ``resumed: false`` (or a first connection without ``since``)."""
        self.applied_events = 0
        """Events taken in order (seq advanced), applied or skipped as inconsistent."""
        self.skipped_frames = 0
        self.hello: _Frame | None = None
        self._accounts: frozenset[str] = frozenset()
        self._healthy = False
        self._hello_at = 0.0
        self._ever_live = False
        """A valid hello came in this session: later handshake failures are temporary (for a while)."""

    def __repr__(self) -> str:
        return f"EventStream(url={self.url!r}, session_id={self.session_id!r})"

    # --- lifecycle ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, apply, reconnect with jittered backoff, forever (until cancelled).

        Raises :class:`StreamAbsent` when the server has no stream, and :class:`SignedOut` on 401. The
        state is left as it was when :class:`StreamAbsent` is raised: the caller says what comes next.
        """
        delay = self._backoff_min_s
        while True:
            _raise_if_cancelling()
            self._healthy = False
            applied_before = self.applied_events
            wait: float | None = None
            try:
                await self.run_once()
            except (StreamAbsent, SignedOut):
                raise
            except _Reconnect as exc:
                log.info("event stream: reconnecting (%s)", exc)
                self._set_state(StreamState.RECONNECTING)
                if self.applied_events > applied_before:
                    delay = self._backoff_min_s
                    continue  # progress was made: resume at once with `since`
                # A gap again with nothing applied: back off instead of spinning on handshakes.
            except _CatchUpFailed as exc:
                log.warning("event stream: catch-up failed: %s", exc.error)
                offline = isinstance(exc.error, Unreachable | TimedOut)
                self._set_state(StreamState.OFFLINE if offline else StreamState.RECONNECTING)
                if isinstance(exc.error, RateLimited) and exc.error.retry_after_s is not None:
                    wait = exc.error.retry_after_s
            except _Unreachable as exc:
                log.info("event stream unreachable: %s", exc)
                self._set_state(StreamState.OFFLINE)
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in ABSENT_STATUSES:
                    raise StreamAbsent(f"handshake answered {status}") from None
                self._unless_proven(f"handshake answered {status}")
                self._set_state(StreamState.RECONNECTING)
                wait = _retry_after(exc)
            except ConnectionClosed as exc:
                if not self._healthy:
                    self._unless_proven(f"closed before a hello: {exc}")
                if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
                    self.skipped_frames += 1
                    log.warning("event stream: skipped a frame larger than %d bytes", MAX_FRAME_BYTES)
                else:
                    log.info("event stream closed: %s", exc)
                self._set_state(StreamState.RECONNECTING)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self._unless_proven(f"{type(exc).__name__}: {exc}")
                self._set_state(StreamState.RECONNECTING)
            if self._healthy and (
                self.applied_events > applied_before or time.monotonic() - self._hello_at >= HEALTHY_AFTER_S
            ):
                delay = self._backoff_min_s  # the connection was healthy: the backoff starts over
            _raise_if_cancelling()
            pause = delay * (0.5 + random.random())  # jitter: sessions don't stampede
            await asyncio.sleep(max(pause, wait or 0.0))
            delay = min(self._backoff_max_s, delay * 2)

    def _unless_proven(self, reason: str) -> None:
        """Raise :class:`StreamAbsent` unless a stream was live in this session, and recently."""
        if not self._ever_live:
            raise StreamAbsent(reason)
        if time.monotonic() - self._hello_at > ABSENT_AFTER_S:
            raise StreamAbsent(f"{reason}; no hello for {ABSENT_AFTER_S:g} s")
        log.info("event stream unavailable (%s): trying again", reason)

    async def run_once(self) -> None:
        """One connection: handshake, hello, catch-up when needed, then events until it ends."""
        self.last_seq = self.cache.reader.last_applied_seq()
        target = self.url if self.last_seq is None else f"{self.url}?since={self.last_seq}"
        headers = {"Authorization": f"Bearer {self._key}", "X-Client-Session": self.session_id}
        try:
            connection = await _connect_without_redirects(
                target,
                additional_headers=headers,
                max_size=MAX_FRAME_BYTES,
                open_timeout=self._hello_timeout_s,
                compression=None,
                proxy=None,
                logger=_WS_LOG,
            )
        except InvalidStatus as exc:
            if exc.response.status_code == 401:
                raise SignedOut("the event stream refused the API key", status=401) from None
            raise
        except ConnectionRefusedError as exc:
            # Nothing listens there: the server is down (polling would fail too), not without a stream.
            raise _Unreachable(f"{type(exc).__name__}: {exc}") from None
        except OSError as exc:
            if self._ever_live or not _is_tls_or_protocol(exc):
                raise _Unreachable(f"{type(exc).__name__}: {exc}") from None
            raise
        self.connections += 1
        async with connection:
            await self._serve(connection)

    async def _serve(self, connection: ClientConnection) -> None:
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races
            # its timeout, and the cancelled listener would then reconnect forever.
            async with asyncio.timeout(self._hello_timeout_s):
                first = await connection.recv()
        except TimeoutError:
            self._unless_proven(f"no hello within {self._hello_timeout_s:g} s")
            raise _Reconnect("no hello") from None
        hello = self._parse(first)
        if hello is None or hello.type != "hello" or hello.seq is None or hello.seq < 0:
            self._unless_proven("the first frame is not a valid hello")
            raise _Reconnect("no valid hello")
        self.hello = hello
        self._healthy = True
        self._ever_live = True
        self._hello_at = time.monotonic()
        if not hello.resumed or self.last_seq is None:
            # Events before `hello.seq` cannot be replayed: re-read the server (ARCHITECTURE.md §6).
            # Events after it queue up in the connection meanwhile and are applied afterwards.
            self._set_state(StreamState.RECONNECTING)
            self.catch_ups += 1
            try:
                await self._catch_up()
            except SignedOut:
                raise
            except KnownError as exc:
                raise _CatchUpFailed(exc) from None
            await asyncio.wrap_future(self.cache.writer.set_last_applied_seq(hello.seq))
            self.last_seq = hello.seq
        self._set_state(StreamState.LIVE)
        while True:
            try:
                async with asyncio.timeout(self._watchdog_s):
                    raw = await connection.recv()
            except TimeoutError:
                raise _Reconnect(f"nothing heard for {self._watchdog_s:g} s") from None
            frame = self._parse(raw)
            if frame is not None:
                await self.handle(frame)

    def _parse(self, raw: str | bytes) -> _Frame | None:
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
        if size > MAX_FRAME_BYTES:  # `websockets` refuses these first; this guards direct callers
            self.skipped_frames += 1
            log.warning("event stream: skipped a frame larger than %d bytes", MAX_FRAME_BYTES)
            return None
        try:
            return _decode_frame(raw)
        except msgspec.ValidationError as exc:
            # Valid JSON, wrong content (e.g. an unreadCount beyond int64): skipped, but when its seq
            # is readable it keeps its place, or the gap would make every reconnect replay it forever.
            try:
                seq = _decode_numbered(raw).seq
            except (msgspec.DecodeError, RecursionError):
                seq = None
            if seq is not None:
                log.warning("event stream: frame seq %d is malformed (%s): skipped", seq, exc)
                return _Frame(type=MALFORMED, seq=seq)
            self.skipped_frames += 1
            log.warning("event stream: skipped a malformed frame: %s", exc)
            return None
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: msgspec's answer to JSON nested deeper than ~1,000 levels.
            self.skipped_frames += 1
            log.warning("event stream: skipped a malformed frame: %s: %s", type(exc).__name__, exc)
            return None

    # --- events ---------------------------------------------------------------------------------------

    async def handle(self, frame: _Frame) -> None:
        """Apply one frame in order; replays are skipped, gaps reconnect."""
        if frame.type == "hello":
            raise _Reconnect("an unexpected second hello")
        if frame.seq is None:
            self.skipped_frames += 1
            log.warning("event stream: skipped a %r frame without seq", frame.type)
            return
        last = self.last_seq or 0
        if frame.type == "heartbeat":
            if frame.seq > last:
                raise _Reconnect(f"heartbeat at seq {frame.seq} but only {last} applied")
            return
        if frame.seq <= last:
            return  # a replay of what is applied already
        if frame.seq != last + 1:
            raise _Reconnect(f"gap: seq {frame.seq} after {last}")
        try:
            applied = await self._apply(frame)
        except (BadFrame, urns.UrnError, ValueError, msgspec.DecodeError, RecursionError) as exc:
            # Inconsistent content: skip it but keep the sequence, or the stream would stall on it.
            self.skipped_frames += 1
            log.warning("event stream: skipped %s seq %d: %s", frame.type, frame.seq, exc)
            await asyncio.wrap_future(self.cache.writer.set_last_applied_seq(frame.seq))
            applied = None
        self.last_seq = frame.seq
        self.applied_events += 1
        if applied is not None and self._on_event is not None:
            try:
                self._on_event(applied)
            except Exception:  # a listener's bug must not take the stream down
                log.exception("event listener failed")

    async def _apply(self, frame: _Frame) -> AppliedEvent | None:
        seq = frame.seq
        if seq is None:  # pragma: no cover - handle() skips frames without a seq before this
            raise BadFrame("no seq")
        writer = self.cache.writer
        account_id = frame.account_id or ""
        future: Future[ChangeSet]
        message_id = ""
        inbound = False
        if frame.type == MALFORMED:
            raise BadFrame("malformed content")
        if frame.type == "message.recalled":
            if not frame.message_urn or not frame.message_id:
                raise BadFrame("message.recalled without messageUrn/messageId")
            message_id = urns.message_id(frame.message_urn)
            if message_id != frame.message_id:
                raise BadFrame("messageId does not match the token of messageUrn")
            # Every client applies a recall whatever accounts it shows: tombstones are keyed by id.
            future = writer.tombstone(
                [message_id], TombstoneReason.RECALLED_ELSEWHERE, at=frame.recalled_at, advance_seq_to=seq
            )
        elif not self._shows_account(account_id):
            # Events of accounts this client does not show may be ignored (spec §6).
            await asyncio.wrap_future(writer.set_last_applied_seq(seq))
            return None
        elif frame.type == "message.created":
            if len(frame.message) == 0 or bytes(frame.message) == b"null" or not frame.conversation_urn:
                raise BadFrame("message.created without message/conversationUrn")
            message = wire.decode_message_item(frame.message, account_id, frame.conversation_urn)
            message_id = message.message_id
            inbound = not message.is_sent_by_owner
            future = writer.upsert_messages([message_in(message)], advance_seq_to=seq)
        elif frame.type == "conversation.refreshed":
            if frame.messages is None or not frame.conversation_urn:
                raise BadFrame("conversation.refreshed without messages/conversationUrn")
            items = [wire.decode_message_item(m, account_id, frame.conversation_urn) for m in frame.messages]
            future = writer.upsert_messages([message_in(m) for m in items], advance_seq_to=seq)
        elif frame.type == "message.reacted":
            if not frame.message_urn or frame.reactions is None:
                raise BadFrame("message.reacted without messageUrn/reactions")
            reactions = tuple(Reaction(r.emoji, max(0, r.count), r.reacted_by_owner) for r in frame.reactions)
            message_id = urns.message_id(frame.message_urn)
            future = writer.set_reactions(account_id, frame.message_urn, reactions, advance_seq_to=seq)
        elif frame.type == "conversation.updated":
            if not frame.conversation_urn:
                raise BadFrame("conversation.updated without conversationUrn")
            urns.parse_conversation(frame.conversation_urn)
            if frame.unread_count is not None and frame.unread_count < 0:
                raise BadFrame("negative unreadCount")
            future = writer.update_conversation(
                account_id,
                frame.conversation_urn,
                unread_count=frame.unread_count,
                starred=frame.starred,
                last_activity_at=frame.last_activity_at,
                advance_seq_to=seq,
            )
        else:
            log.info("event stream: ignoring unknown event type %r (seq %d)", frame.type, seq)
            await asyncio.wrap_future(writer.set_last_applied_seq(seq))
            return None
        changes = await asyncio.wrap_future(future)
        return AppliedEvent(
            type=frame.type,
            seq=seq,
            account_id=account_id,
            conversation_urn=frame.conversation_urn or "",
            message_id=message_id,
            origin_session_id=frame.origin_session_id or "",
            changes=changes,
            inbound=inbound,
        )

    def _shows_account(self, account_id: str) -> bool:
        """Whether the cache holds this account. The set is re-read only for an id not in it (an account
        just added): a read per event would sit on the path of every other session's change."""
        if account_id and account_id not in self._accounts:
            self._accounts = frozenset(a.account_id for a in self.cache.reader.accounts())
        return bool(account_id) and account_id in self._accounts

    def _set_state(self, state: StreamState) -> None:
        if state != self.state:
            self.state = state
            if self._on_state is not None:
                try:
                    self._on_state(state)
                except Exception:  # a listener's bug must not take the stream down
                    log.exception("event stream state listener failed")


class _connect_without_redirects(connect):
    """``websockets``' ``connect`` that never follows a redirect: it would carry the ``Authorization``
    header to whatever host the ``Location`` names (a stolen key), and a stream that moved is no stream
    here (the handshake's 3xx then means "absent", like any answer but a hello)."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


def _is_tls_or_protocol(exc: OSError) -> bool:
    """An ``OSError`` that is an answer of the wrong kind (a TLS failure, a reset mid-handshake) rather
    than "nobody there" (refused, unreachable, DNS): the former says nothing about the server being down."""
    import ssl

    return isinstance(exc, ssl.SSLError | ConnectionResetError | ConnectionAbortedError)


def _retry_after(exc: InvalidStatus) -> float | None:
    """``Retry-After`` (seconds) of a refused handshake, e.g. a 429; None when absent or unreadable."""
    value = exc.response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _raise_if_cancelling() -> None:
    """Honour a cancellation that a library swallowed while it handled another exception."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
