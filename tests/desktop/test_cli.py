"""The headless command line, run as real processes against the real sandbox, with Qt made unimportable."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.fixtures.cli import cli, run_cli, synced
from tests.fixtures.sandbox import SandboxHandle


def test_sync_then_conversations_and_messages_as_json(sandbox: SandboxHandle, tmp_path: Path) -> None:
    synced(sandbox, tmp_path)
    result = cli(sandbox, tmp_path, "conversations", "--json")
    assert result.returncode == 0, result.stderr
    conversations = json.loads(result.stdout)
    assert conversations and len({c["accountId"] for c in conversations}) == 2
    keys = [(c["accountId"], c["conversationUrn"]) for c in conversations]
    assert len(keys) == len(set(keys))  # once per (account, id)
    for field in ("conversationUrn", "accountId", "lastActivityAt", "unreadCount", "latestMessage"):
        assert all(field in c for c in conversations)
    first = next(c for c in conversations if c["latestMessage"])
    assert set(first["latestMessage"]) >= {"messageUrn", "text", "sentAt"}

    result = cli(sandbox, tmp_path, "messages", first["conversationUrn"], "--json")
    assert result.returncode == 0, result.stderr
    messages = json.loads(result.stdout)
    assert messages
    for field in (
        "messageUrn",
        "messageId",
        "conversationUrn",
        "accountId",
        "text",
        "sentAt",
        "isSentByOwner",
    ):
        assert all(field in m for m in messages)
    sent = [m["sentAt"] for m in messages]
    assert sent == sorted(sent, reverse=True)  # newest first
    assert messages[0]["messageUrn"] == first["latestMessage"]["messageUrn"]
    assert all(m["accountId"] == first["accountId"] for m in messages)


def test_send_then_recall_by_urn(sandbox: SandboxHandle, tmp_path: Path) -> None:
    synced(sandbox, tmp_path)
    conversations = json.loads(cli(sandbox, tmp_path, "conversations", "--json").stdout)
    target = conversations[0]
    sent = cli(sandbox, tmp_path, "send", target["conversationUrn"], "hello from the command line")
    assert sent.returncode == 0, sent.stderr
    message = json.loads(sent.stdout)
    assert message["text"] == "hello from the command line" and message["isSentByOwner"] is True

    listed = json.loads(cli(sandbox, tmp_path, "messages", target["conversationUrn"], "--json").stdout)
    assert listed[0]["messageUrn"] == message["messageUrn"]

    recalled = cli(sandbox, tmp_path, "recall", target["conversationUrn"], message["messageUrn"])
    assert recalled.returncode == 0, recalled.stderr
    assert recalled.stdout.strip() == message["messageUrn"]
    listed = json.loads(cli(sandbox, tmp_path, "messages", target["conversationUrn"], "--json").stdout)
    assert message["messageId"] not in {m["messageId"] for m in listed}


def test_recall_of_someone_elses_message_is_refused_with_exit_3(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    synced(sandbox, tmp_path)
    conversations = json.loads(cli(sandbox, tmp_path, "conversations", "--json").stdout)
    for conversation in conversations:
        messages = json.loads(
            cli(sandbox, tmp_path, "messages", conversation["conversationUrn"], "--json").stdout
        )
        theirs = [m for m in messages if not m["isSentByOwner"]]
        if theirs:
            break
    result = cli(sandbox, tmp_path, "recall", conversation["conversationUrn"], theirs[0]["messageUrn"])
    assert result.returncode == 3
    assert "Only messages you sent" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_account_that_contradicts_the_urn_is_bad_input(sandbox: SandboxHandle, tmp_path: Path) -> None:
    synced(sandbox, tmp_path)
    conversations = json.loads(cli(sandbox, tmp_path, "conversations", "--json").stdout)
    mine = conversations[0]
    other = next(c["accountId"] for c in conversations if c["accountId"] != mine["accountId"])
    result = cli(sandbox, tmp_path, "messages", mine["conversationUrn"], "--account", other)
    assert result.returncode == 2
    assert "contradicts" in result.stderr


@pytest.mark.parametrize(
    "urn", ["urn:li:msg_conversation:(nope", "urn:li:msg_conversation:(urn:li:fsd_profile:A,2-abc) ", "%zz"]
)
def test_a_malformed_urn_is_bad_input(urn: str, sandbox: SandboxHandle, tmp_path: Path) -> None:
    result = cli(sandbox, tmp_path, "messages", urn)
    assert result.returncode == 2
    assert "malformed URN" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_key_and_no_running_sandbox_says_how_to_start_one(tmp_path: Path) -> None:
    result = run_cli("conversations", data_dir=tmp_path)
    assert result.returncode == 2
    assert "connectsafely-desktop sandbox --state-dir" in result.stderr


def test_a_wrong_key_is_refused_with_exit_3(sandbox: SandboxHandle, tmp_path: Path) -> None:
    result = cli(sandbox, tmp_path, "sync", "--once", key="definitely-not-the-key")
    assert result.returncode == 3
    assert "definitely-not-the-key" not in result.stderr + result.stdout


def test_server_errors_are_unavailable_with_exit_4(sandbox: SandboxHandle, tmp_path: Path) -> None:
    sandbox.control("POST", "faults", {"method": "GET", "path": "accounts", "count": 10, "status": 500})
    result = cli(sandbox, tmp_path, "sync", "--once")
    assert result.returncode == 4
    assert "Traceback" not in result.stderr


def test_a_cache_with_a_newer_schema_is_refused_with_exit_2(sandbox: SandboxHandle, tmp_path: Path) -> None:
    synced(sandbox, tmp_path)
    (cache_file,) = tmp_path.glob("cache-*.sqlite")
    with sqlite3.connect(cache_file) as conn:
        conn.execute("PRAGMA user_version = 999")
    result = cli(sandbox, tmp_path, "conversations")
    assert result.returncode == 2
    assert "999" in result.stderr


def test_a_running_sandbox_in_the_data_dir_is_used_without_a_key(tmp_path: Path) -> None:
    """ARCHITECTURE.md §4 (the sandbox): a headless command reuses the data dir's running sandbox."""
    from tests.fixtures.sandbox import start_sandbox

    handle = start_sandbox(tmp_path / "unused", "--state-dir", str(tmp_path / "data" / "sandbox"), key=None)
    try:
        result = run_cli("sync", "--once", data_dir=tmp_path / "data")
        assert result.returncode == 0, result.stderr
        listed = run_cli("conversations", "--json", data_dir=tmp_path / "data")
        assert listed.returncode == 0 and json.loads(listed.stdout)
    finally:
        handle.stop()


def test_the_data_dir_is_user_only(sandbox: SandboxHandle, tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    synced(sandbox, data)
    assert (data.stat().st_mode & 0o777) == 0o700


def test_an_unknown_account_is_bad_input_and_the_known_ones_are_named(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    synced(sandbox, tmp_path)
    known = {c["accountId"] for c in json.loads(cli(sandbox, tmp_path, "conversations", "--json").stdout)}
    result = cli(sandbox, tmp_path, "conversations", "--account", "000000000000000000000000")
    assert result.returncode == 2
    assert "no account 000000000000000000000000 in the cache" in result.stderr
    assert all(account in result.stderr for account in known)
    assert result.stdout == ""

    mine = sorted(known)[0]
    listed = json.loads(cli(sandbox, tmp_path, "conversations", "--account", mine, "--json").stdout)
    assert listed and {c["accountId"] for c in listed} == {mine}


def test_a_urn_too_long_for_a_url_is_bad_input_not_the_servers_fault(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    synced(sandbox, tmp_path)
    conversation = json.loads(cli(sandbox, tmp_path, "conversations", "--json").stdout)[0]
    mailbox = conversation["conversationUrn"].split("(", 1)[1].split(",", 1)[0]
    huge = f"urn:li:msg_message:({mailbox},2-{'QUFB' * 10_000})"  # a 40,000-character token
    result = cli(sandbox, tmp_path, "recall", conversation["conversationUrn"], huge)
    assert result.returncode == 2, result.stderr
    assert "too long" in result.stderr
    assert "Server" not in result.stderr and "LinkedIn" not in result.stderr
    assert "Traceback" not in result.stderr


def test_sync_names_each_account_it_could_not_serve_and_exits_3_when_one_was_refused(
    tmp_path: Path,
) -> None:
    """The vendor profile lists an account without an API seat (spec §8): it is named, not synced."""
    from tests.fixtures.sandbox import start_sandbox

    vendor = start_sandbox(tmp_path / "sandbox", record=False)  # vendor shapes are not openapi.yaml's
    try:
        vendor.control("POST", "profile", {"profile": "vendor"})
        result = cli(vendor, tmp_path / "data", "sync", "--once")
    finally:
        vendor.stop()
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("account ")]
    assert len(lines) == 1, result.stderr
    assert "No API access for this account on your ConnectSafely plan" in lines[0]
    assert "…)" in lines[0]  # the account's name and the start of its id
    assert result.stderr.splitlines()[0].startswith("synced ")


def test_accounts_that_failed_for_now_are_named_and_the_sync_still_succeeds(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    synced(sandbox, tmp_path)
    sandbox.control(
        "POST", "faults", {"method": "GET", "path": "^/?conversations$", "count": 100, "status": 500}
    )
    result = cli(sandbox, tmp_path, "sync", "--once")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("account ")]
    assert len(lines) == 2, result.stderr
    assert all("Server error (500)" in line for line in lines)


def test_a_key_without_api_access_is_refused_with_exit_3(tmp_path: Path) -> None:
    """A 403 on A1 (no API access on the plan, spec §8) is a refusal, not "unavailable"."""
    from tests.fixtures.sandbox import start_sandbox

    handle = start_sandbox(tmp_path / "sandbox", record=False)  # 403 is not in openapi.yaml's A1
    try:
        fault = {"method": "GET", "path": "accounts", "count": 10, "status": 403, "code": "FORBIDDEN"}
        handle.control("POST", "faults", fault)
        result = cli(handle, tmp_path / "data", "sync", "--once")
    finally:
        handle.stop()
    assert result.returncode == 3, result.stderr
    assert "No API access" in result.stderr
