"""The command line uses the service the GUI's Settings saved (base URL in settings.ini, key in the
keyring); ``--base-url`` and the environment still win. Issue 14 item 7.

The CLI runs in this process (``desktop.cli.main``) so that it sees the in-memory keyring: the OS keyring
is one of the few things a test cannot use for real. The settings file is written by the GUI's own
``QSettings`` code, and read back by the CLI's Qt-free reader.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from desktop import cli, credentials
from desktop.backend import BASE_URL_ENV, keyed_identity
from desktop.settings import BASE_URL, Settings, saved_str
from sync.cache import cache_path
from tests.fixtures.memory_keyring import MemoryKeyring
from tests.fixtures.sandbox import SandboxHandle

NOWHERE = "http://127.0.0.1:9/linkedin"
"""A base URL nothing answers on (the discard port)."""


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    for name in (credentials.KEY_ENV, BASE_URL_ENV, "CONNECTSAFELY_WS_URL", "CONNECTSAFELY_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == cli._STDERR_HANDLER]:
            root.removeHandler(handler)


def save_settings(data: Path, base_url: str) -> None:
    """What the Settings dialog does on Save (desktop.windows): the URL in settings.ini."""
    data.mkdir(parents=True, exist_ok=True)
    settings = Settings(data)
    settings.set(BASE_URL, base_url)
    settings.sync()


def run(data: Path, *args: str) -> int:
    return cli.main([*args, "--data-dir", str(data)])


def test_the_cli_uses_the_base_url_and_key_settings_saved(
    sandbox: SandboxHandle, memory_keyring: MemoryKeyring, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    save_settings(data, sandbox.base_url)
    credentials.store_key(sandbox.base_url, sandbox.key)
    assert saved_str(data, BASE_URL) == sandbox.base_url

    assert run(data, "sync", "--once") == 0, capsys.readouterr().err
    # that service's cache (its URL and this key), not the default's
    assert cache_path(data, keyed_identity(sandbox.base_url, sandbox.key)).exists()
    assert run(data, "conversations", "--json") == 0
    assert capsys.readouterr().out.startswith("[{")


def test_the_environment_and_the_flag_win_over_saved_settings(
    sandbox: SandboxHandle, memory_keyring: MemoryKeyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    save_settings(data, NOWHERE)  # saved, but overridden below
    credentials.store_key(sandbox.base_url, sandbox.key)

    monkeypatch.setenv(BASE_URL_ENV, sandbox.base_url)
    assert run(data, "sync", "--once") == 0

    monkeypatch.setenv(BASE_URL_ENV, NOWHERE)
    assert run(data, "sync", "--once", "--base-url", sandbox.base_url) == 0
    assert not cache_path(data, keyed_identity(NOWHERE, sandbox.key)).exists()


def test_the_environments_key_wins_over_the_keyring(
    sandbox: SandboxHandle, memory_keyring: MemoryKeyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    save_settings(data, sandbox.base_url)
    credentials.store_key(sandbox.base_url, sandbox.key)
    monkeypatch.setenv(credentials.KEY_ENV, "wrong-key-for-this-test")

    assert run(data, "sync", "--once") == 3  # the environment's (wrong) key was the one sent


def test_a_saved_base_url_without_a_key_is_not_used(
    memory_keyring: MemoryKeyring, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like the GUI: no key for the saved service means the data dir's sandbox, here none running."""
    data = tmp_path / "data"
    save_settings(data, NOWHERE)

    assert run(data, "conversations") == 2
    assert "no API key" in capsys.readouterr().err


@pytest.mark.parametrize(
    "value",
    [
        "https://api.connectsafely.ai/linkedin",
        "http://127.0.0.1:8080/linkedin?a=b,c;d",  # QSettings quotes a value with , ; =
        "  https://spaced.example/linkedin  ",  # and one with edge spaces
        'https://q"uote\\back.example/x',
        "https://exämple.test/ünï€",
        "@https://at.example",  # a leading @ is doubled
        "tab\there \x01\x0b0x12",  # C escapes, and a hex escape followed by a hex digit
        "",
    ],
)
def test_the_qt_free_reader_reads_what_qsettings_wrote(tmp_path: Path, value: str) -> None:
    save_settings(tmp_path, value)
    assert saved_str(tmp_path, BASE_URL) == value


def test_the_reader_without_a_file_or_key(tmp_path: Path) -> None:
    assert saved_str(tmp_path, BASE_URL) is None
    (tmp_path / "settings.ini").write_text("[windows]\ncount=2\n", encoding="utf-8")
    assert saved_str(tmp_path, BASE_URL) is None
