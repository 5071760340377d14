"""Seeded, deterministic demo data for the sandbox: accounts, contacts, threads and their messages.

The same ``seed``, ``now``, thread count, messages per thread and ``demo`` always give the same data. Only
the thread metadata (members, token, last activity, unread count, star) is built at start-up; a
thread's messages are generated the first time something reads them ("materialized"), from a PRNG
seeded by the thread alone, so 10,000 × 100 starts in well under a second and memory grows only
with what clients actually read. Messages live in per-thread parallel arrays, not one dict each.

Token forms follow spec §4: a thread token is ``2-`` + base64 of ``<uuid>_<3 digits>`` and a
message token ``2-`` + base64 of ``<13-digit sentAt ms>b<5 digits>-<3 digits>``. Base64 of those
ASCII shapes can never contain ``+`` or ``/`` (those need a byte whose low six bits are 62 or 63,
i.e. ``>``, ``?`` or ``~``), yet the alphabet allows them and a client must percent-encode them in
paths. So a few *edge* threads (see :data:`EDGE_THREADS`) carry tokens whose decoded form is the
documented shape followed by a short suffix of ``~?>`` characters chosen to make ``+``, ``/`` and
``=`` appear; every other token decodes to exactly the documented shape.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import datetime as dt
import functools
import itertools
import unicodedata
import uuid
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from random import Random
from typing import Any, Final

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS

RECENT_THREADS: Final = (0, 1, 2, 3)
"""Threads whose newest messages are minutes old, so recall windows are open at ``now``."""
SHARED_THREAD: Final = 0
"""A direct thread between the two accounts: in both mailboxes, same tokens, different prefixes (spec §4's
cross-mailbox cases). Not in the demo data (``Params.demo``), where it is a contact's thread like the others:
a person trying the app would see their own message as an unread incoming one under the other account."""
EDGE_THREADS: Final = (1, 2)
"""Threads whose tokens contain ``+``, ``/`` and ``=`` (one per account)."""
EDGE_ALPHABET: Final = "~?>"
SUFFIX_DIGITS: Final = (100, 100, 4, 3, 12)

FIRST_NAMES: Final = (
    "Maya", "Jonas", "Aisha", "Mateo", "Sofia", "Liam", "Priya", "Noah", "Zoë", "Kenji", "Elena", "Omar",
    "Chloé", "Lars", "Amara", "Diego", "Hannah", "Ravi", "Ingrid", "Tomás", "Yara", "Felix", "Mei", "Kwame",
    "Léa", "Arjun", "Freya", "Nikolai", "Imani", "Samuel", "Björn", "Leila", "Hugo", "Anika", "Caleb", "Nora",
)  # fmt: skip
LAST_NAMES: Final = (
    "Lindqvist", "Okafor", "Haddad", "García", "Rossi", "Müller", "Sharma", "Bennett", "Tanaka", "Novak",
    "Dubois", "Kowalski", "Mensah", "Costa", "Fischer", "Iyer", "Johansson", "Moreau", "Nakamura", "O'Brien",
    "Petrov", "Quinn", "Ramírez", "Schmidt", "Van Dijk", "Walsh", "Yilmaz", "Zhang", "Ahmed", "Brennan",
)  # fmt: skip
TITLES: Final = (
    "Senior Software Engineer", "Product Manager", "Head of Talent", "Engineering Manager", "Data Scientist",
    "Founder & CEO", "Technical Recruiter", "Design Lead", "VP Sales", "Staff Engineer", "Growth Marketer",
    "Solutions Architect", "Customer Success Lead", "CTO", "Investor", "Operations Manager",
)  # fmt: skip
COMPANIES: Final = (
    "Northwind", "Globex", "Initech", "Umbrella Health", "Stark Analytics", "Wayfarer", "Acme Robotics",
    "Blue Fjord", "Helios Energy", "Pied Piper", "Hooli", "Vandelay Imports", "Soylent Labs", "Cyberdyne",
)  # fmt: skip
INBOUND_TEXTS: Final = (
    "Hi! Thanks for connecting. Would love to hear what you're working on these days.",
    "Are you open to a quick call next week? Tuesday or Thursday afternoon works for me.",
    "Great meeting you at the meetup yesterday 🙌",
    "I saw your post about event sourcing — we're fighting the same problem right now.",
    "Could you send me the deck when you get a chance?",
    "We're hiring for a role that looks like a great fit for you. Interested?",
    "Thanks, that's really helpful!",
    "Sounds good, talk soon.",
    "Quick question: does your team still use the old API or did you migrate?",
    "Congrats on the new role! 🎉",
    "Following up on my last message — any thoughts?",
    "Here's the link I mentioned: https://example.com/notes",
    "Haha, fair enough 😄",
    "Let me check with the team and get back to you.",
    "Would Friday at 10:00 CET work?",
    "Perfect, I'll send an invite.",
    "Do you know anyone who'd be a good fit for a staff role in Berlin?",
    "Thank you for the intro, much appreciated.",
    "Can we push our call by 30 minutes?",
    "Just shared the doc with you — comments welcome.",
)
OUTBOUND_TEXTS: Final = (
    "Hi, thanks for reaching out!",
    "Happy to chat — Thursday at 3pm works for me.",
    "Sure, here's the deck. Let me know what you think.",
    "Thanks! Still settling in, but it's going well.",
    "Not right now, but let's keep in touch.",
    "Great to meet you too. Let's grab a coffee next time.",
    "We migrated last quarter; happy to share what we learned.",
    "I'll intro you to Sam, she's the right person for this.",
    "Sounds good!",
    "Sorry for the slow reply — busy week.",
    "Yes, Friday works. See you then.",
    "Could you resend the link? It didn't come through.",
    "Let me think about it and get back to you tomorrow.",
    "Appreciate it 🙏",
    "Just sent you an invite.",
    "Oops, wrong thread — please ignore!",
)
LIVE_REPLIES: Final = (
    "Just saw this — thanks!",
    "Quick follow-up: did you get a chance to look?",
    "On my way, 5 minutes late, sorry!",
    "Makes sense. Let's do it.",
    "👍",
    "Can you call me when you have a minute?",
    "Sending the details now.",
)
ATTACHMENT_NAMES: Final = ("deck.pdf", "offer-letter.pdf", "roadmap.png", "notes.docx", "cv.pdf")


def b64(text: str) -> str:
    """Standard base64 with padding (never the URL-safe alphabet)."""
    return base64.b64encode(text.encode("ascii")).decode("ascii")


@functools.cache
def edge_suffix(length: int) -> str:
    """The shortest ``~?>`` suffix whose base64 (after ``length`` bytes) holds ``+``, ``/`` and ``=``."""
    for size in range(1, 8):
        for chars in itertools.product(EDGE_ALPHABET, repeat=size):
            encoded = b64("x" * length + "".join(chars))
            tail = encoded[(length // 3) * 4 :]
            if "+" in tail and "/" in tail and "=" in tail:
                return "".join(chars)
    raise AssertionError("unreachable: a suffix always exists")  # pragma: no cover


def thread_token(uuid_text: str, digits: int, *, edge: bool = False) -> str:
    raw = f"{uuid_text}_{digits:03d}"
    return "2-" + b64(raw + (edge_suffix(len(raw)) if edge else ""))


def message_token(sent_at: int, b5: int, d3: int, *, edge: bool = False) -> str:
    raw = f"{sent_at:013d}b{b5:05d}-{d3:03d}"
    if edge:
        raw += edge_suffix(len(raw))
    return "2-" + binascii.b2a_base64(raw.encode("ascii"), newline=False).decode("ascii")


def token_sent_at(token: str) -> int | None:
    """The ``sentAt`` a message token encodes, or None when the token is not one of ours."""
    try:
        raw = base64.b64decode(token[2:], validate=True)
    except ValueError:
        return None
    head = raw[:13]
    if len(raw) < 23 or not head.isdigit() or raw[13:14] != b"b":
        return None
    return int(head)


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "-".join("".join(ch if ch.isalnum() else " " for ch in plain.lower()).split())


@dataclass(frozen=True, slots=True)
class Person:
    """A LinkedIn member: an account's own profile or a contact."""

    profile_id: str
    first_name: str
    last_name: str
    headline: str
    public_id: str
    picture: str | None
    distance: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def urn(self) -> str:
        return f"urn:li:fsd_profile:{self.profile_id}"

    @property
    def url(self) -> str:
        return f"https://www.linkedin.com/in/{self.public_id}"


@dataclass(slots=True)
class Account:
    id: str
    person: Person
    status: str
    enabled: bool
    last_used: str | None


@dataclass(slots=True)
class Mailbox:
    """One account's view of a thread: what differs between mailboxes besides the URN prefix."""

    unread: int = 0
    starred: bool = False


@dataclass(frozen=True, slots=True)
class Params:
    seed: int
    now: int
    conversations: int
    per_conversation: int
    demo: bool = False
    """The app's embedded sandbox (``--demo``): only contacts message the accounts, never each other. The
    tests' data (False) keeps :data:`SHARED_THREAD`, and every figure they count, as it was."""

    def to_json(self) -> dict[str, int | bool]:
        out: dict[str, int | bool] = {
            "seed": self.seed,
            "now": self.now,
            "conversations": self.conversations,
            "messagesPerConversation": self.per_conversation,
        }
        if self.demo:  # absent otherwise: the tests' answers and older state dirs read the same
            out["demo"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Params:
        return cls(
            int(data["seed"]),
            int(data["now"]),
            int(data["conversations"]),
            int(data["messagesPerConversation"]),
            data.get("demo") is True,
        )


@dataclass(slots=True, eq=False)
class Thread:
    """A LinkedIn conversation (one thread token), shared by the mailboxes of every member account.

    Messages are kept sorted ascending by (sentAt, token) in parallel arrays; recalls, reactions and
    attachments are sparse dicts keyed by token because recalled rows stay (soft delete).
    """

    index: int
    token: str
    members: tuple[str, ...]
    """Profile ids of every member, accounts included."""
    last_activity: int
    mailboxes: dict[str, Mailbox]
    """Account id → that account's mailbox state, for each member account."""
    generated: int
    """How many messages the generator makes for this thread (before any mutation)."""
    edge: bool = False
    created_by_send: bool = False
    materialized: bool = False
    sent: array[int] = field(default_factory=lambda: array("q"))
    toks: list[str] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    recalled: dict[str, int] = field(default_factory=dict)
    reactions: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    attachments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def visible_count(self) -> int:
        if not self.materialized:
            return self.generated
        return len(self.toks) - len(self.recalled)

    def find(self, token: str) -> int | None:
        """Index of a message token in this thread, or None."""
        sent_at = token_sent_at(token)
        if sent_at is None:
            return None
        i = bisect.bisect_left(self.sent, sent_at)
        while i < len(self.sent) and self.sent[i] == sent_at:
            if self.toks[i] == token:
                return i
            i += 1
        return None

    def position(self, sent_at: int, token: str) -> int:
        """First index whose (sentAt, token) key is >= the given key."""
        return bisect.bisect_left(
            range(len(self.toks)), (sent_at, token), key=lambda i: (self.sent[i], self.toks[i])
        )

    def insert(self, sent_at: int, token: str, sender: str, text: str) -> int:
        i = self.position(sent_at, token)
        self.sent.insert(i, sent_at)
        self.toks.insert(i, token)
        self.senders.insert(i, sender)
        self.texts.insert(i, text)
        return i

    def newest_visible(self) -> int | None:
        for i in range(len(self.toks) - 1, -1, -1):
            if self.toks[i] not in self.recalled:
                return i
        return None

    def iter_newest_first(self, start: int | None = None) -> Iterator[int]:
        """Indexes of visible messages, newest first, from ``start - 1`` down."""
        i = len(self.toks) if start is None else start
        while i > 0:
            i -= 1
            if self.toks[i] not in self.recalled:
                yield i


class World:
    """Everything the sandbox knows: accounts, people and threads, built from :class:`Params`."""

    def __init__(self, params: Params) -> None:
        self.params = params
        rng = Random(f"connectsafely-sandbox/{params.seed}/people")
        self._used_slugs: set[str] = set()
        self.accounts: list[Account] = []
        for status in ("AVAILABLE", "IN_USE"):
            person = self._person(rng, distance="SELF")
            account = Account(f"{rng.getrandbits(96):024x}", person, status, True, None)
            self.accounts.append(account)
        self.accounts[0].last_used = iso(params.now - 2 * HOUR_MS)
        self.account_by_id = {a.id: a for a in self.accounts}
        self.account_by_profile = {a.person.profile_id: a for a in self.accounts}
        self.people: dict[str, Person] = {a.person.profile_id: a.person for a in self.accounts}
        # About one contact per thread keeps 1:1 threads unique per (account, contact), as on LinkedIn.
        contacts = [self._person(rng) for _ in range(max(8, params.conversations + 2))]
        for person in contacts:
            self.people[person.profile_id] = person
        self.contacts = contacts
        self.by_public_id = {p.public_id: p for p in self.people.values()}
        self.threads: list[Thread] = []
        self.thread_by_token: dict[str, Thread] = {}
        self.account_threads: dict[str, list[Thread]] = {a.id: [] for a in self.accounts}
        self.direct: dict[tuple[str, str], Thread] = {}
        """(account id, other member's profile id) → the 1:1 thread between them."""
        for index in range(params.conversations):
            self.add_thread(self._thread(index))
        # The vendor profile's account without an API seat (spec §8). Drawn last, from a PRNG of its own,
        # so everything above is the same whether or not a profile ever shows it; it is in no list above
        # (no threads, not a person anyone can message), so the contract profile never sees it.
        seatless_rng = Random(f"connectsafely-sandbox/{params.seed}/seatless")
        self.seatless = Account(
            f"{seatless_rng.getrandbits(96):024x}",
            self._person(seatless_rng, distance="SELF"),
            "AVAILABLE",
            True,
            None,
        )

    # -- people -------------------------------------------------------------------------------------------

    def _person(self, rng: Random, distance: str | None = None) -> Person:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        # 34 characters of [A-Za-z0-9_-], like real ids (``ACoAA`` + 34); one PRNG call instead of 34.
        tail = base64.urlsafe_b64encode(rng.getrandbits(208).to_bytes(26, "big")).decode("ascii")[:34]
        profile_id = "ACoAA" + tail
        while True:
            slug = f"{_ascii_slug(first + ' ' + last)}-{rng.getrandbits(24):06x}"
            if slug not in self._used_slugs:
                self._used_slugs.add(slug)
                break
        headline = f"{rng.choice(TITLES)} at {rng.choice(COMPANIES)}"
        picture = (
            None
            if rng.random() < 0.25
            else f"https://media.licdn.com/dms/image/v2/{profile_id[5:21]}/profile-displayphoto-shrink_100_100/0/"
        )
        return Person(
            profile_id,
            first,
            last,
            headline,
            slug,
            picture,
            distance or rng.choice(("DISTANCE_1", "DISTANCE_2")),
        )

    # -- threads ------------------------------------------------------------------------------------------

    def _thread(self, index: int) -> Thread:
        p = self.params
        rng = Random(f"connectsafely-sandbox/{p.seed}/thread/{index}/meta")
        a, b = self.accounts
        edge = index in EDGE_THREADS
        token = thread_token(
            str(uuid.UUID(int=rng.getrandbits(128), version=4)), rng.randrange(1000), edge=edge
        )
        contact = self.contacts[index].profile_id
        mailboxes: dict[str, Mailbox]
        if index == SHARED_THREAD and not p.demo:
            members: tuple[str, ...] = (a.person.profile_id, b.person.profile_id)
            # Unread differs per mailbox: a's newest inbound (from b) and b's two newest inbound (from a).
            mailboxes = {a.id: Mailbox(unread=1), b.id: Mailbox(unread=2)}
        else:
            owner = b if index % 3 == 2 else a
            members = (owner.person.profile_id, contact)
            if index % 7 == 5:  # a small group thread now and then
                members = (*members, self.contacts[index + 1].profile_id)
            unread = 0 if rng.random() < 0.7 else rng.randint(1, 3)
            mailboxes = {owner.id: Mailbox(unread=unread, starred=rng.random() < 0.05)}
        if index in RECENT_THREADS:
            last = p.now - (3 + 7 * index) * MINUTE_MS - rng.randrange(MINUTE_MS)
        else:
            # Spread the rest over ~180 days, newest first by index, with jitter.
            span = 180 * DAY_MS
            last = p.now - HOUR_MS - (index * span) // max(1, p.conversations) - rng.randrange(6 * HOUR_MS)
        return Thread(index, token, members, last, mailboxes, p.per_conversation, edge=edge)

    def add_thread(self, thread: Thread) -> None:
        self.threads.append(thread)
        self.thread_by_token[thread.token] = thread
        for account_id in thread.mailboxes:
            self.account_threads[account_id].append(thread)
            if len(thread.members) == 2:
                me = self.account_by_id[account_id].person.profile_id
                other = thread.members[1] if thread.members[0] == me else thread.members[0]
                self.direct.setdefault((account_id, other), thread)

    def materialize(self, thread: Thread) -> Thread:
        """Generate a thread's messages on first use (deterministic per seed and thread)."""
        if thread.materialized:
            return thread
        thread.materialized = True
        count = thread.generated
        if count == 0:
            return thread
        rng = Random(f"connectsafely-sandbox/{self.params.seed}/thread/{thread.index}/messages")
        recent = thread.index in RECENT_THREADS
        primary = thread.members[0]
        others = thread.members[1:]
        unread = thread.mailboxes.get(self.account_by_profile[primary].id, Mailbox()).unread
        # rng.random() rather than randrange/choice: ~20x cheaper per call, and this loop runs once per
        # message (a full read of a 1,000,000-message sandbox materializes every thread).
        uniform = rng.random
        times: list[int] = []
        t = thread.last_activity
        for k in range(count):
            times.append(t)
            if recent and k < 8:
                t -= 2 * MINUTE_MS + int(uniform() * 7 * MINUTE_MS)
            else:
                t -= 5 * MINUTE_MS + int(uniform() * 2 * DAY_MS)
        senders: list[str] = []
        window_edge = self.params.now - HOUR_MS
        first_outside_done = False
        for k in range(count):  # k = 0 is the newest
            if k < unread:
                sender = rng.choice(others)  # the newest `unread` messages are inbound
            elif thread.index == SHARED_THREAD and not self.params.demo and k in (1, 2):
                sender = primary
            elif recent and k in (1, 2):
                sender = primary  # own messages inside the recall window
            elif recent and not first_outside_done and times[k] < window_edge:
                sender = primary  # and one just outside it
                first_outside_done = True
            else:
                sender = primary if uniform() < 0.45 else others[int(uniform() * len(others))]
            senders.append(sender)
        for k in range(count - 1, -1, -1):  # oldest first, so arrays are appended in order
            sender = senders[k]
            own = sender == primary
            token = message_token(
                times[k], int(uniform() * 100_000), SUFFIX_DIGITS[int(uniform() * 5)], edge=thread.edge
            )
            pool = OUTBOUND_TEXTS if own else INBOUND_TEXTS
            text = pool[int(uniform() * len(pool))]
            # Generated oldest first with strictly decreasing gaps, so appending keeps the arrays sorted.
            i = len(thread.toks)
            thread.sent.append(times[k])
            thread.toks.append(token)
            thread.senders.append(sender)
            thread.texts.append(text)
            if uniform() < 0.03:
                name = rng.choice(ATTACHMENT_NAMES)
                thread.attachments[token] = [
                    {
                        "id": f"att-{thread.index}-{i}",
                        "name": name,
                        "mediaType": "application/pdf"
                        if name.endswith(".pdf")
                        else "application/octet-stream",
                        "size": rng.randrange(20_000, 4_000_000),
                        "url": f"https://media.licdn.com/dms/document/{token[2:14]}/{name}",
                    }
                ]
            if uniform() < 0.06:
                thread.reactions[token] = {rng.choice(("👍", "❤️", "😄", "🎉")): {rng.choice(thread.members)}}
        return thread

    def materialize_all(self) -> None:
        for thread in self.threads:
            self.materialize(thread)

    def find_message(self, token: str) -> tuple[Thread, int] | None:
        """Find a message by normalized id anywhere (materializes threads as needed)."""
        sent_at = token_sent_at(token)
        if sent_at is None:
            return None
        for thread in self.threads:
            if thread.materialized or sent_at <= thread.last_activity:
                i = self.materialize(thread).find(token)
                if i is not None:
                    return thread, i
        return None


def iso(ms: int) -> str:
    """ISO-8601 UTC with milliseconds, as A2's ``lastUsed`` (and the vendor profile's other timestamps)."""
    stamp = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")
