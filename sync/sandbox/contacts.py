"""Simulated contacts: ``--live`` replies and ``_sandbox/inject`` messages, both journaled as ``send`` ops."""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

from sync.sandbox import data
from sync.sandbox.data import Account, Thread
from sync.sandbox.state import ApiError

if TYPE_CHECKING:
    from sync.sandbox.app import Sandbox


async def live(sb: Sandbox) -> None:
    """Run until cancelled: every 20–60 s (or ``--live-interval-s``) a contact replies somewhere."""
    rng = random.Random()
    interval = sb.opts.live_interval_s
    while True:
        await asyncio.sleep(rng.uniform(interval / 2, interval) if interval else rng.uniform(20, 60))
        live_reply(sb, rng)


def live_reply(sb: Sandbox, rng: random.Random) -> None:
    """A contact answers in one of the most recently active threads."""
    world = sb.store.world
    account = rng.choice(world.accounts)
    candidates = [world.thread_by_token[token] for _, token, _ in reversed(sb.store.order(account)[-8:])]
    candidates = [t for t in candidates if any(p not in world.account_by_profile for p in t.members)]
    if not candidates:
        return
    thread = world.materialize(rng.choice(candidates))
    sender = rng.choice([p for p in thread.members if p not in world.account_by_profile])
    now = sb.clock.now_ms()
    op = {
        "op": "send",
        "at": now,
        "session": None,
        "sender": sender,
        "thread": thread.token,
        "new": None,
        "token": sb.new_message_token(thread, now),
        "text": rng.choice(data.LIVE_REPLIES),
    }
    sb.store.apply(op)
    # The reply is in the server's copy of LinkedIn: that copy is as fresh as the reply (C12 lastSyncAt),
    # or "LinkedIn data as of 20 min ago" would sit beside a reply of a minute ago.
    sb.store.apply({"op": "sync", "at": now, "session": None, "account": account.id})


def inbound(sb: Sandbox, thread: Thread, account: Account, text: str, now: int) -> tuple[Thread, int]:
    """A message from the conversation's contact (an account member only when there is no contact)."""
    world = sb.store.world
    others = [p for p in thread.members if p != account.person.profile_id]
    contacts = [p for p in others if p not in world.account_by_profile] or others
    if not contacts:
        raise ApiError(400, "VALIDATION_ERROR", "The conversation has no other member")
    op: dict[str, Any] = {
        "op": "send",
        "at": now,
        "session": None,  # an inbound message is nobody's echo
        "sender": contacts[0],
        "thread": thread.token,
        "new": None,
        "token": sb.new_message_token(thread, now),
        "text": text,
    }
    result: tuple[Thread, int] = sb.store.apply(op)
    return result
