"""Reconciliation: re-read the recall-window horizon and tombstone what the server no longer has."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from sync import evidence
from sync.engine.core import KEY_WIDE, PAGE_MESSAGES, EngineCore
from sync.engine.values import message_in
from sync.errors import AccountNotFound, KnownError, NoApiAccess
from sync.model import RECALL_WINDOW_MS, Conversation, ConversationSyncState, TombstoneReason

__all__ = ["ACCOUNT_GONE", "CLOCK_MARGIN_MS", "Reconciler"]

# The package's name, not the module's: log filters and the repeat collapser (sync.logs) key on it.
log = logging.getLogger("sync.engine")

CLOCK_MARGIN_MS = 2_000
"""How far the server-time estimate may be off (the ``Date`` header has a one-second resolution)."""
SETTLE_ROUNDS = 3
"""How many times :meth:`Reconciler.reconcile` reads again a conversation whose newest cached messages
were too new to judge (each read after the server's clock, as estimated, is past them plus the margin)."""
ACCOUNT_GONE = (NoApiAccess, AccountNotFound)
"""An account the server will not serve in this pass: its other reads are skipped."""


class Reconciler(EngineCore):
    """ARCHITECTURE.md §6, "Reconciliation", as the engine's methods
    (:class:`~sync.engine.passes.SyncEngine` inherits them; a pass calls :meth:`reconcile` last)."""

    async def reconcile(self, account_id: str | None = None, *, accounts: Sequence[str] | None = None) -> int:
        """ARCHITECTURE.md §6, "Reconciliation". Returns how many ids were tombstoned.

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
        for _ in range(SETTLE_ROUNDS):
            if not unsettled:
                break
            settled_at = max(sent_at for _, _, sent_at in unsettled) + CLOCK_MARGIN_MS + 1
            # The estimate of the server's clock can step back when a new ``Date`` narrows it (another
            # task's answer during the sleep): wait until the estimate itself is past, not a computed time.
            for _ in range(SETTLE_ROUNDS):
                wait_ms = settled_at - self.api.server_now_ms()
                if wait_ms <= 0:
                    break
                await asyncio.sleep(wait_ms / 1000)
            still: list[tuple[Conversation, int | None, int]] = []
            for conversation, last_complete, _ in unsettled:
                if conversation.account_id in gone_accounts:
                    continue
                try:
                    gone, unjudged = await self._reconcile_read(conversation, last_complete)
                except KEY_WIDE:
                    raise
                except KnownError as exc:
                    log.warning("reconciliation of %s skipped: %s", conversation.conversation_id, exc)
                    continue
                hidden += gone
                if unjudged is not None:
                    still.append((conversation, last_complete, unjudged))
            unsettled = still
        if unsettled:
            log.warning(
                "reconciliation: %d conversation(s) with messages too new to judge after %d reads; "
                "the next reconciliation reads them again",
                len(unsettled),
                SETTLE_ROUNDS,
            )
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
