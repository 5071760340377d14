"""The response validator itself: it accepts what the contract allows and rejects what it does not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.openapi_check import OpenApiChecker, to_json_schema
from tests.fixtures.sandbox import SPEC

DATE = {"Date": "Mon, 24 Nov 2025 16:00:00 GMT"}


@pytest.fixture(scope="module")
def checker() -> OpenApiChecker:
    return OpenApiChecker.from_file(SPEC)


def record(
    route: str | None, status: int, body: Any, method: str = "GET", headers: Any = None
) -> dict[str, Any]:
    return {
        "method": method,
        "route": route,
        "status": status,
        "headers": DATE if headers is None else headers,
        "body": body,
    }


GOOD_CONVERSATION = {
    "conversationUrn": "urn:li:msg_conversation:(urn:li:fsd_profile:ACoAAx,2-YQ==)",
    "conversationId": "2-YQ==",
    "accountId": "0" * 24,
    "lastActivityAt": 1,
    "unreadCount": 0,
    "participants": [{"profileId": "ACoAAy", "name": "N", "headline": None, "profilePicture": None}],
    "latestMessage": None,
}


def test_valid_records_pass(checker: OpenApiChecker) -> None:
    page = {"success": True, "conversations": [GOOD_CONVERSATION], "nextCursor": None, "hasMore": False}
    assert checker.check(record("/conversations", 200, page)) == []
    err = {"success": False, "error": "x", "code": "INVALID_URN", "message": "x"}
    assert checker.check(record("/conversations/{conversationUrn}/messages", 400, err)) == []


def test_wrong_shapes_are_rejected(checker: OpenApiChecker) -> None:
    missing = {"success": True, "conversations": [], "hasMore": False}  # no nextCursor
    assert any("nextCursor" in p for p in checker.check(record("/conversations", 200, missing)))
    wrong_type = {**GOOD_CONVERSATION, "unreadCount": "3"}
    page = {"success": True, "conversations": [wrong_type], "nextCursor": None, "hasMore": False}
    assert checker.check(record("/conversations", 200, page))
    negative = {**GOOD_CONVERSATION, "unreadCount": -1}
    assert checker.check(record("/conversations", 200, {**page, "conversations": [negative]}))
    null_where_not_nullable = {"success": True, "messages": [], "hasMore": None, "cursor": None}
    assert checker.check(record("/conversations/{conversationUrn}/messages", 200, null_where_not_nullable))
    bad_account = [{"id": "NOT-HEX"}]
    assert checker.check(record("/accounts", 200, bad_account))


def test_error_bodies_need_all_four_fields_and_a_known_code(checker: OpenApiChecker) -> None:
    route = "/conversations/{conversationUrn}/messages/{messageUrn}"
    assert checker.check(record(route, 400, {"error": "x"}, "DELETE"))
    unknown_code = {"success": False, "error": "x", "code": "NOPE", "message": "x"}
    assert checker.check(record(route, 400, unknown_code, "DELETE"))


def test_undocumented_status_and_operation_are_rejected(checker: OpenApiChecker) -> None:
    err = {"success": False, "error": "x", "code": "INTERNAL", "message": "x"}
    assert any("not documented" in p for p in checker.check(record("/accounts", 503, err)))
    assert any("not in openapi" in p for p in checker.check(record("/accounts", 200, [], method="POST")))


def test_date_and_429_headers_are_required(checker: OpenApiChecker) -> None:
    err = {"success": False, "error": "x", "code": "RATE_LIMITED", "message": "x"}
    assert any("Date" in p for p in checker.check(record("/accounts", 200, [], headers={})))
    problems = checker.check(record("/accounts", 429, err))
    assert any("Retry-After" in p for p in problems)
    full = {
        **DATE,
        "Retry-After": "3",
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "9",
    }
    assert checker.check(record("/accounts", 429, err, headers=full)) == []


def test_unknown_routes_must_be_404_errors(checker: OpenApiChecker) -> None:
    err = {"success": False, "error": "x", "code": "NOT_FOUND", "message": "x"}
    assert checker.check(record(None, 404, err)) == []
    assert checker.check(record(None, 200, err))
    assert checker.check(record(None, 404, {"oops": 1}))


def test_nullable_becomes_a_type_list() -> None:
    schema = to_json_schema({"type": "string", "nullable": True, "enum": ["a"]}, {})
    assert schema == {"type": ["string", "null"], "enum": ["a", None]}
    ref = to_json_schema({"$ref": "#/x/y"}, {"x": {"y": {"type": "object", "nullable": True}}})
    assert ref == {"type": ["object", "null"]}
