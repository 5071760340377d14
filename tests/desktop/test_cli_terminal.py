"""A contact cannot drive the user's terminal: server text reaches it with control characters escaped.

Issue 15 item 4: a message or a name holding ``ESC ] 0;… BEL`` (window title), ``ESC [2J`` (clear
screen), OSC 52 (write the clipboard), ``\\r`` (overwrite the line) or U+202E (reverse the line) came out
of ``messages`` and ``conversations`` raw. The hostile text goes in the way a contact's would: through
the sandbox (``_sandbox/inject``), then ``sync --once``, then the real CLI process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.cli import terminal_safe
from sync.cache import Cache, UpsertConversations
from sync.model import ConversationIn, Participant
from tests.fixtures.cli import cli, synced
from tests.fixtures.sandbox import SandboxHandle, start_sandbox

HOSTILE = (
    "title\x1b]0;pwned\x07 clear\x1b[2J clip\x1b]52;c;ZWNobyBwd25lZA==\x07 cr\rfake "
    "rtl\u202egnp.exe c1\x9b31m del\x7f nul\x00 lrm\u200e iso\u2066x\u2069 nl\nkept\ttab"
)
ESCAPED = (
    "title\\x1b]0;pwned\\x07 clear\\x1b[2J clip\\x1b]52;c;ZWNobyBwd25lZA==\\x07 cr\\x0dfake "
    "rtl\\u202egnp.exe c1\\x9b31m del\\x7f nul\\x00 lrm\\u200e iso\\u2066x\\u2069 nl\nkept\ttab"
)
RAW_CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))] + [
    "\u202e",
    "\u200e",
    "\u2066",
    "\u2069",
]


@pytest.fixture
def unchecked_sandbox(tmp_path: Path) -> Iterator[SandboxHandle]:
    """A private sandbox whose answers are not checked against openapi.yaml: these tests make it answer
    error codes the contract does not have, on purpose."""
    handle = start_sandbox(tmp_path / "sandbox", record=False)
    try:
        yield handle
    finally:
        handle.stop()


def assert_terminal_safe(text: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in text if c in RAW_CONTROLS})
    assert not found, f"raw control characters reached the terminal: {found}"


def test_escaping_keeps_newlines_and_tabs_and_shows_every_other_control() -> None:
    assert terminal_safe(HOSTILE) == ESCAPED
    assert terminal_safe("Émile résumé 🙂 مرحبا") == "Émile résumé 🙂 مرحبا"  # text is text
    assert_terminal_safe(terminal_safe("".join(RAW_CONTROLS)))


def test_a_hostile_message_is_escaped_in_messages_and_conversations(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    synced(sandbox, tmp_path)
    target = json.loads(cli(sandbox, tmp_path, "conversations", "--json").stdout)[0]
    sandbox.control(
        "POST",
        "inject",
        {"accountId": target["accountId"], "conversationUrn": target["conversationUrn"], "text": HOSTILE},
    )
    synced(sandbox, tmp_path)

    messages = cli(sandbox, tmp_path, "messages", target["conversationUrn"])
    assert messages.returncode == 0, messages.stderr
    assert_terminal_safe(messages.stdout)
    assert ESCAPED in messages.stdout

    conversations = cli(sandbox, tmp_path, "conversations")
    assert conversations.returncode == 0, conversations.stderr
    assert_terminal_safe(conversations.stdout)
    # The preview is the message's first 60 characters on one line.
    assert terminal_safe(HOSTILE.replace("\n", " ")[:60]) in conversations.stdout

    # --json carries the same value: JSON escapes C0, and the CLI escapes DEL, C1 and bidi controls as
    # \\uXXXX too (json.dumps with ensure_ascii=False would write them raw).
    as_json = cli(sandbox, tmp_path, "messages", target["conversationUrn"], "--json")
    assert_terminal_safe(as_json.stdout)
    assert json.loads(as_json.stdout)[0]["text"] == HOSTILE


def test_a_hostile_name_is_escaped(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """A participant's name (C1 ``participants[].name``): written into the cache as a sync stores it."""
    synced(sandbox, tmp_path)
    target = json.loads(cli(sandbox, tmp_path, "conversations", "--json").stdout)[0]
    (cache_file,) = tmp_path.glob("cache-*.sqlite")
    with Cache.open_file(cache_file) as cache:
        row = cache.reader.conversation(target["accountId"], target["conversationUrn"])
        assert row is not None
        renamed = ConversationIn(
            account_id=row.account_id,
            conversation_urn=row.conversation_urn,
            last_activity_at=row.last_activity_at + 1,
            unread_count=row.unread_count,
            starred=row.starred,
            participants=(Participant(profile_id="ACoAAHostile", name=HOSTILE),),
            latest=row.latest,
        )
        cache.writer.apply([UpsertConversations([renamed])]).result()

    listed = cli(sandbox, tmp_path, "conversations")
    assert listed.returncode == 0, listed.stderr
    assert_terminal_safe(listed.stdout)
    assert ESCAPED in listed.stdout


def test_a_hostile_error_message_is_escaped_on_stderr(
    unchecked_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """The server's own words in an error line (the sandbox's fault names its ``code`` in its message)."""
    code = "BAD\x1b]0;pwned\x07\x1b[2J\u202e"
    fault = {"method": "GET", "path": "accounts", "count": 5, "status": 400, "code": code}
    unchecked_sandbox.control("POST", "faults", fault)
    result = cli(unchecked_sandbox, tmp_path / "data", "sync", "--once")
    assert result.returncode == 3, result.stderr
    assert_terminal_safe(result.stderr)
    assert "BAD\\x1b]0;pwned\\x07\\x1b[2J\\u202e" in result.stderr


def test_log_lines_are_escaped_too(unchecked_sandbox: SandboxHandle, tmp_path: Path) -> None:
    """``-v`` log lines carry server text (a skipped item's reason, an error): escaped the same way."""
    code = "LOGGED\x1b]52;c;cHduZWQ=\x07"
    fault = {"method": "GET", "path": "accounts", "count": 5, "status": 500, "code": code}
    unchecked_sandbox.control("POST", "faults", fault)
    result = cli(unchecked_sandbox, tmp_path / "data", "sync", "--once", "-v")
    assert result.returncode == 4, result.stderr
    assert_terminal_safe(result.stderr)
    assert "LOGGED\\x1b]52;c;cHduZWQ=\\x07" in result.stderr
