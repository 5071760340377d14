"""The reading routes: C1 conversations, C2 messages, and the server-side sync family C11–C14 (spec §2)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sync import urns
from sync.sandbox.state import ApiError
from sync.sandbox.wire import (
    Ctx,
    Reply,
    conversation_from_body,
    conversation_from_path,
    ok,
    parse_bool,
    parse_int,
)

if TYPE_CHECKING:
    from sync.sandbox.app import Sandbox


async def c1_conversations(sb: Sandbox, ctx: Ctx) -> Reply:
    q = ctx.query
    if q.get("accountId") is None and q.get("linkedinAccountIds"):
        accounts = [sb.account(ctx, x) for x in q["linkedinAccountIds"].split(",") if x]
    else:
        accounts = [sb.account(ctx, q.get("accountId"))]
    count = parse_int(q.get("count"), "count", default=20, lo=1, hi=100)
    unread_only = bool(parse_bool(q.get("unreadOnly"), "unreadOnly"))
    labeled = bool(parse_bool(q.get("labeledOnly"), "labeledOnly")) or q.get("labelId") is not None
    cursor = sb.profile.cursor_in(q.get("nextCursor"))
    return ok(sb.store.list_conversations(accounts, count, cursor, unread_only=unread_only, labeled=labeled))


async def c2_messages(sb: Sandbox, ctx: Ctx) -> Reply:
    q = ctx.query
    account = sb.account(ctx, q.get("accountId"))
    conv = conversation_from_path(ctx.params["conversationUrn"])
    count = parse_int(q.get("count"), "count", default=50, lo=1, hi=100)
    since = None if q.get("since") is None else parse_int(q.get("since"), "since", lo=0)
    parse_bool(q.get("sync"), "sync")
    thread = sb.store.thread_for(conv, account)
    return ok(sb.store.list_messages(thread, account, count, q.get("cursor"), since))


async def c11_sync(sb: Sandbox, ctx: Ctx) -> Reply:
    started = time.perf_counter()
    body = await ctx.body(required=False)
    account = sb.account(ctx, body.get("accountId"))
    if body.get("force") is not None and not isinstance(body["force"], bool):
        raise ApiError(400, "VALIDATION_ERROR", "force must be true or false")
    sb.store.apply(sb.op(ctx, "sync", account=account.id))
    elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    return ok(
        {
            "success": True,
            "accountId": account.id,
            "conversationsProcessed": len(sb.store.world.account_threads[account.id]),
            "messagesProcessed": sb.store.total_messages(account),
            "durationMs": elapsed_ms,
            "durationSeconds": f"{elapsed_ms / 1000:.3f}",
        }
    )


async def c12_sync_status(sb: Sandbox, ctx: Ctx) -> Reply:
    value = ctx.query.get("accountId")
    accounts = sb.store.world.accounts if value is None else [sb.account(ctx, value)]
    return ok(
        {
            "success": True,
            "accounts": [
                {
                    "accountId": a.id,
                    "accountName": a.person.name,
                    "syncState": {
                        "lastSyncAt": sb.store.sync_state.get(a.id),
                        "syncInProgress": False,
                        "totalConversations": len(sb.store.world.account_threads[a.id]),
                        "totalMessages": sb.store.total_messages(a),
                        "consecutiveFailures": 0,
                        "lastError": None,
                        "initialSyncCompleted": True,
                    },
                }
                for a in accounts
            ],
        }
    )


async def c13_refresh(sb: Sandbox, ctx: Ctx) -> Reply:
    body = await ctx.body()
    account = sb.account(ctx, body.get("accountId"))
    urn = body.get("conversationUrn")
    thread = sb.store.thread_for(conversation_from_body(urn), account)
    sb.store.apply(sb.op(ctx, "refresh", account=account.id, thread=thread.token))
    return ok(
        {
            "success": True,
            "message": "Refresh started; messages follow as conversation.refreshed",
            "conversationUrn": urn,
            "accountId": account.id,
        }
    )


async def c14_exists(sb: Sandbox, ctx: Ctx) -> Reply:
    account = sb.account(ctx, ctx.query.get("accountId"))
    try:
        public_id = urns.decode_percent(ctx.params["publicId"])
    except urns.UrnError as exc:
        raise ApiError(400, "VALIDATION_ERROR", "publicId is not validly percent-encoded") from exc
    person = sb.store.world.by_public_id.get(public_id)
    if person is None:
        raise ApiError(404, "CONVERSATION_NOT_FOUND", f"No LinkedIn profile {public_id!r}")
    thread = sb.store.world.direct.get((account.id, person.profile_id))
    return ok(
        {
            "success": True,
            "hasConversation": thread is not None,
            "conversationUrn": None
            if thread is None
            else urns.conversation_urn(account.person.urn, thread.token),
            "profileUrn": person.urn,
            "accountId": account.id,
        }
    )
