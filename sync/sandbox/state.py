"""The sandbox's mutable state: listings, the mutations of spec §2, their events, and the journal.

Every mutation is one JSON-able *op* carrying all of its inputs (time, generated tokens, session),
applied by :meth:`Store.apply`. With a state dir the op is appended to ``journal.jsonl`` first, and
at start-up the journal is replayed through the same code, so recalls, sent messages, read/star
state and the event log (with its ``seq``) come back exactly as they were.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

from sync import urns
from sync.sandbox.data import Account, Mailbox, Params, Thread, World
from sync.sandbox.events import MAX_FRAME_BYTES, EventLog

RECALL_WINDOW_MS: Final = 60 * 60 * 1000
DAILY_NEW_CONVERSATIONS: Final = 150
REFRESH_MESSAGES: Final = 100
REFRESH_FRAME_MESSAGES: Final = 50
ACCOUNT_ID_RULE: Final = "accountId must be 24 lowercase hex characters"


class ApiError(Exception):
    """An answer of spec §1's error table; the server turns it into the error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _private_open(path: Path, mode: str) -> IO[str]:
    """Open a file that is created 0600 (the journal and params may reveal the user's demo activity)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(fd, mode, encoding="utf-8")


class Store:
    def __init__(self, params: Params, events: EventLog, state_dir: Path | None = None) -> None:
        self.events = events
        self.state_dir = state_dir
        self._journal: IO[str] | None = None
        self._replaying = False
        self._boot = base64.urlsafe_b64encode(os.urandom(6)).decode("ascii")
        self._resets = 0
        self._load(params)

    # -- lifecycle ------------------------------------------------------------------------------------------

    def _load(self, params: Params) -> None:
        self.params = params
        self.world = World(params)
        self._order_version = 0
        self._order_cache: dict[str, tuple[int, list[tuple[int, str, str]]]] = {}
        self.new_threads: dict[tuple[str, str], int] = {}
        self.sync_state: dict[str, int | None] = {a.id: params.now - 5 * 60_000 for a in self.world.accounts}

    @property
    def generation(self) -> str:
        """Changes on every reset and restart, so older cursors become ``INVALID_CURSOR`` (expired)."""
        return f"{self._boot}.{self._resets}"

    def open_state(self) -> int | None:
        """Replay the journal of the state dir; returns the time of its last op (or None)."""
        if self.state_dir is None:
            raise RuntimeError("open_state() needs a state dir")
        journal = self.state_dir / "journal.jsonl"
        last_at: int | None = None
        if journal.exists():
            data = journal.read_bytes()
            complete = data[: data.rfind(b"\n") + 1]
            if len(complete) != len(data):
                # A write cut short by a crash: that op never got its answer, so it is dropped, and the
                # file is cut back so the next op starts on a line of its own.
                with journal.open("r+b") as out:
                    out.truncate(len(complete))
            self._replaying = True
            try:
                for line in complete.decode("utf-8").splitlines():
                    if line.strip():
                        op = json.loads(line)
                        self.apply(op)
                        last_at = op.get("at", last_at)
            finally:
                self._replaying = False
        self._journal = _private_open(journal, "a")
        return last_at

    def write_params(self) -> None:
        if self.state_dir is not None:
            with _private_open(self.state_dir / "params.json", "w") as out:
                json.dump(self.params.to_json(), out)

    def reset(self, params: Params) -> None:
        self._resets += 1
        self.events.clear()
        self._load(params)
        if self.state_dir is not None:
            self.write_params()
            if self._journal is not None:
                self._journal.close()
            self._journal = _private_open(self.state_dir / "journal.jsonl", "w")

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # -- lookups --------------------------------------------------------------------------------------------

    def account(self, value: object) -> Account:
        """Resolve an ``accountId`` (None: the default, the first seeded account)."""
        if value is None:
            return self.world.accounts[0]
        if not isinstance(value, str) or len(value) != 24 or any(c not in "0123456789abcdef" for c in value):
            raise ApiError(400, "INVALID_ACCOUNT_ID", ACCOUNT_ID_RULE)
        account = self.world.account_by_id.get(value)
        if account is None:
            raise ApiError(404, "ACCOUNT_NOT_FOUND", f"No LinkedIn account {value}")
        return account

    def thread_for(
        self, conv: urns.ConversationUrn, account: Account, *, member_code: str | None = None
    ) -> Thread:
        """The thread a conversation URN names, for ``account`` (prefix and membership checked)."""
        if conv.mailbox is not None and conv.mailbox.profile_id != account.person.profile_id:
            raise ApiError(400, "INVALID_URN", "The conversation URN's mailbox prefix is not this account's")
        thread = self.world.thread_by_token.get(conv.token)
        if thread is None:
            raise ApiError(404, "CONVERSATION_NOT_FOUND", "Conversation not found")
        if account.id not in thread.mailboxes:
            if member_code is not None:
                raise ApiError(400, member_code, "This account is not a member of the conversation")
            raise ApiError(404, "CONVERSATION_NOT_FOUND", "Conversation not found in this account's mailbox")
        return self.world.materialize(thread)

    def account_of_mailbox(self, conv: urns.ConversationUrn) -> Account:
        """C8–C10 take no account: it is the owner of the URN's mailbox prefix."""
        if conv.mailbox is None:
            raise ApiError(
                400, "INVALID_URN", "This route needs a msg_conversation URN (it names the mailbox)"
            )
        account = self.world.account_by_profile.get(conv.mailbox.profile_id)
        if account is None:
            raise ApiError(404, "ACCOUNT_NOT_FOUND", "No account owns that mailbox")
        return account

    # -- items ----------------------------------------------------------------------------------------------

    def participants(self, thread: Thread, account: Account) -> list[dict[str, Any]]:
        people = self.world.people
        return [
            {
                "profileId": pid,
                "name": people[pid].name,
                "headline": people[pid].headline,
                "profileUrl": people[pid].url,
                "profilePicture": people[pid].picture,
                "distance": people[pid].distance
                if pid not in self.world.account_by_profile
                else "DISTANCE_1",
            }
            for pid in thread.members
            if pid != account.person.profile_id
        ]

    def message_item(self, thread: Thread, i: int, account: Account) -> dict[str, Any]:
        token = thread.toks[i]
        sender = self.world.people[thread.senders[i]]
        attachments = thread.attachments.get(token, [])
        me = account.person.profile_id
        return {
            "messageUrn": urns.message_urn(account.person.urn, token),
            "text": thread.texts[i],
            "sentAt": thread.sent[i],
            "senderProfileId": sender.profile_id,
            "senderName": sender.name,
            "senderPhoto": sender.picture,
            "isSentByOwner": sender.profile_id == me,
            "hasAttachment": bool(attachments),
            "attachments": attachments,
            "reactions": self._reactions(thread, token, me),
        }

    @staticmethod
    def _reactions(thread: Thread, token: str, me: str) -> list[dict[str, Any]]:
        return [
            {"emoji": emoji, "count": len(who), "reactedByOwner": me in who}
            for emoji, who in thread.reactions.get(token, {}).items()
            if who
        ]

    def conversation_item(self, thread: Thread, account: Account) -> dict[str, Any]:
        self.world.materialize(thread)
        mailbox = thread.mailboxes[account.id]
        latest = thread.newest_visible()
        latest_item = None
        if latest is not None:
            sender = self.world.people[thread.senders[latest]]
            latest_item = {
                "messageUrn": urns.message_urn(account.person.urn, thread.toks[latest]),
                "text": thread.texts[latest],
                "sentAt": thread.sent[latest],
                "senderName": sender.name,
                "hasAttachment": thread.toks[latest] in thread.attachments,
            }
        return {
            "conversationUrn": urns.conversation_urn(account.person.urn, thread.token),
            "conversationId": thread.token,
            "accountId": account.id,
            "lastActivityAt": thread.last_activity,
            "unreadCount": mailbox.unread,
            "participants": self.participants(thread, account),
            "latestMessage": latest_item,
            "starred": mailbox.starred,
            "source": "LINKEDIN",
        }

    # -- cursors --------------------------------------------------------------------------------------------

    def _cursor(self, kind: str, scope: str, key: list[Any]) -> str:
        raw = json.dumps([self.generation, kind, scope, key], separators=(",", ":")).encode("utf-8")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def _uncursor(self, cursor: str, kind: str, scope: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            generation, got_kind, got_scope, key = json.loads(raw)
        except (ValueError, TypeError) as exc:
            raise ApiError(400, "INVALID_CURSOR", "Malformed cursor") from exc
        if got_kind != kind or got_scope != scope:
            raise ApiError(400, "INVALID_CURSOR", "Cursor belongs to another listing")
        if generation != self.generation:
            raise ApiError(400, "INVALID_CURSOR", "Cursor expired")
        if not isinstance(key, list) or len(key) not in (2, 3) or not isinstance(key[0], int):
            raise ApiError(400, "INVALID_CURSOR", "Malformed cursor")
        return key

    # -- listings -------------------------------------------------------------------------------------------

    def order(self, account: Account) -> list[tuple[int, str, str]]:
        cached = self._order_cache.get(account.id)
        if cached is not None and cached[0] == self._order_version:
            return cached[1]
        keys = sorted((t.last_activity, t.token, account.id) for t in self.world.account_threads[account.id])
        self._order_cache[account.id] = (self._order_version, keys)
        return keys

    def list_conversations(
        self, accounts: list[Account], count: int, cursor: str | None, *, unread_only: bool, labeled: bool
    ) -> dict[str, Any]:
        scope = ",".join(sorted(a.id for a in accounts)) + (":unread" if unread_only else "")
        keys: list[tuple[int, str, str]]
        if len(accounts) == 1:
            keys = self.order(accounts[0])
        else:
            keys = sorted(k for a in accounts for k in self.order(a))
        end = len(keys)
        if cursor is not None:
            key = self._uncursor(cursor, "conversations", scope)
            end = bisect.bisect_left(keys, tuple(key))
        items: list[dict[str, Any]] = []
        has_more = False
        last_key: tuple[int, str, str] | None = None
        if not labeled:
            for j in range(end - 1, -1, -1):
                _last, token, account_id = keys[j]
                thread = self.world.thread_by_token[token]
                if unread_only and thread.mailboxes[account_id].unread == 0:
                    continue
                if len(items) == count:
                    has_more = True
                    break
                items.append(self.conversation_item(thread, self.world.account_by_id[account_id]))
                last_key = keys[j]
        return {
            "success": True,
            "conversations": items,
            "accounts": [{"id": a.id, "name": a.person.name} for a in accounts],
            "nextCursor": self._cursor("conversations", scope, list(last_key))
            if has_more and last_key
            else None,
            "hasMore": has_more,
            "fromCache": False,
        }

    def list_messages(
        self, thread: Thread, account: Account, count: int, cursor: str | None, since: int | None
    ) -> dict[str, Any]:
        scope = f"{account.id}:{thread.token}"
        start: int | None = None
        if cursor is not None:
            key = self._uncursor(cursor, "messages", scope)
            if len(key) != 2 or not isinstance(key[1], str):
                raise ApiError(400, "INVALID_CURSOR", "Malformed cursor")
            start = thread.position(key[0], key[1])
        picked: list[int] = []
        has_more = False
        for i in thread.iter_newest_first(start):
            if since is not None and thread.sent[i] <= since:
                break
            if len(picked) == count:
                has_more = True
                break
            picked.append(i)
        next_cursor = None
        if has_more:
            last = picked[-1]
            next_cursor = self._cursor("messages", scope, [thread.sent[last], thread.toks[last]])
        return {
            "success": True,
            "messages": [self.message_item(thread, i, account) for i in picked],
            "participants": self.participants(thread, account),
            "hasMore": has_more,
            "cursor": next_cursor,
            "note": "local sandbox: recalled messages are never returned",
        }

    def total_messages(self, account: Account) -> int:
        return sum(t.visible_count() for t in self.world.account_threads[account.id])

    def new_threads_on(self, account: Account, at_ms: int) -> int:
        return self.new_threads.get((account.id, _utc_day(at_ms)), 0)

    def unread_tokens(self, thread: Thread, account_id: str) -> set[str]:
        """The mailbox's unread messages: its newest ``unreadCount`` visible inbound messages."""
        left = thread.mailboxes[account_id].unread
        me = self.world.account_by_id[account_id].person.profile_id
        out: set[str] = set()
        for i in thread.iter_newest_first():
            if left <= 0:
                break
            if thread.senders[i] != me:
                out.add(thread.toks[i])
                left -= 1
        return out

    # -- mutations ------------------------------------------------------------------------------------------

    def apply(self, op: dict[str, Any]) -> Any:
        """Journal then apply one mutation; replay at start-up goes through here too."""
        handler = getattr(self, "_op_" + str(op["op"]), None)
        if handler is None:
            raise ValueError(f"unknown op {op['op']!r}")
        if self._journal is not None and not self._replaying:
            self._journal.write(json.dumps(op, ensure_ascii=False, separators=(",", ":")) + "\n")
            self._journal.flush()
        return handler(op)

    def _emit(self, op: dict[str, Any], event: dict[str, Any]) -> None:
        if op.get("session"):
            event["originSessionId"] = op["session"]
        self.events.emit(event, int(op["at"]))

    def _mailbox_accounts(self, thread: Thread) -> Iterator[Account]:
        for account_id in thread.mailboxes:
            yield self.world.account_by_id[account_id]

    def _touch(self, thread: Thread, at: int) -> None:
        if at > thread.last_activity:
            thread.last_activity = at
            self._order_version += 1

    def _op_send(self, op: dict[str, Any]) -> tuple[Thread, int]:
        """A message into a thread (created by this op when ``new``): sends, injections and live replies."""
        at = int(op["at"])
        sender_pid: str = op["sender"]
        new = op.get("new")
        if new is not None:
            members = tuple(new["members"])
            mailboxes = {
                self.world.account_by_profile[pid].id: Mailbox()
                for pid in members
                if pid in self.world.account_by_profile
            }
            thread = Thread(len(self.world.threads), new["token"], members, at, mailboxes, 0)
            thread.materialized = True
            thread.created_by_send = True
            self.world.add_thread(thread)
            self._order_version += 1
            creator = self.world.account_by_profile[sender_pid]
            day_key = (creator.id, _utc_day(at))
            self.new_threads[day_key] = self.new_threads.get(day_key, 0) + 1
        else:
            thread = self.world.materialize(self.world.thread_by_token[op["thread"]])
        i = thread.insert(at, op["token"], sender_pid, op["text"])
        if op.get("attachments"):
            thread.attachments[op["token"]] = list(op["attachments"])
        self._touch(thread, at)
        changed: list[Account] = []
        for account in self._mailbox_accounts(thread):
            if account.person.profile_id != sender_pid:
                thread.mailboxes[account.id].unread += 1
                changed.append(account)
        for account in self._mailbox_accounts(thread):
            self._emit(
                op,
                {
                    "type": "message.created",
                    "accountId": account.id,
                    "conversationUrn": urns.conversation_urn(account.person.urn, thread.token),
                    "message": self.message_item(thread, i, account),
                },
            )
        for account in changed:
            self._emit(
                op,
                {
                    "type": "conversation.updated",
                    "accountId": account.id,
                    "conversationUrn": urns.conversation_urn(account.person.urn, thread.token),
                    "unreadCount": thread.mailboxes[account.id].unread,
                    "lastActivityAt": thread.last_activity,
                },
            )
        return thread, i

    def _op_recall(self, op: dict[str, Any]) -> None:
        """Soft-delete by normalized id: one row serves every mailbox holding the thread."""
        at = int(op["at"])
        thread = self.world.materialize(self.world.thread_by_token[op["thread"]])
        token: str = op["token"]
        if token in thread.recalled:
            return
        lowered = [
            acc for acc in self._mailbox_accounts(thread) if token in self.unread_tokens(thread, acc.id)
        ]
        for account in lowered:
            thread.mailboxes[account.id].unread -= 1
        thread.recalled[token] = at
        if not op.get("emit", True):
            return
        actor = self.world.account_by_id[op["account"]]
        self._emit(
            op,
            {
                "type": "message.recalled",
                "accountId": actor.id,
                "conversationUrn": urns.conversation_urn(actor.person.urn, thread.token),
                "messageUrn": urns.message_urn(actor.person.urn, token),
                "messageId": token,
                "recalledAt": at,
            },
        )
        for account in lowered:
            self._emit(
                op,
                {
                    "type": "conversation.updated",
                    "accountId": account.id,
                    "conversationUrn": urns.conversation_urn(account.person.urn, thread.token),
                    "unreadCount": thread.mailboxes[account.id].unread,
                },
            )

    def _op_react(self, op: dict[str, Any]) -> list[dict[str, Any]]:
        thread = self.world.materialize(self.world.thread_by_token[op["thread"]])
        actor = self.world.account_by_id[op["account"]]
        token: str = op["token"]
        emoji: str = op["emoji"]
        by_emoji = thread.reactions.setdefault(token, {})
        who = by_emoji.setdefault(emoji, set())
        if op["react"]:
            who.add(actor.person.profile_id)
        else:
            who.discard(actor.person.profile_id)
            if not who:
                del by_emoji[emoji]
        for account in self._mailbox_accounts(thread):
            self._emit(
                op,
                {
                    "type": "message.reacted",
                    "accountId": account.id,
                    "conversationUrn": urns.conversation_urn(account.person.urn, thread.token),
                    "messageUrn": urns.message_urn(account.person.urn, token),
                    "emoji": emoji,
                    "react": bool(op["react"]),
                    "actorProfileId": actor.person.profile_id,
                    "reactions": self._reactions(thread, token, account.person.profile_id),
                },
            )
        return self._reactions(thread, token, actor.person.profile_id)

    def _op_mark(self, op: dict[str, Any]) -> None:
        thread = self.world.materialize(self.world.thread_by_token[op["thread"]])
        account = self.world.account_by_id[op["account"]]
        mailbox = thread.mailboxes[account.id]
        event: dict[str, Any] = {
            "type": "conversation.updated",
            "accountId": account.id,
            "conversationUrn": urns.conversation_urn(account.person.urn, thread.token),
        }
        what = op["what"]
        if what == "unread":
            mailbox.unread = max(1, mailbox.unread)
            event["unreadCount"] = mailbox.unread
        elif what == "seen":
            mailbox.unread = 0
            event["unreadCount"] = 0
        else:
            mailbox.starred = what == "star"
            event["starred"] = mailbox.starred
        self._emit(op, event)

    def _op_refresh(self, op: dict[str, Any]) -> None:
        thread = self.world.materialize(self.world.thread_by_token[op["thread"]])
        account = self.world.account_by_id[op["account"]]
        items = [self.message_item(thread, i, account) for i in thread.iter_newest_first()]
        items = items[:REFRESH_MESSAGES]
        urn = urns.conversation_urn(account.person.urn, thread.token)
        for chunk in _chunks(items):
            self._emit(
                op,
                {
                    "type": "conversation.refreshed",
                    "accountId": account.id,
                    "conversationUrn": urn,
                    "messages": chunk,
                },
            )

    def _op_sync(self, op: dict[str, Any]) -> None:
        self.sync_state[op["account"]] = int(op["at"])

    def _op_clock(self, op: dict[str, Any]) -> None:
        """Journaled so a restart never puts the clock behind an advance (see ``Clock.at_least``)."""


def _chunks(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """At most 50 messages per frame, and well under the 1 MiB frame limit."""
    budget = MAX_FRAME_BYTES - 4096
    chunk: list[dict[str, Any]] = []
    size = 0
    for item in items:
        item_size = len(json.dumps(item, ensure_ascii=False).encode("utf-8")) + 1
        if chunk and (len(chunk) == REFRESH_FRAME_MESSAGES or size + item_size > budget):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk or not items:
        yield chunk


def _utc_day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()
