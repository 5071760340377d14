"""Shared pieces of the fuzz tests (``tests/sync/test_fuzz_*.py``): settings, JSON strategies, a seeded
offline cache and a dump that shows any change to it.

Examples per test: a few hundred by default (CI), thousands with ``CONNECTSAFELY_STRESS=full``;
``CONNECTSAFELY_FUZZ_EXAMPLES`` overrides both. ``pytest --hypothesis-show-statistics`` prints the
counts actually run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from sync import urns
from sync.cache import Cache
from sync.model import Account, ConversationIn, LatestMessage, MessageIn, Participant

FULL: Final = os.environ.get("CONNECTSAFELY_STRESS", "").strip().lower() == "full"
EXAMPLES: Final = int(os.environ.get("CONNECTSAFELY_FUZZ_EXAMPLES", "") or (5000 if FULL else 300))

fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)

ACCOUNT: Final = "0123456789abcdef01234567"
OTHER_ACCOUNT: Final = "89abcdef0123456789abcdef"
PROFILE: Final = "ACoAAATPlQ0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio"
MAILBOX: Final = f"urn:li:fsd_profile:{PROFILE}"
NOW: Final = 1_764_000_000_000


def token(raw: str) -> str:
    return "2-" + base64.b64encode(raw.encode()).decode()


THREAD: Final = token("81db583b-d9fa-4a5c-8e54-f29a18ee2d99_100")
CONVERSATION_URN: Final = urns.conversation_urn(MAILBOX, THREAD)
MESSAGE_TOKENS: Final = [token(f"{NOW - k * 60_000}b{10_000 + k:05d}-100") for k in range(6)]
MESSAGE_URNS: Final = [urns.message_urn(MAILBOX, t) for t in MESSAGE_TOKENS]

HUGE_TEXT: Final = "x" * 100_000 + "\u202e<script>alert(1)</script>"

# --- strategies -----------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
DEEP_MARK: Final = "\u0000deep\u0000"
"""A string value replaced, after encoding, by JSON nested ``depth`` levels deep."""
weird_values = (
    json_values
    | st.just(HUGE_TEXT)
    | st.sampled_from(["urn:li:msg_message:(", "2-", "", " ", "urn:li:fs_event:(2-a,2-b)", "%zz", "\ud800"])
    | st.just(DEEP_MARK)
)


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any]) -> dict[str, Any]:
    """``template`` with some fields removed or replaced by values of the wrong type, huge or deep."""
    value = dict(template)
    for name in list(value):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            del value[name]
        elif choice == 1:
            value[name] = draw(weird_values)
    for _ in range(draw(st.integers(0, 2))):
        value[draw(st.text(max_size=8))] = draw(weird_values)
    return value


@st.composite
def encoded(draw: st.DrawFn, value: Any) -> bytes:
    """JSON bytes of ``value``, with deep nesting spliced in and, sometimes, broken bytes."""
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    depth = draw(st.sampled_from([3, 100, 600]))
    text = text.replace(json.dumps(DEEP_MARK), "[" * depth + "]" * depth)
    body = text.encode("utf-8", "surrogatepass")
    damage = draw(st.integers(0, 19))
    if damage == 0 and body:
        cut = draw(st.integers(0, len(body) - 1))
        body = (
            body[:cut]
            + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\xe2\x82"]))
            + body[cut:]
        )
    elif damage == 1 and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    return body


def message_item(k: int, **extra: Any) -> dict[str, Any]:
    return {
        "messageUrn": MESSAGE_URNS[k],
        "text": f"message {k}",
        "sentAt": NOW - k * 60_000,
        "senderProfileId": PROFILE,
        "senderName": "Me",
        "isSentByOwner": k % 2 == 0,
        "hasAttachment": False,
        "attachments": [],
        "reactions": [],
        **extra,
    }


# --- a seeded offline cache and its dump ------------------------------------------------------------------


def seed(cache: Cache) -> None:
    """Two accounts, one conversation with three messages (others are left for the input to bring)."""
    accounts = [Account(ACCOUNT, "Me", "me", MAILBOX), Account(OTHER_ACCOUNT, "Other", "other", "")]
    cache.writer.upsert_accounts(accounts).result()
    latest = LatestMessage(MESSAGE_URNS[0], "message 0", NOW)
    conversation = ConversationIn(
        ACCOUNT,
        CONVERSATION_URN,
        NOW,
        unread_count=1,
        participants=(Participant("ACo1", "Ann"),),
        latest=latest,
    )
    cache.writer.upsert_conversations([conversation]).result()
    items = [
        MessageIn(
            ACCOUNT,
            CONVERSATION_URN,
            MESSAGE_URNS[k],
            f"message {k}",
            NOW - k * 60_000,
            is_sent_by_owner=k % 2 == 0,
        )
        for k in range(3)
    ]
    cache.writer.upsert_messages(items).result()
    cache.writer.set_last_applied_seq(100).result()


@contextlib.contextmanager
def seeded_cache(folder: Path) -> Iterator[Cache]:
    cache = Cache.open(folder, "http://127.0.0.1:9/linkedin")
    try:
        seed(cache)
        yield cache
    finally:
        cache.close()


TABLES: Final = (
    "accounts",
    "conversations",
    "messages",
    "tombstones",
    "conversation_sync",
    "account_sync",
    "meta",
)


def dump(cache: Cache, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the cache's tables (recall log aside), in a stable order."""
    conn = cache.db.connection()
    return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}  # noqa: S608


def run(coro: Any) -> Any:
    return asyncio.run(coro)
