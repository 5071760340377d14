"""``--state-dir``: recalls, sends, read/star, seq and the event log survive a restart; files are private."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.sandbox import enc
from tests.sync.sandbox.helpers import accounts, all_conversations, all_messages, recall, recv, recv_events

pytestmark = pytest.mark.timeout(60)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_survives_a_restart(sandbox_factory: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = sandbox_factory("--state-dir", str(state), key=None)
    client = first.client("s")
    a = accounts(client)[0]
    conv = all_conversations(client, a["id"])[0]
    urn = conv["conversationUrn"]
    own = next(m for m in all_messages(client, urn, a["id"]) if m["isSentByOwner"])
    assert recall(client, urn, own["messageUrn"], a["id"]).status_code == 200
    sent = client.post(
        "/conversations/send", json={"accountId": a["id"], "conversationUrn": urn, "message": "kept"}
    )
    assert sent.status_code == 200
    assert client.patch(f"/conversations/{enc(urn)}/star").status_code == 200
    first.control("POST", "clock/advance", {"ms": 7_200_000})
    with first.ws() as ws:
        seq_before = recv(ws)["seq"]
    messages_before = all_messages(client, urn, a["id"])
    conversations_before = all_conversations(client, a["id"])
    key = first.key
    first.stop()

    second = sandbox_factory("--state-dir", str(state), key=None)
    assert second.key == key  # the generated key is reused
    client2 = second.client()
    assert all_messages(client2, urn, a["id"]) == messages_before
    assert all_conversations(client2, a["id"]) == conversations_before
    assert own["messageUrn"] not in {m["messageUrn"] for m in messages_before}
    assert messages_before[0]["text"] == "kept"
    assert conversations_before[0]["starred"] is True
    assert second.control("GET", "clock")["now"] >= first_clock_floor(sent.json()["sentMessage"]["sentAt"])
    with second.ws(since=1) as ws:  # the event log came back too: resume across the restart
        hello = recv(ws)
        assert hello["resumed"] is True and hello["seq"] == seq_before
        replayed = recv_events(ws, seq_before - 1)
    assert [e["seq"] for e in replayed] == list(range(2, seq_before + 1))


def first_clock_floor(sent_at: int) -> int:
    return sent_at + 7_200_000


def test_state_dir_and_files_are_private(sandbox_factory: Any, tmp_path: Path) -> None:
    state = tmp_path / "private"
    handle = sandbox_factory("--state-dir", str(state), key=None)
    client = handle.client()
    a = accounts(client)[0]
    urn = all_conversations(client, a["id"])[0]["conversationUrn"]
    client.patch(f"/conversations/{enc(urn)}/star")
    assert handle.key_file == str(state / "key")
    assert mode(state) == 0o700
    names = {p.name for p in state.iterdir()}
    assert {"key", "params.json", "journal.jsonl", "endpoint.json"} <= names
    for path in state.iterdir():
        assert mode(path) == 0o600, path
    assert handle.key not in (state / "journal.jsonl").read_text()


def test_reset_clears_the_persisted_state(sandbox_factory: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    handle = sandbox_factory("--state-dir", str(state))
    client = handle.client()
    a = accounts(client)[0]
    urn = all_conversations(client, a["id"])[0]["conversationUrn"]
    client.post("/conversations/send", json={"accountId": a["id"], "conversationUrn": urn, "message": "gone"})
    handle.control("POST", "reset")
    handle.stop()
    again = sandbox_factory("--state-dir", str(state))
    texts = [m["text"] for m in all_messages(again.client(), urn, a["id"])]
    assert "gone" not in texts


def test_a_journal_line_cut_short_by_a_crash_is_dropped(sandbox_factory: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = sandbox_factory("--state-dir", str(state))
    client = first.client()
    a = accounts(client)[0]
    urn = all_conversations(client, a["id"])[0]["conversationUrn"]
    client.post(
        "/conversations/send", json={"accountId": a["id"], "conversationUrn": urn, "message": "whole"}
    )
    first.stop()
    with (state / "journal.jsonl").open("a", encoding="utf-8") as journal:
        journal.write('{"op":"send","at":1')  # the process died mid-write

    second = sandbox_factory("--state-dir", str(state))
    client2 = second.client()
    client2.post(
        "/conversations/send", json={"accountId": a["id"], "conversationUrn": urn, "message": "after"}
    )
    second.stop()
    third = sandbox_factory("--state-dir", str(state))
    texts = [m["text"] for m in all_messages(third.client(), urn, a["id"])[:2]]
    assert texts == ["after", "whole"]
