"""The ``connectsafely-desktop`` entry point: the GUI by default, headless commands by name.

Headless commands (``sync``, ``conversations``, ``messages``, ``send``, ``recall``, ``sandbox``) never
import PySide6: Qt is imported only inside the GUI command. Exit codes: 0 success; 1 a bug; 2 bad input,
local configuration or local storage (disk full, read-only or unusable data dir, cache busy); 3 refused by
the API (400, 401, 403, 404; also a sync in which an account was refused); 4 unavailable (429, 5xx,
timeout, connection lost); 5 the cache file is damaged; 130 interrupted. Errors are one clear line on
stderr, never a traceback.

Text that came from the server (names, message text, error messages) reaches the terminal with its
control characters escaped (:func:`terminal_safe`): a contact cannot set the terminal's title, clear it,
write the clipboard (OSC 52) or reorder a line with bidi overrides. ``--json`` output holds the same
values, with the same characters written as JSON ``\\uXXXX`` escapes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from desktop import backend as backends
from desktop.paths import data_dir

if TYPE_CHECKING:
    from sync.api import ApiClient
    from sync.cache import Cache
    from sync.logs import RepeatFilter
    from sync.model import AccountIssue, Conversation, Message

log = logging.getLogger("connectsafely")

EXIT_OK: Final = 0
EXIT_BUG: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_REFUSED: Final = 3
EXIT_UNAVAILABLE: Final = 4
EXIT_DAMAGED_CACHE: Final = 5
EXIT_INTERRUPTED: Final = 130

HEADLESS_COMMANDS: Final = ("sync", "conversations", "messages", "send", "recall", "sandbox")


class BadInput(Exception):
    """The command line itself is wrong (exit 2)."""


# --- terminal-safe text ----------------------------------------------------------------------------

_UNSAFE: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but \t and \n (\r included), DEL, C1
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidi marks, embeddings, overrides, isolates
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on shown as an escape (``\\x1b``, ``\\u202e``).

    Newlines and tabs stay. Everything printed for a person that may hold server text goes through here.
    """
    return _UNSAFE.sub(_escape, text)


class TerminalSafeFormatter(logging.Formatter):
    """Log lines for a terminal: a logged server message is escaped like any other output."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().format(record))


# --- argument parsing ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--base-url", help="API base URL (env CONNECTSAFELY_BASE_URL)")
    common.add_argument("--ws-url", help="event stream URL (default: {base}/ws)")
    common.add_argument("--data-dir", help="data dir (env CONNECTSAFELY_DATA_DIR)")
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output on stderr")

    parser = argparse.ArgumentParser(
        prog="connectsafely-desktop",
        description="A desktop inbox for LinkedIn messages through ConnectSafely. No command: the GUI.",
    )
    sub = parser.add_subparsers(dest="command")
    gui = sub.add_parser("gui", parents=[common], help="open the app (the default)")
    gui.add_argument(
        "--sandbox", action="store_true", help="use the data dir's local sandbox even with a key"
    )

    sync = sub.add_parser("sync", parents=[common], help="sync the cache with the server")
    mode = sync.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one pass, then exit (the default)")
    mode.add_argument(
        "--watch", action="store_true", help="keep syncing and apply the event stream (or poll)"
    )

    conversations = sub.add_parser("conversations", parents=[common], help="list cached conversations")
    conversations.add_argument("--account", help="only this account id")
    conversations.add_argument("--json", action="store_true", help="one JSON array")

    messages = sub.add_parser("messages", parents=[common], help="a conversation's cached messages")
    messages.add_argument("conversation_urn")
    messages.add_argument("--account")
    messages.add_argument("--json", action="store_true")

    send = sub.add_parser("send", parents=[common], help="send a message into a conversation")
    send.add_argument("conversation_urn")
    send.add_argument("text")
    send.add_argument("--account")

    recall = sub.add_parser("recall", parents=[common], help="recall a message you sent, for everyone")
    recall.add_argument("conversation_urn")
    recall.add_argument("message_urn")
    recall.add_argument("--account")

    sub.add_parser("sandbox", help="run the local sandbox server (see: sandbox --help)", add_help=False)
    return parser


# --- shared plumbing -------------------------------------------------------------------------------


def _exit_code_for(exc: BaseException) -> int:
    from sync.errors import (
        BadServerUrl,
        CacheCorrupt,
        KnownError,
        LocalStorageError,
        NoApiAccess,
        NotFound,
        Refused,
        SignedOut,
    )
    from sync.urns import UrnError

    if isinstance(exc, CacheCorrupt):
        return EXIT_DAMAGED_CACHE
    if isinstance(exc, (BadInput, backends.ConfigError, UrnError, LocalStorageError, BadServerUrl)):
        return EXIT_BAD_INPUT
    if isinstance(exc, KnownError) and exc.kind == "invalid_input":
        return EXIT_BAD_INPUT  # a request that could not even be built: the input's fault, not the server's
    if isinstance(exc, (Refused, SignedOut, NotFound, NoApiAccess)):
        return EXIT_REFUSED
    if isinstance(exc, KnownError):
        return EXIT_UNAVAILABLE
    return EXIT_BUG


def _known(exc: BaseException) -> BaseException:
    """A known local-storage error for an SQLite or file-system failure that escaped as it was."""
    if isinstance(exc, (sqlite3.Error, OSError)):
        from sync.cache import storage_error_of

        return storage_error_of(exc, None) or exc
    return exc


def _one_line(exc: BaseException) -> str:
    from sync.errors import CacheCorrupt, KnownError, LocalStorageError

    if isinstance(exc, CacheCorrupt):
        return (
            f"the cache file {exc.path} is damaged ({exc.detail}). To start fresh, open the app and choose "
            f'"Move the damaged cache aside and start fresh", or move {exc.path} and its -wal and -shm '
            f"files out of the data dir yourself; the next sync fills a new cache from the server."
        )
    if isinstance(exc, LocalStorageError):  # its sentence names the file already: add the system's words
        sentence = exc.user_message
        return sentence if not exc.detail or exc.detail == sentence else f"{sentence} ({exc.detail})"
    if isinstance(exc, KnownError):
        return f"{exc.user_message} ({exc})"
    return str(exc) or type(exc).__name__


@dataclass
class Session:
    """One headless run's API client, cache and backend."""

    backend: backends.Backend
    api: ApiClient
    cache: Cache
    data: Path

    async def account_for(self, conversation_urn: str, explicit: str | None) -> str:
        """The account a URN belongs to: its mailbox prefix decides; ``--account`` may only agree."""
        from sync import urns
        from sync.engine import SyncEngine

        mailbox = urns.mailbox_of(urns.parse_conversation(conversation_urn))
        accounts = self.cache.reader.accounts()
        if not accounts or (mailbox and not any(a.mailbox == mailbox for a in accounts)):
            accounts = await SyncEngine(self.api, self.cache).discover_accounts()
        if mailbox is None:
            if explicit:
                return explicit
            if len(accounts) == 1:
                return str(accounts[0].account_id)
            raise BadInput("this URN names no mailbox: say which account with --account")
        owner = next((a.account_id for a in accounts if a.mailbox == mailbox), None)
        if owner is None:
            raise BadInput(f"no account of this key has the mailbox {mailbox}")
        if explicit and explicit != owner:
            raise BadInput(f"--account {explicit} contradicts the URN's mailbox, which is account {owner}")
        return str(owner)


@contextlib.asynccontextmanager
async def open_session(args: argparse.Namespace) -> AsyncIterator[Session]:
    from sync.api import ApiClient

    data = data_dir(args.data_dir)
    backend = backends.resolve(data, base_url=args.base_url, ws_url=args.ws_url)
    cache = backend.open_cache(data)
    try:
        async with ApiClient(backend.base_url, backend.api_key) as api:
            yield Session(backend, api, cache, data)
    except sqlite3.Error as exc:
        # A read that hit a damaged page, a busy or full disk: the environment's fault, named with the file.
        from sync.cache import note_damage, storage_error_of
        from sync.errors import CacheCorrupt

        known = storage_error_of(exc, cache.path)
        if known is None:
            raise
        if isinstance(known, CacheCorrupt):
            note_damage(cache.path)
        raise known from exc
    finally:
        cache.close()


def message_json(message: Message) -> dict[str, Any]:
    return {
        "messageUrn": message.message_urn,
        "messageId": message.message_id,
        "conversationUrn": message.conversation_urn,
        "conversationId": message.conversation_id,
        "accountId": message.account_id,
        "text": message.text,
        "sentAt": message.sent_at,
        "isSentByOwner": message.is_sent_by_owner,
        "senderName": message.sender_name,
        "senderProfileId": message.sender_profile_id,
        "reactions": [{"emoji": r.emoji, "count": r.count} for r in message.reactions],
    }


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    latest = conversation.latest
    return {
        "conversationUrn": conversation.conversation_urn,
        "conversationId": conversation.conversation_id,
        "accountId": conversation.account_id,
        "lastActivityAt": conversation.last_activity_at,
        "unreadCount": conversation.unread_count,
        "starred": conversation.starred,
        "participants": [p.name for p in conversation.participants],
        "latestMessage": None
        if latest is None
        else {"messageUrn": latest.message_urn, "text": latest.text, "sentAt": latest.sent_at},
    }


def _print_json(value: object) -> None:
    # JSON escapes C0 itself; DEL, C1 and the bidi controls it would write raw (ensure_ascii=False keeps
    # names readable). They can only be inside strings, where "\\u009b" is the same value, escaped.
    text = json.dumps(value, ensure_ascii=False)
    sys.stdout.write(_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


def _print(text: str) -> None:
    """A line of human output on stdout, server text made terminal-safe."""
    sys.stdout.write(terminal_safe(text) + "\n")


def _stderr(text: str) -> None:
    print(terminal_safe(text), file=sys.stderr, flush=True)


def _short_id(account_id: str) -> str:
    return account_id if len(account_id) <= 8 else account_id[:4] + "…"


def sync_exit_code(issues: Sequence[AccountIssue]) -> int:
    """A pass's exit code from the accounts it could not serve.

    Refused (the plan, a 403/404): the user must act, as for any refusal: 3. Failing (5xx, offline): the
    next sync may serve it and the others were synced: 0. The machine's own failure reported per account
    (a full disk, a damaged cache) is no account's problem: 2, or 5 for a damaged cache.
    """
    from sync.errors import STORAGE_ERROR_KINDS, CacheCorrupt

    local = [STORAGE_ERROR_KINDS[i.kind] for i in issues if i.kind in STORAGE_ERROR_KINDS]
    if local:
        return EXIT_DAMAGED_CACHE if any(issubclass(c, CacheCorrupt) for c in local) else EXIT_BAD_INPUT
    return EXIT_REFUSED if any(issue.refused for issue in issues) else EXIT_OK


def account_issue_line(issue: AccountIssue) -> str:
    """One line for an account a sync pass could not serve (server text escaped by :func:`_stderr`)."""
    who = f"{issue.name} ({_short_id(issue.account_id)})" if issue.name else issue.account_id
    return f"account {who}: {issue.message}"


# --- commands --------------------------------------------------------------------------------------


async def cmd_sync(args: argparse.Namespace) -> int:
    from sync.engine import SyncEngine

    async with open_session(args) as session:
        engine = SyncEngine(session.api, session.cache)
        if not args.watch:
            report = await engine.sync_once()
            _stderr(
                f"synced {report.accounts} account(s), {report.conversations_seen} conversation(s), "
                f"{report.message_pages} message page(s); {report.tombstoned_by_reconciliation} recalled "
                f"elsewhere; {report.skipped} malformed item(s) skipped"
            )
            for issue in report.account_issues:
                _stderr(account_issue_line(issue))
            await _settle_recalls(session)
            return sync_exit_code(report.account_issues)
        from sync.lock import DataDirLock
        from sync.watcher import Watcher

        lock = DataDirLock(session.data)
        if not lock.try_acquire():
            holder = lock.holder_pid()
            _stderr(f"waiting for the data dir's lock (held by pid {holder or '?'})…")
            await lock.acquire()
        try:
            watcher = Watcher(
                session.api,
                session.cache,
                engine,
                session.backend.api_key,
                ws_url=session.backend.ws_url,
                on_state=lambda state: _stderr(f"mode: {state.value}"),
            )
            # Someone runs a watch to have the cache follow the server: poll at the focused cadence
            # (BENCHMARKS.md "Polling freshness"), not the background one of a GUI nobody looks at.
            watcher.focused = True
            settling = asyncio.create_task(_settle_recalls_every(session, SETTLE_EVERY_S))
            try:
                await watcher.run()
            finally:
                settling.cancel()
        finally:
            lock.release()
        return EXIT_OK


SETTLE_EVERY_S: Final = 30.0


async def _settle_recalls(session: Session) -> None:
    """Settle recalls left unconfirmed (or pending by a crash) by the evidence rule (spec §9), one line
    each on stderr for those that changed."""
    from sync.recall import RecallService
    from sync.recall_rules import STATE_WORDS

    if not session.cache.reader.open_recalls():
        return
    for attempt in await RecallService(session.api, session.cache).settle_open():
        words = STATE_WORDS.get(attempt.outcome, str(attempt.outcome))
        detail = f": {attempt.error_message}" if attempt.error_message else ""
        _stderr(terminal_safe(f"recall of {attempt.message_urn} settled — {words}{detail}"))


async def _settle_recalls_every(session: Session, seconds: float) -> None:
    from sync.errors import KnownError

    while True:
        try:
            await _settle_recalls(session)
        except KnownError as exc:  # offline, rate limited…: the next turn tries again
            log.info("settling recalls: %s", exc)
        await asyncio.sleep(seconds)


async def cmd_conversations(args: argparse.Namespace) -> int:
    async with open_session(args) as session:
        if args.account is not None:
            known = [a.account_id for a in session.cache.reader.accounts()]
            if args.account not in known:
                listed = ", ".join(known) if known else "none yet: run sync first"
                raise BadInput(f"no account {args.account} in the cache (its accounts: {listed})")
        rows: list[Conversation] = []
        after = None
        while True:
            page = session.cache.reader.conversations(args.account, limit=500, after=after)
            rows.extend(page)
            if len(page) < 500:
                break
            after = page[-1]
        if args.json:
            _print_json([conversation_json(c) for c in rows])
        else:
            for c in rows:
                preview = "" if c.latest is None else c.latest.text.replace("\n", " ")[:60]
                unread = f" ({c.unread_count} unread)" if c.unread_count else ""
                _print(f"{c.account_id}  {c.title}{unread}: {preview}\n    {c.conversation_urn}")
        return EXIT_OK


async def cmd_messages(args: argparse.Namespace) -> int:
    from sync import urns

    urns.parse_conversation(args.conversation_urn)
    async with open_session(args) as session:
        account = await session.account_for(args.conversation_urn, args.account)
        rows: list[Message] = []
        before = None
        while True:
            page = session.cache.reader.messages(account, args.conversation_urn, limit=500, before=before)
            rows.extend(page)
            if len(page) < 500:
                break
            before = page[-1]
        if args.json:
            _print_json([message_json(m) for m in rows])
        else:
            for m in rows:
                who = "me" if m.is_sent_by_owner else (m.sender_name or m.sender_profile_id)
                _print(f"[{m.sent_at}] {who}: {m.text}\n    {m.message_urn}")
        return EXIT_OK


async def cmd_send(args: argparse.Namespace) -> int:
    from sync import urns
    from sync.engine import message_in

    urns.parse_conversation(args.conversation_urn)
    if not args.text.strip():
        raise BadInput("the message is empty")
    async with open_session(args) as session:
        account = await session.account_for(args.conversation_urn, args.account)
        result = await session.api.send(account, args.text, conversation_urn=args.conversation_urn)
        if result.sent_message is None:
            raise BadInput("the server accepted the message but did not return it")
        await asyncio.wrap_future(session.cache.writer.upsert_messages([message_in(result.sent_message)]))
        _print_json(message_json(result.sent_message))
        return EXIT_OK


async def cmd_recall(args: argparse.Namespace) -> int:
    from sync import urns
    from sync.engine import SyncEngine
    from sync.model import Message, RecallState
    from sync.recall import RecallService

    conversation = urns.parse_conversation(args.conversation_urn)
    message_urn = urns.parse_message(args.message_urn)
    async with open_session(args) as session:
        account = await session.account_for(args.conversation_urn, args.account)
        cached = session.cache.reader.message(account, args.message_urn)
        if cached is None:
            # Not in the cache yet: read the conversation so eligibility is judged on the server's data.
            engine = SyncEngine(session.api, session.cache)
            row = session.cache.reader.conversation(account, args.conversation_urn)
            if row is not None:
                await engine.sync_new_messages(row)
            cached = session.cache.reader.message(account, args.message_urn)
        if cached is not None and cached.conversation_id != conversation.token:
            raise BadInput(f"this message belongs to another conversation: {cached.conversation_urn}")
        check = cached is not None
        message = cached or Message(
            account_id=account,
            conversation_id=conversation.token,
            message_id=message_urn.token,
            message_urn=args.message_urn,
            conversation_urn=args.conversation_urn,
            text="",
            sent_at=0,
            is_sent_by_owner=True,
        )
        service = RecallService(session.api, session.cache)
        status = await service.recall(message, check_eligibility=check, window_id="cli")
        if status.state is RecallState.RECALLED:
            print(args.message_urn)
            return EXIT_OK
        if status.error is not None:
            raise status.error
        # Unconfirmed (spec §9): neither done nor refused; `sync` settles it later by the same rule.
        _stderr(f"{status.user_message} Run `sync` later to settle it; the recall log keeps it.")
        return EXIT_UNAVAILABLE


ASYNC_COMMANDS: Final[dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]]] = {
    "sync": cmd_sync,
    "conversations": cmd_conversations,
    "messages": cmd_messages,
    "send": cmd_send,
    "recall": cmd_recall,
}


_STDERR_HANDLER: Final = "connectsafely-cli-stderr"


def _configure_logging(verbosity: int) -> RepeatFilter:
    """Log to stderr, terminal-safe, repeated warnings collapsed (sync.logs); returns the repeat filter,
    whose last counts are written at exit."""
    from sync.logs import limit_repeats

    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _STDERR_HANDLER]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_STDERR_HANDLER)
    handler.setFormatter(TerminalSafeFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    repeats = limit_repeats(handler)
    # httpx logs every request URL at INFO; URLs hold no secret, but they are noise on a terminal.
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
    # websockets logs every handshake header at DEBUG, ``Authorization: Bearer <key>`` included: never
    # below INFO, or ``-vv`` would print the API key (tests/test_security.py).
    logging.getLogger("websockets").setLevel(max(level, logging.INFO))
    return repeats


def run_headless(args: argparse.Namespace) -> int:
    repeats = _configure_logging(args.verbose)
    command = ASYNC_COMMANDS[args.command]
    try:
        with asyncio.Runner() as runner:
            return runner.run(command(args))
    except KeyboardInterrupt:
        _stderr("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # every failure becomes one line and an exit code; bugs are logged in full
        error = _known(exc)
        code = _exit_code_for(error)
        if code == EXIT_BUG:
            log.exception("unexpected error")
        _stderr(f"error: {_one_line(error)}")
        return code
    finally:
        repeats.close()


def _run_sandbox(argv: Sequence[str]) -> int:
    from sync.sandbox.server import main as sandbox_main

    return int(sandbox_main(list(argv)))


def _run_gui(args: argparse.Namespace) -> int:
    from sync.worker.proxy import prelaunch

    # The sync worker's interpreter and imports overlap Qt's import and the window's build (the worker
    # is adopted once the cache is open, or ended: ARCHITECTURE.md §11).
    prelaunch()
    from desktop.qt_import import import_qt_quickly

    import_qt_quickly()
    from desktop.app import run_gui

    return run_gui(args)


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw and raw[0] == "sandbox":
        return _run_sandbox(raw[1:])
    if not raw or (raw[0] not in (*ASYNC_COMMANDS, "gui") and raw[0] not in ("-h", "--help")):
        raw = ["gui", *raw]  # no command: the GUI, with whatever options were given
    parser = build_parser()
    try:
        args = parser.parse_args(raw)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    if args.command in ASYNC_COMMANDS:
        return run_headless(args)
    return _run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
