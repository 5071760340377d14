"""The vendor schema checker itself: it passes documented answers and names what is ours or malformed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.fixtures.vendor_schema import VendorChecker

C1 = "/conversations"
C6 = "/conversations/{conversationUrn}/messages/{messageUrn}"
GOOD_C1: dict[str, Any] = {
    "success": True,
    "conversations": [
        {
            "conversationUrn": "urn:li:msg_conversation:(urn:li:fsd_profile:ACoAAx,2-YQ==)",
            "conversationId": "2-YQ==",
            "lastActivityAt": "2025-11-24T15:56:10.341Z",
            "unreadCount": 1,
            "participants": [{"profileId": "ACoAAy", "name": "N", "profilePicture": None}],
            "latestMessage": {
                "text": "hi",
                "sentAt": 1764000000000,
                "senderName": "N",
                "hasAttachment": False,
            },
        }
    ],
    "accounts": [{"id": "a" * 24, "name": "Me"}],
    "nextCursor": "linkedin:abc",
    "hasMore": True,
    "fromCache": True,
}


def record(
    route: str | None, body: Any, status: int = 200, method: str = "GET", **headers: str
) -> dict[str, Any]:
    return {
        "method": method,
        "profile": "vendor",
        "route": route,
        "status": status,
        "headers": headers,
        "body": body,
    }


def problems(rec: dict[str, Any]) -> str:
    return "\n".join(VendorChecker().check(rec))


def test_a_documented_c1_page_passes() -> None:
    assert problems(record(C1, GOOD_C1)) == ""
    empty_preview = copy.deepcopy(GOOD_C1)
    empty_preview["conversations"][0]["latestMessage"] = {}
    empty_preview["nextCursor"] = None
    assert problems(record(C1, empty_preview)) == ""


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda b: b["conversations"][0].update(accountId="a" * 24), "accountId"),
        (lambda b: b["conversations"][0].update(starred=False), "starred"),
        (lambda b: b["conversations"][0]["latestMessage"].update(messageUrn="urn"), "messageUrn"),
        (lambda b: b["conversations"][0].update(lastActivityAt=1764000000000), "lastActivityAt"),
        (lambda b: b.update(nextCursor="abc"), "nextCursor"),
        (lambda b: b.update(fromCache="yes"), "fromCache"),
    ],
)
def test_our_fields_and_wrong_types_are_named(change: Any, named: str) -> None:
    body = copy.deepcopy(GOOD_C1)
    change(body)
    assert named in problems(record(C1, body))


def test_error_forms() -> None:
    contract_error = {"success": False, "error": "x", "code": "ACCOUNT_NOT_FOUND", "message": "x"}
    assert problems(record(C1, contract_error, 404))
    assert problems(record(C1, {"error": "Account not found"}, 404)) == ""
    assert problems(record(C1, {"success": False, "code": "validation_error", "message": "bad"}, 400)) == ""
    assert problems(record(C1, {"success": False, "code": "VALIDATION_ERROR", "message": "bad"}, 400))
    assert problems(record(C1, {"error": "Unauthorized"}, 401))
    assert problems(record(C1, {"error": "Unauthorized - Invalid credentials"}, 401)) == ""
    zod = {
        "success": False,
        "error": {"name": "ZodError", "issues": [{"code": "custom", "path": [], "message": "m"}]},
    }
    assert problems(record("/conversations/send", zod, 400, "POST")) == ""
    assert problems(record(C1, zod, 400))  # Zod bodies belong to C3
    assert problems(record(C6, {"error": "Recall failed on LinkedIn"}, 400, "DELETE")) == ""
    assert problems(record(C6, {"error": "Only messages this account sent can be recalled"}, 400, "DELETE"))
    assert "no such answer" in problems(record(C1, {"error": "x"}, 409))
    assert "not 404" in problems(record(None, {"error": "x"}, 200))


def test_429_headers() -> None:
    body = {"success": False, "error": "Too many requests"}
    good = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "Retry-After": "1"}
    assert problems(record(C1, body, 429, **good, **{"X-RateLimit-Reset": "2025-11-24T16:00:01Z"})) == ""
    assert problems(record(C1, body, 429, **good, **{"X-RateLimit-Reset": "1764000001"})) == ""
    assert "Reset" in problems(record(C1, body, 429, **good, **{"X-RateLimit-Reset": "soon"}))
    assert "Reset" in problems(record(C1, body, 429, **good))
    assert "Limit" in problems(record(C1, body, 429, **{"X-RateLimit-Reset": "1764000001"}))
