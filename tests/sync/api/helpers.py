"""Shared bits of the API tests: JSON fixtures and the URNs they are built from."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

MAILBOX = "urn:li:fsd_profile:ACoAAATPlQ0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio"
THREAD = "2-ODFkYjU4M2ItZDlmYS00YTVjLThlNTQtZjI5YTE4ZWUyZDk5XzEwMA=="
MESSAGE_TOKEN = "2-MTc2MDc3MzMxMDQyOWI2OTc1NC0xMDA="
CONVERSATION_URN = f"urn:li:msg_conversation:({MAILBOX},{THREAD})"
MESSAGE_URN = f"urn:li:msg_message:({MAILBOX},{MESSAGE_TOKEN})"
ACCOUNT = "696ce9e780e0483585e4e553"
FAKE_KEY = "csk_test_Zx9QmPp4TTv2k8LrWqY7uN3b"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
