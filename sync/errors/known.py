"""The base of every known error, and the redaction every text put into one goes through."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar, Final

__all__ = ["REDACTED", "KnownError", "redact"]

REDACTED: Final = "[redacted]"
_MAX_TEXT: Final = 500
"""Server-provided text is cut here: an HTML error page must not flood the log or the status bar."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced, and cut to a sane length.

    Secrets shorter than 4 characters are ignored: replacing them would mangle ordinary words and they
    are not real keys anyway.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    # A "Bearer <token>" echoed back by a proxy is a secret even if it is not our key (e.g. an old one).
    text = re.sub(r"(?i)(bearer\s+)\S+", r"\1" + REDACTED, text)
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT] + "…"
    return text


class KnownError(Exception):
    """An error that is the environment's fault, shown to the user as state.

    ``detail`` is for the log; ``server_message`` is the server's own words (already redacted), which
    some user messages quote; ``status`` and ``code`` are the HTTP status and the error body's ``code``.
    """

    kind: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False
    _plain: ClassVar[str] = "Something went wrong."

    def __init__(
        self,
        detail: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        server_message: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.detail = detail
        self.status = status
        self.code = code
        self.server_message = server_message
        self.endpoint = endpoint
        super().__init__(self._log_text())

    def _log_text(self) -> str:
        parts = [self.kind]
        if self.endpoint:
            parts.append(self.endpoint)
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        text = self.detail or self.server_message or ""
        return f"{head}: {text}" if text else head

    @property
    def user_message(self) -> str:
        """One sentence in plain words for the status bar or the message's inline state."""
        return self._plain

    def scrub(self, secrets: Iterable[str]) -> KnownError:
        """Redact ``secrets`` from every text of this error, in place; returns ``self``.

        The API client passes every error it raises through here, so no code path that builds one from
        outside text (a server message, a library's exception) can leak the key.
        """
        secrets = tuple(secrets)
        self.detail = redact(self.detail, secrets)
        if self.server_message is not None:
            self.server_message = redact(self.server_message, secrets)
        self.args = (self._log_text(),)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._log_text()!r})"
