"""The local ConnectSafely sandbox: the app's embedded default backend and every integration test's server.

``server.main`` is ``connectsafely-desktop sandbox`` (and ``python -m sync.sandbox``). ``app`` is the core
(dispatch, auth, faults, limits, the response record); its handlers are in ``routes_*``, the event
stream in ``stream``, simulated contacts in ``contacts`` and the ``_sandbox/`` controls in ``controls``.
``data`` seeds the demo data, ``state`` holds and journals it, ``events`` is the ``/ws`` event log,
``limits`` the rate limits and ``clock`` the sandbox clock. Nothing here imports Qt.
"""
