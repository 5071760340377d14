"""The two wire profiles of spec §8: ``contract`` (§1–7, the default) and ``vendor`` (the vendor's documents).

Handlers build the contract's answers; a profile decides how errors and rate limits are written and,
for the vendor, reshapes each route's answer (:meth:`VendorProfile.shape`). Every difference between
the two lives here; handlers ask it by name for the rest: which accounts A1 lists and which have no
API seat, how a C1 cursor comes back, whether a repeat recall is accepted (``idempotent_recall``),
whether per-account write buckets apply (``write_limits``) and whether ``/ws`` serves a stream
(``stream``). The vendor's field lists follow ``shared/spec/vendor-shapes.md``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Final

from sync.sandbox.data import Account, World, iso
from sync.sandbox.limits import Verdict
from sync.sandbox.state import ApiError
from sync.sandbox.wire import Ctx, InvalidField, RateLimited, Reply, error_body, rate_headers

if TYPE_CHECKING:
    from sync.sandbox.app import Sandbox

C1: Final = "/conversations"
C2: Final = "/conversations/{conversationUrn}/messages"
C3: Final = "/conversations/send"
C6: Final = "/conversations/{conversationUrn}/messages/{messageUrn}"
NO_SEAT: Final = "No API seat allocated for this LinkedIn account"
RECALL_FAILED: Final = "Recall failed on LinkedIn"
UNAUTHORIZED: Final = "Unauthorized - Invalid credentials"
CURSOR_PREFIX: Final = "linkedin:"
KEY_ACTION: Final = "API"
"""``X-RateLimit-Action`` of the per-key limit. The vendor names actions (FOLLOW, CONNECT, MESSAGE, …) but
not the one of its per-key limit, so this value is ours; a client must not depend on it."""
NO_PLAN: Final = {
    "premiumType": "NON_PREMIUM",
    "isPremium": False,
    "hasSalesNavigator": False,
    "hasRecruiter": False,
    "hasAwayMessages": False,
    "hasAdvertiseBadge": False,
    "hasHiringManager": False,
}
SENT_MESSAGE_FIELDS: Final = (
    "messageUrn",
    "text",
    "sentAt",
    "senderProfileId",
    "senderName",
    "senderPhoto",
    "isSentByOwner",
)
PREVIEW_FIELDS: Final = ("text", "sentAt", "senderName", "hasAttachment")
C2_PARTICIPANT_FIELDS: Final = ("profileId", "name", "headline", "profilePicture")


class ContractProfile:
    """Spec §1–7 exactly: the answers the handlers build, errors as ``{success, error, code, message}``."""

    name: ClassVar[str] = "contract"
    stream: ClassVar[bool] = True
    idempotent_recall: ClassVar[bool] = True
    write_limits: ClassVar[bool] = True

    def error_reply(self, template: str | None, exc: ApiError) -> Reply:
        if isinstance(exc, RateLimited):
            return Reply(exc.status, error_body(exc.code, exc.message), self.rate_headers(exc))
        return Reply(exc.status, error_body(exc.code, exc.message))

    def rate_headers(self, source: Verdict | RateLimited) -> dict[str, str]:
        return rate_headers(source.verdict if isinstance(source, RateLimited) else source)

    def shape(self, sb: Sandbox, ctx: Ctx, template: str, body: Any) -> Any:
        return body

    def listed_accounts(self, world: World) -> list[Account]:
        return world.accounts

    def check_seat(self, world: World, value: object) -> None:
        """Refuse a call for an account without an API seat (``value``: its id or profile id)."""

    def cursor_in(self, cursor: str | None) -> str | None:
        return cursor


class VendorProfile(ContractProfile):
    """What the real service is documented to send (spec §8), and nothing of ours."""

    name: ClassVar[str] = "vendor"
    stream: ClassVar[bool] = False
    # The vendor documents one refusal for every recall failure, a repeat included.
    idempotent_recall: ClassVar[bool] = False
    # The vendor's per-account write limits name /connect, /message and /posts only: inbox routes have none.
    write_limits: ClassVar[bool] = False

    # -- errors ---------------------------------------------------------------------------------------------

    def error_reply(self, template: str | None, exc: ApiError) -> Reply:
        if exc.status == 401:
            return Reply(401, {"error": UNAUTHORIZED})
        if isinstance(exc, RateLimited):
            return Reply(429, {"success": False, "error": exc.message}, self.rate_headers(exc))
        if template == C6 and (exc.status == 400 or exc.code == "CONVERSATION_NOT_FOUND"):
            # C6 documents 400 "Recall failed on LinkedIn" and 404 only for an unknown account.
            return Reply(400, {"error": RECALL_FAILED})
        if template == C3 and isinstance(exc, InvalidField):
            return Reply(400, {"success": False, "error": {"name": "ZodError", "issues": [exc.issue]}})
        if exc.code in ("VALIDATION_ERROR", "INVALID_CURSOR"):
            # The one documented ``code``: a bad parameter.
            return Reply(400, {"success": False, "code": "validation_error", "message": exc.message})
        if exc.status >= 500:
            return Reply(exc.status, {"error": "Internal server error"})
        return Reply(exc.status, {"error": exc.message})

    def rate_headers(self, source: Verdict | RateLimited) -> dict[str, str]:
        verdict = source.verdict if isinstance(source, RateLimited) else source
        headers = {
            "X-RateLimit-Limit": str(verdict.limit),
            "X-RateLimit-Remaining": str(verdict.remaining),
            "X-RateLimit-Reset": _iso_seconds(verdict.reset_ms),
        }
        if isinstance(source, RateLimited) and source.code == "DAILY_QUOTA_EXCEEDED":
            return headers  # the quota's 429 is documented with these three and no Retry-After
        headers["X-RateLimit-Used"] = str(verdict.limit - verdict.remaining)
        headers["X-RateLimit-Action"] = KEY_ACTION
        if not verdict.allowed:
            headers["Retry-After"] = str(verdict.retry_after_s)
        return headers

    # -- accounts -------------------------------------------------------------------------------------------

    def listed_accounts(self, world: World) -> list[Account]:
        return [*world.accounts, world.seatless]

    def check_seat(self, world: World, value: object) -> None:
        if value in (world.seatless.id, world.seatless.person.profile_id):
            raise ApiError(403, "NO_API_SEAT", NO_SEAT)

    # -- answers --------------------------------------------------------------------------------------------

    def shape(self, sb: Sandbox, ctx: Ctx, template: str, body: Any) -> Any:
        reshape = _SHAPES.get(template)
        return body if reshape is None else reshape(sb, ctx, body)

    def cursor_in(self, cursor: str | None) -> str | None:
        return cursor.removeprefix(CURSOR_PREFIX) if cursor is not None else None


def _iso_seconds(ms: int) -> str:
    """``X-RateLimit-Reset`` as the vendor's cookbook parses it: ISO-8601, whole seconds, ``Z``."""
    stamp = dt.datetime.fromtimestamp(math.ceil(ms / 1000), dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _a1(sb: Sandbox, ctx: Ctx, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seatless = sb.store.world.seatless.id
    return [{**item, "apiSeatAllocated": item["id"] != seatless} for item in body]


def _a2(sb: Sandbox, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    out = {key: body[key] for key in ("id", "firstName", "lastName", "publicId")}
    out.update(platform="ConnectSafely", status=body["status"], enabled=body["enabled"])
    if body["lastUsed"] is not None:  # documented as a date: left out rather than null when never used
        out["lastUsed"] = body["lastUsed"]
    out["hasTokens"] = True
    if body["status"] in ("AVAILABLE", "WARMUP"):  # "only for AVAILABLE/WARMUP accounts"
        out["linkedinPlan"] = dict(NO_PLAN)
    return out


def _c1(sb: Sandbox, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    cursor = body["nextCursor"]
    return {
        "success": body["success"],
        "conversations": [_c1_item(item) for item in body["conversations"]],
        "accounts": body["accounts"],
        "nextCursor": None if cursor is None else CURSOR_PREFIX + cursor,
        "hasMore": body["hasMore"],
        "fromCache": True,  # the vendor's C1 is "DB-first": this copy always comes from its store
    }


def _c1_item(item: dict[str, Any]) -> dict[str, Any]:
    latest = item["latestMessage"]
    preview = {} if latest is None else {k: latest[k] for k in PREVIEW_FIELDS}  # {} as the vendor's example
    return {
        "conversationUrn": item["conversationUrn"],
        "conversationId": item["conversationId"],
        "lastActivityAt": iso(item["lastActivityAt"]),
        "unreadCount": item["unreadCount"],
        "participants": item["participants"],
        "latestMessage": preview,
    }


def _c2(sb: Sandbox, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    messages = [{k: v for k, v in m.items() if k != "reactions"} for m in body["messages"]]
    messages.reverse()  # each page oldest first; the cursor still leads to the older page
    return {
        "success": body["success"],
        "messages": messages,
        "participants": [{k: p[k] for k in C2_PARTICIPANT_FIELDS} for p in body["participants"]],
        "hasMore": body["hasMore"],
        "cursor": body["cursor"],
        "note": "Messages served from the database",
    }


def _c3(sb: Sandbox, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    sent = body["sentMessage"]
    return {
        "success": body["success"],
        "message": body["message"],
        "recipientProfileUrn": body["recipientProfileUrn"],
        "sentMessage": {k: sent[k] for k in SENT_MESSAGE_FIELDS},
    }


def _m1(sb: Sandbox, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    if ctx.account is None:  # pragma: no cover - M1 resolved it before answering
        raise RuntimeError("M1 answered without an account")
    return {
        "success": body["success"],
        "accountId": ctx.account.id,
        "conversationUrn": body["conversationUrn"],
        "message": "Conversation marked as seen successfully",
    }


def _c12(sb: Sandbox, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    accounts = []
    for entry in body["accounts"]:
        state = dict(entry["syncState"])
        if state["lastSyncAt"] is not None:
            state["lastSyncAt"] = iso(state["lastSyncAt"])
        if state["lastError"] is None:  # documented as a string: left out when there is none
            del state["lastError"]
        out = {"accountId": entry["accountId"], "accountName": entry["accountName"]}
        picture = sb.store.world.account_by_id[entry["accountId"]].person.picture
        if picture is not None:
            out["accountPicture"] = picture
        accounts.append({**out, "syncState": state})
    return {"success": body["success"], "accounts": accounts}


_SHAPES: Final[dict[str, Callable[[Sandbox, Ctx, Any], Any]]] = {
    "/accounts": _a1,
    "/account/status": _a2,
    C1: _c1,
    C2: _c2,
    C3: _c3,
    "/messaging/mark-seen": _m1,
    "/conversations/sync/status": _c12,
}
"""Routes whose vendor answer differs; the vendor documents the others (C6–C11, C13, C14) as we send them."""

PROFILES: Final[dict[str, ContractProfile]] = {"contract": ContractProfile(), "vendor": VendorProfile()}
