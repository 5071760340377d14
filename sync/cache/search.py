"""Search: the FTS5 query built from what a person typed, the message index kept in step, highlight spans.

The indexes are schema V4's (``sync.cache.schema``): ``message_search`` over the messages' text and
sender name, ``conversation_search`` over each conversation's participants' names and preview, both with
one folding rule (``unicode61 remove_diacritics 2``: case and diacritics folded, so "emile", "Émile" and
"ÉMILE" are one word). The reads are :meth:`sync.cache.reads.CacheReader.search_messages` (messages,
grouped by conversation) and the conversation filter of ``conversations_page`` / ``conversations_matching``.

**Keeping the message index in step.** Everything happens in the writer's transactions:

- a message deleted (a tombstone's ``DELETE``, a cascade) leaves the index in the same statement (the
  schema's trigger), so a recalled message is never findable, by any connection, at any moment;
- a message whose text, sender name or time changed leaves the index in the same statement and is
  queued in ``message_search_pending``;
- new messages and the queued ones enter the index at the end of the transaction that wrote them,
  before its ``COMMIT`` (:func:`index_new_messages`, called by ``sync.cache.transaction``). One
  statement per transaction, in key order: FTS5 flushes its pending terms whenever a rowid is not above
  the previous one, so rows indexed one by one (a trigger per row) cost twice the whole ingest.

New messages are the ones above the highest message rowid indexed: SQLite gives a new row ``max(rowid)
+ 1``, and every row at or below it is indexed or queued. Rows an ingest leaves unchanged (its upsert
only writes rows whose fields differ) are not touched.

**Search keys.** The index's rowid is ``(seconds << 4) | (message rowid & 15)`` (``seconds`` =
``sent_at // 1000``), unique: a taken key (two messages of one second) gives way to the next free one of
that second, or past every key when the second is full. Reading the index by descending rowid reads the
newest matches first, so a search stops after ``limit`` of them whatever the word.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Final

from sync.cache.schema import V4_MAX_SECONDS, V4_TIE_BITS
from sync.model import Span

__all__ = [
    "HIGHLIGHT_CLOSE",
    "HIGHLIGHT_OPEN",
    "MESSAGE_PREFIX_MIN",
    "highlight_spans",
    "index_new_messages",
    "markers_for",
    "match_expression",
    "terms",
]

TIE_BITS: Final = V4_TIE_BITS
TIE_MASK: Final = (1 << TIE_BITS) - 1

MESSAGE_PREFIX_MIN: Final = 3
"""The last word of a message search matches as a prefix from this many letters on; shorter, as a whole
word. FTS5 reads a prefix by merging the lists of every word that starts with it: "t*" is most of the
index, "tha*" a few words (about 10 ms over 1,000,000 messages)."""

HIGHLIGHT_OPEN: Final = "\ue000"
HIGHLIGHT_CLOSE: Final = "\ue001"
"""``highlight()``'s markers: private-use characters, replaced by others for a text that holds them."""


def _token_runs(term: str) -> list[str]:
    """The runs of letters and digits in ``term``: what the unicode61 tokenizer makes words of."""
    runs: list[str] = []
    current: list[str] = []
    for ch in term:
        if ch.isalnum():
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def terms(text: str) -> list[str]:
    """The words of a search as typed (split at white space), without those that hold no letter or digit
    (punctuation alone would be an empty phrase, which matches nothing)."""
    return [term for term in text.split() if _token_runs(term)]


def match_expression(text: str, *, prefix_min: int = 1) -> str | None:
    """An FTS5 query for ``text``: every word must match (in any column), each quoted so that nothing in
    it is FTS syntax (``"``, ``*``, ``NEAR``, ``-``, ``:``, ``^``, ``AND``… are literal), the last one also
    as a prefix (the person is still typing it) when its last run of letters has ``prefix_min`` or more.
    None when nothing in ``text`` can match (no letter or digit)."""
    words = terms(text)
    if not words:
        return None
    quoted = ['"' + word.replace('"', '""') + '"' for word in words]
    if len(_token_runs(words[-1])[-1]) >= prefix_min:
        quoted[-1] += "*"
    return " ".join(quoted)


# --- keeping the index in step ------------------------------------------------------------------------

_TOP: Final = "SELECT coalesce(max(message_rowid), 0) FROM message_search_keys"
_KEY: Final = f"(min(max(m.sent_at, 0) / 1000, {V4_MAX_SECONDS}) << {TIE_BITS}) | (m.id & {TIE_MASK})"
_KEY_NEW: Final = (
    f"INSERT OR IGNORE INTO message_search_keys (key, message_rowid) SELECT {_KEY}, m.id"  # noqa: S608 - constant SQL
    " FROM messages m WHERE m.id > ?"
)
_KEY_PENDING: Final = (
    f"INSERT OR IGNORE INTO message_search_keys (key, message_rowid) SELECT {_KEY}, m.id"  # noqa: S608 - constant SQL
    " FROM message_search_pending p CROSS JOIN messages m ON m.id = p.message_rowid WHERE m.id <= ?"
)
_UNKEYED: Final = (
    "SELECT m.id, m.sent_at FROM messages m WHERE m.id > ?1"
    " AND NOT EXISTS (SELECT 1 FROM message_search_keys k WHERE k.message_rowid = m.id)"
    " UNION ALL SELECT m.id, m.sent_at FROM message_search_pending p CROSS JOIN messages m"
    " ON m.id = p.message_rowid WHERE m.id <= ?1"
    " AND NOT EXISTS (SELECT 1 FROM message_search_keys k WHERE k.message_rowid = m.id)"
)
_INDEX: Final = (
    "INSERT INTO message_search (rowid, text, sender_name)"
    " SELECT k.key, m.text, m.sender_name FROM messages m CROSS JOIN message_search_keys k"
    " ON k.message_rowid = m.id WHERE m.id > ?1"
    " UNION ALL SELECT k.key, m.text, m.sender_name FROM message_search_pending p"
    " CROSS JOIN messages m ON m.id = p.message_rowid CROSS JOIN message_search_keys k"
    " ON k.message_rowid = m.id WHERE m.id <= ?1"
    " ORDER BY 1"
)


def _free_key(conn: sqlite3.Connection, rowid: int, sent_at: int) -> int:
    """A free key for a message whose own key is taken: the next free one of its second (keys are
    given out upwards, so that is one past the highest), else one past every key."""
    start = min(max(sent_at, 0) // 1000, V4_MAX_SECONDS) << TIE_BITS
    own = start | (rowid & TIE_MASK)
    if conn.execute("SELECT 1 FROM message_search_keys WHERE key = ?", (own,)).fetchone() is None:
        return own
    highest = conn.execute(
        "SELECT max(key) FROM message_search_keys WHERE key >= ? AND key < ?", (start, start + TIE_MASK + 1)
    ).fetchone()[0]
    if highest < start + TIE_MASK:
        return int(highest) + 1
    return int(conn.execute("SELECT max(key) FROM message_search_keys").fetchone()[0]) + 1


def index_new_messages(conn: sqlite3.Connection) -> int:
    """Index the messages written since the last call (new rows, and rows whose indexed fields changed),
    inside the caller's open write transaction; returns how many. Cheap when there are none: three indexed
    lookups."""
    top = conn.execute(_TOP).fetchone()[0]
    new = conn.execute("SELECT count(*) FROM messages WHERE id > ?", (top,)).fetchone()[0]
    pending = conn.execute(
        "SELECT count(*) FROM message_search_pending WHERE message_rowid <= ?", (top,)
    ).fetchone()[0]
    if not new and not pending:
        return 0
    keyed = conn.execute(_KEY_NEW, (top,)).rowcount if new else 0
    keyed += conn.execute(_KEY_PENDING, (top,)).rowcount if pending else 0
    if keyed < new + pending:
        # Keys another message had (same second, same low bits): the next free ones.
        for rowid, sent_at in conn.execute(_UNKEYED, (top,)).fetchall():
            conn.execute(
                "INSERT INTO message_search_keys (key, message_rowid) VALUES (?, ?)",
                (_free_key(conn, rowid, sent_at), rowid),
            )
    count = conn.execute(_INDEX, (top,)).rowcount
    conn.execute("DELETE FROM message_search_pending")
    return int(count)


# --- highlight spans ------------------------------------------------------------------------------------


def markers_for(texts: Iterable[str]) -> tuple[str, str]:
    """Two private-use characters that occur in none of ``texts`` (the usual pair almost always)."""
    used = set().union(*(set(t) for t in texts))
    free = (chr(c) for c in range(0xE000, 0xF900) if chr(c) not in used)
    return next(free), next(free)


def highlight_spans(original: str, marked: str | None, markers: tuple[str, str]) -> tuple[Span, ...]:
    """The ``(start, end)`` character offsets ``highlight()`` marked in ``marked`` (``original`` with the
    markers put in), merged where they touch. () when the marked text does not spell ``original``."""
    if not marked:
        return ()
    opening, closing = markers
    pieces = marked.split(opening)
    plain = [pieces[0]]
    spans: list[Span] = []
    position = len(pieces[0])
    for piece in pieces[1:]:
        match, found, rest = piece.partition(closing)
        if not found or closing in rest:
            return ()
        if match:
            if spans and spans[-1][1] == position:
                spans[-1] = (spans[-1][0], position + len(match))
            else:
                spans.append((position, position + len(match)))
        plain += (match, rest)
        position += len(match) + len(rest)
    if "".join(plain) != original:
        return ()
    return tuple(spans)
