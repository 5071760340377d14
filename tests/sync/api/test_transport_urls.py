"""Plain transport only on loopback; the event-stream URL is the base URL with the scheme swapped."""

from __future__ import annotations

import pytest

from sync.api import check_transport_url, is_loopback_host, ws_url
from sync.errors import BadServerUrl


@pytest.mark.parametrize(
    "url",
    [
        "https://api.connectsafely.ai/linkedin",
        "https://sandbox.api.connectsafely.ai/linkedin/",
        "wss://api.connectsafely.ai/linkedin/ws",
        "http://127.0.0.1:8765/linkedin",
        "http://127.3.2.1/linkedin",
        "http://localhost:9/linkedin",
        "http://LOCALHOST:9/linkedin",
        "http://[::1]:8765/linkedin",
        "ws://127.0.0.1:8765/linkedin/ws",
        "ws://[::1]:1/linkedin/ws",
    ],
)
def test_allowed(url: str) -> None:
    assert check_transport_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://api.connectsafely.ai/linkedin",
        "http://10.0.0.1/linkedin",
        "http://128.0.0.1/linkedin",
        "http://[::2]/linkedin",
        "http://localhost.evil.example/linkedin",
        "http://127.0.0.1.nip.io/linkedin",
        "ws://api.connectsafely.ai/linkedin/ws",
        "ftp://127.0.0.1/linkedin",
        "api.connectsafely.ai/linkedin",
        "https:///linkedin",
        "https://user:pass@api.connectsafely.ai/linkedin",
        "http://127.0.0.1:99999/linkedin",
        "",
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(BadServerUrl):
        check_transport_url(url)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:8765/linkedin", "ws://127.0.0.1:8765/linkedin/ws"),
        ("http://127.0.0.1:8765/linkedin/", "ws://127.0.0.1:8765/linkedin/ws"),
        ("https://api.connectsafely.ai/linkedin", "wss://api.connectsafely.ai/linkedin/ws"),
        ("http://[::1]:5/linkedin", "ws://[::1]:5/linkedin/ws"),
    ],
)
def test_ws_url(base: str, expected: str) -> None:
    assert ws_url(base) == expected


def test_ws_url_refuses_plain_off_loopback() -> None:
    with pytest.raises(BadServerUrl):
        ws_url("http://example.com/linkedin")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104  (a host string to check; nothing binds)
        ("::", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
