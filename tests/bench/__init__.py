"""Benchmarks, not tests: ``python -m tests.bench [name ...] [--size small|full] [--runs N]``.

One module per figure of the performance issue (``ingest``, ``resync``, ``lateness``, ``recall``,
``startup``, ``open_conversation``, ``memory``); ``common`` holds the statistics, machine facts and the
``BENCHMARKS.md`` writer, ``dataset`` the synthetic inbox, ``gui`` and ``paint`` what the Qt children share.
"""
