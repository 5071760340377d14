"""Token-bucket rate limits (spec §1) with the limit on: 429 with Retry-After and X-RateLimit-* headers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.sandbox import enc
from tests.sync.sandbox.helpers import accounts, all_conversations

pytestmark = pytest.mark.timeout(60)


def test_per_key_bucket_of_100_then_429(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--rate-limit", "on")
    client = handle.client()
    statuses = [client.get("/accounts").status_code for _ in range(100)]
    assert statuses == [200] * 100
    limited = client.get("/accounts")
    assert limited.status_code == 429
    assert limited.json()["code"] == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Limit"] == "100"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset"]) > 0
    handle.control("POST", "clock/advance", {"ms": 5_000})  # the bucket refills on the sandbox clock
    assert client.get("/accounts").status_code == 200


def test_per_account_write_bucket_of_15(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--rate-limit", "on")
    client = handle.client()
    a, b = accounts(client)
    conv = all_conversations(client, a["id"])[-1]["conversationUrn"]
    statuses = [client.patch(f"/conversations/{enc(conv)}/star").status_code for _ in range(16)]
    assert statuses == [200] * 15 + [429]
    limited = client.patch(f"/conversations/{enc(conv)}/unstar")
    assert limited.json()["code"] == "RATE_LIMITED" and int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Limit"] == "15"
    # the other account's writes have their own bucket; reads are not writes
    conv_b = all_conversations(client, b["id"])[-1]["conversationUrn"]
    assert client.patch(f"/conversations/{enc(conv_b)}/star").status_code == 200
    assert client.get("/accounts").status_code == 200


def test_rate_limit_off_never_limits(sandbox_factory: Any) -> None:
    handle = sandbox_factory("--rate-limit", "off")
    client = handle.client()
    assert {client.get("/accounts").status_code for _ in range(130)} == {200}
