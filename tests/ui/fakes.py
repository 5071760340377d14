"""A list-backed ``InboxReader`` for widget tests: honours the ordering contracts and counts its reads.

It answers as the real reader over the cache does (``desktop.reader``: SQL on ``sync/cache``), checked by
``test_reader_contract.py``, which runs the same assertions against both. It shares no code with the UI
it serves: a fake that asked the list model's own ``ConversationFilter`` whether a row matches could
never disagree with the model, so the model's disagreements with the cache went unseen.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections import Counter
from collections.abc import Collection, Sequence

from sync.model import (
    Account,
    AccountIssue,
    ChangeSet,
    Conversation,
    ConversationHits,
    LatestMessage,
    Message,
    MessageHit,
    Participant,
    Reaction,
    RecallAttempt,
    RecallState,
    RowKey,
    Span,
)

NOW_MS = 1_780_000_000_000
"""A fixed "server now" (2026-05-28): tests move it with ``reader.now_ms``."""
MINUTE = 60_000
OWNER = "me"
MAX_PAGE = 500
"""The cache's largest page (``sync.cache.reads.MAX_PAGE``)."""

SEARCH_LIMIT = 100
"""The cache's default number of messages a search returns (``sync.cache.reads.SEARCH_LIMIT``)."""
MESSAGE_PREFIX_MIN = 3
"""From how many letters the last word of a message search is a prefix (``sync.cache.search``)."""

Token = tuple[str, int, int]
"""A word as the cache's FTS5 tokenizer makes it: (folded text, start, end) in the original string."""


def fold(text: str) -> str:
    """The cache's folding rule (FTS5 ``unicode61 remove_diacritics 2``): case and diacritics folded, so
    "Émile", "emile" and "ÉMILE" are one word."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def tokens(text: str) -> list[Token]:
    """The words of ``text``: runs of letters and digits, everything else separates them."""
    out: list[Token] = []
    start: int | None = None
    for i, ch in enumerate(text + " "):
        if ch.isalnum() and i < len(text):
            if start is None:
                start = i
        elif start is not None:
            out.append((fold(text[start:i]), start, i))
            start = None
    return out


def query_phrases(text: str, prefix_min: int) -> list[tuple[list[str], bool]] | None:
    """What the cache's ``match_expression`` asks: each typed word as a phrase of folded words, the last
    one a prefix when its last word has ``prefix_min`` letters or more; None when nothing can match."""
    words = [[t[0] for t in tokens(word)] for word in text.split()]
    phrases = [w for w in words if w]
    if not phrases:
        return None
    last = phrases[-1][-1]
    return [(p, i == len(phrases) - 1 and len(last) >= prefix_min) for i, p in enumerate(phrases)]


def phrase_spans(column: Sequence[Token], phrase: list[str], prefix: bool) -> list[Span]:
    """Where a phrase occurs in a column's words (its last word as a prefix when ``prefix``)."""
    spans: list[Span] = []
    for i in range(len(column) - len(phrase) + 1):
        window = column[i : i + len(phrase)]
        head_ok = all(w[0] == p for w, p in zip(window[:-1], phrase[:-1], strict=True))
        last_ok = window[-1][0].startswith(phrase[-1]) if prefix else window[-1][0] == phrase[-1]
        if head_ok and last_ok:
            spans.append((window[0][1], window[-1][2]))
    return spans


def matches(columns: Sequence[str], phrases: list[tuple[list[str], bool]]) -> bool:
    """Every phrase occurs in one column or another (FTS5's implicit AND across columns)."""
    words = [tokens(column) for column in columns]
    return all(any(phrase_spans(w, p, prefix) for w in words) for p, prefix in phrases)


def highlight(text: str, phrases: list[tuple[list[str], bool]]) -> tuple[Span, ...]:
    """The spans FTS5's ``highlight()`` marks in ``text``, merged where they touch."""
    words = tokens(text)
    found = sorted(span for p, prefix in phrases for span in phrase_spans(words, p, prefix))
    merged: list[Span] = []
    for start, end in found:
        if merged and merged[-1][1] >= start:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def checked_limit(limit: int) -> int:
    """The cache refuses a page of no rows and caps a page at ``MAX_PAGE``."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive int, got {limit!r}")
    return min(limit, MAX_PAGE)


class FakeInboxReader:
    """Conversations, messages and the recall log in plain lists; ``hide()`` plays the cache writer."""

    def __init__(self) -> None:
        self.now_ms = NOW_MS
        self._accounts: list[Account] = []
        self._conversations: dict[tuple[str, str], Conversation] = {}
        self._messages: dict[tuple[str, str], Message] = {}
        self._hidden: set[str] = set()
        self._log: list[RecallAttempt] = []
        self.issues: list[AccountIssue] = []
        """What ``account_issues()`` answers (the cache's stored per-account problems)."""
        self.calls: Counter[str] = Counter()
        self.rows_read = 0

    # -- building data -----------------------------------------------------------------------------------

    def add_account(self, account: Account) -> None:
        self._accounts.append(account)

    def put_conversation(self, conversation: Conversation) -> None:
        self._conversations[(conversation.account_id, conversation.conversation_id)] = conversation

    def put_message(self, message: Message) -> None:
        self._messages[(message.account_id, message.message_id)] = message

    def hide(self, message: Message) -> ChangeSet:
        """Tombstone a message like the cache writer does, and return the change set it would."""
        self._hidden.add(message.message_id)
        key = RowKey(message.account_id, message.conversation_id, message.message_id)
        return ChangeSet(messages_hidden=frozenset({key}), tombstones_added=frozenset({message.message_id}))

    def add_recall_attempt(self, attempt: RecallAttempt) -> None:
        self._log.append(attempt)

    # -- InboxReader -------------------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        self.calls["accounts"] += 1
        return list(self._accounts)

    def account_issues(self) -> list[AccountIssue]:
        self.calls["account_issues"] += 1
        return list(self.issues)

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
        self.calls["conversations_page"] += 1
        limit = checked_limit(limit)
        rows = sorted(
            (
                c
                for c in self._conversations.values()
                if self._listed(c, account_id, unread_only, starred_only, search)
            ),
            # ORDER BY last_activity_at DESC, account_id, conversation_id
            key=lambda c: (-c.last_activity_at, c.account_id, c.conversation_id),
        )
        start = max(0, offset)
        page = rows[start : start + limit]
        self.rows_read += len(page)
        return page

    def conversations_matching(
        self,
        keys: Collection[tuple[str, str]],
        *,
        account_id: str | None,
        unread_only: bool,
        search: str,
        starred_only: bool = False,
    ) -> set[tuple[str, str]]:
        self.calls["conversations_matching"] += 1
        return {
            key
            for key in keys
            if (c := self._conversations.get(key)) is not None
            and self._listed(c, account_id, unread_only, starred_only, search)
        }

    @staticmethod
    def _listed(
        c: Conversation, account_id: str | None, unread_only: bool, starred_only: bool, search: str
    ) -> bool:
        """The cache's filter: the account, unread, starred, and every word of ``search`` in the
        participants' names or the preview, folded (``sync.cache.reads._conversation_filter``)."""
        if account_id is not None and c.account_id != account_id:
            return False
        if (unread_only and c.unread_count <= 0) or (starred_only and not c.starred):
            return False
        if not search.strip():
            return True
        phrases = query_phrases(search, prefix_min=1)
        names = " ".join(p.name for p in c.participants)
        preview = c.latest.text if c.latest is not None else ""
        return phrases is not None and matches([names, preview], phrases)

    def search_messages(
        self, query: str, *, account_id: str | None = None, limit: int = SEARCH_LIMIT
    ) -> tuple[ConversationHits, ...]:
        """The cache's message search: visible messages holding every word in their text or sender's
        name, the newest ``limit``, grouped by conversation (the newest match's first)."""
        self.calls["search_messages"] += 1
        limit = checked_limit(limit)
        phrases = query_phrases(query, prefix_min=MESSAGE_PREFIX_MIN)
        if phrases is None:
            return ()
        found = sorted(
            (
                m
                for m in self._messages.values()
                if m.message_id not in self._hidden
                and (account_id is None or m.account_id == account_id)
                and matches([m.text, m.sender_name], phrases)
            ),
            key=lambda m: (m.sent_at, m.message_id),
            reverse=True,
        )[:limit]
        groups: dict[tuple[str, str], list[MessageHit]] = {}
        for m in found:
            hit = MessageHit(m, highlight(m.text, phrases), highlight(m.sender_name, phrases))
            groups.setdefault((m.account_id, m.conversation_id), []).append(hit)
        return tuple(
            ConversationHits(self._conversations[key], tuple(hits))
            for key, hits in groups.items()
            if key in self._conversations
        )

    def conversation(self, account_id: str, conversation_id: str) -> Conversation | None:
        self.calls["conversation"] += 1
        return self._conversations.get((account_id, conversation_id))

    def newest_activity(self, keys: Collection[tuple[str, str]]) -> int | None:
        self.calls["newest_activity"] += 1
        found = [c.last_activity_at for key in keys if (c := self._conversations.get(key)) is not None]
        return max(found, default=None)

    def messages_page(
        self, account_id: str, conversation_id: str, *, before: tuple[int, str] | None, limit: int
    ) -> list[Message]:
        self.calls["messages_page"] += 1
        limit = checked_limit(limit)
        rows = [
            m
            for m in self._messages.values()
            if m.account_id == account_id
            and m.conversation_id == conversation_id
            and m.message_id not in self._hidden
            and (before is None or (m.sent_at, m.message_id) < before)
        ]
        rows.sort(key=lambda m: (m.sent_at, m.message_id), reverse=True)
        return rows[:limit]

    def message(self, account_id: str, message_id: str) -> Message | None:
        self.calls["message"] += 1
        if message_id in self._hidden:
            return None
        return self._messages.get((account_id, message_id))

    def recall_log(self, limit: int) -> list[RecallAttempt]:
        self.calls["recall_log"] += 1
        # ORDER BY started_at DESC, id DESC: of two attempts started in the same millisecond, the later first
        ordered = sorted(self._log, key=lambda a: (a.started_at, a.attempt_id), reverse=True)
        return ordered[: checked_limit(limit)]

    def server_now_ms(self) -> int:
        return self.now_ms


def make_conversation(
    n: int,
    *,
    account_id: str = "acc-1",
    activity: int | None = None,
    unread: int = 0,
    name: str | None = None,
    headline: str = "Engineer",
    text: str = "hello",
    starred: bool = False,
) -> Conversation:
    when = NOW_MS - n * MINUTE if activity is None else activity
    person = Participant(profile_id=f"p{n}", name=name or f"Person {n}", headline=headline)
    return Conversation(
        account_id=account_id,
        conversation_id=f"c{n}",
        conversation_urn=f"urn:li:msg_conversation:(urn:li:fsd_profile:{account_id},c{n})",
        last_activity_at=when,
        unread_count=unread,
        starred=starred,
        participants=(person,),
        latest=LatestMessage(message_urn=f"urn:li:msg_message:m{n}", text=text, sent_at=when),
    )


def make_message(
    n: int,
    *,
    conversation: str = "c1",
    account_id: str = "acc-1",
    own: bool = False,
    sent_at: int | None = None,
    text: str | None = None,
    reactions: tuple[Reaction, ...] = (),
) -> Message:
    return Message(
        account_id=account_id,
        conversation_id=conversation,
        message_id=f"m{n}",
        message_urn=f"urn:li:msg_message:(urn:li:fsd_profile:{account_id},m{n})",
        conversation_urn=f"urn:li:msg_conversation:(urn:li:fsd_profile:{account_id},{conversation})",
        text=f"message {n}" if text is None else text,
        sent_at=NOW_MS - (1000 - n) * MINUTE if sent_at is None else sent_at,
        sender_profile_id=OWNER if own else "p1",
        sender_name="Me Myself" if own else "Person 1",
        is_sent_by_owner=own,
        reactions=reactions,
    )


def reader_with(conversations: int = 0, messages: int = 0) -> FakeInboxReader:
    """``conversations`` conversations c0..; ``messages`` messages m0.. in c1 (m0 oldest)."""
    reader = FakeInboxReader()
    reader.add_account(Account("acc-1", "Ada Lovelace"))
    for n in range(conversations):
        reader.put_conversation(make_conversation(n))
    for n in range(messages):
        reader.put_message(make_message(n))
    return reader


def demo_reader(now_ms: int = NOW_MS) -> FakeInboxReader:
    """A small, plausible inbox for the preview screenshot, with times relative to ``now_ms``."""
    reader = FakeInboxReader()
    reader.now_ms = now_ms
    reader.add_account(Account("acc-1", "Ada Lovelace"))
    reader.add_account(Account("acc-2", "Recruiting desk"))
    people = [
        ("Grace Hopper", "Rear Admiral · Compiler pioneer", "Sounds good — see you Thursday!", 3),
        ("Alan Turing", "Mathematician at Bletchley Park", "I've attached the draft of the paper.", 0),
        ("Katherine Johnson", "Research Mathematician, NASA Langley", "The trajectory numbers check out.", 1),
        ("Linus Torvalds", "Fellow at the Linux Foundation", "<b>bold</b> claims need patches", 0),
        ("Margaret Hamilton", "Director, Software Engineering Division, MIT", "Thanks for the intro!", 0),
        ("Tim Berners-Lee", "Professor, University of Oxford", "Happy to chat about the web.", 0),
        ("Barbara Liskov", "Institute Professor, MIT", "Substitutability is the key point.", 2),
        ("Dennis Ritchie", "Bell Labs", "Let's keep it simple.", 0),
    ]
    for i, (name, headline, text, unread) in enumerate(people):
        reader.put_conversation(
            dataclasses.replace(
                make_conversation(i, name=name, headline=headline, text=text, unread=unread, starred=i == 2),
                last_activity_at=now_ms - i * 37 * MINUTE,
            )
        )
    thread = [
        (False, 95, "Hi Ada! I saw your notes on the Analytical Engine — fascinating work."),
        (True, 90, "Thank you, Grace. I'd love to hear how you approached the first compiler."),
        (False, 80, "Happy to. Are you free for a call this week?"),
        (True, 41, "Thursday at 10 works for me. I'll send an invite."),
        (True, 23, "Also: <b>here</b> is the agenda <script>alert(1)</script> — plain text, as typed."),
        (False, 2, "Sounds good — see you Thursday!"),
    ]
    for n, (own, minutes_ago, text) in enumerate(thread):
        reactions = (Reaction("👍", 2),) if n == 3 else ()
        reader.put_message(
            dataclasses.replace(
                make_message(n, conversation="c0", own=own, text=text, reactions=reactions),
                sent_at=now_ms - minutes_ago * MINUTE,
                sender_name="Ada Lovelace" if own else "Grace Hopper",
            )
        )
    outcomes = [
        (RecallState.RECALLED, 312, "", ""),
        (RecallState.UNCONFIRMED, 95, "server_error", "Recall not confirmed — checking…"),
        (RecallState.REFUSED, 120, "recall_window_expired", "The recall window has closed"),
        (RecallState.CANCELLED, None, "", ""),
    ]
    for n, (outcome, latency, kind, error) in enumerate(outcomes):
        reader.add_recall_attempt(
            RecallAttempt(
                attempt_id=n,
                account_id="acc-1",
                conversation_urn="urn:li:msg_conversation:c0",
                message_urn=f"urn:li:msg_message:m{n}",
                message_id=f"2-MTY{n}ODk0NjA",
                started_at=now_ms - (n + 1) * 7 * MINUTE,
                outcome=outcome,
                latency_ms=latency,
                error_kind=kind,
                error_message=error,
                conversation_title="Grace Hopper",
                message_preview=thread[4 - n][2],
            )
        )
    return reader
