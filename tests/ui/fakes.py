"""A list-backed ``InboxReader`` for widget tests: honours the ordering contracts and counts its reads.

It answers as the real reader over the cache does (``desktop.reader``: SQL on ``sync/cache``), checked by
``test_reader_contract.py``, which runs the same assertions against both. It shares no code with the UI
it serves: a fake that asked the list model's own ``ConversationFilter`` whether a row matches could
never disagree with the model, so the model's disagreements with the cache went unseen.
"""

from __future__ import annotations

import dataclasses
import string
from collections import Counter
from collections.abc import Collection

from sync.model import (
    Account,
    AccountIssue,
    ChangeSet,
    Conversation,
    LatestMessage,
    Message,
    Participant,
    Reaction,
    RecallAttempt,
    RecallState,
    RowKey,
)

NOW_MS = 1_780_000_000_000
"""A fixed "server now" (2026-05-28): tests move it with ``reader.now_ms``."""
MINUTE = 60_000
OWNER = "me"
MAX_PAGE = 500
"""The cache's largest page (``sync.cache.reads.MAX_PAGE``)."""

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def like_fold(text: str) -> str:
    """Case folding as SQLite's ``LIKE`` does it: ASCII letters only ("É" and "é" stay apart)."""
    return text.translate(_ASCII_LOWER)


def like_contains(haystack: str, needle: str) -> bool:
    """``haystack LIKE '%needle%'`` with ``%`` and ``_`` escaped, as the cache searches."""
    return like_fold(needle) in like_fold(haystack)


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
        needle = search.strip()
        rows = sorted(
            (
                c
                for c in self._conversations.values()
                if (account_id is None or c.account_id == account_id)
                and (not unread_only or c.unread_count > 0)
                and (not starred_only or c.starred)
                and (
                    not needle
                    or self._shows(c, needle)
                    or self._mentions(c.account_id, c.conversation_id, needle)
                )
            ),
            # ORDER BY last_activity_at DESC, account_id, conversation_id
            key=lambda c: (-c.last_activity_at, c.account_id, c.conversation_id),
        )
        start = max(0, offset)
        page = rows[start : start + limit]
        self.rows_read += len(page)
        return page

    @staticmethod
    def _shows(conversation: Conversation, needle: str) -> bool:
        """The conversation row's own text: a participant's name or headline, the latest message."""
        haystacks = [p.name for p in conversation.participants] + [
            p.headline for p in conversation.participants
        ]
        if conversation.latest is not None:
            haystacks.append(conversation.latest.text)
        return any(like_contains(h, needle) for h in haystacks)

    def conversation_mentions(self, account_id: str, conversation_id: str, text: str) -> bool:
        self.calls["conversation_mentions"] += 1
        return self._mentions(account_id, conversation_id, text)

    def _mentions(self, account_id: str, conversation_id: str, text: str) -> bool:
        needle = text.strip()
        return bool(needle) and any(
            m.account_id == account_id
            and m.conversation_id == conversation_id
            and m.message_id not in self._hidden
            and like_contains(m.text, needle)
            for m in self._messages.values()
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
