"""Where the client may connect and who it says it is: transport URL checks, the session id, the preload."""

from __future__ import annotations

import importlib
import ipaddress
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from sync.errors import BadServerUrl
from sync.session import process_session_id

__all__ = [
    "TRANSPORT_MODULES",
    "check_transport_url",
    "is_loopback_host",
    "preload_transport",
    "process_session_id",
    "suggested_base_url",
    "ws_url",
]

_SECURE_SCHEMES: Final = frozenset({"https", "wss"})
_PLAIN_SCHEMES: Final = frozenset({"http", "ws"})


TRANSPORT_MODULES: Final = ("httpcore", "h11", "sniffio", "anyio", "anyio._backends._asyncio", "certifi")
"""What httpx imports only on a client's first request (about 30 ms here), for :func:`preload_transport`."""


def preload_transport() -> None:
    """Import the modules a first request would import. Call it from a worker thread (a GUI does, after
    its first paint) so that the import does not freeze the window when the first sync starts."""
    for name in TRANSPORT_MODULES:
        importlib.import_module(name)


# --- transport URLs ---------------------------------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (spec §1: plain transport is for loopback only)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport_url(url: str) -> str:
    """Return ``url`` without a trailing ``/`` if it may carry the API key; else raise :class:`BadServerUrl`.

    ``https``/``wss`` anywhere; ``http``/``ws`` only to a loopback host. Credentials inside the URL are
    refused too: a URL ends up in logs and error messages, a secret must not.
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise BadServerUrl(f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in _SECURE_SCHEMES | _PLAIN_SCHEMES:
        raise BadServerUrl(f"unsupported scheme {scheme or '(none)'!r}")
    if not host:
        raise BadServerUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BadServerUrl("credentials inside the URL are not allowed")
    if scheme in _PLAIN_SCHEMES and not is_loopback_host(host):
        raise BadServerUrl(f"plain {scheme}:// is allowed only to this computer, not to {host}")
    del port
    return url[:-1] if url.endswith("/") else url


def ws_url(base_url: str) -> str:
    """The event-stream URL of spec §6: ``{base}/ws`` with ``https``→``wss`` and ``http``→``ws``."""
    base = check_transport_url(base_url)
    parts = urlsplit(base)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme.lower())
    if scheme is None:
        raise BadServerUrl(f"not an http(s) base URL: scheme {parts.scheme!r}")
    return check_transport_url(urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", "")))


def suggested_base_url(base_url: str) -> str | None:
    """The base URL a user probably meant when A1 answers 404: every path of the API is under
    ``/linkedin`` (spec §1), so ``https://api.connectsafely.ai`` becomes ``…/linkedin`` and
    ``…/linkedin/v1`` becomes ``…/linkedin``. None when the path already ends in ``/linkedin``."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/linkedin"):
        return None
    found = path.find("/linkedin/")
    path = path[: found + len("/linkedin")] if found >= 0 else path + "/linkedin"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
