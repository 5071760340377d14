"""Error answers typed by code, else by status class, read tolerantly from both documented shapes."""

from __future__ import annotations

import json
import traceback

import pytest

from sync import errors
from sync.wire import (
    error_from_response,
    parse_error_body,
    parse_rate_limit_reset,
    parse_retry_after,
    rate_limit_wait,
)
from tests.sync.api.helpers import FAKE_KEY, fixture_bytes

ALL_ERRORS = [
    errors.Refused,
    errors.RecallNotOwn,
    errors.RecallWindowExpired,
    errors.RecallNotMember,
    errors.MessageNotFound,
    errors.InvalidUrn,
    errors.ValidationFailed,
    errors.InvalidCursor,
    errors.InvalidAccountId,
    errors.SignedOut,
    errors.NotFound,
    errors.AccountNotFound,
    errors.ConversationNotFound,
    errors.RateLimited,
    errors.DailyQuotaExceeded,
    errors.ServerError,
    errors.Unreachable,
    errors.TimedOut,
    errors.ProtocolError,
    errors.BadServerUrl,
    errors.InvalidInput,
    errors.NoApiAccess,
    errors.AnswerTooLarge,
]


@pytest.mark.parametrize(
    ("fixture", "status", "expected", "message"),
    [
        ("error_only_error.json", 404, errors.NotFound, "Conversation not found"),
        (
            "error_success_code_message.json",
            400,
            errors.RecallWindowExpired,
            "Messages can only be recalled within 60 minutes",
        ),
        ("error_sandbox_both.json", 400, errors.RecallNotOwn, "You can only recall messages you sent"),
        ("error_unknown_code.json", 400, errors.Refused, "LinkedIn declined the request"),
        ("error_no_code.json", 400, errors.Refused, "LinkedIn declined the request"),
        ("error_nested.json", 404, errors.ConversationNotFound, "No such thread"),
        ("error_wrong_types.json", 500, errors.ServerError, "500 Internal Server Error"),
        ("error_empty_object.json", 401, errors.SignedOut, "401 Unauthorized"),
        ("error_rate_limited.json", 429, errors.RateLimited, "Too many requests, retry later"),
        ("error_daily_quota.json", 429, errors.DailyQuotaExceeded, "150 new conversations a day"),
    ],
)
def test_error_fixtures_are_typed_and_read_message_then_error_then_status_line(
    fixture: str, status: int, expected: type[errors.KnownError], message: str
) -> None:
    reason = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}.get(
        status, "Internal Server Error"
    )
    error = error_from_response(status, fixture_bytes(fixture), reason_phrase=reason, endpoint="C6")
    assert type(error) is expected
    assert error.server_message == message
    assert error.status == status


def test_message_wins_over_error_when_both_are_present() -> None:
    code, message = parse_error_body(fixture_bytes("error_sandbox_both.json"))
    assert code == "RECALL_NOT_OWN"
    assert message == "You can only recall messages you sent"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("INVALID_ACCOUNT_ID", errors.InvalidAccountId),
        ("INVALID_URN", errors.InvalidUrn),
        ("INVALID_CURSOR", errors.InvalidCursor),
        ("VALIDATION_ERROR", errors.ValidationFailed),
        ("RECALL_NOT_OWN", errors.RecallNotOwn),
        ("RECALL_WINDOW_EXPIRED", errors.RecallWindowExpired),
        ("RECALL_NOT_MEMBER", errors.RecallNotMember),
        ("MESSAGE_NOT_FOUND", errors.MessageNotFound),
        ("UNAUTHORIZED", errors.SignedOut),
        ("ACCOUNT_NOT_FOUND", errors.AccountNotFound),
        ("CONVERSATION_NOT_FOUND", errors.ConversationNotFound),
        ("RATE_LIMITED", errors.RateLimited),
        ("DAILY_QUOTA_EXCEEDED", errors.DailyQuotaExceeded),
        ("INTERNAL", errors.ServerError),
    ],
)
def test_every_documented_code_has_its_type(code: str, expected: type[errors.KnownError]) -> None:
    status = {"UNAUTHORIZED": 401, "RATE_LIMITED": 429, "DAILY_QUOTA_EXCEEDED": 429, "INTERNAL": 500}.get(
        code, 400
    )
    if code.endswith("NOT_FOUND") and not code.startswith("MESSAGE"):
        status = 404
    body = f'{{"success": false, "code": "{code}", "message": "m"}}'.encode()
    assert type(error_from_response(status, body)) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.Refused),
        (401, errors.SignedOut),
        (403, errors.NoApiAccess),
        (404, errors.NotFound),
        (408, errors.TimedOut),
        (409, errors.Refused),
        (429, errors.RateLimited),
        (500, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (302, errors.ProtocolError),
    ],
)
def test_without_a_known_code_the_status_class_decides(
    status: int, expected: type[errors.KnownError]
) -> None:
    html = b"<html><body><h1>Bad Gateway</h1></body></html>"
    error = error_from_response(status, html, reason_phrase="Whatever")
    assert type(error) is expected
    assert error.server_message == f"{status} Whatever"


def test_unknown_400_on_recall_says_refused_by_linkedin_with_the_servers_words() -> None:
    error = error_from_response(400, fixture_bytes("error_unknown_code.json"), endpoint="C6")
    assert type(error) is errors.Refused
    assert error.kind == "refused"
    assert error.user_message == "Refused by LinkedIn: LinkedIn declined the request"


def test_rate_limited_carries_retry_after_seconds() -> None:
    error = error_from_response(429, fixture_bytes("error_rate_limited.json"), retry_after="7")
    assert isinstance(error, errors.RateLimited)
    assert error.retry_after_s == 7.0
    assert error.retryable
    assert "7 s" in error.user_message


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 12 ", 12.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("soon", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after_forms(header: str | None, expected: float | None) -> None:
    now = 1445412480.0  # 2015-10-21 07:28:00 UTC
    assert parse_retry_after(header, now_s=now) == expected


def test_daily_quota_is_not_a_rate_limit_so_nothing_retries_it() -> None:
    error = error_from_response(429, fixture_bytes("error_daily_quota.json"), retry_after="3600")
    assert not isinstance(error, errors.RateLimited)
    assert not error.retryable


def test_a_key_echoed_by_the_server_never_reaches_any_text() -> None:
    body = (
        f'{{"success": false, "code": "UNAUTHORIZED", "error": "bad key {FAKE_KEY}",'
        f' "message": "Authorization: Bearer {FAKE_KEY} rejected"}}'
    ).encode()
    error = error_from_response(401, body, secrets=[FAKE_KEY])
    texts = [str(error), repr(error), error.user_message, error.detail, error.server_message or ""]
    try:
        raise error
    except errors.KnownError:
        texts.append(traceback.format_exc())
    for text in texts:
        assert FAKE_KEY not in text
    assert "[redacted]" in str(error)


def test_scrub_removes_a_secret_from_an_error_built_elsewhere() -> None:
    error = errors.Unreachable(f"proxy said {FAKE_KEY}", server_message=f"x{FAKE_KEY}x")
    error.scrub([FAKE_KEY])
    assert FAKE_KEY not in str(error)
    assert FAKE_KEY not in (error.server_message or "")


def test_long_server_text_is_cut() -> None:
    body = ('{"message": "' + "x" * 5000 + '"}').encode()
    assert len(error_from_response(400, body).server_message or "") < 600


def test_kinds_are_unique_and_every_error_has_plain_words() -> None:
    kinds = [cls.kind for cls in ALL_ERRORS]
    assert len(set(kinds)) == len(kinds)
    for cls in ALL_ERRORS:
        if cls is errors.AnswerTooLarge:
            continue  # built from its cap, not a detail: checked in test_client_hostile
        error = cls("detail for the log", status=400)
        assert isinstance(error, errors.KnownError)
        assert error.user_message.strip()
        assert "detail for the log" in str(error)
        assert "Traceback" not in error.user_message


@pytest.mark.parametrize(
    ("cls", "words"),
    [
        (errors.Refused, "The server refused the request"),
        (errors.RecallWindowExpired, "window has closed"),
        (errors.SignedOut, "Signed out"),
        (errors.RateLimited, "Rate limited"),
        (errors.Unreachable, "Offline"),
        (errors.TimedOut, "Offline"),
        (errors.ServerError, "Server error"),
    ],
)
def test_user_messages_use_the_designs_plain_words(cls: type[errors.KnownError], words: str) -> None:
    assert words in cls().user_message


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (errors.Refused, False),
        (errors.RecallWindowExpired, False),
        (errors.InvalidCursor, False),
        (errors.SignedOut, False),
        (errors.ConversationNotFound, False),
        (errors.DailyQuotaExceeded, False),
        (errors.ProtocolError, False),
        (errors.RateLimited, True),
        (errors.ServerError, True),
        (errors.Unreachable, True),
        (errors.TimedOut, True),
    ],
)
def test_retryable_says_whether_a_retry_may_help(cls: type[errors.KnownError], retryable: bool) -> None:
    assert cls.retryable is retryable


def test_recall_refusals_are_refusals() -> None:
    for cls in (
        errors.RecallNotOwn,
        errors.RecallWindowExpired,
        errors.RecallNotMember,
        errors.MessageNotFound,
    ):
        assert issubclass(cls, errors.Refused)


# --- the server's own words (spec §8) -------------------------------------------------------------------


def zod(*issues: dict[str, object]) -> bytes:
    return json.dumps({"success": False, "error": {"name": "ZodError", "issues": list(issues)}}).encode()


def test_a_zod_body_is_each_issue_as_path_colon_message() -> None:
    body = zod(
        {
            "code": "invalid_type",
            "expected": "string",
            "received": "undefined",
            "path": ["message"],
            "message": "Required",
        },
        {"code": "invalid_type", "path": ["attachments", 0, "file"], "message": "Expected object"},
        {
            "code": "custom",
            "path": [],
            "message": "Either recipientProfileId or recipientProfileUrn is required",
        },
    )
    error = error_from_response(400, body, reason_phrase="Bad Request", endpoint="C3")
    assert type(error) is errors.ValidationFailed
    assert error.server_message == (
        "message: Required; attachments.0.file: Expected object; "
        "Either recipientProfileId or recipientProfileUrn is required"
    )
    assert error.user_message.startswith("The server refused the request: message: Required; ")
    assert "400 Bad Request" not in str(error) + error.user_message


def test_a_zod_body_with_odd_issues_keeps_what_it_can() -> None:
    body = zod(
        "not an issue",
        {"path": "x", "message": "No path list"},
        {"path": ["a"], "message": 5},
        {"path": ["b"]},
    )
    assert parse_error_body(body) == (None, "No path list")
    empty = zod()
    assert error_from_response(400, empty, reason_phrase="Bad Request").server_message == "400 Bad Request"


@pytest.mark.parametrize("code", ["validation_error", "Validation_Error", "VALIDATION_ERROR"])
def test_codes_are_matched_in_any_letter_case(code: str) -> None:
    body = json.dumps({"success": False, "code": code, "message": "count must be 1..100"}).encode()
    error = error_from_response(400, body, endpoint="C1")
    assert type(error) is errors.ValidationFailed
    assert error.code == code
    assert error.user_message == "The server refused the request: count must be 1..100"


def test_only_a_recall_refusal_blames_linkedin() -> None:
    body = json.dumps({"error": "Recall failed on LinkedIn"}).encode()
    assert (
        error_from_response(400, body, endpoint="C6").user_message
        == "Refused by LinkedIn: Recall failed on LinkedIn"
    )
    send = json.dumps({"error": "Recipient not found"}).encode()
    assert error_from_response(400, send, endpoint="C3").user_message == (
        "The server refused the request: Recipient not found"
    )
    invalid_urn = json.dumps({"code": "INVALID_URN", "message": "bad"}).encode()
    assert "LinkedIn" not in error_from_response(400, invalid_urn, endpoint="C2").user_message
    assert error_from_response(400, invalid_urn, endpoint="C6").user_message.startswith(
        "Refused by LinkedIn: "
    )
    assert errors.Refused().user_message == "The server refused the request."
    assert "LinkedIn" not in errors.InvalidAccountId(endpoint="C1").user_message


def test_signed_out_and_no_api_access_say_what_to_do() -> None:
    unauthorized = json.dumps({"error": "Unauthorized - Invalid credentials"}).encode()
    assert error_from_response(401, unauthorized).user_message == (
        "Signed out: the API key was rejected. Check it in Settings."
    )
    trial = json.dumps({"error": "Your trial has expired"}).encode()
    assert error_from_response(403, trial, endpoint="C1").user_message == (
        "No API access for this account on your ConnectSafely plan (Your trial has expired)."
    )


# --- how long a 429 says to wait -------------------------------------------------------------------------

NOW = 1_787_875_200.0  # 2026-08-28 00:00:00 UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (str(int(NOW) + 30), 30.0),  # epoch seconds
        (str(int(NOW * 1000) + 30_000), 30.0),  # epoch milliseconds
        ("2026-08-28 00:00:30+00:00", 30.0),  # ISO with a space (the vendor's quota page)
        ("2026-08-28T00:00:30Z", 30.0),
        ("2026-08-28T02:00:30+02:00", 30.0),
        ("2026-08-28T00:00:30", 30.0),  # naive: UTC
        ("Fri, 28 Aug 2026 00:00:30 GMT", 30.0),
        ("45", 45.0),  # too small for an epoch time: seconds from now
        (str(int(NOW) - 100), 0.0),  # already past
        ("tomorrow", None),
        ("", None),
        (None, None),
    ],
)
def test_rate_limit_reset_forms(value: str | None, expected: float | None) -> None:
    assert parse_rate_limit_reset(value, now_s=NOW) == expected


def test_retry_after_wins_then_reset_then_hold_until() -> None:
    reset = {"x-ratelimit-reset": "2026-08-28T00:01:00Z"}
    hold = "2026-08-28T00:02:00Z"
    assert rate_limit_wait({"retry-after": "5", **reset}, hold, NOW) == 5.0
    assert rate_limit_wait(reset, hold, NOW) == 60.0
    assert rate_limit_wait({"x-ratelimit-reset": "garbage"}, hold, NOW) == 120.0
    assert rate_limit_wait({}, None, NOW) is None


def test_a_429_waits_relative_to_the_servers_date() -> None:
    body = json.dumps(
        {"success": False, "error": "Rate limit exceeded", "holdUntil": "2025-11-24T16:00:40Z"}
    ).encode()
    headers = {"Date": "Mon, 24 Nov 2025 16:00:00 GMT", "X-RateLimit-Reset": "2025-11-24T16:00:10Z"}
    error = error_from_response(429, body, headers=headers, endpoint="C1")
    assert isinstance(error, errors.RateLimited)
    assert error.retry_after_s == 10.0  # not "long past" by this machine's clock
    del headers["X-RateLimit-Reset"]
    assert error_from_response(429, body, headers=headers, endpoint="C1").retry_after_s == 40.0


# --- the daily quota of new conversations ------------------------------------------------------------------

QUOTA_TEXT = "Daily limit of new conversations reached (resets 00:00 UTC); replies still work."


@pytest.mark.parametrize(
    ("endpoint", "headers", "body", "expected"),
    [
        # The vendor's quota answer: X-RateLimit-* only.
        (
            "C3",
            {
                "X-RateLimit-Limit": "150",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "2026-08-29T00:00:00Z",
            },
            {"error": "Limit reached"},
            errors.DailyQuotaExceeded,
        ),
        ("C3", {}, {"success": False, "error": "Too many"}, errors.DailyQuotaExceeded),
        ("C3", {"Retry-After": "7200"}, {"error": "Limit"}, errors.DailyQuotaExceeded),
        ("C3", {"Retry-After": "2"}, {"error": "Slow down"}, errors.RateLimited),  # per key, short
        ("C3", {}, {"code": "RATE_LIMITED", "message": "Slow down"}, errors.RateLimited),  # says so
        ("C1", {}, {"error": "Slow down"}, errors.RateLimited),  # not C3: never the quota by guess
        ("C1", {}, {"code": "daily_quota_exceeded", "message": "150 a day"}, errors.DailyQuotaExceeded),
    ],
)
def test_the_daily_quota_is_recognised(
    endpoint: str, headers: dict[str, str], body: dict[str, str], expected: type[errors.KnownError]
) -> None:
    error = error_from_response(429, json.dumps(body).encode(), headers=headers, endpoint=endpoint, now_s=NOW)
    assert type(error) is expected
    if expected is errors.DailyQuotaExceeded:
        assert error.user_message == QUOTA_TEXT
        assert not error.retryable


# --- errors the client raises itself ---------------------------------------------------------------------


def test_not_found_can_suggest_a_base_url() -> None:
    error = errors.NotFound("GET accounts", status=404, endpoint="A1")
    assert error.suggested_base_url is None
    assert error.user_message == "Not found on the server."
    error.suggest_base_url("https://api.connectsafely.ai/linkedin")
    assert error.suggested_base_url == "https://api.connectsafely.ai/linkedin"
    assert (
        error.user_message == "Not found on the server: did you mean https://api.connectsafely.ai/linkedin?"
    )
    assert "did you mean https://api.connectsafely.ai/linkedin?" in str(error)


def test_invalid_input_is_the_inputs_fault_not_the_servers() -> None:
    error = errors.InvalidInput("the URL would be too long", endpoint="C6")
    assert error.kind == "invalid_input" and not error.retryable
    assert "server" not in error.user_message.lower()
    assert not isinstance(error, errors.Refused | errors.ProtocolError | errors.ServerError)
