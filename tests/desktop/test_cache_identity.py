"""The cache belongs to the service's identity, never to a port (issue 16, ARCHITECTURE.md §5).

The data dir's sandbox is known by the id it writes once into its state dir, whatever port it comes back
on; any other server by its URL and a fingerprint of the key (the key itself in no file name).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from pathlib import Path

from desktop import backend as backends
from desktop.backend import Backend, keyed_identity, running_sandbox
from tests.fixtures.sandbox import start_sandbox

URL = "https://api.connectsafely.ai/linkedin"
KEY_A = "csk_live_first_key_of_this_user_0001"
KEY_B = "csk_live_second_key_of_this_user_002"


def test_two_keys_on_one_url_are_two_caches_named_by_a_fingerprint_never_by_the_key(tmp_path: Path) -> None:
    a = Backend(URL, None, KEY_A, False, "keyring")
    a_again = Backend(URL, None, KEY_A, False, "environment")
    b = Backend(URL, None, KEY_B, False, "keyring")

    assert a.cache_path(tmp_path) == a_again.cache_path(tmp_path)  # where the key came from does not matter
    assert a.cache_path(tmp_path) != b.cache_path(tmp_path)
    assert a.cache_path(tmp_path).parent == tmp_path
    # The fingerprint, computed here independently: SHA-256 of an HMAC keyed with the key, 16 hex digits.
    keyed = hmac.new(KEY_A.encode(), b"connectsafely-desktop/cache-identity/v1", hashlib.sha256).digest()
    assert a.cache_identity == f"{URL} key:{hashlib.sha256(keyed).hexdigest()[:16]}"
    assert a.cache_identity == keyed_identity(URL, KEY_A)
    expected = "cache-" + hashlib.sha256(a.cache_identity.encode()).hexdigest()[:12] + ".sqlite"
    assert a.cache_path(tmp_path).name == expected
    for backend in (a, b):
        assert backend.api_key not in backend.cache_identity
        assert backend.api_key not in str(backend.cache_path(tmp_path))
        assert backend.api_key not in repr(backend)
    # Not the URL alone (the name every earlier version gave it, whatever the key).
    assert a.cache_path(tmp_path).name != "cache-" + hashlib.sha256(URL.encode()).hexdigest()[:12] + ".sqlite"


def test_the_data_dirs_sandbox_keeps_one_cache_across_restarts_on_new_ports(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seen: list[tuple[str, Path]] = []
    for run in range(2):
        handle = start_sandbox(tmp_path / f"run-{run}", "--state-dir", str(data / "sandbox"), key=None)
        try:
            found = running_sandbox(data)
            assert found is not None and found.sandbox and found.sandbox_id
            assert found.base_url == handle.base_url
            endpoint = json.loads((data / "sandbox" / "endpoint.json").read_text())
            assert endpoint["sandboxId"] == found.sandbox_id
            # The headless commands resolve the same backend, hence the same file.
            resolved = backends.resolve(data)
            assert resolved.cache_path(data) == found.cache_path(data)
            seen.append((found.base_url, found.cache_path(data)))
        finally:
            handle.stop()
    (first_url, first_path), (second_url, second_path) = seen
    assert first_url != second_url  # a new port at every start...
    assert first_path == second_path  # ...and the same cache
    id_file = data / "sandbox" / "id"
    assert stat.S_IMODE(id_file.stat().st_mode) == 0o600
    sandbox_id = id_file.read_text().strip()
    assert Backend(second_url, None, "k", True, "sandbox", sandbox_id=sandbox_id).cache_identity == (
        f"sandbox:{sandbox_id}"
    )

    # Another data dir's sandbox (a state dir made afresh) is another service: another cache.
    other = tmp_path / "other"
    handle = start_sandbox(tmp_path / "run-other", "--state-dir", str(other / "sandbox"), key=None)
    try:
        found = running_sandbox(other)
        assert found is not None
        assert found.cache_path(data) != first_path
    finally:
        handle.stop()


def test_a_sandbox_started_by_an_earlier_version_gets_its_id_from_the_app(tmp_path: Path) -> None:
    """An endpoint.json without ``sandboxId`` (an earlier version's sandbox still running): the app writes the
    id into the state dir, and the sandbox's next start reads the same one."""
    data = tmp_path / "data"
    folder = data / "sandbox"
    handle = start_sandbox(tmp_path / "run", "--state-dir", str(folder), key=None)
    try:
        endpoint = folder / "endpoint.json"
        fields = json.loads(endpoint.read_text())
        (folder / "id").unlink()
        endpoint.write_text(json.dumps({k: v for k, v in fields.items() if k != "sandboxId"}))
        found = running_sandbox(data)
        assert found is not None and found.sandbox_id
        assert (folder / "id").read_text().strip() == found.sandbox_id
    finally:
        handle.stop()
    handle = start_sandbox(tmp_path / "run-again", "--state-dir", str(folder), key=None)
    try:
        again = running_sandbox(data)
        assert again is not None and again.sandbox_id == found.sandbox_id
    finally:
        handle.stop()
