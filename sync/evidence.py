"""The evidence rule of spec §9: what a re-read of a conversation proves about a message, and what not.

A message is **gone** from the server only on evidence: a read of *the conversation it belongs to*,
newest page first, down past the message's ``sentAt``, in which every page decoded with no skipped item,
no page failed, no cursor repeated — and the message is absent. A message the read returned is
**present**. Anything else proves nothing (**unknown**): a failed or cut-short read, a page with a
malformed item (the message may be that item), a read that stopped before reaching the message's time,
or a message that does not belong to the conversation read.

Three callers use this one rule (ARCHITECTURE.md "The evidence rule"): the recall service after an
answer was lost, the recall log's settling of unconfirmed attempts, and reconciliation (which judges
every cached message of the recall-window horizon at once; ARCHITECTURE.md §6).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from sync.api import ApiClient
from sync.errors import KnownError
from sync.model import Message
from sync.urns import UrnError, parse_conversation

log = logging.getLogger(__name__)

PAGE_MESSAGES = 50
MAX_PAGES = 200
"""A re-read never takes more than this many pages (10,000 messages): past it the read is cut short."""


class Verdict(enum.StrEnum):
    GONE = "gone"
    PRESENT = "present"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CoveringRead:
    """Pages of one conversation, read newest first, down to a time (or to its oldest message)."""

    account_id: str
    conversation_id: str
    returned: frozenset[str]
    """Normalized ids of every message the pages listed (well-formed items only)."""
    messages: tuple[Message, ...] = ()
    """What the pages listed, newest first (the caller may store them)."""
    covered_above: int | None = None
    """Every message sent *after* this time (epoch ms) was listed, if it still exists; None when the
    read reached the conversation's oldest message (everything is covered)."""
    clean: bool = True
    """No page skipped a malformed item and the read was not cut short (a repeated cursor, too many
    pages). A read that is not clean proves nothing about absent messages."""
    problem: str = ""
    """Why the read is not clean (for the log)."""
    pages: int = 0
    newest_returned: int | None = None
    skipped: int = 0

    def covers(self, sent_at: int) -> bool:
        return self.covered_above is None or sent_at > self.covered_above

    def verdict(self, message_id: str, sent_at: int) -> Verdict:
        """What this read proves about one message of this conversation sent at ``sent_at``."""
        if message_id in self.returned:
            return Verdict.PRESENT
        if not self.clean or not self.covers(sent_at):
            return Verdict.UNKNOWN
        return Verdict.GONE


@dataclass(slots=True)
class _Pages:
    messages: list[Message] = field(default_factory=list)
    returned: set[str] = field(default_factory=set)
    skipped: int = 0
    pages: int = 0


async def read_down_to(
    api: ApiClient,
    account_id: str,
    conversation_urn: str,
    down_to_ms: int,
    *,
    page_size: int = PAGE_MESSAGES,
    max_pages: int = MAX_PAGES,
) -> CoveringRead:
    """Read ``conversation_urn`` newest first until a page reaches ``down_to_ms`` (or the oldest message).

    Raises the API's :class:`sync.errors.KnownError` when a page fails: a failed read proves nothing and
    the caller decides what that means (the recall stays unconfirmed; reconciliation skips it).
    """
    conversation_id = parse_conversation(conversation_urn).token
    seen_cursors: set[str] = set()
    got = _Pages()
    cursor: str | None = None
    covered_above: int | None = None
    problem = ""
    while True:
        page = await api.messages(account_id, conversation_urn, count=page_size, cursor=cursor)
        got.pages += 1
        got.skipped += page.skipped
        new_ids = {m.message_id for m in page.messages} - got.returned
        got.returned.update(new_ids)
        got.messages.extend(m for m in page.messages if m.message_id in new_ids)
        oldest = min((m.sent_at for m in page.messages), default=None)
        if oldest is not None:
            covered_above = oldest if covered_above is None else min(covered_above, oldest)
        if not page.has_more or page.cursor is None:
            if page.has_more:
                problem = "the server said there is more but sent no cursor"
            else:
                covered_above = None  # the conversation's oldest message was reached
            break
        if covered_above is not None and covered_above <= down_to_ms:
            break
        if page.cursor in seen_cursors or (page.messages and not new_ids):
            problem = "the server repeated a page (cursor loop)"
            log.error("re-read of %s: %s; stopped", conversation_id, problem)
            break
        if got.pages >= max_pages:
            problem = f"more than {max_pages} pages"
            break
        seen_cursors.add(page.cursor)
        cursor = page.cursor
    if got.skipped and not problem:
        problem = f"{got.skipped} malformed item(s)"
    got.messages.sort(key=lambda m: (m.sent_at, m.message_id), reverse=True)
    return CoveringRead(
        account_id=account_id,
        conversation_id=conversation_id,
        returned=frozenset(got.returned),
        messages=tuple(got.messages),
        covered_above=covered_above,
        clean=not problem,
        problem=problem,
        pages=got.pages,
        newest_returned=got.messages[0].sent_at if got.messages else None,
        skipped=got.skipped,
    )


def belongs_to_its_conversation(message: Message) -> bool:
    """Whether a (cached) message's own conversation id is the one its conversation URN names: only
    then does a read of that URN say anything about it (spec §9)."""
    try:
        return parse_conversation(message.conversation_urn).token == message.conversation_id
    except UrnError:
        return False


async def judge(
    api: ApiClient, message: Message, *, known_in_cache: bool
) -> tuple[Verdict, CoveringRead | None]:
    """Re-read ``message``'s own conversation past its ``sentAt`` and judge it (spec §9).

    ``known_in_cache`` says the message was cached as part of that conversation: a message the cache has
    never seen (the command line recalling a URN) has no known conversation or time, so nothing can be
    proven about its absence. Raises nothing from the API: a failed read is :attr:`Verdict.UNKNOWN`.
    """
    if not known_in_cache or not belongs_to_its_conversation(message):
        return Verdict.UNKNOWN, None
    try:
        read = await read_down_to(api, message.account_id, message.conversation_urn, message.sent_at - 1)
    except KnownError as exc:
        log.info("evidence read of %s failed: %s", message.message_id, exc)
        return Verdict.UNKNOWN, None
    verdict = read.verdict(message.message_id, message.sent_at)
    if verdict is Verdict.UNKNOWN and read.problem:
        log.info("evidence read of %s proves nothing: %s", message.message_id, read.problem)
    return verdict, read


__all__ = [
    "MAX_PAGES",
    "CoveringRead",
    "Verdict",
    "belongs_to_its_conversation",
    "judge",
    "read_down_to",
]
