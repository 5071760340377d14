"""Builders for cache test data: valid tokens and URNs of every form, accounts, wire items."""

from __future__ import annotations

import base64

from sync import urns
from sync.model import Account, ConversationIn, LatestMessage, MessageIn, Participant

ACCOUNT_A = "a" * 24
ACCOUNT_B = "b" * 24
MAILBOX_A = "urn:li:fsd_profile:ACoAAAlice"
MAILBOX_B = "urn:li:fsd_profile:ACoAABob"
MAILBOXES = {ACCOUNT_A: MAILBOX_A, ACCOUNT_B: MAILBOX_B}
ACCOUNTS = [Account(ACCOUNT_A, "Alice", "alice", MAILBOX_A), Account(ACCOUNT_B, "Bob", "bob", MAILBOX_B)]


def _token(raw: str) -> str:
    return "2-" + base64.b64encode(raw.encode()).decode()


def thread_token(n: int) -> str:
    return _token(f"00000000-0000-4000-8000-{n:012d}_100")


def message_token(n: int, sent_at: int = 1_760_000_000_000) -> str:
    return _token(f"{sent_at:013d}b{n:05d}-100")


def conv_urn(account: str, n: int) -> str:
    return urns.conversation_urn(MAILBOXES[account], thread_token(n))


def msg_urn(account: str, token: str) -> str:
    return urns.message_urn(MAILBOXES[account], token)


def msg(
    account: str,
    conv: int,
    token: str,
    sent_at: int,
    text: str = "hello",
    *,
    inbound: bool = True,
    urn: str | None = None,
) -> MessageIn:
    return MessageIn(
        account_id=account,
        conversation_urn=conv_urn(account, conv),
        message_urn=urn if urn is not None else msg_urn(account, token),
        text=text,
        sent_at=sent_at,
        sender_profile_id="ACoAAContact" if inbound else "ACoAAOwner",
        sender_name="Carol" if inbound else "Me",
        is_sent_by_owner=not inbound,
    )


def conv(
    account: str,
    n: int,
    last_activity_at: int,
    *,
    unread: int = 0,
    latest: tuple[str, int, str] | None = None,
    names: tuple[str, ...] = ("Carol",),
) -> ConversationIn:
    """``latest`` = (message token, sent_at, text) of the server's preview."""
    preview = None
    if latest is not None:
        token, sent_at, text = latest
        preview = LatestMessage(msg_urn(account, token), text, sent_at, "Carol")
    return ConversationIn(
        account_id=account,
        conversation_urn=conv_urn(account, n),
        last_activity_at=last_activity_at,
        unread_count=unread,
        participants=tuple(Participant(f"ACoAA{name}", name) for name in names),
        latest=preview,
    )
