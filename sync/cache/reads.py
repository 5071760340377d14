"""Reads for the UI and the sync: short, indexed, LIMITed queries returning frozen ``sync.model`` values.

Usable from any thread: each thread gets its own SQLite connection (peewee keeps connection
state thread-local) and, under WAL, reads never wait for the writer. A page of conversations
reads the latest message and unread count stored on the conversation row, never the
messages table (computed per page it costs 100 ms at scale, stored ~0.05 ms).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from typing import Any, Final

from sync import urns
from sync.cache import search
from sync.cache.db import CacheDatabase
from sync.cache.recall_log import RECALL_COLUMNS, recall_attempt
from sync.cache.transaction import COMMITS_PREFIX
from sync.model import (
    RECALL_WINDOW_MS,
    Account,
    AccountIssue,
    AccountSyncState,
    CacheCounts,
    Conversation,
    ConversationHits,
    ConversationSyncState,
    LatestMessage,
    Message,
    MessageHit,
    Participant,
    Reaction,
    RecallAttempt,
)

__all__ = ["MAX_PAGE", "CacheReader"]

MAX_PAGE: Final = 500

_CONVERSATION_COLUMNS: Final = (
    "account_id, conversation_id, conversation_urn, last_activity_at, unread_count, starred, participants,"
    " latest_message_urn, latest_text, latest_sent_at, latest_sender_name, latest_has_attachment"
)
_MESSAGE_COLUMNS: Final = (
    "account_id, conversation_id, message_id, message_urn, conversation_urn, text, sent_at,"
    " sender_profile_id, sender_name, is_sent_by_owner, has_attachment, reactions"
)


def _conversation(row: sqlite3.Row | tuple[Any, ...]) -> Conversation:
    participants = tuple(
        Participant(p["profileId"], p["name"], p["headline"], p["profileUrl"], p["picture"])
        for p in json.loads(row[6])
    )
    latest = None
    if row[9] is not None:  # latest_sent_at: a vendor preview has no URN (spec §8) but is still shown
        latest = LatestMessage(row[7] or "", row[8] or "", row[9], row[10], bool(row[11]))
    return Conversation(
        account_id=row[0],
        conversation_id=row[1],
        conversation_urn=row[2],
        last_activity_at=row[3],
        unread_count=row[4],
        starred=bool(row[5]),
        participants=participants,
        latest=latest,
    )


def _message(row: sqlite3.Row | tuple[Any, ...]) -> Message:
    return Message(
        account_id=row[0],
        conversation_id=row[1],
        message_id=row[2],
        message_urn=row[3],
        conversation_urn=row[4],
        text=row[5],
        sent_at=row[6],
        sender_profile_id=row[7],
        sender_name=row[8],
        is_sent_by_owner=bool(row[9]),
        has_attachment=bool(row[10]),
        reactions=tuple(Reaction(e, c, bool(o)) for e, c, o in json.loads(row[11])),
    )


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive int, got {limit!r}")
    return min(limit, MAX_PAGE)


SEARCH_LIMIT: Final = 100
"""Messages a search returns at most by default (the newest matches)."""

_SEARCH_COLUMNS: Final = ", ".join(f"m.{c.strip()}" for c in _MESSAGE_COLUMNS.split(","))
_SEARCH_SELECT: Final = (
    f"SELECT message_search.rowid, {_SEARCH_COLUMNS}"  # noqa: S608 - constant columns
    ", highlight(message_search, 0, ?1, ?2), highlight(message_search, 1, ?1, ?2)"
    " FROM message_search"
    " CROSS JOIN message_search_keys k ON k.key = message_search.rowid"
    " CROSS JOIN messages m ON m.id = k.message_rowid"
    " WHERE message_search MATCH ?3"
)
# The index is read newest first (its rowid is a key in time order) and stops after the limit.
_SEARCH_MESSAGES: Final = _SEARCH_SELECT + " ORDER BY message_search.rowid DESC LIMIT ?4"
_SEARCH_ACCOUNT_MESSAGES: Final = (
    _SEARCH_SELECT + " AND m.account_id = ?4 ORDER BY message_search.rowid DESC LIMIT ?5"
)
_HIGHLIGHT_ONE: Final = (
    "SELECT highlight(message_search, 0, ?1, ?2), highlight(message_search, 1, ?1, ?2)"
    " FROM message_search WHERE message_search MATCH ?3 AND rowid = ?4"
)


def _conversation_filter(
    account_id: str | None, unread_only: bool, starred_only: bool, text: str
) -> tuple[list[str], list[Any]] | None:
    """The list's filter as WHERE clauses over ``conversations`` and their parameters; None when the
    search can match nothing. The one definition :meth:`CacheReader.conversations_page` and
    :meth:`CacheReader.conversations_matching` share."""
    where: list[str] = []
    params: list[Any] = []
    if account_id is not None:
        where.append("account_id = ?")
        params.append(account_id)
    if unread_only:
        where.append("unread_count > 0")
    if starred_only:
        where.append("starred = 1")
    if text.strip():
        expression = search.match_expression(text)
        if expression is None:
            return None
        where.append("id IN (SELECT rowid FROM conversation_search WHERE conversation_search MATCH ?)")
        params.append(expression)
    return where, params


def _conversation_id(value: str) -> str:
    return urns.conversation_id(value)


class CacheReader:
    """Read access to one open cache; every method may be called from any thread."""

    def __init__(self, db: CacheDatabase) -> None:
        self._db = db

    def _conn(self) -> sqlite3.Connection:
        return self._db.connection()

    # --- accounts ---------------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        rows = self._conn().execute(
            "SELECT account_id, name, public_id, mailbox, status, enabled, api_seat FROM accounts"
            " ORDER BY name, account_id"
        )
        return [
            Account(r[0], r[1], r[2], r[3], r[4], bool(r[5]), None if r[6] is None else bool(r[6]))
            for r in rows
        ]

    def account_issues(self) -> list[AccountIssue]:
        """Accounts the last sync pass could not serve (ARCHITECTURE.md §6: accounts fail alone), by name."""
        rows = self._conn().execute(
            "SELECT a.account_id, a.name, s.last_error_kind, s.last_error, s.last_error_refused"
            " FROM accounts a JOIN account_sync s USING (account_id)"
            " WHERE s.last_error_kind != '' ORDER BY a.name, a.account_id"
        )
        return [AccountIssue(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts() if a.account_id == account_id), None)

    # --- conversations ----------------------------------------------------------------------------

    def conversations(
        self,
        account_id: str | None = None,
        *,
        limit: int = 50,
        after: Conversation | None = None,
        unread_only: bool = False,
    ) -> list[Conversation]:
        """A page, newest activity first (across all accounts when ``account_id`` is None).

        Keyset paging: pass the last conversation of the previous page as ``after``; the order is
        (last activity, conversation id, account id) descending, so pages stay stable while rows change.
        """
        where: list[str] = []
        params: list[Any] = []
        if account_id is not None:
            where.append("account_id = ?")
            params.append(account_id)
        if after is not None:
            where.append("(last_activity_at, conversation_id, account_id) < (?, ?, ?)")
            params += [after.last_activity_at, after.conversation_id, after.account_id]
        if unread_only:
            where.append("unread_count > 0")
        sql = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations"  # noqa: S608 - constant columns
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY last_activity_at DESC, conversation_id DESC, account_id DESC LIMIT ?"
        params.append(_limit(limit))
        return [_conversation(r) for r in self._conn().execute(sql, params)]

    def newest_activity(self, keys: Collection[tuple[str, str]]) -> int | None:
        """The latest ``last_activity_at`` among these (account id, conversation id); None if none exists.

        One indexed lookup per key in one statement: a list model asks it for a whole C1 page at once."""
        newest: int | None = None
        keys = list(keys)
        for start in range(0, len(keys), 400):
            chunk = keys[start : start + 400]
            values = ", ".join("(?, ?)" for _ in chunk)
            row = (
                self._conn()
                .execute(
                    "SELECT max(last_activity_at) FROM conversations"  # noqa: S608 - placeholders only
                    f" WHERE (account_id, conversation_id) IN (VALUES {values})",
                    [part for key in chunk for part in key],
                )
                .fetchone()
            )
            if row[0] is not None and (newest is None or row[0] > newest):
                newest = int(row[0])
        return newest

    def conversations_page(
        self,
        *,
        account_id: str | None,
        unread_only: bool,
        search: str,
        offset: int,
        limit: int,
        starred_only: bool = False,
    ) -> list[Conversation]:
        """The inbox list's page: newest activity first, ties by (account, conversation) ascending.

        ``search`` keeps the conversations whose participants' names or preview (the latest visible
        message's text) hold every word of it, the last one also as a prefix, case and diacritics
        folded (``conversation_search``, :func:`sync.cache.search.match_expression`); a search with no
        letter or digit matches nothing. :meth:`conversations_matching` applies the same filter to
        given conversations."""
        where = _conversation_filter(account_id, unread_only, starred_only, search)
        if where is None:
            return []
        sql = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations"  # noqa: S608 - constant columns
        if where[0]:
            sql += " WHERE " + " AND ".join(where[0])
        sql += " ORDER BY last_activity_at DESC, account_id ASC, conversation_id ASC LIMIT ? OFFSET ?"
        params = [*where[1], _limit(limit), max(0, int(offset))]
        return [_conversation(r) for r in self._conn().execute(sql, params)]

    def conversations_matching(
        self,
        keys: Collection[tuple[str, str]],
        *,
        account_id: str | None,
        unread_only: bool,
        search: str,
        starred_only: bool = False,
    ) -> set[tuple[str, str]]:
        """Which of these (account id, conversation id) :meth:`conversations_page` lists under the same
        filter: the list model places a changed conversation by this verdict, never by a rule of its
        own."""
        where = _conversation_filter(account_id, unread_only, starred_only, search)
        keys = list(keys)
        if where is None or not keys:
            return set()
        found: set[tuple[str, str]] = set()
        for start in range(0, len(keys), 400):
            chunk = keys[start : start + 400]
            values = ", ".join("(?, ?)" for _ in chunk)
            sql = (
                "SELECT account_id, conversation_id FROM conversations"  # noqa: S608 - placeholders and constant filters
                f" WHERE (account_id, conversation_id) IN (VALUES {values})"
            )
            sql += "".join(" AND " + clause for clause in where[0])
            params = [part for key in chunk for part in key] + where[1]
            found.update((r[0], r[1]) for r in self._conn().execute(sql, params))
        return found

    def unread_conversations(self, account_ids: Collection[str] | None, *, limit: int) -> list[Conversation]:
        """Conversations with unread messages, newest activity first: of ``account_ids`` (every account
        when None; none when empty)."""
        sql = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE unread_count > 0"  # noqa: S608 - constant columns
        params: list[Any] = []
        if account_ids is not None:
            ids = list(account_ids)
            if not ids:
                return []
            sql += f" AND account_id IN ({', '.join('?' for _ in ids)})"
            params += ids
        sql += " ORDER BY last_activity_at DESC, account_id ASC, conversation_id ASC LIMIT ?"
        params.append(_limit(limit))
        return [_conversation(r) for r in self._conn().execute(sql, params)]

    def conversation(self, account_id: str, conversation: str) -> Conversation | None:
        """One conversation by normalized id or any conversation URN."""
        row = (
            self._conn()
            .execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations"  # noqa: S608 - constant columns
                " WHERE account_id = ? AND conversation_id = ?",
                (account_id, _conversation_id(conversation)),
            )
            .fetchone()
        )
        return None if row is None else _conversation(row)

    # --- messages ---------------------------------------------------------------------------------

    def messages(
        self, account_id: str, conversation: str, *, limit: int = 50, before: Message | None = None
    ) -> list[Message]:
        """A page of a conversation's visible messages, newest first; ``before`` = the oldest of the
        previous page (keyset by (sent_at, message_id), stable while messages arrive or are recalled)."""
        params: list[Any] = [account_id, _conversation_id(conversation)]
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE account_id = ? AND conversation_id = ?"  # noqa: S608 - constant columns
        if before is not None:
            sql += " AND (sent_at, message_id) < (?, ?)"
            params += [before.sent_at, before.message_id]
        sql += " ORDER BY sent_at DESC, message_id DESC LIMIT ?"
        params.append(_limit(limit))
        return [_message(r) for r in self._conn().execute(sql, params)]

    def messages_before(
        self, account_id: str, conversation: str, *, before: tuple[int, str] | None, limit: int
    ) -> list[Message]:
        """Like :meth:`messages`, keyed by a ``(sent_at, message_id)`` position instead of a row."""
        params: list[Any] = [account_id, _conversation_id(conversation)]
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE account_id = ? AND conversation_id = ?"  # noqa: S608 - constant columns
        if before is not None:
            sql += " AND (sent_at, message_id) < (?, ?)"
            params += [before[0], before[1]]
        sql += " ORDER BY sent_at DESC, message_id DESC LIMIT ?"
        params.append(_limit(limit))
        return [_message(r) for r in self._conn().execute(sql, params)]

    def message(self, account_id: str, message: str) -> Message | None:
        """One visible message copy by normalized id or any message URN (None when absent or hidden)."""
        row = (
            self._conn()
            .execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE message_id = ? AND account_id = ?",  # noqa: S608 - constant columns
                (urns.message_id(message), account_id),
            )
            .fetchone()
        )
        return None if row is None else _message(row)

    def message_copies(self, message: str) -> list[Message]:
        """Every account's visible copy of one message."""
        rows = self._conn().execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE message_id = ? ORDER BY account_id",  # noqa: S608 - constant columns
            (urns.message_id(message),),
        )
        return [_message(r) for r in rows]

    def message_ids_sent_between(
        self, account_id: str, conversation: str, after: int, until: int | None = None
    ) -> list[str]:
        """Visible message ids with ``after < sent_at <= until`` (reconciliation: cached messages in the
        recall-window horizon that a complete server read must have returned)."""
        params: list[Any] = [account_id, _conversation_id(conversation), after]
        sql = "SELECT message_id FROM messages WHERE account_id = ? AND conversation_id = ? AND sent_at > ?"
        if until is not None:
            sql += " AND sent_at <= ?"
            params.append(until)
        sql += " ORDER BY sent_at DESC, message_id DESC"
        return [r[0] for r in self._conn().execute(sql, params)]

    def reconciliation_candidates(self, account_id: str | None = None) -> list[tuple[str, str, int | None]]:
        """(account, conversation, L) of every conversation holding a cached message with
        ``sent_at > L − 60 min`` (L = its ``last_reconciled_at``, or none yet)."""
        sql = (
            "SELECT c.account_id, c.conversation_id, s.last_reconciled_at FROM conversations c"
            " LEFT JOIN conversation_sync s"
            " ON s.account_id = c.account_id AND s.conversation_id = c.conversation_id"
            " WHERE EXISTS (SELECT 1 FROM messages m WHERE m.account_id = c.account_id"
            " AND m.conversation_id = c.conversation_id"
            " AND m.sent_at > coalesce(s.last_reconciled_at - ?, -1))"
        )
        params: list[Any] = [RECALL_WINDOW_MS]
        if account_id is not None:
            sql += " AND c.account_id = ?"
            params.append(account_id)
        return [(r[0], r[1], r[2]) for r in self._conn().execute(sql, params)]

    def is_tombstoned(self, message: str) -> bool:
        row = (
            self._conn()
            .execute("SELECT 1 FROM tombstones WHERE message_id = ?", (urns.message_id(message),))
            .fetchone()
        )
        return row is not None

    # --- search, counts, change detection -------------------------------------------------------------

    def search_messages(
        self, query: str, *, account_id: str | None = None, limit: int = SEARCH_LIMIT
    ) -> tuple[ConversationHits, ...]:
        """The newest ``limit`` visible messages whose text or sender's name holds every word of
        ``query`` (the last one also as a prefix from :data:`sync.cache.search.MESSAGE_PREFIX_MIN`
        letters on; case and diacritics folded), grouped by conversation: the conversation of the newest
        match first, each group's matches newest first, each with the spans to highlight. Tombstoned
        messages are never found (they leave the index with their row, in the same statement)."""
        expression = search.match_expression(query, prefix_min=search.MESSAGE_PREFIX_MIN)
        if expression is None:
            return ()
        conn = self._conn()
        markers = (search.HIGHLIGHT_OPEN, search.HIGHLIGHT_CLOSE)
        sql = _SEARCH_MESSAGES if account_id is None else _SEARCH_ACCOUNT_MESSAGES
        params: list[Any] = [*markers, expression]
        if account_id is not None:
            params.append(account_id)
        params.append(_limit(limit))
        groups: dict[tuple[str, str], list[MessageHit]] = {}
        # The index's keys are in seconds: the exact order is the messages' own.
        rows = sorted(conn.execute(sql, params).fetchall(), key=lambda r: (r[7], r[3]), reverse=True)
        for row in rows:
            message = _message(row[1:13])
            shown: tuple[str, str] = markers
            marked = (row[13], row[14])
            if any(marker in text for marker in markers for text in (message.text, message.sender_name)):
                shown = search.markers_for((message.text, message.sender_name))
                marked = conn.execute(_HIGHLIGHT_ONE, (*shown, expression, row[0])).fetchone() or ("", "")
            hit = MessageHit(
                message,
                search.highlight_spans(message.text, marked[0], shown),
                search.highlight_spans(message.sender_name, marked[1], shown),
            )
            groups.setdefault((message.account_id, message.conversation_id), []).append(hit)
        conversations = self._conversations_by_key(list(groups))
        return tuple(
            ConversationHits(conversations[key], tuple(hits))
            for key, hits in groups.items()
            if key in conversations
        )

    def _conversations_by_key(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Conversation]:
        found: dict[tuple[str, str], Conversation] = {}
        for start in range(0, len(keys), 400):
            chunk = keys[start : start + 400]
            values = ", ".join("(?, ?)" for _ in chunk)
            # The keys first (CROSS JOIN keeps that order): one lookup each in conversations_key.
            columns = ", ".join(f"c.{c.strip()}" for c in _CONVERSATION_COLUMNS.split(","))
            rows = self._conn().execute(
                f"SELECT {columns} FROM (VALUES {values}) k CROSS JOIN conversations c"  # noqa: S608 - constant columns, placeholders
                " ON c.account_id = k.column1 AND c.conversation_id = k.column2",
                [part for key in chunk for part in key],
            )
            for row in rows:
                conversation = _conversation(row)
                found[(conversation.account_id, conversation.conversation_id)] = conversation
        return found

    def counts(self, account_id: str | None = None) -> CacheCounts:
        conn = self._conn()
        where, params = ("", []) if account_id is None else (" WHERE account_id = ?", [account_id])

        def one(sql: str, args: list[Any]) -> int:
            value = conn.execute(sql, args).fetchone()[0]
            return int(value or 0)

        return CacheCounts(
            accounts=one(f"SELECT count(*) FROM accounts{where}", params),  # noqa: S608 - constant filter
            conversations=one(f"SELECT count(*) FROM conversations{where}", params),  # noqa: S608 - constant filter
            messages=one(f"SELECT count(*) FROM messages{where}", params),  # noqa: S608 - constant filter
            tombstones=one("SELECT count(*) FROM tombstones", []),
            unread_conversations=one(
                f"SELECT count(*) FROM conversations{where}{' AND' if where else ' WHERE'} unread_count > 0",  # noqa: S608 - constant filter
                params,
            ),
            unread_messages=one(f"SELECT sum(unread_count) FROM conversations{where}", params),  # noqa: S608 - constant filter
        )

    def commits_by_others(self, own_key: str, *more_own_keys: str) -> int:
        """Visible commits counted by every writer but ``own_key`` and ``more_own_keys`` (a process's
        sync workers: see ``sync.worker``; ``transaction.count_commit`` counts them)."""
        own = (own_key, *more_own_keys)
        marks = ", ".join("?" * len(own))
        row = (
            self._conn()
            .execute(
                "SELECT coalesce(sum(CAST(value AS INTEGER)), 0) FROM meta"  # noqa: S608 - placeholders only
                f" WHERE key >= ? AND key < ? AND key NOT IN ({marks})",
                (COMMITS_PREFIX, COMMITS_PREFIX[:-1] + ";", *own),
            )
            .fetchone()
        )
        return int(row[0])

    def data_version(self) -> int:
        """``PRAGMA data_version`` of this thread's connection: it changes when any *other* connection
        (another process, or this process's writer thread) commits. Poll it to notice foreign writes."""
        row = self._conn().execute("PRAGMA data_version").fetchone()
        return int(row[0])

    # --- sync state, event stream, recall log ---------------------------------------------------------

    def last_applied_seq(self) -> int | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = 'last_applied_seq'").fetchone()
        return None if row is None else int(row[0])

    def conversation_sync(self, account_id: str, conversation: str) -> ConversationSyncState | None:
        row = (
            self._conn()
            .execute(
                "SELECT oldest_synced_at, newest_synced_at, older_cursor, reached_oldest, last_reconciled_at"
                " FROM conversation_sync WHERE account_id = ? AND conversation_id = ?",
                (account_id, _conversation_id(conversation)),
            )
            .fetchone()
        )
        if row is None:
            return None
        return ConversationSyncState(
            account_id=account_id,
            conversation_id=_conversation_id(conversation),
            oldest_synced_at=row[0],
            newest_synced_at=row[1],
            older_cursor=row[2],
            reached_oldest=bool(row[3]),
            last_reconciled_at=row[4],
        )

    def messages_behind(self, account_id: str, conversation: str) -> int | None:
        """The activity time C1 reported that C2 has not read up to yet (schema V2), or None."""
        row = (
            self._conn()
            .execute(
                "SELECT messages_behind_at FROM conversation_sync"
                " WHERE account_id = ? AND conversation_id = ?",
                (account_id, _conversation_id(conversation)),
            )
            .fetchone()
        )
        return None if row is None else row[0]

    def conversations_behind(self, account_id: str) -> list[Conversation]:
        """Conversations whose new activity C2 has not read yet, newest activity first."""
        sql = (
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c WHERE account_id = ? AND EXISTS ("  # noqa: S608 - constant columns
            "SELECT 1 FROM conversation_sync s WHERE s.account_id = c.account_id"
            " AND s.conversation_id = c.conversation_id AND s.messages_behind_at IS NOT NULL)"
            " ORDER BY last_activity_at DESC, conversation_id DESC"
        )
        return [_conversation(r) for r in self._conn().execute(sql, (account_id,))]

    def account_sync(self, account_id: str) -> AccountSyncState | None:
        r = (
            self._conn()
            .execute(
                "SELECT last_sync_at, conversations_cursor, initial_sync_completed, last_error,"
                " last_error_kind, last_error_refused FROM account_sync WHERE account_id = ?",
                (account_id,),
            )
            .fetchone()
        )
        if r is None:
            return None
        return AccountSyncState(
            account_id=account_id,
            last_sync_at=r[0],
            conversations_cursor=r[1],
            initial_sync_completed=bool(r[2]),
            last_error=r[3],
            last_error_kind=r[4],
            last_error_refused=bool(r[5]),
        )

    def open_recalls(self) -> int:
        """How many recall attempts are not final (pending or unconfirmed)."""
        row = (
            self._conn()
            .execute("SELECT count(*) FROM recall_log WHERE outcome IN ('pending', 'unconfirmed')")
            .fetchone()
        )
        return int(row[0])

    def recall_log(self, *, limit: int = 100, account_id: str | None = None) -> list[RecallAttempt]:
        """Recall attempts, newest first."""
        params: list[Any] = []
        sql = f"SELECT {RECALL_COLUMNS} FROM recall_log"  # noqa: S608 - constant columns
        if account_id is not None:
            sql += " WHERE account_id = ?"
            params.append(account_id)
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        params.append(_limit(limit))
        return [recall_attempt(r) for r in self._conn().execute(sql, params)]
