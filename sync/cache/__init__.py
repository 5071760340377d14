"""The local cache (peewee on SQLite): one file per backend, one writer thread, reads from any thread.

Typical use::

    cache = Cache.open(data_dir, identity)                  # creates or migrates; may raise CacheError
    change = cache.writer.upsert_messages(items).result()   # a ChangeSet; or await cache.writer.run(...)
    page = cache.reader.conversations(limit=50)             # frozen sync.model values, any thread
    cache.close()                                           # runs queued writes first

Writes (``cache.writer``, each one ``BEGIN IMMEDIATE`` transaction returning a Future): ``apply(ops,
advance_seq_to=)`` for several operations at once (``UpsertAccounts``, ``UpsertConversations``,
``UpsertMessages``, ``Tombstone``, ``UpdateConversation``, ``SetReactions``, ``SetConversationSync``,
``SetAccountSync``) and one method per operation, plus the recall log and ``set_last_applied_seq``.
Reads: :class:`CacheReader` (search: ``search_messages`` and the conversation filter, over the FTS5
indexes of :mod:`sync.cache.search`). Errors: :class:`CacheError` (file unusable: too new, in use), the
:class:`sync.errors.LocalStorageError` family (busy, disk full, read-only, damaged, data dir unusable:
from ``open`` and from every write's future) and :class:`CacheInputError` (a malformed write; nothing
written). A damaged file is moved aside with :func:`move_damaged_cache_aside`.

Query style: every query is constant, parameterised SQL text run on the connection peewee owns
(``CacheDatabase.connection()``); peewee is only the connection and transaction layer (one connection
per thread, the pragmas at open, ``write_transaction()`` = ``BEGIN IMMEDIATE``), with no models. Why
one style, and this one: the hot paths (ingest, tombstones, a page of reads) must be SQL by measurement
(ENVIRONMENT.md "SQLite through peewee": the ORM halves ingest throughput and adds 0.25–0.33 ms per
query), the schema is SQL DDL already (``schema``, frozen per version), and one style reads better
than two. Only ``?`` placeholders, constant column lists and constant filters made of them are ever
put into SQL text; each ``# noqa: S608`` says which on its line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sync.cache.db import (
    BUSY_TIMEOUT_S,
    SCHEMA_VERSION,
    CacheClosed,
    CacheDatabase,
    CacheError,
    CacheInUse,
    CacheSchemaTooNew,
    Migration,
    MovedAside,
    cache_path,
    move_damaged_cache_aside,
    note_damage,
    open_database,
    storage_error_of,
)
from sync.cache.ops import (
    CacheInputError,
    SetAccountSync,
    SetConversationSync,
    SetReactions,
    Tombstone,
    UpdateConversation,
    UpsertAccounts,
    UpsertConversations,
    UpsertMessages,
    WriteOp,
)
from sync.cache.reads import CacheReader
from sync.cache.writer import CacheWriter

__all__ = [
    "SCHEMA_VERSION",
    "Cache",
    "CacheClosed",
    "CacheDatabase",
    "CacheError",
    "CacheInUse",
    "CacheInputError",
    "CacheReader",
    "CacheSchemaTooNew",
    "CacheWriter",
    "MovedAside",
    "SetAccountSync",
    "SetConversationSync",
    "SetReactions",
    "Tombstone",
    "UpdateConversation",
    "UpsertAccounts",
    "UpsertConversations",
    "UpsertMessages",
    "WriteOp",
    "cache_path",
    "move_damaged_cache_aside",
    "note_damage",
    "storage_error_of",
]


class Cache:
    """An open cache file with its writer (one thread) and reader (any thread)."""

    def __init__(self, db: CacheDatabase) -> None:
        self.db = db
        self.writer = CacheWriter(db)
        self.reader = CacheReader(db)

    @property
    def path(self) -> Path:
        return self.db.path

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str], identity: str) -> Cache:
        """Open the cache of a service identity in ``data_dir`` (:func:`cache_path`); the app opens its
        backend's with ``Backend.open_cache``."""
        return cls.open_file(cache_path(data_dir, identity))

    @classmethod
    def open_file(
        cls,
        path: str | os.PathLike[str],
        *,
        migrations: Mapping[int, Migration] | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        migration_wait_s: float = 2.0,
    ) -> Cache:
        """Open a cache file by path; see :func:`sync.cache.db.open_database` for the errors."""
        db = open_database(
            path, migrations=migrations, busy_timeout_s=busy_timeout_s, migration_wait_s=migration_wait_s
        )
        return cls(db)

    def close(self) -> None:
        """Run the queued writes, then close the writer's and the calling thread's connections and
        release the file. Other threads' read connections close when those threads end."""
        self.writer.close()
        self.db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
