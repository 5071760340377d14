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
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace

from sync import evidence, wire
from sync.api import ApiClient
from sync.cache import Cache
from sync.cache.reads import MAX_PAGE
from sync.errors import (
    AccountNotFound,
    ConversationNotFound,
    InvalidCursor,
    KnownError,
    LocalStorageError,
    NoApiAccess,
    NotFound,
    Refused,
    SignedOut,
    Unreachable,
)
from sync.errors import RateLimited as RateLimitedError
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


KEY_WIDE = (SignedOut, RateLimitedError, Unreachable, LocalStorageError)
"""Failures of the key, the network or this computer's disk, not of one account: they end the pass."""
ACCOUNT_GONE = (NoApiAccess, AccountNotFound)
"""An account the server will not serve in this pass: its other reads are skipped."""
MAX_LISTING_PAGES = 10_000
"""A C1 listing never takes more pages than this (1,000,000 conversations): past it, it is cut short."""


def conversation_in(conversation: Conversation, *, star_known: bool = True) -> ConversationIn:
    return ConversationIn(
        account_id=conversation.account_id,
        conversation_urn=conversation.conversation_urn,
        last_activity_at=conversation.last_activity_at,
        unread_count=conversation.unread_count,
        starred=conversation.starred if star_known else None,
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


def _newest_first(conversations: Sequence[Conversation]) -> bool:
    """Whether a C1 page is in the contract's order (newest activity first)."""
    return all(a.last_activity_at >= b.last_activity_at for a, b in itertools.pairwise(conversations))


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
        self._issues: list[AccountIssue] = []
        self._accounts: tuple[float, frozenset[str]] | None = None
        """When A1 was last asked by a pass, and the accounts it listed."""
        self._status_asked: set[str] = set()
        """Accounts whose A2 was asked by this engine (a prefix-less answer is not asked again)."""

    # --- the public passes --------------------------------------------------------------------------

    async def sync_once(
        self, *, reconcile: bool = True, accounts_max_age_s: float | None = None
    ) -> SyncReport:
        """Accounts, then each account's conversations and new messages, then (optionally) reconciliation.

        Accounts fail alone (DESIGN "Sync"): a seatless account is not synced, and a 403/404/5xx or a
        malformed answer for one account marks it (``SyncReport.account_issues``, stored for the UI) while
        the others carry on. A failure of the key or the network (401, 429, offline) ends the pass.

        ``accounts_max_age_s``: reuse this engine's last account list (A1 + prefixes) when it is younger
        (polling rounds); None asks A1 every pass."""
        self._reset_counters()
        self._in_pass = True
        try:
            known = self._accounts
            if accounts_max_age_s is not None and known and time.monotonic() - known[0] < accounts_max_age_s:
                accounts = [a for a in self.cache.reader.accounts() if a.account_id in known[1]]
            else:
                accounts = await self.discover_accounts()
                self._accounts = (time.monotonic(), frozenset(a.account_id for a in accounts))
            served: list[str] = []
            for index, account in enumerate(accounts):
                self._progress(index, len(accounts), f"account {account.name or account.account_id}")
                if account.api_seat is False:
                    await self._mark_account(account, NoApiAccess("A1 says apiSeatAllocated: false"))
                    continue
                try:
                    await self.sync_account(account)
                except KEY_WIDE:
                    raise
                except KnownError as exc:
                    log.warning("sync of account %s failed: %s", account.account_id, exc)
                    await self._mark_account(account, exc)
                    continue
                served.append(account.account_id)
            if reconcile and served:
                await self.reconcile(accounts=served)
            self._progress(len(accounts), len(accounts), "done")
            return self._report(len(accounts))
        finally:
            self._in_pass = False
            self._change_sets = []

    async def _mark_account(self, account: Account, exc: KnownError) -> None:
        """Remember why ``account`` could not be served (the report, and the cache for every window)."""
        refused = isinstance(exc, Refused | NotFound | NoApiAccess)
        issue = AccountIssue(account.account_id, account.name, exc.kind, exc.user_message, refused)
        if all(i.account_id != issue.account_id for i in self._issues):
            self._issues.append(issue)
        state = self.cache.reader.account_sync(account.account_id) or AccountSyncState(account.account_id)
        await self._write(
            self.cache.writer.set_account_sync(
                replace(
                    state, last_error=issue.message, last_error_kind=issue.kind, last_error_refused=refused
                )
            )
        )

    async def discover_accounts(self) -> list[Account]:
        """A1 for the list, A2 for each account's mailbox prefix (spec A2); stored through the writer.

        A2 is asked only for accounts whose prefix is not cached yet: it never changes for an account.
        """
        listed = await self.api.accounts()
        self._skipped += listed.skipped
        known = {a.account_id: a.mailbox for a in self.cache.reader.accounts() if a.mailbox}
        accounts: list[Account] = []
        listed_ids: set[str] = set()
        for account in listed.accounts:
            if account.account_id in listed_ids:
                continue  # listed twice: synced once
            listed_ids.add(account.account_id)
            if account.account_id in known:
                accounts.append(replace(account, mailbox=account.mailbox or known[account.account_id]))
                continue
            if account.api_seat is False or account.account_id in self._status_asked:
                # A seatless account answers 403 to everything; A2 was asked already this session and
                # had no prefix (the vendor's never has): the first C1 page gives it.
                accounts.append(account)
                continue
            self._status_asked.add(account.account_id)
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
            try:
                await self.sync_new_messages(conversation)
            except ConversationNotFound as exc:
                # One thread gone on LinkedIn is not the account's failure: the next C1 drops it.
                log.info("messages of %s: %s", conversation.conversation_id, exc)

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
        seen_cursors: set[str] = set()
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
            if cursor is not None:
                seen_cursors.add(cursor)
            if page.cursor in seen_cursors or len(seen_cursors) >= evidence.MAX_PAGES:
                log.error("C2 of %s repeats itself (cursor loop): stopped", conversation.conversation_id)
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

    async def reconcile(self, account_id: str | None = None, *, accounts: Sequence[str] | None = None) -> int:
        """DESIGN "Reconciliation, bounded by the recall window". Returns how many ids were tombstoned.

        ``accounts`` limits it to those accounts (a pass reconciles the ones it could serve). An account
        the server stops serving mid-way (403, 404) is marked and its other conversations skipped.

        A read cannot judge a cached message sent within :data:`CLOCK_MARGIN_MS` of its start (it may
        have been sent after the read began). Those conversations are read once more when the margin
        has passed, so that when this returns, every cached message sent before it started has been
        judged: the stream's catch-up relies on that, because it then skips every event up to the
        hello, a recall made just before it included.
        """
        hidden = 0
        unsettled: list[tuple[Conversation, int | None, int]] = []
        wanted = None if accounts is None else set(accounts)
        gone_accounts: set[str] = set()
        candidates = [
            c
            for c in self.cache.reader.reconciliation_candidates(account_id)
            if wanted is None or c[0] in wanted
        ]
        for index, (acct, conversation_id, last_complete) in enumerate(candidates):
            self._progress(index, len(candidates), "reconciling")
            if acct in gone_accounts:
                continue
            conversation = self.cache.reader.conversation(acct, conversation_id)
            if conversation is None:
                continue
            try:
                gone, unjudged = await self._reconcile_read(conversation, last_complete)
            except KEY_WIDE:
                raise
            except ACCOUNT_GONE as exc:
                gone_accounts.add(acct)
                account = self.cache.reader.account(acct)
                if account is not None:
                    await self._mark_account(account, exc)
                continue
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
                if conversation.account_id in gone_accounts:
                    continue
                try:
                    hidden += (await self._reconcile_read(conversation, last_complete))[0]
                except KEY_WIDE:
                    raise
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
        not judge although it may have been sent before the read started, or None).

        Inference follows the evidence rule (spec §9, :mod:`sync.evidence`): only from a read that is
        clean (no failed page, no skipped item, no cursor loop) and only for what its pages cover."""
        started = self.api.server_now_ms()
        if last_complete is None:
            newest_cached = self.cache.reader.messages(
                conversation.account_id, conversation.conversation_id, limit=1
            )
            if not newest_cached:
                return 0, None
            last_complete = newest_cached[0].sent_at
        horizon = last_complete - RECALL_WINDOW_MS
        read = await evidence.read_down_to(
            self.api, conversation.account_id, conversation.conversation_urn, horizon, page_size=PAGE_MESSAGES
        )
        self._message_pages += read.pages
        self._skipped += read.skipped
        if read.messages:
            await self._write(self.cache.writer.upsert_messages([message_in(m) for m in read.messages]))
        # Only ids inside (horizon, upper] can be judged, and only above what the pages covered. Nothing
        # older than the horizon can have been recalled since L. Above, a cached message newer than the
        # read may have arrived after it: the read covers what was sent before it started (less a margin
        # for the Date header's 1 s resolution) and, in any case, everything up to the newest it returned.
        upper = max(read.newest_returned or 0, started - CLOCK_MARGIN_MS)
        lower = horizon if read.covered_above is None else max(horizon, read.covered_above)
        gone: list[str] = []
        if read.clean:
            cached = self.cache.reader.message_ids_sent_between(
                conversation.account_id, conversation.conversation_id, lower, upper
            )
            gone = [message_id for message_id in cached if message_id not in read.returned]
        else:
            log.warning("reconciliation of %s infers nothing: %s", conversation.conversation_id, read.problem)
        if gone:
            log.info(
                "reconciliation: %d message(s) of %s gone upstream", len(gone), conversation.conversation_id
            )
            await self._write(self.cache.writer.tombstone(gone, TombstoneReason.GONE_UPSTREAM))
        state = self.cache.reader.conversation_sync(
            conversation.account_id, conversation.conversation_id
        ) or ConversationSyncState(conversation.account_id, conversation.conversation_id)
        newest = max(filter(None, (state.newest_synced_at, read.newest_returned)), default=None)
        complete = read.clean and lower == horizon
        await self._write(
            self.cache.writer.set_conversation_sync(
                # L moves only with a complete view: a read that proved less keeps the horizon where it was.
                replace(
                    state,
                    last_reconciled_at=started if complete else state.last_reconciled_at,
                    newest_synced_at=newest,
                )
            )
        )
        # Sent after `upper` yet possibly before the read started (the server clock is known to within
        # the margin): only a later read can tell whether the server still has it.
        unjudged = self.cache.reader.message_ids_sent_between(
            conversation.account_id, conversation.conversation_id, upper, started + CLOCK_MARGIN_MS
        )
        if not unjudged or not read.clean:
            return len(gone), None
        newest_unjudged = self.cache.reader.message(conversation.account_id, unjudged[0])
        return len(gone), None if newest_unjudged is None else newest_unjudged.sent_at

    # --- pieces -------------------------------------------------------------------------------------

    async def _sync_conversations(
        self, account: Account, state: AccountSyncState, *, first_run: bool
    ) -> list[Conversation]:
        """C1 pages; returns the conversations that are new or whose activity changed.

        A later run stops at the first unchanged conversation of a page in newest-activity order (the
        contract's order); the vendor does not document C1's order, so a page that is not in that order
        only stops the listing when nothing on it changed. A cursor the listing has seen before, or a
        page of nothing new, ends it with a logged error: a server that loops must not loop the client.
        """
        changed: list[Conversation] = []
        cursor = state.conversations_cursor if first_run else None
        seen_cursors: set[str] = set()
        seen_ids: set[str] = set()
        for _ in range(MAX_LISTING_PAGES):
            try:
                page = await self.api.conversations(
                    account.account_id, count=PAGE_CONVERSATIONS, cursor=cursor
                )
            except InvalidCursor:
                if cursor is None or cursor in seen_cursors:
                    raise
                seen_cursors.add(cursor)
                cursor = None  # the stored resume point expired: start again from the newest page
                continue
            if cursor is not None:
                seen_cursors.add(cursor)
            self._skipped += page.skipped
            self._conversations_seen += len(page.conversations)
            if page.mailbox_hint and not account.mailbox:
                account = replace(account, mailbox=page.mailbox_hint)
                await self._write(self.cache.writer.upsert_accounts([account]))
            new_ids = {c.conversation_id for c in page.conversations} - seen_ids
            seen_ids |= new_ids
            fresh: list[Conversation] = []
            stop = False
            in_order = _newest_first(page.conversations)
            for item in page.conversations:
                cached = self.cache.reader.conversation(item.account_id, item.conversation_id)
                if cached is None or cached.last_activity_at != item.last_activity_at:
                    fresh.append(item)
                elif in_order and not first_run:
                    stop = True  # newest-activity first: everything after this is unchanged too
                    break
            if not first_run and not fresh:
                stop = True
            # The whole page is stored, not only what precedes the stop: a conversation read or starred
            # elsewhere keeps its activity time, and the upsert touches only rows whose fields changed.
            await self._write(
                self.cache.writer.upsert_conversations(
                    [
                        conversation_in(c, star_known=c.conversation_id not in page.star_unknown)
                        for c in page.conversations
                    ]
                )
            )
            changed.extend(fresh)
            more = page.has_more and page.next_cursor is not None and not stop
            if more and (page.next_cursor in seen_cursors or (page.conversations and not new_ids)):
                log.error(
                    "C1 of account %s repeats itself (cursor loop): the listing stops here",
                    account.account_id,
                )
                self._skipped += 1
                more = False
            if first_run:
                await self._write(
                    self.cache.writer.set_account_sync(
                        replace(state, conversations_cursor=page.next_cursor if more else None)
                    )
                )
            if not more or page.next_cursor is None:
                break
            cursor = page.next_cursor
        else:
            log.error("C1 of account %s: more than %d pages, stopped", account.account_id, MAX_LISTING_PAGES)
        await self._write(
            self.cache.writer.set_account_sync(
                replace(
                    state,
                    conversations_cursor=None,
                    initial_sync_completed=True,
                    last_sync_at=self.api.server_now_ms(),
                    last_error="",
                    last_error_kind="",
                    last_error_refused=False,
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
        self._issues = []

    def _report(self, accounts: int) -> SyncReport:
        changes = merge_all(self._change_sets)
        return SyncReport(
            changes=changes,
            accounts=accounts,
            conversations_seen=self._conversations_seen,
            message_pages=self._message_pages,
            tombstoned_by_reconciliation=self._tombstoned,
            skipped=self._skipped + changes.skipped,
            account_issues=tuple(self._issues),
        )
