"""A child process for the two-writers test: opens the shared cache file and writes many batches."""

from __future__ import annotations

import time
import traceback
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from sync.cache import Cache
from sync.model import TombstoneReason
from tests.sync.cache.helpers import ACCOUNT_A, ACCOUNTS, conv, message_token, msg

BATCHES = 40
PER_BATCH = 50
CONVERSATIONS = 3


def token(worker: int, batch: int, i: int) -> str:
    return message_token(worker * 100_000 + batch * PER_BATCH + i)


def write(path: str, worker: int, start: Barrier, results: Queue) -> None:  # type: ignore[type-arg]
    try:
        cache = Cache.open_file(path)
        start.wait(timeout=30)
        began = time.monotonic()
        cache.writer.upsert_accounts(ACCOUNTS).result()
        for batch in range(BATCHES):
            n = batch % CONVERSATIONS  # both processes write into the same conversation rows
            sent = 1_000_000 + batch * PER_BATCH
            items = [msg(ACCOUNT_A, n, token(worker, batch, i), sent + i) for i in range(PER_BATCH)]
            cache.writer.upsert_messages(items).result()
            cache.writer.upsert_conversations([conv(ACCOUNT_A, n, sent + PER_BATCH, unread=batch)]).result()
            if batch % 10 == 9:  # and hide one of its own messages now and then
                cache.writer.tombstone([token(worker, batch, 0)], TombstoneReason.RECALLED_HERE).result()
        ended = time.monotonic()
        cache.close()
        results.put(("ok", worker, began, ended))
    except BaseException:
        results.put(("error", worker, traceback.format_exc(), 0.0))


def open_new(path: str, worker: int, start: Barrier, results: Queue) -> None:  # type: ignore[type-arg]
    """Open a cache file that does not exist yet, at the same moment as another process."""
    try:
        start.wait(timeout=30)
        began = time.monotonic()
        with Cache.open_file(path) as cache:
            cache.writer.upsert_accounts(ACCOUNTS).result()
            cache.writer.upsert_messages([msg(ACCOUNT_A, 1, token(worker, 0, 0), 1)]).result()
        results.put(("ok", worker, began, time.monotonic()))
    except BaseException:
        results.put(("error", worker, traceback.format_exc(), 0.0))
