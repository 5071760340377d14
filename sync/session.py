"""This process's client session id (spec §6), in a module of its own: the GUI starts its sync worker
before the first paint, with this id in the worker's configuration, without importing the HTTP stack
(``sync.api``) that the id is also sent by."""

from __future__ import annotations

import uuid

__all__ = ["process_session_id"]

_process_session_id: str | None = None


def process_session_id() -> str:
    """This process's client session id, made once and sent on every call and handshake."""
    global _process_session_id
    if _process_session_id is None:
        _process_session_id = uuid.uuid4().hex
    return _process_session_id
