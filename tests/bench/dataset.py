"""A deterministic synthetic inbox for the cache benchmarks, and a raw ``sqlite3`` loader for it.

Shapes follow the sandbox and spec §4: two accounts, ``msg_conversation``/``msg_message`` URNs under
each account's mailbox, ``2-`` base64 tokens whose decoded form is ``<13-digit sentAt>b<5>-<3>``, texts
from the sandbox's pools. Conversations come newest first and each one's messages newest first, as a
first sync delivers them (C1, then C2 pages), so the ``message_id``-led unique index is filled in the
same scattered order a real sync fills it.

The rows are given twice: as ``MessageIn`` (what the writer takes) and as the exact tuples the writer
stores (what the raw baselines insert), so both sides write the same rows.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING

from sync import urns
from sync.cache import ingest, search
from sync.model import Account, ConversationIn, LatestMessage, MessageIn, Participant
from sync.sandbox.data import FIRST_NAMES, INBOUND_TEXTS, LAST_NAMES, OUTBOUND_TEXTS, TITLES

if TYPE_CHECKING:
    from desktop.backend import Backend

NOW = 1_764_000_000_000
"""The same fixed clock as the tests' sandbox (2025-11-24T16:00:00Z)."""
DAY_MS = 86_400_000
BASE_URL = "http://127.0.0.1:9/linkedin"
"""Nothing is ever sent to it (port 9 is discard)."""
KEY = "bench-key-never-sent"
"""With BASE_URL, the benchmarks' service identity (``Backend.cache_identity``): it names the cache file."""

MESSAGE_COLUMNS = ingest.MESSAGE_COLUMNS
"""The writer's column order: the raw baselines insert exactly what the writer does."""
CONVERSATION_COLUMNS = (
    "account_id, conversation_id, conversation_urn, last_activity_at, unread_count, starred, participants,"
    " latest_message_id, latest_message_urn, latest_text, latest_sent_at, latest_sender_name,"
    " latest_has_attachment"
)

SIZES = {
    # (conversations, messages per conversation)
    "full": (10_000, 100),
    "small": (200, 100),
}


def _b64(text: str) -> str:
    return "2-" + base64.b64encode(text.encode("ascii")).decode("ascii")


@dataclass(frozen=True, slots=True)
class Owner:
    account: Account
    profile_id: str


class Inbox:
    """``conversations`` × ``per_conversation`` messages, deterministic for a given size."""

    def __init__(self, conversations: int, per_conversation: int, seed: int = 7) -> None:
        self.conversations = conversations
        self.per_conversation = per_conversation
        self.seed = seed
        self.owners = [
            Owner(Account(f"{n:024x}", name, slug, urns.profile_urn(pid)), pid)
            for n, name, slug, pid in (
                (0xA11CE, "Alice Bench", "alice-bench", "ACoAABenchAliceOwner0000000000000000000"),
                (0xB0B, "Bob Bench", "bob-bench", "ACoAABenchBobOwner000000000000000000000"),
            )
        ]

    @property
    def accounts(self) -> list[Account]:
        return [o.account for o in self.owners]

    @property
    def total(self) -> int:
        return self.conversations * self.per_conversation

    def _thread(self, i: int) -> tuple[Owner, str, str, int, Participant]:
        rng = Random(f"bench/{self.seed}/thread/{i}")
        owner = self.owners[i % 2]
        token = _b64(f"{uuid.UUID(int=rng.getrandbits(128), version=4)}_{i % 1000:03d}")
        conversation_urn = urns.conversation_urn(owner.account.mailbox, token)
        # Newest first by index, spread over ~180 days like the sandbox.
        last = NOW - 60_000 - (i * 180 * DAY_MS) // max(1, self.conversations) - rng.randrange(3_600_000)
        first, family = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        contact = Participant(
            f"ACoAAContact{i:08d}",
            f"{first} {family}",
            f"{rng.choice(TITLES)}",
            f"https://www.linkedin.com/in/contact-{i}",
            "",
        )
        return owner, token, conversation_urn, last, contact

    def threads(self) -> Iterator[tuple[int, Owner, str, str, int, Participant]]:
        for i in range(self.conversations):
            yield (i, *self._thread(i))

    def _messages(self, i: int, owner: Owner, token: str, curn: str, last: int, contact: Participant):  # type: ignore[no-untyped-def]
        """The conversation's message tuples, newest first (writer column order)."""
        rng = Random(f"bench/{self.seed}/messages/{i}")
        uniform = rng.random
        t = last
        account_id = owner.account.account_id
        mailbox = owner.account.mailbox
        out = []
        for j in range(self.per_conversation):
            mtoken = _b64(f"{t:013d}b{i % 100_000:05d}-{j % 1000:03d}")
            own = uniform() < 0.45
            pool = OUTBOUND_TEXTS if own else INBOUND_TEXTS
            out.append(
                (
                    account_id,
                    token,
                    mtoken,
                    f"urn:li:msg_message:({mailbox},{mtoken})",
                    curn,
                    pool[int(uniform() * len(pool))],
                    t,
                    owner.profile_id if own else contact.profile_id,
                    owner.account.name if own else contact.name,
                    int(own),
                    int(uniform() < 0.03),
                    "[]",
                )
            )
            t -= 60_000 + int(uniform() * 2 * DAY_MS)
        return out

    @cached_property
    def rows(self) -> list[tuple]:  # type: ignore[type-arg]
        """Every message row, conversation by conversation, newest first (as a first sync writes them)."""
        out: list[tuple] = []  # type: ignore[type-arg]
        for i, owner, token, curn, last, contact in self.threads():
            out += self._messages(i, owner, token, curn, last, contact)
        return out

    @cached_property
    def items(self) -> list[MessageIn]:
        """The same rows as the writer's input."""
        return [
            MessageIn(r[0], r[4], r[3], r[5], r[6], r[7], r[8], bool(r[9]), bool(r[10])) for r in self.rows
        ]

    def conversation_items(self) -> list[ConversationIn]:
        """C1 items: the server's preview is each conversation's newest message."""
        out = []
        rows = self.rows
        for i, owner, _token, curn, _last, contact in self.threads():
            newest = rows[i * self.per_conversation]
            out.append(
                ConversationIn(
                    account_id=owner.account.account_id,
                    conversation_urn=curn,
                    last_activity_at=newest[6],
                    unread_count=0,
                    participants=(contact,),
                    latest=LatestMessage(newest[3], newest[5], newest[6], newest[8], bool(newest[10])),
                )
            )
        return out

    def conversation_rows(self) -> list[tuple]:  # type: ignore[type-arg]
        """The conversation rows the writer stores for :meth:`conversation_items` (CONVERSATION_COLUMNS)."""
        out = []
        for item in self.conversation_items():
            p = item.participants[0]
            participants = json.dumps(
                [
                    {
                        "profileId": p.profile_id,
                        "name": p.name,
                        "headline": p.headline,
                        "profileUrl": p.profile_url,
                        "picture": p.picture,
                    }
                ],
                ensure_ascii=False,
                separators=(",", ":"),
            )
            latest = item.latest
            assert latest is not None
            out.append(
                (
                    item.account_id,
                    urns.conversation_id(item.conversation_urn),
                    item.conversation_urn,
                    item.last_activity_at,
                    0,
                    0,
                    participants,
                    urns.message_id(latest.message_urn),
                    latest.message_urn,
                    latest.text,
                    latest.sent_at,
                    latest.sender_name,
                    int(latest.has_attachment),
                )
            )
        return out


def inbox(size: str) -> Inbox:
    conversations, per = SIZES[size]
    return Inbox(conversations, per)


# --- raw loading -----------------------------------------------------------------------------------------


def backend() -> Backend:
    """The backend the GUI benchmarks run on (nothing talks to it): its cache is :func:`cache_file`."""
    from desktop.backend import Backend

    return Backend(BASE_URL, None, KEY, False, "environment")


def cache_file(data_dir: Path) -> Path:
    return backend().cache_path(data_dir)


def create_empty_cache(data_dir: Path) -> Path:
    """A cache file with the app's schema (created by the app's own migration), closed again."""
    from sync.cache import Cache

    with Cache.open_file(cache_file(data_dir)) as cache:
        return cache.path


def raw_connect(path: Path) -> sqlite3.Connection:
    """A plain connection with the app's pragmas (``sync.cache.db._pragmas``), autocommit off by hand."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA foreign_keys = 1")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def load_accounts_and_conversations(conn: sqlite3.Connection, box: Inbox) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO accounts (account_id, name, public_id, mailbox, status, enabled) VALUES (?,?,?,?,?,1)",
        [(a.account_id, a.name, a.public_id, a.mailbox, "AVAILABLE") for a in box.accounts],
    )
    conn.executemany(
        f"INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES ({','.join('?' * 13)})",  # noqa: S608
        box.conversation_rows(),
    )
    conn.execute("COMMIT")


def insert_messages(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:  # type: ignore[type-arg]
    """Plain ``executemany`` in one transaction: what the raw baselines and the pre-population do."""
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({','.join('?' * 12)})",  # noqa: S608
        rows,
    )
    conn.execute("COMMIT")


def populated_cache(workdir: Path, size: str, log: object = None) -> Path:
    """The data dir of a cache holding the whole inbox of ``size``, built once and kept in ``workdir``.

    Built with raw ``sqlite3`` into the schema the app's migration created (accounts, conversations with
    their stored latest message, messages, a ``conversation_sync`` row per conversation so that opening
    one asks the server nothing), because the writer path is what figure 1 measures, not a set-up step;
    then the messages are indexed for search by the writer's own step (``sync.cache.search``).
    """
    box = inbox(size)
    # v3: with the search index (schema v4); a cache written before it is built again.
    data = workdir / f"populated-{size}-{box.conversations}x{box.per_conversation}-v3"
    done = data / "complete"
    if done.exists():
        return data
    if data.exists():
        import shutil

        shutil.rmtree(data)
    data.mkdir(parents=True)
    if callable(log):
        log(f"pre-populating {box.total:,} messages into {data} (once; kept for later runs)")
    path = create_empty_cache(data)
    conn = raw_connect(path)
    try:
        load_accounts_and_conversations(conn, box)
        insert_messages(conn, box.rows)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO conversation_sync (account_id, conversation_id, oldest_synced_at, newest_synced_at,"
            " reached_oldest, last_reconciled_at, updated_at) VALUES (?,?,?,?,1,?,?)",
            [
                (r[0], r[1], box.rows[(n + 1) * box.per_conversation - 1][6], r[10], r[10], NOW)
                for n, r in enumerate(box.conversation_rows())
            ],
        )
        conn.execute("COMMIT")
        # The search index, as the app's writer keeps it: an app writing here would index them all first.
        conn.execute("BEGIN IMMEDIATE")
        search.index_new_messages(conn)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    done.write_text("ok\n", encoding="utf-8")
    return data
