"""The sync engine: mirrors the server's accounts, conversations and messages into the cache.

DESIGN "Sync" is the rulebook. A first run reads every conversation page (C1) and the newest page of
messages (C2) of the most recent conversations; later runs are incremental (C1 until the first
unchanged conversation, C2 with ``since``). Reconciliation re-reads the recall-window horizon and
tombstones what the server no longer returns — never anything older than that horizon, and never
from a page that failed. Every write goes through the cache's writer thread, so the event loop only
awaits; a failure mid-way leaves what was committed consistent, and the next run resumes from the
stored cursors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace

from sync import wire
from sync.api import ApiClient
from sync.cache import Cache
from sync.cache.reads import MAX_PAGE
from sync.errors import InvalidCursor, KnownError
from sync.model import (
    RECALL_WINDOW_MS,
    Account,
    AccountIssue,
    AccountSyncState,
    ChangeSet,
    Conversation,
    ConversationIn,
    ConversationSyncState,
    Message,
    MessageIn,
    SyncProgress,
    TombstoneReason,
)

log = logging.getLogger(__name__)

PAGE_CONVERSATIONS = 100
PAGE_MESSAGES = 50
INITIAL_MESSAGE_CONVERSATIONS = 50
"""First run: the newest message page of this many conversations per account; the rest on demand."""

CLOCK_MARGIN_MS = 2_000
"""How far the server-time estimate may be off (the ``Date`` header has a one-second resolution)."""

PROGRESS_INTERVAL_S = 0.1

ProgressCallback = Callable[[SyncProgress], None]


def conversation_in(conversation: Conversation) -> ConversationIn:
    return ConversationIn(
        account_id=conversation.account_id,
        conversation_urn=conversation.conversation_urn,
        last_activity_at=conversation.last_activity_at,
        unread_count=conversation.unread_count,
        starred=conversation.starred,
        participants=conversation.participants,
        latest=conversation.latest,
    )


def message_in(message: Message) -> MessageIn:
    return MessageIn(
        account_id=message.account_id,
        conversation_urn=message.conversation_urn,
        message_urn=message.message_urn,
        text=message.text,
        sent_at=message.sent_at,
        sender_profile_id=message.sender_profile_id,
        sender_name=message.sender_name,
        is_sent_by_owner=message.is_sent_by_owner,
        has_attachment=message.has_attachment,
        reactions=message.reactions,
    )


def merge_all(change_sets: Sequence[ChangeSet]) -> ChangeSet:
    """One change set for many, in one pass over each (``ChangeSet.merged`` pairwise is quadratic)."""
    return ChangeSet(
        frozenset().union(*(c.messages_inserted for c in change_sets)),
        frozenset().union(*(c.messages_updated for c in change_sets)),
        frozenset().union(*(c.messages_hidden for c in change_sets)),
        frozenset().union(*(c.conversations_changed for c in change_sets)),
        frozenset().union(*(c.accounts_changed for c in change_sets)),
        frozenset().union(*(c.tombstones_added for c in change_sets)),
        sum(c.skipped for c in change_sets),
    )


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one run did: the merged change set, request-free counts and per-item skips."""

    changes: ChangeSet
    accounts: int
    conversations_seen: int
    message_pages: int
    tombstoned_by_reconciliation: int
    skipped: int
    account_issues: tuple[AccountIssue, ...] = ()
    """Accounts this pass could not serve (seatless, refused, failing); the others were synced."""


class SyncEngine:
    """Runs sync passes for every account of one API key into one cache. One instance per process."""

    def __init__(
        self,
        api: ApiClient,
        cache: Cache,
        *,
        on_progress: ProgressCallback | None = None,
        initial_message_conversations: int = INITIAL_MESSAGE_CONVERSATIONS,
    ) -> None:
        self.api = api
        self.cache = cache
        self._on_progress = on_progress
        self._initial_message_conversations = initial_message_conversations
        self._change_sets: list[ChangeSet] = []
        """What the current :meth:`sync_once` changed, for its report. Only a pass collects: a long-running
        app calls the other methods for months, and kept change sets are memory (and work for every
        full garbage collection) that nothing reads."""
        self._in_pass = False
        self._message_pages = 0
        self._skipped = 0
        self._tombstoned = 0
        self._conversations_seen = 0
        self._last_progress = 0.0

    # --- the public passes --------------------------------------------------------------------------

    async def sync_once(self, *, reconcile: bool = True) -> SyncReport:
        """Accounts, then each account's conversations and new messages, then (optionally) reconciliation."""
        self._reset_counters()
        self._in_pass = True
        try:
            accounts = await self.discover_accounts()
            for index, account in enumerate(accounts):
                self._progress(index, len(accounts), f"account {account.name or account.account_id}")
                await self.sync_account(account)
            if reconcile:
                await self.reconcile()
            self._progress(len(accounts), len(accounts), "done")
            return self._report(len(accounts))
        finally:
            self._in_pass = False
            self._change_sets = []

    async def discover_accounts(self) -> list[Account]:
        """A1 for the list, A2 for each account's mailbox prefix (spec A2); stored through the writer.

        A2 is asked only for accounts whose prefix is not cached yet: it never changes for an account.
        """
        listed = await self.api.accounts()
        self._skipped += listed.skipped
        known = {a.account_id: a.mailbox for a in self.cache.reader.accounts() if a.mailbox}
        accounts: list[Account] = []
        for account in listed.accounts:
            if account.account_id in known:
                accounts.append(replace(account, mailbox=account.mailbox or known[account.account_id]))
                continue
            try:
                status = await self.api.account_status(account.account_id)
            except KnownError as exc:
                # The prefix can still come from the first C1 page (spec A2 fallback).
                log.warning("account status of %s failed: %s", account.account_id, exc)
                status = account
            accounts.append(replace(account, mailbox=status.mailbox or account.mailbox))
        await self._write(self.cache.writer.upsert_accounts(accounts))
        return accounts

    async def sync_account(self, account: Account) -> None:
        """One account: C1 pages (all on a first run, until the first unchanged one later), then C2."""
        state = self.cache.reader.account_sync(account.account_id) or AccountSyncState(account.account_id)
        first_run = not state.initial_sync_completed
        changed = await self._sync_conversations(account, state, first_run=first_run)
        targets = await self._message_targets(account.account_id, changed, first_run=first_run)
        for index, conversation in enumerate(targets):
            self._progress(index, len(targets), f"messages of {account.account_id}")
            await self.sync_new_messages(conversation)

    async def sync_new_messages(self, conversation: Conversation) -> None:
        """C2 for what is new since the newest synced message; the newest page when nothing is synced."""
        state = self.cache.reader.conversation_sync(
            conversation.account_id, conversation.conversation_id
        ) or ConversationSyncState(conversation.account_id, conversation.conversation_id)
        if state.newest_synced_at is None:
            await self._read_newest_page(conversation, state)
            return
        behind = self.cache.reader.messages_behind(conversation.account_id, conversation.conversation_id)
        # `since` is exclusive and several messages may share a millisecond: ask from one ms earlier
        # and let the upsert drop the duplicates (spec C2).
        since = state.newest_synced_at - 1
        cursor: str | None = None
        newest = state.newest_synced_at
        while True:
            page = await self.api.messages(
                conversation.account_id,
                conversation.conversation_urn,
                count=PAGE_MESSAGES,
                cursor=cursor,
                since=since,
            )
            self._message_pages += 1
            await self._store_messages(page)
            if page.messages:
                newest = max(newest, page.messages[0].sent_at)
            if not page.has_more or page.cursor is None:
                break
            cursor = page.cursor
        await self._write(
            self.cache.writer.set_conversation_sync(
                replace(state, newest_synced_at=newest), caught_up_to=behind
            )
        )

    async def load_older(self, account_id: str, conversation_id: str) -> bool:
        """The next older page of one conversation (on demand, e.g. scrolling up). False when none is left."""
        conversation = self.cache.reader.conversation(account_id, conversation_id)
        if conversation is None:
            return False
        state = self.cache.reader.conversation_sync(account_id, conversation_id)
        if state is None or state.newest_synced_at is None:
            await self._read_newest_page(
                conversation, state or ConversationSyncState(account_id, conversation_id)
            )
            return True
        if state.reached_oldest or state.older_cursor is None:
            return False
        try:
            page = await self.api.messages(
                account_id, conversation.conversation_urn, count=PAGE_MESSAGES, cursor=state.older_cursor
            )
        except InvalidCursor:
            # An expired cursor: start again from the newest page (spec §1 paging), which re-anchors it.
            await self._read_newest_page(conversation, state)
            return True
        self._message_pages += 1
        await self._store_messages(page)
        oldest = min((m.sent_at for m in page.messages), default=state.oldest_synced_at)
        await self._write(
            self.cache.writer.set_conversation_sync(
                replace(
                    state,
                    oldest_synced_at=oldest,
                    older_cursor=page.cursor,
                    reached_oldest=not page.has_more or page.cursor is None,
                )
            )
        )
        return True

    async def reconcile(self, account_id: str | None = None) -> int:
        """DESIGN "Reconciliation, bounded by the recall window". Returns how many ids were tombstoned.

        A read cannot judge a cached message sent within :data:`CLOCK_MARGIN_MS` of its start (it may
        have been sent after the read began). Those conversations are read once more when the margin
        has passed, so that when this returns, every cached message sent before it started has been
        judged: the stream's catch-up relies on that, because it then skips every event up to the
        hello, a recall made just before it included.
        """
        hidden = 0
        unsettled: list[tuple[Conversation, int | None, int]] = []
        candidates = self.cache.reader.reconciliation_candidates(account_id)
        for index, (acct, conversation_id, last_complete) in enumerate(candidates):
            self._progress(index, len(candidates), "reconciling")
            conversation = self.cache.reader.conversation(acct, conversation_id)
            if conversation is None:
                continue
            try:
                gone, unjudged = await self._reconcile_read(conversation, last_complete)
            except KnownError as exc:
                # A failed read proves nothing: leave this conversation as it is and go on.
                log.warning("reconciliation of %s skipped: %s", conversation_id, exc)
                continue
            hidden += gone
            if unjudged is not None:
                unsettled.append((conversation, last_complete, unjudged))
        if unsettled:
            settled_at = max(sent_at for _, _, sent_at in unsettled) + CLOCK_MARGIN_MS + 1
            await asyncio.sleep(max(0.0, (settled_at - self.api.server_now_ms()) / 1000))
            for conversation, last_complete, _ in unsettled:
                try:
                    hidden += (await self._reconcile_read(conversation, last_complete))[0]
                except KnownError as exc:
                    log.warning("reconciliation of %s skipped: %s", conversation.conversation_id, exc)
        self._tombstoned += hidden
        return hidden

    async def reconcile_conversation(self, conversation: Conversation, last_complete: int | None) -> int:
        """Re-read one conversation down to the horizon and tombstone what the server no longer has.

        Cached messages sent within the clock margin of the read are left for the next read (see
        :meth:`reconcile`). Returns how many ids were tombstoned."""
        return (await self._reconcile_read(conversation, last_complete))[0]

    async def _reconcile_read(
        self, conversation: Conversation, last_complete: int | None
    ) -> tuple[int, int | None]:
        """One reconciliation read: (ids tombstoned, newest ``sent_at`` of a cached message the read could
        not judge although it may have been sent before the read started, or None)."""
        started = self.api.server_now_ms()
        if last_complete is None:
            newest_cached = self.cache.reader.messages(
                conversation.account_id, conversation.conversation_id, limit=1
            )
            if not newest_cached:
                return 0, None
            last_complete = newest_cached[0].sent_at
        horizon = last_complete - RECALL_WINDOW_MS
        returned: set[str] = set()
        newest_returned: int | None = None
        cursor: str | None = None
        pages: list[wire.MessagePage] = []
        while True:
            page = await self.api.messages(
                conversation.account_id, conversation.conversation_urn, count=PAGE_MESSAGES, cursor=cursor
            )
            self._message_pages += 1
            pages.append(page)
            returned.update(m.message_id for m in page.messages)
            if page.messages and newest_returned is None:
                newest_returned = page.messages[0].sent_at
            oldest = page.messages[-1].sent_at if page.messages else None
            if not page.has_more or page.cursor is None or (oldest is not None and oldest <= horizon):
                break
            cursor = page.cursor
        for page in pages:
            await self._store_messages(page)
        # Only ids inside (horizon, upper] can be judged. Nothing older than the horizon can have been
        # recalled since L. Above, a cached message newer than the read may have arrived after it: the
        # read covers what was sent before it started (less a margin for the Date header's 1 s
        # resolution) and, in any case, everything up to the newest message it returned.
        upper = max(newest_returned or 0, started - CLOCK_MARGIN_MS)
        cached = self.cache.reader.message_ids_sent_between(
            conversation.account_id, conversation.conversation_id, horizon, upper
        )
        gone = [message_id for message_id in cached if message_id not in returned]
        if gone:
            log.info(
                "reconciliation: %d message(s) of %s gone upstream", len(gone), conversation.conversation_id
            )
            await self._write(self.cache.writer.tombstone(gone, TombstoneReason.GONE_UPSTREAM))
        state = self.cache.reader.conversation_sync(
            conversation.account_id, conversation.conversation_id
        ) or ConversationSyncState(conversation.account_id, conversation.conversation_id)
        newest = max(filter(None, (state.newest_synced_at, newest_returned)), default=None)
        await self._write(
            self.cache.writer.set_conversation_sync(
                replace(state, last_reconciled_at=started, newest_synced_at=newest)
            )
        )
        # Sent after `upper` yet possibly before the read started (the server clock is known to within
        # the margin): only a later read can tell whether the server still has it.
        unjudged = self.cache.reader.message_ids_sent_between(
            conversation.account_id, conversation.conversation_id, upper, started + CLOCK_MARGIN_MS
        )
        if not unjudged:
            return len(gone), None
        newest_unjudged = self.cache.reader.message(conversation.account_id, unjudged[0])
        return len(gone), None if newest_unjudged is None else newest_unjudged.sent_at

    # --- pieces -------------------------------------------------------------------------------------

    async def _sync_conversations(
        self, account: Account, state: AccountSyncState, *, first_run: bool
    ) -> list[Conversation]:
        """C1 pages; returns the conversations that are new or whose activity changed."""
        changed: list[Conversation] = []
        cursor = state.conversations_cursor if first_run else None
        while True:
            try:
                page = await self.api.conversations(
                    account.account_id, count=PAGE_CONVERSATIONS, cursor=cursor
                )
            except InvalidCursor:
                if cursor is None:
                    raise
                cursor = None  # the stored resume point expired: start again from the newest page
                continue
            self._skipped += page.skipped
            self._conversations_seen += len(page.conversations)
            if page.mailbox_hint and not account.mailbox:
                account = replace(account, mailbox=page.mailbox_hint)
                await self._write(self.cache.writer.upsert_accounts([account]))
            stop = False
            fresh: list[Conversation] = []
            for item in page.conversations:
                cached = self.cache.reader.conversation(item.account_id, item.conversation_id)
                if cached is not None and cached.last_activity_at == item.last_activity_at and not first_run:
                    stop = True  # C1 is newest-activity first: everything after this is unchanged too
                    break
                if cached is None or cached.last_activity_at != item.last_activity_at:
                    fresh.append(item)
            # The whole page is stored, not only what precedes the stop: a conversation read or starred
            # elsewhere keeps its activity time, and the upsert touches only rows whose fields changed.
            await self._write(
                self.cache.writer.upsert_conversations([conversation_in(c) for c in page.conversations])
            )
            changed.extend(fresh)
            more = page.has_more and page.next_cursor is not None and not stop
            if first_run:
                await self._write(
                    self.cache.writer.set_account_sync(
                        replace(state, conversations_cursor=page.next_cursor if more else None)
                    )
                )
            if not more:
                break
            cursor = page.next_cursor
        await self._write(
            self.cache.writer.set_account_sync(
                replace(
                    state,
                    conversations_cursor=None,
                    initial_sync_completed=True,
                    last_sync_at=self.api.server_now_ms(),
                    last_error="",
                )
            )
        )
        return changed

    async def _message_targets(
        self, account_id: str, changed: Sequence[Conversation], *, first_run: bool
    ) -> list[Conversation]:
        """Which conversations get a C2 read in this run. A first run: the newest few (everything is
        "changed" then; the rest are read when opened). Later runs: those whose activity changed (the C1
        rows in hand), those an earlier run saw change but did not read, and those of the newest few with
        nothing synced yet (a run that failed midway)."""
        targets = {} if first_run else {c.conversation_id: c for c in changed if c.account_id == account_id}
        if not first_run:
            # Changed in an earlier run that stopped before reading their messages (schema V2).
            for conversation in self.cache.reader.conversations_behind(account_id):
                targets.setdefault(conversation.conversation_id, conversation)
        for index, conversation in enumerate(await self._newest_conversations(account_id)):
            if index % 200 == 199:
                await asyncio.sleep(0)  # a long first-run list: let the GUI thread breathe
            if conversation.conversation_id in targets:
                continue
            if not first_run:
                state = self.cache.reader.conversation_sync(account_id, conversation.conversation_id)
                if state is not None and state.newest_synced_at is not None:
                    continue
            targets[conversation.conversation_id] = conversation
        return sorted(targets.values(), key=lambda c: c.last_activity_at, reverse=True)

    async def _newest_conversations(self, account_id: str) -> list[Conversation]:
        """The account's newest ``initial_message_conversations``, read in pages (the reader caps a page at
        ``MAX_PAGE``: a larger setting was silently cut to it)."""
        wanted = self._initial_message_conversations
        found: list[Conversation] = []
        after: Conversation | None = None
        while len(found) < wanted:
            size = min(wanted - len(found), MAX_PAGE)
            page = self.cache.reader.conversations(account_id, limit=size, after=after)
            found += page
            if len(page) < size:
                break
            after = page[-1]
            await asyncio.sleep(0)
        return found

    async def _read_newest_page(self, conversation: Conversation, state: ConversationSyncState) -> None:
        started = self.api.server_now_ms()
        page = await self.api.messages(
            conversation.account_id, conversation.conversation_urn, count=PAGE_MESSAGES
        )
        self._message_pages += 1
        await self._store_messages(page)
        newest = page.messages[0].sent_at if page.messages else started
        oldest = page.messages[-1].sent_at if page.messages else None
        reached_oldest = not page.has_more or page.cursor is None
        # The newest page read whole is a complete view of its range at `started`: it anchors L.
        await self._write(
            self.cache.writer.set_conversation_sync(
                replace(
                    state,
                    newest_synced_at=max(newest, state.newest_synced_at or newest),
                    oldest_synced_at=oldest if state.oldest_synced_at is None else state.oldest_synced_at,
                    older_cursor=page.cursor if state.older_cursor is None else state.older_cursor,
                    reached_oldest=reached_oldest or state.reached_oldest,
                    last_reconciled_at=state.last_reconciled_at or started,
                )
            )
        )

    async def _store_messages(self, page: wire.MessagePage) -> None:
        self._skipped += page.skipped
        if page.messages:
            await self._write(self.cache.writer.upsert_messages([message_in(m) for m in page.messages]))

    async def _write(self, future: Future[ChangeSet]) -> ChangeSet:
        """Await a queued write without blocking the loop, and remember what it changed."""
        result = await asyncio.wrap_future(future)
        if result and self._in_pass:
            # Kept, not merged: merging per page would copy every set so far (quadratic over a sync).
            self._change_sets.append(result)
        return result

    def _progress(self, done: int, total: int, phase: str) -> None:
        """Report progress at most ~10 times a second (the end of a phase always): a progress bar
        repainted per conversation costs the GUI thread more than the sync step it reports."""
        if self._on_progress is None:
            return
        now = time.monotonic()
        if done < total and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        self._on_progress(SyncProgress(done=done, total=total, phase=phase))

    def _reset_counters(self) -> None:
        self._change_sets = []
        self._message_pages = 0
        self._skipped = 0
        self._tombstoned = 0
        self._conversations_seen = 0

    def _report(self, accounts: int) -> SyncReport:
        changes = merge_all(self._change_sets)
        return SyncReport(
            changes=changes,
            accounts=accounts,
            conversations_seen=self._conversations_seen,
            message_pages=self._message_pages,
            tombstoned_by_reconciliation=self._tombstoned,
            skipped=self._skipped + changes.skipped,
        )
