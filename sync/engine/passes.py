"""The sync passes: accounts (A1, A2), then each account's conversations (C1) and new messages (C2)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, TypeVar

from sync import evidence, wire
from sync.cache.ops import now_ms
from sync.cache.reads import MAX_PAGE
from sync.engine.core import KEY_WIDE, PAGE_MESSAGES
from sync.engine.reconcile import Reconciler
from sync.engine.values import SyncReport, conversation_in, message_in
from sync.errors import ConversationNotFound, InvalidCursor, KnownError, NoApiAccess
from sync.model import Account, AccountSyncState, ChangeSet, Conversation, ConversationSyncState

__all__ = ["MAX_LISTING_PAGES", "PAGE_CONVERSATIONS", "SyncEngine"]

# The package's name, not the module's: log filters and the repeat collapser (sync.logs) key on it.
log = logging.getLogger("sync.engine")

_T = TypeVar("_T")

PAGE_CONVERSATIONS = 100
MAX_LISTING_PAGES = 10_000
"""A C1 listing never takes more pages than this (1,000,000 conversations): past it, it is cut short."""


def _newest_first(conversations: Sequence[Conversation]) -> bool:
    """Whether a C1 page is in the contract's order (newest activity first)."""
    return all(a.last_activity_at >= b.last_activity_at for a, b in itertools.pairwise(conversations))


class SyncEngine(Reconciler):
    """Runs sync passes for every account of one API key into one cache. One instance per process."""

    # --- the public passes --------------------------------------------------------------------------

    async def sync_once(
        self, *, reconcile: bool = True, accounts_max_age_s: float | None = None
    ) -> SyncReport:
        """Accounts, then each account's conversations and new messages, then (optionally) reconciliation.

        Accounts fail alone (ARCHITECTURE.md §6): a seatless account is not synced, and a 403/404/5xx or a
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
            listed = [
                found
                for found in await _all_or_none(
                    [self._listed(index, len(accounts), account) for index, account in enumerate(accounts)]
                )
                if found is not None
            ]
            # Every account's conversations before any account's messages: the whole inbox (previews
            # included) is there before message pages spend the request budget (BENCHMARKS.md, figure 8).
            served: list[str] = []
            for account, changed, first_run in listed:
                try:
                    await self._read_messages(account, changed, first_run=first_run)
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

    async def _listed(
        self, index: int, count: int, account: Account
    ) -> tuple[Account, list[Conversation], bool] | None:
        """One account's conversation listing for :meth:`sync_once`; None when the account failed alone
        (it is marked). A failure of the key, the network or the disk is raised."""
        self._progress(index, count, f"account {account.name or account.account_id}")
        if account.api_seat is False:
            await self._mark_account(account, NoApiAccess("A1 says apiSeatAllocated: false"))
            return None
        try:
            return (account, *await self._list_conversations(account))
        except KEY_WIDE:
            raise
        except KnownError as exc:
            log.warning("sync of account %s failed: %s", account.account_id, exc)
            await self._mark_account(account, exc)
            return None

    async def discover_accounts(self) -> list[Account]:
        """A1 for the list, A2 for each account's mailbox prefix (spec A2); stored through the writer.

        A2 is asked only for accounts whose prefix is not cached yet: it never changes for an account.
        """
        listed = await self.api.accounts()
        self._other_requests += 1
        self._skipped += listed.skipped
        known = {a.account_id: a.mailbox for a in self.cache.reader.accounts() if a.mailbox}
        unique: list[Account] = []
        listed_ids: set[str] = set()
        for account in listed.accounts:
            if account.account_id not in listed_ids:  # listed twice: synced once
                listed_ids.add(account.account_id)
                unique.append(account)
        # The A2 calls side by side, like the listings after them: each is a round trip before C1.
        accounts = await _all_or_none([self._with_mailbox(account, known) for account in unique])
        await self._write(self.cache.writer.upsert_accounts(accounts))
        return accounts

    async def _with_mailbox(self, account: Account, known: dict[str, str]) -> Account:
        """``account`` with its mailbox prefix: the cached one, else A2's (once per session)."""
        if account.account_id in known:
            return replace(account, mailbox=account.mailbox or known[account.account_id])
        if account.api_seat is False or account.account_id in self._status_asked:
            # A seatless account answers 403 to everything; A2 was asked already this session and had
            # no prefix (the vendor's never has): the first C1 page gives it.
            return account
        self._status_asked.add(account.account_id)
        self._other_requests += 1
        try:
            status = await self.api.account_status(account.account_id)
        except KnownError as exc:
            # The prefix can still come from the first C1 page (spec A2 fallback).
            log.warning("account status of %s failed: %s", account.account_id, exc)
            return account
        return replace(account, mailbox=status.mailbox or account.mailbox)

    async def sync_account(self, account: Account) -> None:
        """One account: C1 pages (all on a first run, until the first unchanged one later), then C2."""
        changed, first_run = await self._list_conversations(account)
        await self._read_messages(account, changed, first_run=first_run)

    async def _list_conversations(self, account: Account) -> tuple[list[Conversation], bool]:
        """C1 for one account: (the conversations new or changed, whether this was its first run)."""
        state = self.cache.reader.account_sync(account.account_id) or AccountSyncState(account.account_id)
        first_run = not state.initial_sync_completed
        return await self._sync_conversations(account, state, first_run=first_run), first_run

    async def _read_messages(self, account: Account, changed: list[Conversation], *, first_run: bool) -> None:
        """C2 for what one account's C1 pages said changed (or, on a first run, its newest few)."""
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
        # A page's writes are queued, not awaited, before the next page is asked for; they are awaited
        # once it has come (so each page is compared with what the pages before it stored): the writer's
        # commits overlap the server's answer instead of preceding the request (BENCHMARKS.md figure 8).
        in_flight: list[Future[ChangeSet]] = []

        async def settle() -> None:
            while in_flight:
                await self._write(in_flight.pop(0))

        try:
            for _ in range(MAX_LISTING_PAGES):
                self._other_requests += 1
                asked_at = now_ms()
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
                await settle()
                if cursor is not None:
                    seen_cursors.add(cursor)
                self._skipped += page.skipped
                self._conversations_seen += len(page.conversations)
                if page.mailbox_hint and not account.mailbox:
                    account = replace(account, mailbox=page.mailbox_hint)
                    in_flight.append(self.cache.writer.upsert_accounts([account]))
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
                # The whole page is stored, not only what precedes the stop: a conversation read or
                # starred elsewhere keeps its activity time, and the upsert touches only rows whose
                # fields changed.
                in_flight.append(
                    self.cache.writer.upsert_conversations(
                        [
                            conversation_in(c, star_known=c.conversation_id not in page.star_unknown)
                            for c in page.conversations
                        ],
                        asked_at=asked_at,  # a conversation marked read meanwhile keeps its mark
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
                    in_flight.append(
                        self.cache.writer.set_account_sync(
                            replace(state, conversations_cursor=page.next_cursor if more else None)
                        )
                    )
                if not more or page.next_cursor is None:
                    break
                cursor = page.next_cursor
            else:
                log.error(
                    "C1 of account %s: more than %d pages, stopped", account.account_id, MAX_LISTING_PAGES
                )
            await settle()
        except Exception:
            # What was queued is written all the same (the writer keeps its order); its change sets
            # still belong to this pass's report. The listing's own error is the one raised.
            with contextlib.suppress(Exception):
                await settle()
            raise
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


async def _all_or_none(awaitables: list[Coroutine[Any, Any, _T]]) -> list[_T]:
    """Run ``awaitables`` at once (the accounts' conversation listings: each is a chain of C1 pages, so
    with several accounts the inbox fills in the time of the longest chain, not of their sum; the rate
    budget still paces every request). Their results in order; when one raises, the others are
    cancelled and waited for, and that exception is raised as it is (not in an ExceptionGroup: callers
    tell a failure of the key from one of an account by its type)."""
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
