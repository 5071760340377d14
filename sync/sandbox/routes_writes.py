"""The writing routes: C3 send, C6 recall, C7 react, C8–C10 mark unread/star, M1 mark seen (spec §2).

Each one is checked first and then done as one journaled op (:meth:`Store.apply`), so a refused call
changes nothing and a restart replays exactly what was accepted.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Final

from sync import urns
from sync.sandbox import data
from sync.sandbox.data import Account, Thread
from sync.sandbox.limits import Verdict
from sync.sandbox.state import ACCOUNT_ID_RULE, DAILY_NEW_CONVERSATIONS, RECALL_WINDOW_MS, ApiError
from sync.sandbox.wire import (
    MAX_TEXT,
    Ctx,
    InvalidField,
    RateLimited,
    Reply,
    conversation_from_body,
    conversation_from_path,
    decoded,
    field_of,
    message_from_path,
    ok,
)

if TYPE_CHECKING:
    from sync.sandbox.app import Sandbox

# The contract's messages for C3's body checks (the vendor profile words them as Zod does).
NON_EMPTY_MESSAGE: Final = "message must be a non-empty string"
NON_EMPTY_URN: Final = "conversationUrn must be a non-empty string"
ATTACHMENTS_RULE: Final = "attachments must be an array of objects"
PROFILE_URN_RULE: Final = "recipientProfileUrn must be a profile URN"
PROFILE_ID_RULE: Final = "recipientProfileId must be a profile id"


# -- C3 -----------------------------------------------------------------------------------------------------


async def c3_send(sb: Sandbox, ctx: Ctx) -> Reply:
    body = await ctx.body()
    if body.get("accountId") is not None and not isinstance(body["accountId"], str):
        raise InvalidField.wrong_type(
            "INVALID_ACCOUNT_ID", ACCOUNT_ID_RULE, ["accountId"], "string", body["accountId"]
        )
    account = sb.account(ctx, body.get("accountId"))
    text = field_of(body, "message")
    if not isinstance(text, str):
        raise InvalidField.wrong_type("VALIDATION_ERROR", NON_EMPTY_MESSAGE, ["message"], "string", text)
    if not text.strip():
        raise InvalidField.wrong_size("VALIDATION_ERROR", NON_EMPTY_MESSAGE, ["message"], least=1, most=None)
    if len(text) > MAX_TEXT:
        message = f"message must be at most {MAX_TEXT} characters"
        raise InvalidField.wrong_size("VALIDATION_ERROR", message, ["message"], least=None, most=MAX_TEXT)
    if "subject" in body and body["subject"] is not None and not isinstance(body["subject"], str):
        raise InvalidField.wrong_type(
            "VALIDATION_ERROR", "subject must be a string", ["subject"], "string", body["subject"]
        )
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list):
        raise InvalidField.wrong_type(
            "VALIDATION_ERROR", ATTACHMENTS_RULE, ["attachments"], "array", attachments
        )
    for i, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            raise InvalidField.wrong_type(
                "VALIDATION_ERROR", ATTACHMENTS_RULE, ["attachments", i], "object", attachment
            )
    conversation = body.get("conversationUrn")
    if conversation is not None and not isinstance(conversation, str):
        raise InvalidField.wrong_type(
            "VALIDATION_ERROR", NON_EMPTY_URN, ["conversationUrn"], "string", conversation
        )
    if conversation == "":
        raise InvalidField.wrong_size(
            "VALIDATION_ERROR", NON_EMPTY_URN, ["conversationUrn"], least=1, most=None
        )
    world = sb.store.world
    me = account.person.profile_id
    new: dict[str, Any] | None = None
    thread: Thread | None
    if body.get("conversationUrn") is not None:
        thread = sb.store.thread_for(conversation_from_body(body["conversationUrn"]), account)
        others = [pid for pid in thread.members if pid != me]
        recipient = world.people[others[0]] if others else account.person
    else:
        recipient_id = _recipient(body)
        person = world.people.get(recipient_id)
        if person is None or recipient_id == me:
            raise ApiError(400, "VALIDATION_ERROR", "Unknown recipient")
        recipient = person
        thread = world.direct.get((account.id, recipient_id))
        if thread is None:
            if sb.store.new_threads_on(account, ctx.now) >= DAILY_NEW_CONVERSATIONS:
                midnight = (ctx.now // data.DAY_MS + 1) * data.DAY_MS
                verdict = Verdict(
                    False,
                    DAILY_NEW_CONVERSATIONS,
                    0,
                    max(1, math.ceil((midnight - ctx.now) / 1000)),
                    midnight,
                )
                raise RateLimited("DAILY_QUOTA_EXCEEDED", "150 new conversations a day are spent", verdict)
            new = {"token": sb.new_thread_token(), "members": [me, recipient_id]}
    sb.write_limit(account, ctx.now)
    op = sb.op(
        ctx,
        "send",
        sender=me,
        thread=None if thread is None else thread.token,
        new=new,
        token=sb.new_message_token(thread, ctx.now),
        text=text,
        attachments=attachments,
    )
    thread, index = sb.store.apply(op)
    return ok(
        {
            "success": True,
            "message": "Message sent successfully",
            "recipientProfileUrn": recipient.urn,
            "sentMessage": sb.store.message_item(thread, index, account),
            "conversationUrn": urns.conversation_urn(account.person.urn, thread.token),
        }
    )


def _recipient(body: dict[str, Any]) -> str:
    if body.get("recipientProfileUrn") is not None:
        value = body["recipientProfileUrn"]
        if not isinstance(value, str):
            raise InvalidField.wrong_type(
                "INVALID_URN", PROFILE_URN_RULE, ["recipientProfileUrn"], "string", value
            )
        if "%" in value:
            raise ApiError(400, "INVALID_URN", PROFILE_URN_RULE)
        try:
            return urns.parse_profile(value).profile_id
        except urns.UrnError as exc:
            raise ApiError(400, "INVALID_URN", f"Invalid recipientProfileUrn: {exc.reason}") from exc
    value = body.get("recipientProfileId")
    if value is None:
        message = "conversationUrn, recipientProfileId or recipientProfileUrn needed"
        raise InvalidField.rule("VALIDATION_ERROR", message, [])
    if not isinstance(value, str):
        raise InvalidField.wrong_type(
            "VALIDATION_ERROR", PROFILE_ID_RULE, ["recipientProfileId"], "string", value
        )
    if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise InvalidField.rule("VALIDATION_ERROR", PROFILE_ID_RULE, ["recipientProfileId"], "invalid_string")
    return value


# -- C6, C7 -------------------------------------------------------------------------------------------------


def _message_in(
    sb: Sandbox, ctx: Ctx, account: Account, *, member_code: str | None
) -> tuple[Thread, int | None, str]:
    """Resolve C6/C7's two path URNs: (thread, index of the message or None, decoded message URN)."""
    conv = conversation_from_path(ctx.params["conversationUrn"])
    msg = message_from_path(ctx.params["messageUrn"])
    if msg.mailbox is not None and msg.mailbox.profile_id != account.person.profile_id:
        raise ApiError(400, "INVALID_URN", "The message URN's mailbox prefix is not this account's")
    thread = sb.store.thread_for(conv, account, member_code=member_code)
    index = None if msg.thread_token not in (None, thread.token) else thread.find(msg.token)
    return thread, index, decoded(ctx.params["messageUrn"])


async def c6_recall(sb: Sandbox, ctx: Ctx) -> Reply:
    account = sb.account(ctx, ctx.query.get("accountId"))
    thread, index, requested = _message_in(sb, ctx, account, member_code="RECALL_NOT_MEMBER")
    sb.write_limit(account, ctx.now)
    if index is None:
        raise ApiError(400, "MESSAGE_NOT_FOUND", "LinkedIn does not know this message")
    token = thread.toks[index]
    if token in thread.recalled and not sb.profile.idempotent_recall:
        raise ApiError(400, "MESSAGE_NOT_FOUND", "The message is already recalled")
    if token not in thread.recalled:
        if thread.senders[index] != account.person.profile_id:
            raise ApiError(400, "RECALL_NOT_OWN", "Only messages this account sent can be recalled")
        if ctx.now - thread.sent[index] > RECALL_WINDOW_MS:
            raise ApiError(
                400, "RECALL_WINDOW_EXPIRED", "Messages can be recalled for 60 minutes after sending"
            )
        sb.store.apply(sb.op(ctx, "recall", account=account.id, thread=thread.token, token=token))
    return ok({"success": True, "messageUrn": requested})


async def c7_react(sb: Sandbox, ctx: Ctx) -> Reply:
    account = sb.account(ctx, ctx.query.get("accountId"))
    thread, index, requested = _message_in(sb, ctx, account, member_code=None)
    body = await ctx.body()
    emoji, react = body.get("emoji"), body.get("react")
    if not isinstance(emoji, str) or not emoji or len(emoji) > 16:
        raise ApiError(400, "VALIDATION_ERROR", "emoji must be a non-empty string")
    if not isinstance(react, bool):
        raise ApiError(400, "VALIDATION_ERROR", "react must be true or false")
    if index is None or thread.toks[index] in thread.recalled:
        raise ApiError(400, "MESSAGE_NOT_FOUND", "LinkedIn does not know this message")
    sb.write_limit(account, ctx.now)
    op = sb.op(ctx, "react", account=account.id, thread=thread.token, token=thread.toks[index])
    sb.store.apply({**op, "emoji": emoji, "react": react})
    return ok({"success": True, "messageUrn": requested, "emoji": emoji, "react": react})


# -- C8–C10, M1 ---------------------------------------------------------------------------------------------


async def _mark(sb: Sandbox, ctx: Ctx, what: str) -> Reply:
    conv = conversation_from_path(ctx.params["conversationUrn"])
    account = sb.account_of_mailbox(ctx, conv)
    thread = sb.store.thread_for(conv, account)
    sb.write_limit(account, ctx.now)
    sb.store.apply(sb.op(ctx, "mark", account=account.id, thread=thread.token, what=what))
    return ok({"success": True, "conversationUrn": decoded(ctx.params["conversationUrn"])})


async def c8_mark_unread(sb: Sandbox, ctx: Ctx) -> Reply:
    return await _mark(sb, ctx, "unread")


async def c9_star(sb: Sandbox, ctx: Ctx) -> Reply:
    return await _mark(sb, ctx, "star")


async def c10_unstar(sb: Sandbox, ctx: Ctx) -> Reply:
    return await _mark(sb, ctx, "unstar")


async def m1_mark_seen(sb: Sandbox, ctx: Ctx) -> Reply:
    body = await ctx.body()
    account = sb.account(ctx, body.get("accountId"))
    urn = body.get("conversationUrn")
    thread = sb.store.thread_for(conversation_from_body(urn), account)
    sb.write_limit(account, ctx.now)
    sb.store.apply(sb.op(ctx, "mark", account=account.id, thread=thread.token, what="seen"))
    return ok({"success": True, "conversationUrn": urn})
