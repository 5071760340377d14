"""The item delegates under their old module name, for code that still imports them from here."""

from __future__ import annotations

from .conversation_delegate import ConversationDelegate
from .message_delegate import MessageDelegate

__all__ = ["ConversationDelegate", "MessageDelegate"]
