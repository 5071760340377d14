"""The ``{base}/_sandbox/*`` controls of spec §7: reset, inject, clock, faults, stream, recall, counts.

They are the sandbox's own (absent from the real service) and always answer in the contract's shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from sync import urns
from sync.sandbox import contacts
from sync.sandbox.data import Params
from sync.sandbox.faults import Fault
from sync.sandbox.profiles import PROFILES
from sync.sandbox.state import ApiError
from sync.sandbox.wire import MAX_TEXT, Ctx, Reply, conversation_from_body, ok

if TYPE_CHECKING:
    from sync.sandbox.app import Handler, Sandbox

WS_ANSWERS: Final = ("404", "html200", "502")
"""What ``{base}/ws`` answers when there is no stream (``--ws-answer``): see :meth:`EventStream.absent`."""

OTHER_SESSION: Final = "sandbox-other-session"
"""The ``originSessionId`` of a ``_sandbox/recall``: a session no client has."""


async def c_reset(sb: Sandbox, ctx: Ctx) -> Reply:
    body = await ctx.body(required=False)
    old = sb.initial_params  # an empty reset returns to the data the sandbox started with
    try:
        seed = int(body.get("seed", old.seed))
        conversations = int(body.get("conversations", old.conversations))
        per = int(body.get("messagesPerConversation", old.per_conversation))
        start = body.get("now", sb.opts.now)
        start = None if start is None else int(start)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "VALIDATION_ERROR", "reset fields must be integers") from exc
    if conversations < 4 or per < 0:
        raise ApiError(400, "VALIDATION_ERROR", "conversations must be >= 4, messagesPerConversation >= 0")
    sb.clock.reset(start)
    params = Params(seed, sb.clock.now_ms() if start is None else start, conversations, per, old.demo)
    await sb.stream.drop()
    sb.store.reset(params)
    sb.limiter.reset()
    sb.requests.clear()
    return ok({"success": True, **params.to_json()})


async def c_inject(sb: Sandbox, ctx: Ctx) -> Reply:
    body = await ctx.body()
    account = sb.store.account(body.get("accountId"))
    thread = sb.store.thread_for(conversation_from_body(body.get("conversationUrn")), account)
    text = body.get("text")
    if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
        raise ApiError(400, "VALIDATION_ERROR", "text must be a non-empty string of at most 8,000 characters")
    thread, index = contacts.inbound(sb, thread, account, text, ctx.now)
    item = sb.store.message_item(thread, index, account)
    return ok({"success": True, "messageUrn": item["messageUrn"], "message": item})


async def c_advance(sb: Sandbox, ctx: Ctx) -> Reply:
    body = await ctx.body()
    ms = body.get("ms")
    if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
        raise ApiError(400, "VALIDATION_ERROR", "ms must be a non-negative integer")
    now = sb.clock.advance(ms)
    sb.store.apply({"op": "clock", "at": now})
    return ok({"success": True, "now": now})


async def c_clock(sb: Sandbox, ctx: Ctx) -> Reply:
    return ok({"success": True, "now": sb.clock.now_ms()})


async def c_add_fault(sb: Sandbox, ctx: Ctx) -> Reply:
    fault = Fault.from_json(await ctx.body())
    sb.faults.add(fault)
    return ok({"success": True, "fault": fault.describe()})


async def c_list_faults(sb: Sandbox, ctx: Ctx) -> Reply:
    return ok({"success": True, "faults": [f.describe() for f in sb.faults.armed]})


async def c_clear_faults(sb: Sandbox, ctx: Ctx) -> Reply:
    sb.faults.clear()
    return ok({"success": True})


async def c_ws_drop(sb: Sandbox, ctx: Ctx) -> Reply:
    return ok({"success": True, "dropped": await sb.stream.drop()})


async def c_recall(sb: Sandbox, ctx: Ctx) -> Reply:
    """Recall as if from another session (the sender's account), with or without the event."""
    body = await ctx.body()
    message_id = body.get("messageId")
    if not isinstance(message_id, str):
        raise ApiError(400, "VALIDATION_ERROR", "messageId must be a string")
    try:
        token = urns.message_id(message_id)
    except urns.UrnError as exc:
        raise ApiError(400, "INVALID_URN", exc.reason) from exc
    world = sb.store.world
    found = world.find_message(token)
    if found is None:
        raise ApiError(404, "MESSAGE_NOT_FOUND", "No such message")
    thread, index = found
    sender_account = world.account_by_profile.get(thread.senders[index])
    actor = sender_account.id if sender_account else next(iter(thread.mailboxes))
    op = {
        "op": "recall",
        "at": ctx.now,
        "session": OTHER_SESSION,
        "account": actor,
        "thread": thread.token,
        "token": token,
        "emit": bool(body.get("emitEvent", True)),
    }
    sb.store.apply(op)
    return ok({"success": True, "messageId": token, "conversationId": thread.token, "accountId": actor})


async def c_events(sb: Sandbox, ctx: Ctx) -> Reply:
    """Turn the stream off (what ``/ws`` answers then: ``wsAnswer``, as ``--ws-answer``) and on."""
    body = await ctx.body()
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise ApiError(400, "VALIDATION_ERROR", "enabled must be true or false")
    answer = body.get("wsAnswer", sb.ws_answer)
    if answer not in WS_ANSWERS:
        raise ApiError(400, "VALIDATION_ERROR", f"wsAnswer must be one of {', '.join(WS_ANSWERS)}")
    sb.events_enabled = enabled
    sb.ws_answer = answer
    if not enabled:
        await sb.stream.drop()
    return ok({"success": True, "enabled": enabled, "wsAnswer": answer})


async def c_set_profile(sb: Sandbox, ctx: Ctx) -> Reply:
    """Switch the wire profile of a running sandbox (spec §8); state, clock and faults stay as they are.

    ``rateLimit`` (optional) turns the rate limit on or off at the same time; without it the limit keeps
    its current setting, so a test sandbox started with ``--rate-limit off`` stays unlimited.
    """
    body = await ctx.body()
    name = body.get("profile")
    if name not in PROFILES:
        raise ApiError(400, "VALIDATION_ERROR", f"profile must be one of {', '.join(PROFILES)}")
    rate_limit = body.get("rateLimit")
    if rate_limit is not None and not isinstance(rate_limit, bool):
        raise ApiError(400, "VALIDATION_ERROR", "rateLimit must be true or false")
    sb.set_profile(name)
    if rate_limit is not None:
        sb.limiter.enabled = rate_limit
    if not sb.profile.stream:
        await sb.stream.drop()  # the vendor has no stream: connected clients lose theirs
    return await c_get_profile(sb, ctx)


async def c_get_profile(sb: Sandbox, ctx: Ctx) -> Reply:
    return ok({"success": True, "profile": sb.profile.name, "rateLimit": sb.limiter.enabled})


async def c_requests(sb: Sandbox, ctx: Ctx) -> Reply:
    return ok({"success": True, "total": sum(sb.requests.values()), "routes": dict(sb.requests)})


async def c_info(sb: Sandbox, ctx: Ctx) -> Reply:
    world = sb.store.world
    return ok(
        {
            "success": True,
            "params": sb.store.params.to_json(),
            "now": sb.clock.now_ms(),
            "seq": sb.events.seq,
            "eventsEnabled": sb.events_enabled,
            "profile": sb.profile.name,
            "wsAnswer": sb.ws_answer,
            "accounts": [
                {"id": a.id, "profileUrn": a.person.urn, "threads": len(world.account_threads[a.id])}
                for a in world.accounts
            ],
            "threads": len(world.threads),
            # Listed by the vendor profile only; its profile URN is needed to name its mailbox (C8–C10).
            "seatlessAccount": {"id": world.seatless.id, "profileUrn": world.seatless.person.urn},
        }
    )


CONTROLS: Final[dict[tuple[str, str], Handler]] = {
    ("POST", "reset"): c_reset,
    ("POST", "inject"): c_inject,
    ("POST", "clock/advance"): c_advance,
    ("GET", "clock"): c_clock,
    ("POST", "faults"): c_add_fault,
    ("GET", "faults"): c_list_faults,
    ("DELETE", "faults"): c_clear_faults,
    ("POST", "ws/drop"): c_ws_drop,
    ("POST", "recall"): c_recall,
    ("POST", "events"): c_events,
    ("POST", "profile"): c_set_profile,
    ("GET", "profile"): c_get_profile,
    ("GET", "requests"): c_requests,
    ("GET", "info"): c_info,
}
