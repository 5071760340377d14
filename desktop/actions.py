"""What the windows ask of the server for a conversation or a message, besides recalling: send, open
(mark read), mark unread or read, "Mark all read", react, star, load older history.

Each is a task on the service's task group that calls the API, then writes what the server said yes to
through the cache's writer, whose change set reaches every window (and process). A mixin of
:class:`desktop.services.InboxService`, which holds the signals and the plumbing these use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject

from sync.errors import KnownError, SignedOut, Unreachable
from sync.model import ChangeSet, Conversation, Message
from ui.sources import MarkAllRead

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from sync.api import ApiClient
    from sync.cache import Cache
    from sync.engine import SyncEngine

log = logging.getLogger(__name__)

MARK_ALL_READ_BURST: Final = 8
"""M1 calls "Mark all read" sends at once; then one every :data:`MARK_ALL_READ_EVERY_S`. With the GUI's
budget (``sync.worker.GUI_BUDGET``: 30 requests at once, 0.2/s; 13 writes per account, 0.22/s) a run
leaves at least 5 writes of each account and 22 requests for the user's sends and recalls, and takes at
most 0.125 of the 0.2 requests a second this process may send."""
MARK_ALL_READ_EVERY_S: Final = 8.0
MARK_ALL_READ_LIMIT: Final = 1_000
"""Unread conversations one "Mark all read" reads (the oldest beyond it stay unread: run it again)."""

if TYPE_CHECKING:
    # What the mixin uses of its host, InboxService (a QObject): declared for the type checker only.
    _Host = QObject
else:
    _Host = object


class ConversationActions(_Host):
    """The user's actions on conversations and messages (recalls: :mod:`desktop.recalling`)."""

    if TYPE_CHECKING:
        cache: Cache
        mark_all_read_progress: SignalInstance
        _closing: bool

        @property
        def api(self) -> ApiClient: ...
        @property
        def engine(self) -> SyncEngine: ...
        def _spawn_action(self, coro: Awaitable[None], failure: str) -> asyncio.Task[None]: ...
        async def _write(self, future: Future[ChangeSet]) -> ChangeSet: ...

    def _init_actions(self) -> None:
        self._loading_older: set[tuple[str, str]] = set()
        self._marking_all_read: asyncio.Task[None] | None = None
        self._reactions_lock = asyncio.Lock()

    def send(self, account_id: str, conversation_urn: str, text: str) -> asyncio.Task[None]:
        async def send() -> None:
            from sync.engine import message_in

            result = await self.api.send(account_id, text, conversation_urn=conversation_urn)
            if result.sent_message is not None:
                await self._write(self.cache.writer.upsert_messages([message_in(result.sent_message)]))

        return self._spawn_action(send(), "Not sent")

    def open_conversation(self, conversation: Conversation) -> asyncio.Task[None] | None:
        """Mark read on the server, then locally; reads the newest page if none is cached yet."""

        async def opened() -> None:
            state = self.cache.reader.conversation_sync(conversation.account_id, conversation.conversation_id)
            if state is None or state.newest_synced_at is None:
                await self.engine.sync_new_messages(conversation)
            if conversation.unread_count > 0:
                await self.api.mark_seen(conversation.account_id, conversation.conversation_urn)
                await self._write(
                    self.cache.writer.mark_read(conversation.account_id, conversation.conversation_id)
                )

        return self._spawn_action(opened(), "Could not update the conversation")

    def mark_unread(self, conversation: Conversation) -> asyncio.Task[None]:
        async def unread() -> None:
            await self.api.mark_unread(conversation.conversation_urn, account_id=conversation.account_id)
            await self._write(
                self.cache.writer.update_conversation(
                    conversation.account_id,
                    conversation.conversation_id,
                    unread_count=max(1, conversation.unread_count),
                )
            )

        return self._spawn_action(unread(), "Could not mark it unread")

    def mark_read(self, conversation: Conversation) -> asyncio.Task[None]:
        """M1, then the cache: every window (and process) sees the conversation read."""

        async def read() -> None:
            await self.api.mark_seen(conversation.account_id, conversation.conversation_urn)
            await self._write(
                self.cache.writer.mark_read(conversation.account_id, conversation.conversation_id)
            )

        return self._spawn_action(read(), "Could not mark it read")

    def mark_all_read(self, account_ids: tuple[str, ...] = ()) -> asyncio.Task[None] | None:
        """M1 for every unread conversation of ``account_ids`` (every account when empty), one at a time,
        each written to the cache as soon as the server said yes; one run at a time (None while one runs).

        Paced by :data:`MARK_ALL_READ_BURST` and :data:`MARK_ALL_READ_EVERY_S` on top of the client's own
        budget, so that a long run never spends the writes a send or a recall needs (spec §1: 15 writes
        per account, one more every 4 s). Accounts without an API seat are skipped; the key or the network
        failing ends the run; one conversation the server refuses is counted and the others go on."""
        if self._marking_all_read is not None and not self._marking_all_read.done():
            return None
        from sync.pacing import TokenBucket

        seatless = {a.account_id for a in self.cache.reader.accounts() if a.api_seat is False}
        wanted = [a for a in account_ids if a not in seatless] if account_ids else None
        unread = [
            c
            for c in self.cache.reader.unread_conversations(wanted, limit=MARK_ALL_READ_LIMIT)
            if c.account_id not in seatless
        ]
        bucket = TokenBucket(MARK_ALL_READ_BURST, 1 / MARK_ALL_READ_EVERY_S)

        async def read_all() -> None:
            progress = MarkAllRead(total=len(unread))
            self.mark_all_read_progress.emit(progress)
            try:
                for conversation in unread:
                    key = (conversation.account_id, conversation.conversation_id)
                    fresh = self.cache.reader.conversation(*key)
                    if fresh is None or fresh.unread_count == 0:
                        progress = dataclasses.replace(progress, done=progress.done + 1)  # read meanwhile
                        continue
                    wait = bucket.reserve()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    try:
                        await self.api.mark_seen(fresh.account_id, fresh.conversation_urn)
                    except (SignedOut, Unreachable) as exc:
                        progress = dataclasses.replace(progress, error=exc.user_message)
                        return
                    except KnownError as exc:
                        log.info("mark all read: %s: %s", fresh.conversation_id, exc)
                        failed = progress.failed + 1
                        progress = dataclasses.replace(
                            progress, done=progress.done + 1, failed=failed, error=exc.user_message
                        )
                    else:
                        await self._write(self.cache.writer.mark_read(*key))
                        progress = dataclasses.replace(progress, done=progress.done + 1)
                    self.mark_all_read_progress.emit(progress)
            finally:
                if not self._closing:
                    self.mark_all_read_progress.emit(dataclasses.replace(progress, finished=True))

        self._marking_all_read = self._spawn_action(read_all(), "Could not mark all read")
        return self._marking_all_read

    def react(self, message: Message, emoji: str, react: bool) -> asyncio.Task[None]:
        """C7, then the message's totals in the cache, worked out from the cached ones (the answer has
        none: ``sync.reactions``); every window and process sees them through the change set. Reactions
        are written one at a time, so two quick clicks never both start from the same totals."""

        async def reacted() -> None:
            from sync.reactions import toggled_reactions

            await self.api.react(
                message.account_id, message.conversation_urn, message.message_urn, emoji, react=react
            )
            async with self._reactions_lock:
                current = self.cache.reader.message(message.account_id, message.message_id)
                if current is None:
                    return  # recalled meanwhile: nothing left to show it on
                totals = toggled_reactions(current.reactions, emoji, react)
                if totals != current.reactions:
                    await self._write(
                        self.cache.writer.set_reactions(message.account_id, message.message_urn, totals)
                    )

        failure = "Could not react" if react else "Could not remove the reaction"
        return self._spawn_action(reacted(), failure)

    def set_starred(self, conversation: Conversation, starred: bool) -> asyncio.Task[None]:
        async def star() -> None:
            if starred:
                await self.api.star(conversation.conversation_urn, account_id=conversation.account_id)
            else:
                await self.api.unstar(conversation.conversation_urn, account_id=conversation.account_id)
            await self._write(
                self.cache.writer.update_conversation(
                    conversation.account_id, conversation.conversation_id, starred=starred
                )
            )

        return self._spawn_action(star(), "Could not change the star")

    def load_older(self, account_id: str, conversation_id: str) -> asyncio.Task[None] | None:
        """The next older page from the server; one at a time per conversation (scrolling repeats)."""
        key = (account_id, conversation_id)
        if key in self._loading_older:
            return None
        self._loading_older.add(key)

        async def older() -> None:
            try:
                await self.engine.load_older(account_id, conversation_id)
            finally:
                self._loading_older.discard(key)

        return self._spawn_action(older(), "Could not load older messages")
