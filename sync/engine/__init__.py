"""The sync engine: mirrors the server's accounts, conversations and messages into the cache.

ARCHITECTURE.md §6 is the rulebook. A first run reads every conversation page (C1) and the newest page of
messages (C2) of the most recent conversations; later runs are incremental (C1 until the first
unchanged conversation, C2 with ``since``). Reconciliation re-reads the recall-window horizon and
tombstones what the server no longer returns — never anything older than that horizon, and never
from a page that failed. Every write goes through the cache's writer thread, so the event loop only
awaits; a failure mid-way leaves what was committed consistent, and the next run resumes from the
stored cursors.

The package's modules: :mod:`~sync.engine.values` (the writer's input, the report),
:mod:`~sync.engine.core` (the state and helpers every pass shares), :mod:`~sync.engine.reconcile` and
:mod:`~sync.engine.passes` (:class:`SyncEngine`). Import the names from here.
"""

from sync.engine.core import (
    INITIAL_MESSAGE_CONVERSATIONS,
    KEY_WIDE,
    PAGE_MESSAGES,
    PROGRESS_INTERVAL_S,
    ProgressCallback,
)
from sync.engine.passes import MAX_LISTING_PAGES, PAGE_CONVERSATIONS, SyncEngine
from sync.engine.reconcile import ACCOUNT_GONE, CLOCK_MARGIN_MS
from sync.engine.values import SyncReport, conversation_in, merge_all, message_in

__all__ = [
    "ACCOUNT_GONE",
    "CLOCK_MARGIN_MS",
    "INITIAL_MESSAGE_CONVERSATIONS",
    "KEY_WIDE",
    "MAX_LISTING_PAGES",
    "PAGE_CONVERSATIONS",
    "PAGE_MESSAGES",
    "PROGRESS_INTERVAL_S",
    "ProgressCallback",
    "SyncEngine",
    "SyncReport",
    "conversation_in",
    "merge_all",
    "message_in",
]
