"""The cache's write transactions: each call is one ``BEGIN IMMEDIATE`` transaction returning a ChangeSet.

Run them through :class:`sync.cache.writer.CacheWriter` (the one writer thread of a process);
they are plain functions of an open :class:`CacheDatabase` so that they can be composed into one
transaction (:func:`apply`) and tested directly.

Two invariants hold on every path here:

* A message whose normalized id has a tombstone is never inserted or updated: triggers in the
  schema refuse it whatever the statement, and the Python-side check keeps change sets exact.
  A tombstone may come first: the message is then born dead.
* Derived data (each conversation's latest visible message, its unread count) is updated in the
  same transaction as the write that changes it.

Hiding a message deletes its cached copies (every account's); the tombstone is what remains, so a
recalled message's text does not outlive the recall on this machine either.

The message upsert is the hot path: it runs on the raw ``sqlite3`` connection peewee owns with
``executemany`` and only writes rows that are new or whose fields differ (ENVIRONMENT.md: the
ORM's per-row cost halves throughput; touching unchanged rows costs 1.8×).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from sync import urns
from sync.cache import recall_log
from sync.cache.db import CacheDatabase
from sync.cache.models import (
    AccountRow,
    AccountSyncRow,
    ConversationSyncRow,
    MetaRow,
)
from sync.model import (
    Account,
    AccountSyncState,
    ChangeSet,
    ConversationIn,
    ConversationSyncState,
    LatestMessage,
    MessageIn,
    Participant,
    Reaction,
    RowKey,
    TombstoneReason,
)

__all__ = [
    "CacheInputError",
    "Request",
    "SetAccountSync",
    "SetConversationSync",
    "SetReactions",
    "Tombstone",
    "UpdateConversation",
    "UpsertAccounts",
    "UpsertConversations",
    "UpsertMessages",
    "WriteOp",
    "apply",
    "apply_group",
    "set_last_applied_seq",
]

log = logging.getLogger(__name__)

LAST_APPLIED_SEQ: Final = "last_applied_seq"
_CHUNK: Final = 500  # ids per IN (...) probe: well under SQLite's variable limit


class CacheInputError(ValueError):
    """A write's envelope is malformed (not a list, an unknown operation, an unparseable tombstone id).

    Nothing is written. A malformed *item* inside a well-formed list is skipped and counted instead.
    """


# --- operations -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpsertAccounts:
    """Insert or update accounts (A1/A2). An empty ``mailbox`` keeps the one already stored."""

    accounts: Sequence[Account]


@dataclass(frozen=True, slots=True)
class UpsertConversations:
    """A page of conversations (C1). Server values win for unread/starred/participants; the latest
    message is the server's unless it is tombstoned or a cached message is newer."""

    items: Sequence[ConversationIn]


@dataclass(frozen=True, slots=True)
class UpsertMessages:
    """Messages (C2 pages, ``message.created``, a sent message). Tombstoned ids are skipped; a message
    of a conversation not cached yet gets a placeholder conversation row the next C1 page fills."""

    items: Sequence[MessageIn]


@dataclass(frozen=True, slots=True)
class Tombstone:
    """Hide messages everywhere: ``message_ids`` are normalized ids or message URNs of any form."""

    message_ids: Sequence[str]
    reason: TombstoneReason
    at: int | None = None
    """When (epoch ms); now when None."""


@dataclass(frozen=True, slots=True)
class UpdateConversation:
    """``conversation.updated``, mark read (``unread_count=0``), C8–C10. None leaves a field as is.

    ``conversation`` is a normalized id or any conversation URN. Unknown conversations are ignored
    (the next C1 page brings them)."""

    account_id: str
    conversation: str
    unread_count: int | None = None
    starred: bool | None = None
    last_activity_at: int | None = None


@dataclass(frozen=True, slots=True)
class SetReactions:
    """``message.reacted``: the resulting totals of one message copy. A hidden message stays hidden."""

    account_id: str
    message: str
    reactions: tuple[Reaction, ...]


@dataclass(frozen=True, slots=True)
class SetConversationSync:
    state: ConversationSyncState
    caught_up_to: int | None = None
    """C2 has read every message up to now, which covers a ``messages_behind_at`` mark up to this
    value (the mark as read before the C2 read started); a higher mark, set since, is kept."""


@dataclass(frozen=True, slots=True)
class SetAccountSync:
    state: AccountSyncState


WriteOp: TypeAlias = (
    UpsertAccounts
    | UpsertConversations
    | UpsertMessages
    | Tombstone
    | UpdateConversation
    | SetReactions
    | SetConversationSync
    | SetAccountSync
)


# --- the change accumulator ----------------------------------------------------------------------


@dataclass(slots=True)
class _Changes:
    inserted: set[RowKey] = field(default_factory=set)
    updated: set[RowKey] = field(default_factory=set)
    hidden: set[RowKey] = field(default_factory=set)
    conversations: set[tuple[str, str]] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    tombstones: set[str] = field(default_factory=set)
    skipped: int = 0

    def skip(self, what: str, reason: object, item: object) -> None:
        self.skipped += 1
        shown = repr(item)
        log.warning(
            "cache: skipped %s (%s): %s", what, reason, shown if len(shown) <= 300 else shown[:300] + "…"
        )

    def freeze(self) -> ChangeSet:
        # Within one transaction a row can be inserted and then hidden: the UI must only see it hidden.
        inserted = self.inserted - self.hidden if self.hidden else self.inserted
        updated = self.updated - self.hidden - inserted if self.updated else self.updated
        return ChangeSet(
            messages_inserted=frozenset(inserted),
            messages_updated=frozenset(updated),
            messages_hidden=frozenset(self.hidden),
            conversations_changed=frozenset(self.conversations),
            accounts_changed=frozenset(self.accounts),
            tombstones_added=frozenset(self.tombstones),
            skipped=self.skipped,
        )


class _Invalid(Exception):
    pass


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- validation: a wire item that is wrong is skipped, never guessed at ---------------------------


def _need(ok: bool, reason: str) -> None:
    if not ok:
        raise _Invalid(reason)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_text(value: object, name: str, *, empty: bool = True) -> str:
    _need(
        isinstance(value, str) and (empty or bool(value)),
        f"{name} must be a {'' if empty else 'non-empty '}string",
    )
    assert isinstance(value, str)
    return value


def _check_time(value: object, name: str) -> int:
    _need(_is_int(value) and value >= 0, f"{name} must be epoch ms (a non-negative int)")  # type: ignore[operator]
    assert isinstance(value, int)
    return value


def _check_bool(value: object, name: str) -> int:
    _need(isinstance(value, bool), f"{name} must be a bool")
    return int(bool(value))


_NO_REACTIONS: Final = "[]"


def _reactions_json(reactions: object) -> str:
    _need(isinstance(reactions, tuple | list), "reactions must be a sequence")
    out: list[list[Any]] = []
    for reaction in reactions:  # type: ignore[attr-defined]
        _need(isinstance(reaction, Reaction), "reaction must be a Reaction")
        _check_text(reaction.emoji, "reaction emoji", empty=False)
        _need(_is_int(reaction.count) and reaction.count >= 0, "reaction count must be a non-negative int")
        _check_bool(reaction.reacted_by_owner, "reacted_by_owner")
        out.append([reaction.emoji, reaction.count, reaction.reacted_by_owner])
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def _participants_json(participants: object) -> str:
    _need(isinstance(participants, tuple | list), "participants must be a sequence")
    out: list[dict[str, str]] = []
    for p in participants:  # type: ignore[attr-defined]
        _need(isinstance(p, Participant), "participant must be a Participant")
        values = {
            "profileId": p.profile_id,
            "name": p.name,
            "headline": p.headline,
            "profileUrl": p.profile_url,
            "picture": p.picture,
        }
        for key, value in values.items():
            _check_text(value, f"participant {key}")
        out.append(values)
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def _parse(parser: Any, value: object, name: str) -> Any:
    _need(isinstance(value, str), f"{name} must be a string")
    try:
        return parser(value)
    except urns.UrnError as exc:
        raise _Invalid(f"{name}: {exc.reason}") from None


# (account_id, conversation_id, message_id, message_urn, conversation_urn, text, sent_at,
#  sender_profile_id, sender_name, is_sent_by_owner, has_attachment, reactions)
_MessageTuple: TypeAlias = tuple[str, str, str, str, str, str, int, str, str, int, int, str]


class _UrnMemo:
    """Per-batch memo of URN parsing, which is most of the ingest's Python cost: a page's items share
    one conversation URN, and their message URNs one ``urn:li:msg_message:(<mailbox>`` head.

    Every answer is one :mod:`sync.urns` gave: a message URN whose head was already seen whole is
    checked by validating its token alone, which is equivalent (the head has no comma, the token
    no comma or parenthesis), and anything else goes through the full parser.
    """

    __slots__ = ("conversations", "heads")

    def __init__(self) -> None:
        self.conversations: dict[str, tuple[str, str]] = {}
        self.heads: set[str] = set()

    def conversation(self, value: str) -> tuple[str, str]:
        """(normalized id, canonical URN)."""
        hit = self.conversations.get(value)
        if hit is None:
            parsed = urns.parse_conversation(value)
            hit = self.conversations[value] = (parsed.token, str(parsed))
        return hit

    def message(self, value: str) -> tuple[str, str, str | None]:
        """(normalized id, canonical URN, thread token of an ``fs_event`` or None)."""
        comma = value.rfind(",")
        if comma > 0 and value.endswith(")") and value[:comma] in self.heads:
            token = value[comma + 1 : -1]
            try:  # not contextlib.suppress: this runs once per message and try costs nothing
                if urns.message_id(token) == token:  # not equal when the token holds percent escapes
                    return token, value, None
            except urns.UrnError:
                pass  # the full parser below says what is wrong
        parsed = urns.parse_message(value)
        if parsed.kind == "msg_message" and "%" not in value:
            self.heads.add(value[:comma])
        return parsed.token, (value if "%" not in value else str(parsed)), parsed.thread_token


def _message_fields_ok(item: object) -> bool:
    """The common case, checked in one expression; the slow path says what is wrong otherwise."""
    return (
        type(item) is MessageIn
        and type(item.account_id) is str
        and bool(item.account_id)
        and type(item.message_urn) is str
        and type(item.conversation_urn) is str
        and type(item.text) is str
        and type(item.sent_at) is int
        and item.sent_at >= 0
        and type(item.sender_profile_id) is str
        and type(item.sender_name) is str
        and type(item.is_sent_by_owner) is bool
        and type(item.has_attachment) is bool
    )


def _explain_message(item: object) -> None:
    _need(isinstance(item, MessageIn), f"expected a MessageIn, got {type(item).__name__}")
    assert isinstance(item, MessageIn)
    _check_text(item.account_id, "account_id", empty=False)
    _check_text(item.message_urn, "message_urn")
    _check_text(item.conversation_urn, "conversation_urn")
    _check_text(item.text, "text")
    _check_time(item.sent_at, "sent_at")
    _check_text(item.sender_profile_id, "sender_profile_id")
    _check_text(item.sender_name, "sender_name")
    _check_bool(item.is_sent_by_owner, "is_sent_by_owner")
    _check_bool(item.has_attachment, "has_attachment")


def _message_row(item: object, memo: _UrnMemo) -> _MessageTuple:
    if not _message_fields_ok(item):
        _explain_message(item)
    assert isinstance(item, MessageIn)
    try:
        message_id, message_urn, thread = memo.message(item.message_urn)
    except urns.UrnError as exc:
        raise _Invalid(f"message_urn: {exc.reason}") from None
    try:
        conversation_id, conversation_urn = memo.conversation(item.conversation_urn)
    except urns.UrnError as exc:
        raise _Invalid(f"conversation_urn: {exc.reason}") from None
    _need(thread is None or thread == conversation_id, "message URN names another conversation")
    # A message URN under another mailbox prefix than its conversation's is kept: the row is keyed by
    # (account, token) whatever the prefix, and tombstones by the token alone.
    reactions = _NO_REACTIONS if item.reactions == () else _reactions_json(item.reactions)
    return (
        item.account_id,
        conversation_id,
        message_id,
        message_urn,
        conversation_urn,
        item.text,
        item.sent_at,
        item.sender_profile_id,
        item.sender_name,
        int(item.is_sent_by_owner),
        int(item.has_attachment),
        reactions,
    )


# (latest_message_id, latest_message_urn, latest_text, latest_sent_at, latest_sender_name,
#  latest_has_attachment)
# The id and URN are None for a vendor C1 preview, which carries no messageUrn (spec §8).
_Latest: TypeAlias = tuple[str | None, str | None, str, int, str, int]
_NO_LATEST: Final = (None, None, None, None, None, None)


@dataclass(frozen=True, slots=True)
class _ConversationTuple:
    account_id: str
    conversation_id: str
    conversation_urn: str
    last_activity_at: int
    unread_count: int
    starred: int | None
    """None: the server did not say; the stored value is kept (0 for a new row)."""
    participants: str
    latest: _Latest | None


def _conversation_row(item: object) -> _ConversationTuple:
    _need(isinstance(item, ConversationIn), f"expected a ConversationIn, got {type(item).__name__}")
    assert isinstance(item, ConversationIn)
    conversation = _parse(urns.parse_conversation, item.conversation_urn, "conversation_urn")
    latest: _Latest | None = None
    if item.latest is not None:
        _need(isinstance(item.latest, LatestMessage), "latest must be a LatestMessage or None")
        # The vendor's C1 preview has no messageUrn (spec §8): stored without an id, it is still shown.
        message_id: str | None = None
        message_urn: str | None = None
        if item.latest.message_urn != "":
            message = _parse(urns.parse_message, item.latest.message_urn, "latest.message_urn")
            message_id, message_urn = message.token, str(message)
        latest = (
            message_id,
            message_urn,
            _check_text(item.latest.text, "latest.text"),
            _check_time(item.latest.sent_at, "latest.sent_at"),
            _check_text(item.latest.sender_name, "latest.sender_name"),
            _check_bool(item.latest.has_attachment, "latest.has_attachment"),
        )
    _need(_is_int(item.unread_count) and item.unread_count >= 0, "unread_count must be a non-negative int")
    return _ConversationTuple(
        _check_text(item.account_id, "account_id", empty=False),
        conversation.token,
        str(conversation),
        _check_time(item.last_activity_at, "last_activity_at"),
        item.unread_count,
        None if item.starred is None else _check_bool(item.starred, "starred"),
        _participants_json(item.participants),
        latest,
    )


# --- shared derived-data helpers ------------------------------------------------------------------


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _known_accounts(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT account_id FROM accounts")}


def _tombstoned(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` (sorted, so that each probe walks the index in order) have a tombstone."""
    found: set[str] = set()
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT message_id FROM tombstones WHERE message_id IN ({marks})"  # noqa: S608 - only '?'s
        found.update(r[0] for r in conn.execute(sql, chunk))
    return found


def _newest_cached(conn: sqlite3.Connection, account: str, conversation: str) -> _Latest | None:
    row = conn.execute(
        "SELECT message_id, message_urn, text, sent_at, sender_name, has_attachment FROM messages"
        " WHERE account_id = ? AND conversation_id = ? ORDER BY sent_at DESC, message_id DESC LIMIT 1",
        (account, conversation),
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4], row[5])


def _pick_latest(
    conn: sqlite3.Connection, conversation: str, candidate: _Latest | None, newest: _Latest | None
) -> _Latest | None:
    """The newest visible message: the candidate (server's or stored) unless tombstoned or older than
    the newest cached message (cached rows are never tombstoned: hiding deletes them)."""
    if candidate is not None and (
        conn.execute("SELECT 1 FROM tombstones WHERE message_id = ?", (candidate[0],)).fetchone()
        if candidate[0] is not None
        # A preview without a URN (spec §8) is known only by its conversation and time.
        else conn.execute(
            "SELECT 1 FROM tombstones WHERE conversation_id = ? AND sent_at = ?", (conversation, candidate[3])
        ).fetchone()
    ):
        candidate = None
    if newest is None:
        return candidate
    if candidate is None or (newest[3], newest[0] or "") >= (candidate[3], candidate[0] or ""):
        return newest
    return candidate


def _refresh_conversation(conn: sqlite3.Connection, account: str, conversation: str) -> bool:
    """Recompute a conversation's latest visible message (and activity) after its messages changed."""
    row = conn.execute(
        "SELECT last_activity_at, latest_message_id, latest_message_urn, latest_text, latest_sent_at,"
        " latest_sender_name, latest_has_attachment FROM conversations"
        " WHERE account_id = ? AND conversation_id = ?",
        (account, conversation),
    ).fetchone()
    if row is None:
        return False
    stored: _Latest | None = None if row[1] is None else tuple(row[1:])
    latest = _pick_latest(conn, conversation, stored, _newest_cached(conn, account, conversation))
    activity = max(row[0], latest[3]) if latest is not None else row[0]
    if latest == stored and activity == row[0]:
        return False
    conn.execute(
        "UPDATE conversations SET last_activity_at = ?, latest_message_id = ?, latest_message_urn = ?,"
        " latest_text = ?, latest_sent_at = ?, latest_sender_name = ?, latest_has_attachment = ?"
        " WHERE account_id = ? AND conversation_id = ?",
        (activity, *(latest or _NO_LATEST), account, conversation),
    )
    return True


# --- the operations' bodies -----------------------------------------------------------------------


def _upsert_accounts(db: CacheDatabase, conn: sqlite3.Connection, op: UpsertAccounts, acc: _Changes) -> None:
    rows: dict[str, tuple[str, str, str, str, str, int, int | None]] = {}
    for account in op.accounts:
        try:
            _need(isinstance(account, Account), f"expected an Account, got {type(account).__name__}")
            mailbox = _check_text(account.mailbox, "mailbox")
            if mailbox:
                mailbox = str(_parse(urns.parse_profile, mailbox, "mailbox"))
            rows[account.account_id] = (
                _check_text(account.account_id, "account_id", empty=False),
                _check_text(account.name, "name"),
                _check_text(account.public_id, "public_id"),
                mailbox,
                _check_text(account.status, "status"),
                _check_bool(account.enabled, "enabled"),
                None if account.api_seat is None else _check_bool(account.api_seat, "api_seat"),
            )
        except _Invalid as exc:
            acc.skip("account", exc, account)
    for account_id, new in rows.items():
        old = conn.execute(
            "SELECT account_id, name, public_id, mailbox, status, enabled, api_seat FROM accounts"
            " WHERE account_id = ?",
            (account_id,),
        ).fetchone()
        if old is not None and not new[3]:
            new = (*new[:3], old[3], *new[4:])  # a mailbox learnt from A2 or C1 is not forgotten
        if old is not None and tuple(old) == new:
            continue
        fields = ("account_id", "name", "public_id", "mailbox", "status", "enabled", "api_seat")
        AccountRow.insert(dict(zip(fields, new, strict=True))).on_conflict(
            conflict_target=[AccountRow.account_id],
            preserve=[
                AccountRow.name,
                AccountRow.public_id,
                AccountRow.mailbox,
                AccountRow.status,
                AccountRow.enabled,
                AccountRow.api_seat,
            ],
        ).execute(db.peewee)
        acc.accounts.add(account_id)


def _upsert_conversations(
    db: CacheDatabase, conn: sqlite3.Connection, op: UpsertConversations, acc: _Changes
) -> None:
    rows: dict[tuple[str, str], _ConversationTuple] = {}
    for item in op.items:
        try:
            row = _conversation_row(item)
        except _Invalid as exc:
            acc.skip("conversation", exc, item)
            continue
        rows[(row.account_id, row.conversation_id)] = row
    accounts = _known_accounts(conn) if rows else set()
    for (account, conversation), row in rows.items():
        if account not in accounts:
            acc.skip("conversation", f"unknown account {account!r}", row.conversation_urn)
            continue
        old = conn.execute(
            "SELECT conversation_urn, last_activity_at, unread_count, starred, participants,"
            " latest_message_id, latest_message_urn, latest_text, latest_sent_at, latest_sender_name,"
            " latest_has_attachment"
            " FROM conversations WHERE account_id = ? AND conversation_id = ?",
            (account, conversation),
        ).fetchone()
        latest = _pick_latest(conn, conversation, row.latest, _newest_cached(conn, account, conversation))
        # The server's activity time can trail an event this cache already applied.
        activity = max(row.last_activity_at, old[1] if old else 0, latest[3] if latest else 0)
        new = (
            row.conversation_urn,
            activity,
            row.unread_count,
            (old[3] if old else 0) if row.starred is None else row.starred,
            row.participants,
            *(latest or _NO_LATEST),
        )
        if old is not None and tuple(old) == new:
            continue
        conn.execute(
            "INSERT INTO conversations (account_id, conversation_id, conversation_urn, last_activity_at,"
            " unread_count, starred, participants, latest_message_id, latest_message_urn, latest_text,"
            " latest_sent_at, latest_sender_name, latest_has_attachment) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (account_id, conversation_id) DO UPDATE SET"
            " conversation_urn = excluded.conversation_urn,"
            " last_activity_at = excluded.last_activity_at, unread_count = excluded.unread_count,"
            " starred = excluded.starred, participants = excluded.participants,"
            " latest_message_id = excluded.latest_message_id,"
            " latest_message_urn = excluded.latest_message_urn,"
            " latest_text = excluded.latest_text, latest_sent_at = excluded.latest_sent_at,"
            " latest_sender_name = excluded.latest_sender_name,"
            " latest_has_attachment = excluded.latest_has_attachment",
            (account, conversation, *new),
        )
        if old is not None and activity > old[1]:
            # New activity that C1 reports before C2 has read it: remembered until C2 has (schema V2).
            conn.execute(
                "UPDATE conversation_sync SET messages_behind_at = max(coalesce(messages_behind_at, 0), ?)"
                " WHERE account_id = ? AND conversation_id = ? AND newest_synced_at IS NOT NULL",
                (activity, account, conversation),
            )
        acc.conversations.add((account, conversation))


_MESSAGE_COLUMNS: Final = (
    "account_id, conversation_id, message_id, message_urn, conversation_urn, text, sent_at,"
    " sender_profile_id, sender_name, is_sent_by_owner, has_attachment, reactions"
)
_MESSAGE_UPDATABLE: Final = (
    "conversation_id",
    "message_urn",
    "conversation_urn",
    "text",
    "sent_at",
    "sender_profile_id",
    "sender_name",
    "is_sent_by_owner",
    "has_attachment",
    "reactions",
)
# The schema's triggers refuse a tombstoned id (``sync.cache.schema``); the Python-side check
# before this statement only keeps change sets exact. DO UPDATE ... WHERE touches a row only when
# its fields differ.
_UPSERT_MESSAGE: Final = (
    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
    " ON CONFLICT (message_id, account_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _MESSAGE_UPDATABLE)
    + " WHERE "
    + " OR ".join(f"messages.{c} IS NOT excluded.{c}" for c in _MESSAGE_UPDATABLE)
)


def _existing_messages(
    conn: sqlite3.Connection, ids: Sequence[str], wanted: dict[tuple[str, str], _MessageTuple]
) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The stored rows of the batch's (account, id) keys. The probe reads only the covering
    ``messages_key`` index; full rows are read only for the keys found (none on a first sync)."""
    rowids: list[int] = []
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT id, account_id, message_id FROM messages WHERE message_id IN ({marks})"  # noqa: S608
        rowids += [r[0] for r in conn.execute(sql, chunk) if (r[1], r[2]) in wanted]
    existing: dict[tuple[str, str], tuple[Any, ...]] = {}
    for start in range(0, len(rowids), _CHUNK):
        chunk_ids = rowids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk_ids))
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id IN ({marks})"  # noqa: S608 - only '?'s
        for found in conn.execute(sql, chunk_ids):
            existing[(found[0], found[2])] = tuple(found)
    return existing


def _upsert_messages(db: CacheDatabase, conn: sqlite3.Connection, op: UpsertMessages, acc: _Changes) -> None:
    rows: dict[tuple[str, str], _MessageTuple] = {}
    memo = _UrnMemo()
    for item in op.items:
        try:
            row = _message_row(item, memo)
        except _Invalid as exc:
            acc.skip("message", exc, item)
            continue
        rows[(row[0], row[2])] = row  # a repeated id in one batch: the last copy wins
    if not rows:
        return
    accounts = _known_accounts(conn)
    for key in [k for k in rows if k[0] not in accounts]:
        acc.skip("message", f"unknown account {key[0]!r}", rows.pop(key)[3])
    ids = sorted({mid for _, mid in rows})
    dead = _tombstoned(conn, ids)
    existing = _existing_messages(conn, ids, rows)
    if dead:
        log.debug("cache: %d tombstoned message(s) not stored", sum(1 for k in rows if k[1] in dead))
        rows = {k: r for k, r in rows.items() if k[1] not in dead}
    # Per-row work is the hot loop of a first sync: kept to the minimum the change set needs.
    if existing:
        new = [row for key, row in rows.items() if key not in existing]
        changed = [(row, existing[key]) for key, row in rows.items() if existing.get(key, row) != row]
    else:  # a first sync: every row is new
        new, changed = list(rows.values()), []
    if not new and not changed:
        return
    acc.inserted.update(RowKey(r[0], r[1], r[2]) for r in new)
    acc.updated.update(RowKey(r[0], r[1], r[2]) for r, _ in changed)
    touched = {(r[0], r[1]) for r in new}
    touched |= {(r[0], r[1]) for r, _ in changed} | {(o[0], o[1]) for _, o in changed}
    # The foreign key needs the conversation row; C1 fills in the rest of a placeholder later.
    for account, conversation in touched:
        exists = conn.execute(
            "SELECT 1 FROM conversations WHERE account_id = ? AND conversation_id = ?",
            (account, conversation),
        ).fetchone()
        if exists is None:
            mine = [r for r in new if r[0] == account and r[1] == conversation]
            mine += [r for r, _ in changed if r[0] == account and r[1] == conversation]
            newest = max(mine, key=lambda r: r[6])
            conn.execute(
                "INSERT INTO conversations (account_id, conversation_id, conversation_urn, last_activity_at)"
                " VALUES (?, ?, ?, ?)",
                (account, conversation, newest[4], newest[6]),
            )
            acc.conversations.add((account, conversation))
    conn.executemany(_UPSERT_MESSAGE, new)
    conn.executemany(_UPSERT_MESSAGE, [r for r, _ in changed])
    for account, conversation in touched:
        if _refresh_conversation(conn, account, conversation):
            acc.conversations.add((account, conversation))


def _normalized_ids(op: Tombstone) -> list[str]:
    if not isinstance(op.message_ids, list | tuple):
        raise CacheInputError(
            f"Tombstone.message_ids must be a list or tuple, got {type(op.message_ids).__name__}"
        )
    try:
        return [urns.message_id(value) for value in op.message_ids]
    except urns.UrnError as exc:
        raise CacheInputError(f"cannot tombstone {exc.value!r}: {exc.reason}") from exc


def _lower_unread(conn: sqlite3.Connection, account: str, conversation: str, mid: str, sent_at: int) -> bool:
    """DESIGN: unread counts are the server's; a hidden inbound message lowers the count only when it
    is among the newest ``unreadCount`` inbound messages (so it was one of the unread ones)."""
    row = conn.execute(
        "SELECT unread_count FROM conversations WHERE account_id = ? AND conversation_id = ?",
        (account, conversation),
    ).fetchone()
    unread = 0 if row is None else int(row[0])
    if unread <= 0:
        return False
    newer = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM messages WHERE account_id = ? AND conversation_id = ?"
        " AND is_sent_by_owner = 0 AND (sent_at > ? OR (sent_at = ? AND message_id > ?)) LIMIT ?)",
        (account, conversation, sent_at, sent_at, mid, unread),
    ).fetchone()[0]
    if newer >= unread:
        return False
    conn.execute(
        "UPDATE conversations SET unread_count = ? WHERE account_id = ? AND conversation_id = ?",
        (unread - 1, account, conversation),
    )
    return True


def _tombstone(db: CacheDatabase, conn: sqlite3.Connection, op: Tombstone, acc: _Changes) -> None:
    at = _now_ms() if op.at is None else op.at
    ids = _normalized_ids(op)
    for mid in ids:
        copies = conn.execute(
            "SELECT account_id, conversation_id, sent_at, is_sent_by_owner FROM messages"
            " WHERE message_id = ?",
            (mid,),
        ).fetchall()
        # Where and when the message was (any copy: every mailbox shares the thread token and the time),
        # so that a vendor C1 preview of it, which has no URN, is recognised too (_pick_latest).
        place = (copies[0][1], copies[0][2]) if copies else (None, None)
        cursor = conn.execute(
            "INSERT INTO tombstones (message_id, reason, created_at, conversation_id, sent_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (mid, str(op.reason), at, *place),
        )
        if cursor.rowcount:
            acc.tombstones.add(mid)
        affected: set[tuple[str, str]] = set()
        for account, conversation, sent_at, by_owner in copies:
            if not by_owner and _lower_unread(conn, account, conversation, mid, sent_at):
                acc.conversations.add((account, conversation))
            acc.hidden.add(RowKey(account, conversation, mid))
            affected.add((account, conversation))
        conn.execute("DELETE FROM messages WHERE message_id = ?", (mid,))
        # The server's preview may name a message this cache never held.
        affected.update(
            (r[0], r[1])
            for r in conn.execute(
                "SELECT account_id, conversation_id FROM conversations WHERE latest_message_id = ?", (mid,)
            )
        )
        for account, conversation in affected:
            if _refresh_conversation(conn, account, conversation):
                acc.conversations.add((account, conversation))
    recall_log.confirm_tombstoned(conn, ids, at)


def _conversation_token(value: str) -> str:
    try:
        return urns.conversation_id(value)
    except urns.UrnError as exc:
        raise CacheInputError(f"not a conversation id: {exc}") from exc


def _update_conversation(
    db: CacheDatabase, conn: sqlite3.Connection, op: UpdateConversation, acc: _Changes
) -> None:
    conversation = _conversation_token(op.conversation)
    row = conn.execute(
        "SELECT unread_count, starred, last_activity_at FROM conversations"
        " WHERE account_id = ? AND conversation_id = ?",
        (op.account_id, conversation),
    ).fetchone()
    if row is None:
        log.debug("cache: update of unknown conversation %s/%s ignored", op.account_id, conversation)
        return
    new = (
        row[0] if op.unread_count is None else op.unread_count,
        row[1] if op.starred is None else int(op.starred),
        row[2] if op.last_activity_at is None else max(row[2], op.last_activity_at),
    )
    if new == tuple(row):
        return
    conn.execute(
        "UPDATE conversations SET unread_count = ?, starred = ?, last_activity_at = ?"
        " WHERE account_id = ? AND conversation_id = ?",
        (*new, op.account_id, conversation),
    )
    acc.conversations.add((op.account_id, conversation))


def _reactions_update(op: SetReactions) -> tuple[str, str]:
    """(normalized message id, reactions JSON), or CacheInputError."""
    try:
        return urns.message_id(op.message), _reactions_json(op.reactions)
    except (urns.UrnError, _Invalid) as exc:
        raise CacheInputError(f"bad reactions update: {exc}") from exc


def _set_reactions(db: CacheDatabase, conn: sqlite3.Connection, op: SetReactions, acc: _Changes) -> None:
    mid, reactions = _reactions_update(op)
    # An UPDATE can only touch a row that exists, and hiding deletes rows: a tombstoned message stays gone.
    row = conn.execute(
        "UPDATE messages SET reactions = ? WHERE account_id = ? AND message_id = ? AND reactions IS NOT ?"
        " RETURNING conversation_id",
        (reactions, op.account_id, mid, reactions),
    ).fetchone()
    if row is not None:
        acc.updated.add(RowKey(op.account_id, row[0], mid))


def _set_conversation_sync(
    db: CacheDatabase, conn: sqlite3.Connection, op: SetConversationSync, acc: _Changes
) -> None:
    s = op.state
    conversation = _conversation_token(s.conversation_id)
    exists = conn.execute(
        "SELECT 1 FROM conversations WHERE account_id = ? AND conversation_id = ?",
        (s.account_id, conversation),
    ).fetchone()
    if exists is None:
        raise CacheInputError(f"sync state for unknown conversation {s.account_id}/{conversation}")
    ConversationSyncRow.insert(
        account_id=s.account_id,
        conversation_id=conversation,
        oldest_synced_at=s.oldest_synced_at,
        newest_synced_at=s.newest_synced_at,
        older_cursor=s.older_cursor,
        reached_oldest=s.reached_oldest,
        last_reconciled_at=s.last_reconciled_at,
        updated_at=_now_ms(),
    ).on_conflict(
        conflict_target=[ConversationSyncRow.account_id, ConversationSyncRow.conversation_id],
        preserve=[
            ConversationSyncRow.oldest_synced_at,
            ConversationSyncRow.newest_synced_at,
            ConversationSyncRow.older_cursor,
            ConversationSyncRow.reached_oldest,
            ConversationSyncRow.last_reconciled_at,
            ConversationSyncRow.updated_at,
        ],
    ).execute(db.peewee)
    if op.caught_up_to is not None:
        conn.execute(
            "UPDATE conversation_sync SET messages_behind_at = NULL"
            " WHERE account_id = ? AND conversation_id = ? AND messages_behind_at <= ?",
            (s.account_id, conversation, op.caught_up_to),
        )


def _set_account_sync(db: CacheDatabase, conn: sqlite3.Connection, op: SetAccountSync, acc: _Changes) -> None:
    s = op.state
    if conn.execute("SELECT 1 FROM accounts WHERE account_id = ?", (s.account_id,)).fetchone() is None:
        raise CacheInputError(f"sync state for unknown account {s.account_id!r}")
    AccountSyncRow.insert(
        account_id=s.account_id,
        last_sync_at=s.last_sync_at,
        conversations_cursor=s.conversations_cursor,
        initial_sync_completed=s.initial_sync_completed,
        last_error=s.last_error,
        last_error_kind=s.last_error_kind,
        last_error_refused=s.last_error_refused,
        updated_at=_now_ms(),
    ).on_conflict(
        conflict_target=[AccountSyncRow.account_id],
        preserve=[
            AccountSyncRow.last_sync_at,
            AccountSyncRow.conversations_cursor,
            AccountSyncRow.initial_sync_completed,
            AccountSyncRow.last_error,
            AccountSyncRow.last_error_kind,
            AccountSyncRow.last_error_refused,
            AccountSyncRow.updated_at,
        ],
    ).execute(db.peewee)


_APPLY: Final[dict[type, Any]] = {
    UpsertAccounts: _upsert_accounts,
    UpsertConversations: _upsert_conversations,
    UpsertMessages: _upsert_messages,
    Tombstone: _tombstone,
    UpdateConversation: _update_conversation,
    SetReactions: _set_reactions,
    SetConversationSync: _set_conversation_sync,
    SetAccountSync: _set_account_sync,
}
_ITEMS: Final[dict[type, str]] = {
    UpsertAccounts: "accounts",
    UpsertConversations: "items",
    UpsertMessages: "items",
}


def _check_envelope(ops: object) -> Sequence[WriteOp]:
    """Reject, before anything is written, whatever is malformed as a whole."""
    if not isinstance(ops, list | tuple):
        raise CacheInputError(f"expected a list of write operations, got {type(ops).__name__}")
    for op in ops:
        if type(op) not in _APPLY:
            raise CacheInputError(f"unknown write operation {type(op).__name__}")
        items = _ITEMS.get(type(op))
        if items is not None and not isinstance(getattr(op, items), list | tuple):
            got = type(getattr(op, items)).__name__
            raise CacheInputError(f"{type(op).__name__}.{items} must be a list or tuple, got {got}")
        if isinstance(op, Tombstone):
            _normalized_ids(op)
            if not isinstance(op.reason, TombstoneReason):
                raise CacheInputError(f"tombstone reason must be a TombstoneReason, got {op.reason!r}")
        if isinstance(op, UpdateConversation):
            _conversation_token(op.conversation)
            counts = {"unread_count": op.unread_count, "last_activity_at": op.last_activity_at}
            for name, value in counts.items():
                if value is not None and not (_is_int(value) and value >= 0):
                    raise CacheInputError(f"UpdateConversation.{name} must be an int ≥ 0, got {value!r}")
            if op.starred is not None and not isinstance(op.starred, bool):
                raise CacheInputError(f"UpdateConversation.starred must be a bool, got {op.starred!r}")
        if isinstance(op, SetReactions):
            _reactions_update(op)
    return ops


def _read_seq(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (LAST_APPLIED_SEQ,)).fetchone()
    return None if row is None else int(row[0])


def _write_seq(db: CacheDatabase, seq: int) -> None:
    MetaRow.insert(key=LAST_APPLIED_SEQ, value=str(seq)).on_conflict(
        conflict_target=[MetaRow.key], preserve=[MetaRow.value]
    ).execute(db.peewee)


def _check_request(ops: object, advance_seq_to: object) -> Sequence[WriteOp]:
    checked = _check_envelope(ops)
    if advance_seq_to is not None and not _is_int(advance_seq_to):
        raise CacheInputError(f"advance_seq_to must be an int, got {advance_seq_to!r}")
    return checked


def _apply_checked(
    db: CacheDatabase, conn: sqlite3.Connection, checked: Sequence[WriteOp], advance_seq_to: int | None
) -> ChangeSet:
    """The body of :func:`apply`, inside a transaction the caller opened."""
    if advance_seq_to is not None:
        current = _read_seq(conn)
        if current is not None and advance_seq_to <= current:
            return ChangeSet()
    acc = _Changes()
    for op in checked:
        _APPLY[type(op)](db, conn, op, acc)
    if advance_seq_to is not None:
        _write_seq(db, advance_seq_to)
    return acc.freeze()


def apply(db: CacheDatabase, ops: Sequence[WriteOp], *, advance_seq_to: int | None = None) -> ChangeSet:
    """Apply ``ops`` in order in one ``BEGIN IMMEDIATE`` transaction and say what changed.

    With ``advance_seq_to`` (an event's ``seq``) the stored ``last_applied_seq`` is set to it in the
    same transaction; when the stored value is already ≥ it, the event was applied before and
    nothing is written (empty ChangeSet). Malformed envelopes raise :class:`CacheInputError` and
    change nothing; malformed items are skipped and counted in ``ChangeSet.skipped``.
    """
    checked = _check_request(ops, advance_seq_to)
    with db.write_transaction():
        return _apply_checked(db, db.connection(), checked, advance_seq_to)


@dataclass(frozen=True, slots=True)
class Request:
    """One caller's :func:`apply` (its operations and the event ``seq`` they advance to), as
    :func:`apply_group` takes it."""

    ops: Sequence[WriteOp]
    advance_seq_to: int | None = None

    @property
    def size(self) -> int:
        """Roughly how many rows it writes: what bounds a group (a malformed envelope counts 1)."""
        total = 0
        for op in self.ops if isinstance(self.ops, list | tuple) else ():
            name = "message_ids" if isinstance(op, Tombstone) else _ITEMS.get(type(op))
            items = getattr(op, name, None) if name is not None else None
            total += len(items) if isinstance(items, list | tuple) else 1
        return max(total, 1)


def apply_group(
    db: CacheDatabase, requests: Iterable[Request], *, commit_key: str | None = None
) -> list[ChangeSet | Exception]:
    """Apply several callers' requests in order in ONE ``BEGIN IMMEDIATE`` transaction (group commit).

    Each request is applied exactly as :func:`apply` would apply it alone after the ones before it,
    and is atomic on its own: a request that raises changes nothing and its exception is its result,
    while the others' writes stay. ``requests`` is consumed lazily, so the writer can keep adding what
    is queued while the transaction is open. With ``commit_key`` the writer's commit counter
    (:func:`count_commit`) is bumped inside the same transaction when any request changed something.

    Requests run without a savepoint: SQLite copies every page a savepoint modifies into a statement
    journal first, which costs a quarter of the ingest's speed on random-order indexes. When one
    raises (rare: malformed envelopes are refused before anything runs), the transaction is rolled
    back and the requests before it that succeeded are applied again, each in its own savepoint this
    time (a request that failed keeps its error and is not run again).

    Results are in request order, valid only once this returns: when the transaction as a whole
    fails (``BEGIN``, ``COMMIT``, or an error after which SQLite rolled the whole transaction back,
    such as a full disk), nothing of the group is stored and the exception propagates.
    """
    conn = db.connection()
    done: list[Request] = []
    results: list[ChangeSet | Exception] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for request in requests:
            try:
                checked = _check_request(request.ops, request.advance_seq_to)
            except Exception as exc:  # a malformed envelope: nothing of it ran, the caller gets the error
                done.append(request)
                results.append(exc)
                continue
            try:
                change: ChangeSet | Exception = _apply_checked(db, conn, checked, request.advance_seq_to)
            except Exception as exc:
                change = exc
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                results = [
                    r if isinstance(r, Exception) else _apply_in_savepoint(db, conn, q)
                    for q, r in zip(done, results, strict=True)
                ]
            done.append(request)
            results.append(change)
        if commit_key is not None and any(isinstance(r, ChangeSet) and r for r in results):
            _bump_commits(conn, commit_key)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return results


def _apply_in_savepoint(
    db: CacheDatabase, conn: sqlite3.Connection, request: Request
) -> ChangeSet | Exception:
    """One request of a group being applied again after another one failed; see :func:`apply_group`."""
    checked = _check_request(request.ops, request.advance_seq_to)  # it passed before
    conn.execute("SAVEPOINT request")
    try:
        change = _apply_checked(db, conn, checked, request.advance_seq_to)
    except Exception as exc:
        if not conn.in_transaction:
            raise  # SQLite rolled back the whole transaction (SQLITE_FULL, SQLITE_IOERR, ...)
        conn.execute("ROLLBACK TO request")
        conn.execute("RELEASE request")
        return exc
    conn.execute("RELEASE request")
    return change


COMMITS_PREFIX: Final = "commits:"


def _bump_commits(conn: sqlite3.Connection, key: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, '1')"
        " ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (key,),
    )


def count_commit(db: CacheDatabase, key: str) -> None:
    """Count one visible commit of one writer (its own small transaction, right after the write).

    ``PRAGMA data_version`` says *that* another connection committed, not *who*: a process that polls
    it would also see its own writer thread's commits. The per-writer counters let it tell another
    process's commits (refresh what is shown) from its own (already applied as change sets). Readers
    only compare the sum of the others' counters with the last one they saw: it must move with every
    commit that changed something, by how much does not matter. :func:`apply_group` bumps it inside
    its own transaction instead.
    """
    with db.write_transaction():
        _bump_commits(db.connection(), key)


def set_last_applied_seq(db: CacheDatabase, seq: int) -> None:
    """Set ``last_applied_seq`` unconditionally (a sandbox reset restarts ``seq`` at 0)."""
    with db.write_transaction():
        _write_seq(db, seq)
