"""Fuzz: URN parsing (spec §4). Any string gives a parsed value or ``UrnError`` — never another exception —
and what parses is exactly one of the documented forms, rebuilt unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import urns
from tests.sync.fuzzing import CONVERSATION_URN, FULL, MESSAGE_URNS, PROFILE, THREAD, fuzz

PARSERS: list[Callable[[str], Any]] = [
    urns.parse,
    urns.parse_conversation,
    urns.parse_message,
    urns.parse_profile,
    urns.message_id,
    urns.conversation_id,
    urns.mailbox_of,
    urns.decode_percent,
]
SEEDS = [
    CONVERSATION_URN,
    *MESSAGE_URNS[:2],
    f"urn:li:fsd_profile:{PROFILE}",
    f"urn:li:messagingThread:{THREAD}",
    f"urn:li:fs_conversation:{THREAD}",
    f"urn:li:fs_event:({THREAD},{MESSAGE_URNS[0].split(',')[1][:-1]})",
    f"urn:li:messagingMessage:{THREAD}",
]
NASTY = st.sampled_from(
    [
        "/",
        "..",
        "?",
        "#",
        "%",
        "%2F",
        "%25",
        "%zz",
        "(",
        ")",
        ",",
        " ",
        "\t",
        "+",
        "=",
        "\x00",
        "é",
        "\ud800",
        "%C3%A9",
        "%FF",
        "URN",
        ":",
    ]
)

pytestmark = pytest.mark.timeout(1800 if FULL else 300)


@st.composite
def urn_like(draw: st.DrawFn) -> str:
    """A valid URN with a few edits, one percent-encoded, or arbitrary text."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text(max_size=120))
    value = draw(st.sampled_from(SEEDS))
    if kind == 1:
        return quote(value, safe=draw(st.sampled_from(["", ":", ":(),"])))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(value)))
        if draw(st.booleans()) and value:
            value = value[:at] + value[at + 1 :]
        else:
            value = value[:at] + draw(NASTY | st.text(max_size=3)) + value[at:]
    return value


@fuzz
@given(value=urn_like(), parser=st.sampled_from(PARSERS))
def test_any_string_parses_or_raises_urn_error(value: str, parser: Callable[[str], Any]) -> None:
    try:
        parser(value)
    except urns.UrnError as exc:
        assert str(exc).startswith("malformed URN") and exc.reason


@fuzz
@given(value=urn_like())
def test_what_parses_is_a_documented_form_and_rebuilds_unchanged(value: str) -> None:
    try:
        parsed = urns.parse(value)
    except urns.UrnError:
        return
    text = urns.decode_percent(value)
    assert str(parsed) == text  # nothing trimmed, case-folded or guessed
    assert urns.parse(str(parsed)) == parsed
    assert not any(c in text for c in " \t\x00?#%")  # none of these is in any documented form
    if not isinstance(parsed, urns.ProfileUrn):
        assert urns.encode_path_segment(value).count("/") == 0


@fuzz
@given(
    value=st.lists(
        st.text(max_size=6) | st.sampled_from(["%", "%2", "%2F", "%C3%A9", "%ff", "%ED%A0%80", "%zz"]),
        max_size=8,
    ).map("".join)
)
def test_percent_escapes_decode_exactly_once_or_fail(value: str) -> None:
    try:
        once = urns.decode_percent(value)
    except urns.UrnError:
        return
    from urllib.parse import unquote

    assert once == unquote(value, errors="strict")


@pytest.mark.parametrize("bad", [None, 3, b"urn:li:fsd_profile:A", ["urn"]])
def test_a_value_that_is_not_a_string_is_an_urn_error(bad: Any) -> None:
    with pytest.raises(urns.UrnError):
        urns.parse(bad)
