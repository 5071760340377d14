"""A full-history sync as its own process, for the crash test to ``kill -9`` at random moments.

``python -m tests.stress.sync_worker <data dir> <base url>`` (the key in ``CONNECTSAFELY_API_KEY``) runs
what ``connectsafely-desktop sync --once`` runs — ``SyncEngine.sync_once()``: accounts, every C1 page,
the newest C2 page, reconciliation — with the newest page read for *every* conversation instead of the
newest 50, then every older page of every conversation (``SyncEngine.load_older``, what scrolling up
does), so the whole server is copied: 100,000 messages in the full run. Each run also recalls one own
message inside the recall window, if one is left, through ``RecallService`` (so tombstones are written
while the sync writes). It prints ``progress <pages>`` as it goes and ``done`` at the end. A restart
resumes from what was committed: stored C1 cursor, per-conversation sync state and older cursors.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from desktop.backend import keyed_identity
from sync.api import ApiClient
from sync.cache import Cache
from sync.engine import SyncEngine
from sync.model import RecallState
from sync.recall import RecallService
from sync.recall_rules import eligibility


async def run(data: Path, base_url: str, key: str) -> None:
    cache = Cache.open(data, keyed_identity(base_url, key))  # the file the CLI opens with this key
    try:
        async with ApiClient(base_url, key, budget=None, session_id="stress-sync-worker") as api:
            engine = SyncEngine(api, cache, initial_message_conversations=1_000_000)
            recalls = RecallService(api, cache, retry_backoff_s=0.05)
            await engine.sync_once()
            print("synced newest pages", flush=True)
            await recall_one(cache, api, recalls)
            pages = 0
            for account in cache.reader.accounts():
                after = None
                while True:
                    page = cache.reader.conversations(account.account_id, limit=500, after=after)
                    for conversation in page:
                        while await engine.load_older(account.account_id, conversation.conversation_id):
                            pages += 1
                            if pages % 50 == 0:
                                print(f"progress {pages}", flush=True)
                    if len(page) < 500:
                        break
                    after = page[-1]
            await engine.sync_once()  # the closing pass: incremental, with reconciliation
    finally:
        cache.close()
    print("done", flush=True)


async def recall_one(cache: Cache, api: ApiClient, recalls: RecallService) -> None:
    now = api.server_now_ms()
    for account in cache.reader.accounts():
        for conversation in cache.reader.conversations(account.account_id, limit=20):
            for message in cache.reader.messages(account.account_id, conversation.conversation_id, limit=20):
                if eligibility(message, now).allowed:
                    status = await recalls.recall(message, window_id="stress")
                    print(f"recall {message.message_id} {status.state.value}", flush=True)
                    if status.state is RecallState.RECALLED:
                        return


def main() -> int:
    data, base_url = Path(sys.argv[1]), sys.argv[2]
    asyncio.run(run(data, base_url, os.environ["CONNECTSAFELY_API_KEY"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
