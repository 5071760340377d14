"""Wire decoding: typed msgspec structs for every response of spec §2, validated item by item.

Every ``decode_*`` function is pure (bytes in, values out, no I/O, no shared state), so a caller may run
it in an executor for a big page; :class:`sync.api.ApiClient` does so itself above a size threshold.

A tolerant reader (spec §1 "JSON" and §8): the real service sends only what the vendor documents
(``spec/vendor-shapes.md``), so every **[chosen]** field of the contract is optional and every documented
field may be null or missing; unknown fields are ignored and so are unknown enum values (an enum is read
as a plain string, never checked against a list). Timestamps may be epoch milliseconds (int or float) or
ISO-8601 strings. Integers are bounded to SQLite's int64 (:data:`Int64`), so a huge number skips its item
here instead of overflowing in the cache later.

Validation is per item (ARCHITECTURE.md §9): an item whose URN does not parse
(:mod:`sync.urns`) or whose fields are wrong is skipped, logged and counted in the page's ``skipped``
(the first few in detail, then one line with the count, so a hostile page cannot flood the log); only a
malformed *envelope* rejects the page, as :class:`sync.errors.ProtocolError`. Fields the product does not
use are not declared, so their shape can never make an item fail.

Error answers (:func:`error_from_response`) are typed by ``code`` (any letter case), else by status, and
say what the server said: ``message``, else ``error``, else a Zod body's issues as ``path: message``.

The package's modules: :mod:`~sync.wire.structs` (the shapes and bounded types),
:mod:`~sync.wire.results` (what the decoders return), :mod:`~sync.wire.items` (item-by-item validation and
the conversions to model values), :mod:`~sync.wire.decoders` (one per endpoint) and
:mod:`~sync.wire.error_answers`. Callers import from here: ``from sync import wire; wire.decode_…``.
"""

from sync.wire.decoders import (
    decode_account_status,
    decode_accounts,
    decode_ack,
    decode_conversations,
    decode_exists,
    decode_messages,
    decode_react,
    decode_recall,
    decode_refresh,
    decode_send,
    decode_server_sync,
    decode_sync_status,
)
from sync.wire.error_answers import (
    error_from_response,
    parse_error_body,
    parse_rate_limit_reset,
    parse_retry_after,
    rate_limit_wait,
)
from sync.wire.items import (
    DETAILED_SKIPS,
    SkipLog,
    conversation_from_wire,
    decode_message_item,
    message_from_wire,
)
from sync.wire.results import (
    AccountList,
    AccountSyncStatus,
    ConversationAck,
    ConversationPage,
    ExistsResult,
    MessagePage,
    ReactResult,
    RecallResult,
    RefreshResult,
    SendResult,
    ServerSyncResult,
    SyncState,
    SyncStatusList,
)
from sync.wire.structs import (
    INT64_MAX,
    INT64_MIN,
    MAX_COUNT,
    Count,
    Int64,
    WireAccount,
    WireConversation,
    WireMessage,
    WireParticipant,
    WireReaction,
    epoch_ms,
)

__all__ = [
    "DETAILED_SKIPS",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_COUNT",
    "AccountList",
    "AccountSyncStatus",
    "ConversationAck",
    "ConversationPage",
    "Count",
    "ExistsResult",
    "Int64",
    "MessagePage",
    "ReactResult",
    "RecallResult",
    "RefreshResult",
    "SendResult",
    "ServerSyncResult",
    "SkipLog",
    "SyncState",
    "SyncStatusList",
    "WireAccount",
    "WireConversation",
    "WireMessage",
    "WireParticipant",
    "WireReaction",
    "conversation_from_wire",
    "decode_account_status",
    "decode_accounts",
    "decode_ack",
    "decode_conversations",
    "decode_exists",
    "decode_message_item",
    "decode_messages",
    "decode_react",
    "decode_recall",
    "decode_refresh",
    "decode_send",
    "decode_server_sync",
    "decode_sync_status",
    "epoch_ms",
    "error_from_response",
    "message_from_wire",
    "parse_error_body",
    "parse_rate_limit_reset",
    "parse_retry_after",
    "rate_limit_wait",
]
