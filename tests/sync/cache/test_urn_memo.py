"""The ingest's URN memo must answer exactly what ``sync.urns`` answers, for any input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync import urns
from sync.cache.validate import UrnMemo
from tests.sync.cache.helpers import MAILBOX_A, MAILBOX_B, message_token, thread_token

_HEADS = [f"urn:li:msg_message:({MAILBOX_A}", f"urn:li:msg_message:({MAILBOX_B}", "urn:li:msg_message:(bad"]
_TAILS = st.one_of(
    st.sampled_from([message_token(1), message_token(2), "2-", "2-a=b", "2-%41A", "x", "2-a)", "2-a,2-b"]),
    st.text(alphabet="2-AZaz09+/=%(),:", max_size=12),
)
_OTHER = st.sampled_from(
    [
        f"urn:li:messagingMessage:{message_token(3)}",
        f"urn:li:fs_event:({thread_token(1)},{message_token(4)})",
        urns.encode_path_segment(urns.message_urn(MAILBOX_A, message_token(5))),
        "urn:li:salesNav_thread:2-abc",
    ]
)
_ENDS = st.sampled_from([")", "", "))"])
_BUILT = st.builds(lambda h, t, end: f"{h},{t}{end}", st.sampled_from(_HEADS), _TAILS, _ENDS)
_VALUES = st.one_of(_BUILT, _OTHER)


def _expected(value: str) -> tuple[str, str, str | None] | str:
    try:
        parsed = urns.parse_message(value)
    except urns.UrnError:
        return "error"
    return parsed.token, str(parsed), parsed.thread_token


def _actual(memo: UrnMemo, value: str) -> tuple[str, str, str | None] | str:
    try:
        return memo.message(value)
    except urns.UrnError:
        return "error"


@given(st.lists(_VALUES, min_size=1, max_size=30))
def test_memo_agrees_with_the_parser_on_every_sequence(values: list[str]) -> None:
    memo = UrnMemo()
    for value in values:
        assert _actual(memo, value) == _expected(value), value
