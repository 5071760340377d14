"""``--demo``: the app's embedded sandbox, where only contacts message the two accounts (issue 16, Why §8).

The tests' data (no ``--demo``) keeps the thread between the two accounts that spec §4's cross-mailbox
cases need, and every figure the other tests count; the demo data has none: your own message never shows
up as an unread incoming one under your other account.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import FIXED_NOW, SandboxHandle, start_sandbox
from tests.sync.sandbox.helpers import WINDOW_MS, accounts, all_conversations, all_messages, shared_pair

pytestmark = pytest.mark.timeout(90)


def mailbox_of(conversation: dict[str, Any]) -> str:
    """The profile id of the account whose mailbox holds the conversation (its URN's prefix)."""
    urn = str(conversation["conversationUrn"])
    return urn.split("urn:li:fsd_profile:", 1)[1].split(",", 1)[0]


def inbox(client: httpx.Client) -> dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]]:
    """Account id → every conversation of its mailbox with all its messages."""
    return {
        account["id"]: [
            (conversation, all_messages(client, conversation["conversationUrn"], account["id"]))
            for conversation in all_conversations(client, account["id"])
        ]
        for account in accounts(client)
    }


def assert_accounts_never_message_each_other(client: httpx.Client) -> dict[str, int]:
    """Checks every conversation and message of both mailboxes; returns each account's unread count."""
    boxes = inbox(client)
    unread: dict[str, int] = {}
    assert len(boxes) == 2
    own_profile = {account_id: mailbox_of(convs[0][0]) for account_id, convs in boxes.items()}
    account_profiles = set(own_profile.values())
    ids = [conversation["conversationId"] for convs in boxes.values() for conversation, _ in convs]
    assert len(ids) == len(set(ids))  # no conversation in both mailboxes
    for account_id, conversations in boxes.items():
        me = own_profile[account_id]
        unread[account_id] = 0
        inbound = 0
        own_in_window = 0
        for conversation, messages in conversations:
            assert mailbox_of(conversation) == me
            others = {p["profileId"] for p in conversation["participants"]}
            assert others and not others & account_profiles  # contacts only
            for message in messages:
                sender = message["senderProfileId"]
                assert sender == me or sender in others, message
                assert message["isSentByOwner"] is (sender == me)
                inbound += sender != me
                if message["isSentByOwner"] and FIXED_NOW - message["sentAt"] < WINDOW_MS:
                    own_in_window += 1
            unread[account_id] += conversation["unreadCount"]
        assert inbound > 0  # contacts message each account
        assert own_in_window > 0  # and each has messages it can still recall
    return unread


def test_with_demo_contacts_message_the_accounts_and_the_accounts_never_each_other(
    sandbox_factory: Any,
) -> None:
    unread = assert_accounts_never_message_each_other(sandbox_factory("--demo").client())
    assert all(count > 0 for count in unread.values())  # the app's seed: unread messages in both accounts


def test_without_demo_the_tests_data_keeps_the_thread_between_the_accounts(sandbox: SandboxHandle) -> None:
    _, _, conv_a, conv_b = shared_pair(sandbox.client())
    assert {p["profileId"] for p in conv_a["participants"]} == {mailbox_of(conv_b)}


def test_the_demo_data_is_deterministic_and_survives_a_reset(sandbox_factory: Any) -> None:
    one, two = sandbox_factory("--demo", "--seed", "11"), sandbox_factory("--demo", "--seed", "11")
    first, second = inbox(one.client()), inbox(two.client())
    assert first == second
    answer = one.control("POST", "reset")  # an empty reset returns to the data it started with: demo
    assert answer["demo"] is True
    assert inbox(one.client()) == first
    assert_accounts_never_message_each_other(one.client())


def test_a_state_dir_keeps_the_demo_data_it_was_made_with(tmp_path: Path) -> None:
    state = tmp_path / "state"
    handle = start_sandbox(tmp_path / "one", "--demo", "--state-dir", str(state))
    try:
        before = inbox(handle.client())
    finally:
        handle.stop()
    assert json.loads((state / "params.json").read_text())["demo"] is True
    # Restarted the way the app restarts it (and once without the option: the state dir's data wins).
    for args in (("--demo",), ()):
        handle = start_sandbox(tmp_path / f"again{len(args)}", *args, "--state-dir", str(state))
        try:
            assert inbox(handle.client()) == before
        finally:
            handle.stop()
