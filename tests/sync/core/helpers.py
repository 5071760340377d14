"""Shared pieces of the sync-core tests: a real API client and cache on a real sandbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.api import ApiClient
from sync.cache import Cache
from sync.engine import SyncEngine
from sync.model import Message
from sync.recall import RecallService
from sync.recall_rules import eligibility
from tests.fixtures.sandbox import SandboxHandle


@dataclass
class Core:
    api: ApiClient
    cache: Cache
    engine: SyncEngine
    recalls: RecallService


@contextlib.asynccontextmanager
async def open_core(
    sandbox: SandboxHandle, data_dir: Path, *, key: str | None = None, **api_options: Any
) -> AsyncIterator[Core]:
    cache = Cache.open(data_dir, sandbox.base_url)
    try:
        async with ApiClient(sandbox.base_url, key or sandbox.key, budget=None, **api_options) as api:
            yield Core(api, cache, SyncEngine(api, cache), RecallService(api, cache, retry_backoff_s=0.05))
    finally:
        cache.close()


def all_cached_messages(cache: Cache, account_id: str | None = None) -> list[Message]:
    found: list[Message] = []
    accounts = [account_id] if account_id else [a.account_id for a in cache.reader.accounts()]
    for account in accounts:
        for conversation in cache.reader.conversations(account, limit=1000):
            found += cache.reader.messages(account, conversation.conversation_id, limit=1000)
    return found


def recallable(core: Core, *, shared: bool = False) -> Message:
    """An own message inside the recall window; with ``shared``, one whose conversation is in both
    accounts' mailboxes."""
    now = core.api.server_now_ms()
    for message in all_cached_messages(core.cache):
        if not eligibility(message, now).allowed:
            continue
        if shared and len(core.cache.reader.message_copies(message.message_id)) < 2:
            continue
        return message
    raise AssertionError("the seeded data has no such message")


def not_own(core: Core) -> Message:
    return next(m for m in all_cached_messages(core.cache) if not m.is_sent_by_owner)


def server_ids(sandbox: SandboxHandle, account_id: str, conversation_urn: str) -> set[str]:
    """Every message token the server lists in one conversation (all pages)."""
    from sync import urns
    from tests.sync.sandbox.helpers import all_messages

    client = sandbox.client()
    return {urns.message_id(m["messageUrn"]) for m in all_messages(client, conversation_urn, account_id)}
