"""The recall rules the core enforces and the UI shows, in one place (stdlib and ``sync.model`` only).

``ui/`` may import this module (the layer test allows it): eligibility, its reasons in the user's words,
and the words for each :class:`~sync.model.RecallState`. The core judges with the same function, so the
menu can never offer what the service would refuse, nor say it differently (ARCHITECTURE.md §7, step 1).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final

from sync.model import RECALL_WINDOW_MS, Message, RecallState

__all__ = [
    "REASON_NOT_OWN",
    "REASON_WINDOW_CLOSED",
    "RECALL_ACTION_TEXT",
    "STATE_WORDS",
    "UNCONFIRMED_CHECKING",
    "Eligibility",
    "Ineligible",
    "eligibility",
    "minutes_left_text",
]

RECALL_ACTION_TEXT: Final = "Recall for everyone"
REASON_NOT_OWN: Final = "Only messages you sent can be recalled"
REASON_WINDOW_CLOSED: Final = f"The {RECALL_WINDOW_MS // 60_000}-minute recall window has closed"
UNCONFIRMED_CHECKING: Final = "Recall not confirmed — checking…"
"""What an unconfirmed recall says on its message (spec §9): never "recalled", never "failed"."""

STATE_WORDS: Final[dict[RecallState, str]] = {
    RecallState.GRACE: "Waiting (grace period)",
    RecallState.PENDING: "Recalling…",
    RecallState.RECALLED: "Recalled",
    RecallState.REFUSED: "Refused",
    RecallState.UNCONFIRMED: "Not confirmed",
    RecallState.FAILED: "Not recalled",
    RecallState.CANCELLED: "Cancelled",
}
"""One word or two per state, for the recall log and the command line."""


class Ineligible(enum.StrEnum):
    NOT_OWN = "not_own"
    WINDOW_CLOSED = "window_closed"
    BUSY = "busy"


def minutes_left_text(left_ms: int) -> str:
    # Rounded up: "1 min left" while any time remains, never "0 min left" on an enabled action.
    return f"{max(1, math.ceil(left_ms / 60_000))} min left"


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Whether a message may be recalled now, and the words that say why (not)."""

    allowed: bool
    left_ms: int
    reason: str = ""
    why_not: Ineligible | None = None

    @property
    def menu_text(self) -> str:
        if self.allowed:
            return f"{RECALL_ACTION_TEXT} ({minutes_left_text(self.left_ms)})"
        return f"{RECALL_ACTION_TEXT} — {self.reason}"


def eligibility(message: Message, server_now_ms: int, *, busy_reason: str = "") -> Eligibility:
    """Own message, strictly inside the 60-minute window by the server's clock; ``busy_reason`` (the UI's:
    another recall of it in flight) disables it too."""
    left = message.recall_window_left_ms(server_now_ms)
    if not message.is_sent_by_owner:
        return Eligibility(False, left, REASON_NOT_OWN, Ineligible.NOT_OWN)
    if left <= 0:
        return Eligibility(False, 0, REASON_WINDOW_CLOSED, Ineligible.WINDOW_CLOSED)
    if busy_reason:
        return Eligibility(False, left, busy_reason, Ineligible.BUSY)
    return Eligibility(True, left)
