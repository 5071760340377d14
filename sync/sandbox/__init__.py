"""The local ConnectSafely sandbox: the app's embedded default backend and every integration test's server.

``server.main`` is ``connectsafely-desktop sandbox`` (and ``python -m sync.sandbox``). ``app`` is the core
(dispatch, auth, the response record) over ``wire`` (replies, request context, parsing); its handlers are
in ``routes_*``, fault injection in ``faults``, the event stream in ``stream``, simulated contacts in
``contacts`` and the ``_sandbox/`` controls in ``controls``. ``profiles`` holds the two wire profiles of
spec §8 (``contract``, ``vendor``). ``data`` seeds the demo data, ``state`` holds and journals it,
``events`` is the ``/ws`` event log, ``limits`` the rate limits and ``clock`` the sandbox clock.
Nothing here imports Qt.
"""
