"""URN parsing, building and normalization (spec §4)."""

from __future__ import annotations

import base64
import contextlib
import string
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import urns
from sync.urns import ConversationUrn, MessageUrn, ProfileUrn, UrnError

# The real examples of spec §4.
PROFILE = "urn:li:fsd_profile:ACoAAATPlQ0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio"
THREAD = "2-ODFkYjU4M2ItZDlmYS00YTVjLThlNTQtZjI5YTE4ZWUyZDk5XzEwMA=="
MSG_TOKEN = "2-MTc2MDc3MzMxMDQyOWI2OTc1NC0xMDA="
CONVERSATION = f"urn:li:msg_conversation:({PROFILE},{THREAD})"
THREAD_BACKEND = f"urn:li:messagingThread:{THREAD}"
MESSAGE = f"urn:li:msg_message:({PROFILE},{MSG_TOKEN})"
MESSAGE_BACKEND = f"urn:li:messagingMessage:{MSG_TOKEN}"
LEGACY_THREAD = "2-ZTI4OTlmNDEtOGI1MC00ZGEyLWI3ODUtNjM5NGVjYTlhNWIwXzAxMg=="
LEGACY_MSG = "2-MTYxMjk5MzkyMzQxMWI0ODMyNy0wMDMmZTI4OTlmNDEtOGI1MC00ZGEyLWI3ODUtNjM5NGVjYTlhNWIwXzAxMg=="
LEGACY_MESSAGE = f"urn:li:fs_event:({LEGACY_THREAD},{LEGACY_MSG})"
LEGACY_CONVERSATION = f"urn:li:fs_conversation:{LEGACY_THREAD}"


def test_spec_examples_parse_to_their_parts() -> None:
    assert urns.parse(PROFILE) == ProfileUrn("ACoAAATPlQ0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio")
    assert urns.parse(CONVERSATION) == ConversationUrn(
        "msg_conversation", THREAD, ProfileUrn("ACoAAATPlQ0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio")
    )
    assert urns.parse(THREAD_BACKEND) == ConversationUrn("messagingThread", THREAD)
    assert urns.parse(LEGACY_CONVERSATION) == ConversationUrn("fs_conversation", LEGACY_THREAD)
    assert urns.parse(MESSAGE) == MessageUrn(
        "msg_message", MSG_TOKEN, ProfileUrn("ACoAAATPlQ0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio")
    )
    assert urns.parse(MESSAGE_BACKEND) == MessageUrn("messagingMessage", MSG_TOKEN)
    assert urns.parse(LEGACY_MESSAGE) == MessageUrn("fs_event", LEGACY_MSG, thread_token=LEGACY_THREAD)


@pytest.mark.parametrize(
    "urn",
    [PROFILE, CONVERSATION, THREAD_BACKEND, LEGACY_CONVERSATION, MESSAGE, MESSAGE_BACKEND, LEGACY_MESSAGE],
)
def test_spec_examples_round_trip_through_str(urn: str) -> None:
    assert str(urns.parse(urn)) == urn


@pytest.mark.parametrize("urn", [CONVERSATION, THREAD_BACKEND, LEGACY_CONVERSATION, LEGACY_MESSAGE])
def test_conversation_id_is_the_thread_token(urn: str) -> None:
    expected = LEGACY_THREAD if "fs_" in urn else THREAD
    assert urns.conversation_id(urn) == expected


@pytest.mark.parametrize("urn", [MESSAGE, MESSAGE_BACKEND, MSG_TOKEN])
def test_message_id_of_every_modern_form_is_the_same_token(urn: str) -> None:
    assert urns.message_id(urn) == MSG_TOKEN


def test_legacy_message_id_is_never_the_modern_token() -> None:
    assert urns.message_id(LEGACY_MESSAGE) == LEGACY_MSG
    assert urns.message_id(LEGACY_MESSAGE) != MSG_TOKEN


def test_path_encoded_urn_decodes_exactly_once() -> None:
    encoded = urns.encode_path_segment(MESSAGE)
    assert "/" not in encoded and "(" not in encoded and "+" not in encoded
    assert urns.parse_message(encoded) == urns.parse_message(MESSAGE)
    # Encoded twice is not the URN: decoding happens once, never until it stops changing.
    with pytest.raises(UrnError):
        urns.parse_message(quote(encoded, safe=""))


def test_build_functions_produce_parseable_urns() -> None:
    assert urns.conversation_urn(PROFILE, THREAD) == CONVERSATION
    assert urns.message_urn(PROFILE, MSG_TOKEN) == MESSAGE
    assert urns.profile_urn("ACoAAATPlQ0Bc8wdg-Iy8wZgEDuSdIVWJiE1Aio") == PROFILE
    assert urns.mailbox_of(MESSAGE) == PROFILE
    assert urns.mailbox_of(MESSAGE_BACKEND) is None
    with pytest.raises(UrnError):
        urns.message_urn(PROFILE, "not-a-token")
    with pytest.raises(UrnError):
        urns.conversation_urn("urn:li:member:123", THREAD)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty string"),
        (f" {MESSAGE}", "whitespace"),
        (f"{MESSAGE}\n", "whitespace"),
        (MESSAGE.replace("urn:li:", "URN:LI:", 1), "does not start with 'urn:li:'"),
        (MESSAGE.replace("msg_message", "MSG_MESSAGE"), "not a message form"),
        (f"{MESSAGE})", "after the closing parenthesis"),
        (f"{MESSAGE}x", "after the closing parenthesis"),
        (f"urn:li:msg_message:(urn:li:member:123,{MSG_TOKEN})", "mailbox element"),
        (f"urn:li:msg_message:({PROFILE},3-abc)", "token"),
        (f"urn:li:msg_message:({PROFILE},2-)", "token"),
        (f"urn:li:msg_message:({PROFILE},2-ab$c)", "token"),
        (f"urn:li:msg_message:({PROFILE},{MSG_TOKEN},{MSG_TOKEN})", "exactly two elements"),
        ("urn:li:msg_message:%ZZ", "invalid percent escape"),
        ("urn:li:msg_message:%", "invalid percent escape"),
        ("urn:li:msg_message:%C3%28", "UTF-8"),
        ("urn:li:salesNav_thread:2-abc", "not a message form"),
        ("urn:li:fsd_profile:bad id", "profile id"),
    ],
)
def test_malformed_urns_raise_one_error_naming_the_problem(value: str, reason: str) -> None:
    with pytest.raises(UrnError) as caught:
        urns.parse_message(value) if "fsd_profile:bad" not in value else urns.parse_profile(value)
    assert reason in caught.value.reason
    assert reason in str(caught.value)


def test_conversation_parser_refuses_message_urns_and_vice_versa() -> None:
    with pytest.raises(UrnError):
        urns.parse_conversation(MESSAGE)
    with pytest.raises(UrnError):
        urns.parse_message(CONVERSATION)
    with pytest.raises(UrnError):
        urns.conversation_id(MESSAGE_BACKEND)


def test_non_string_input_is_the_documented_error() -> None:
    for value in (None, 12, b"urn:li:fsd_profile:x", ["a"]):
        with pytest.raises(UrnError):
            urns.parse(value)  # type: ignore[arg-type]


# --- properties -------------------------------------------------------------------------------

B64_BYTES = st.binary(min_size=1, max_size=48)
PROFILE_IDS = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=40)


def token_of(raw: bytes) -> str:
    return "2-" + base64.b64encode(raw).decode("ascii")


@settings(max_examples=300)
@given(raw=B64_BYTES, mailbox_a=PROFILE_IDS, mailbox_b=PROFILE_IDS)
def test_normalized_message_id_does_not_depend_on_the_mailbox(
    raw: bytes, mailbox_a: str, mailbox_b: str
) -> None:
    token = token_of(raw)
    under_a = urns.message_urn(urns.profile_urn(mailbox_a), token)
    under_b = urns.message_urn(urns.profile_urn(mailbox_b), token)
    backend = f"urn:li:messagingMessage:{token}"
    assert urns.message_id(under_a) == urns.message_id(under_b) == urns.message_id(backend) == token


@settings(max_examples=300)
@given(raw=B64_BYTES, mailbox=PROFILE_IDS)
def test_normalized_conversation_id_does_not_depend_on_the_mailbox(raw: bytes, mailbox: str) -> None:
    token = token_of(raw)
    full = urns.conversation_urn(urns.profile_urn(mailbox), token)
    assert urns.conversation_id(full) == urns.conversation_id(f"urn:li:messagingThread:{token}") == token


@settings(max_examples=300)
@given(raw=B64_BYTES, mailbox=PROFILE_IDS)
def test_path_encoding_round_trips_and_plus_survives(raw: bytes, mailbox: str) -> None:
    token = token_of(raw)
    urn = urns.message_urn(urns.profile_urn(mailbox), token)
    decoded = urns.parse_message(urns.encode_path_segment(urn))
    assert decoded.token == token
    assert str(decoded) == urn
    if "+" in token:
        # unquote, never unquote_plus: a literal '+' is not a space.
        assert "+" in decoded.token and " " not in decoded.token


def test_plus_in_a_token_survives_decoding_literally() -> None:
    token = token_of(bytes([0xFB, 0xEF, 0xBE]))  # base64 "++++"
    assert "+" in token
    urn = urns.message_urn(PROFILE, token)
    assert urns.message_id(urn) == token
    assert urns.message_id(urns.encode_path_segment(urn)) == token


@settings(max_examples=2000)
@given(text=st.text(max_size=200))
def test_arbitrary_text_raises_nothing_but_the_documented_error(text: str) -> None:
    for fn in (
        urns.parse,
        urns.parse_message,
        urns.parse_conversation,
        urns.message_id,
        urns.conversation_id,
    ):
        with contextlib.suppress(UrnError):
            fn(text)


@settings(max_examples=500)
@given(
    text=st.text(alphabet="urn:li:msg_message(),fsd_profile2-AZaz09+/=%", max_size=120),
)
def test_urn_shaped_noise_raises_nothing_but_the_documented_error(text: str) -> None:
    try:
        parsed = urns.parse(text)
    except UrnError:
        return
    # Whatever parses must print back to its decoded form.
    assert str(parsed) == urns.decode_percent(text)
