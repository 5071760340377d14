"""Security: the API key stays secret, files are user-only, transport and paths cannot be bent, text is
plain and frames are bounded.

The key scan over everything the run produces is ``tests/fixtures/secret_scan.py``; the last test of the run
(``test_nothing_the_run_produced_contains_an_api_key``) checks its findings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import keyring
import keyring.backend
import keyring.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from desktop import credentials
from desktop.paths import data_dir
from sync.api import ApiClient, check_transport_url
from sync.cache import Cache
from sync.errors import BadServerUrl
from sync.realtime import MAX_FRAME_BYTES, EventStream
from tests.fixtures import secret_scan
from tests.fixtures.cli import run_cli
from tests.fixtures.memory_keyring import MemoryKeyring
from tests.fixtures.sandbox import SandboxHandle, start_sandbox

OWN_KEY = "sec_test_key_0123456789abcdef"


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


# --- the key scan ---------------------------------------------------------------------------------


def test_the_scan_catches_a_planted_leak_in_each_place_it_looks() -> None:
    leak = "planted_leak_key_4242"
    with secret_scan.temporary_scanner(leak) as scan, tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        logger = logging.getLogger("planted.leak")
        logger.propagate = False  # the run's own scanner must not see the planted leak
        logger.setLevel(logging.DEBUG)
        handler = scan.handler()
        logger.addHandler(handler)
        try:
            logger.debug("calling with %s", leak)
            try:
                raise RuntimeError(f"failed with Bearer {leak}")
            except RuntimeError:
                logger.exception("boom")
        finally:
            logger.removeHandler(handler)
        with contextlib.closing(sqlite3.connect(root / "cache-x.sqlite")) as conn:
            conn.execute("CREATE TABLE t (v TEXT)")
            conn.execute("INSERT INTO t VALUES (?)", (f"header Bearer {leak}",))
            conn.commit()
        (root / "app.log").write_text(f"INFO sent {leak}\n")
        (root / "clean.log").write_text("nothing to see\n")
        scan.check_text(f"python -m desktop.cli --key {leak}", "argv", "argv")
        scan.check_text(f"error: {leak}", "stderr of a CLI run")
        scan.scan_tree(root)
        where = sorted(
            {f.where.split(" ")[0] if f.where.startswith("log") else f.where for f in scan.findings}
        )
        assert len([f for f in scan.findings if f.where.startswith("log record")]) == 2
        assert str(root / "cache-x.sqlite") in where and str(root / "app.log") in where
        assert "argv" in where and "stderr of a CLI run" in where
        assert str(root / "clean.log") not in where
        # A generated key in a sandbox "key" file is read, not reported, and then found elsewhere.
        (root / "sandbox").mkdir()
        (root / "sandbox" / "key").write_text("sbx_generated_key_777\n")
        (root / "sandbox" / "out.log").write_text("leaked sbx_generated_key_777")
        before = len(scan.findings)
        scan.scan_tree(root / "sandbox")
        assert [f.where for f in scan.findings[before:]] == [str(root / "sandbox" / "out.log")]


def test_the_run_scanner_watches_logs_subprocess_argv_and_output() -> None:
    scan = secret_scan.scanner()
    seen = dict(scan.seen)
    logging.getLogger("sync.security_probe").debug("a debug record reaches the scanner")
    subprocess.run([sys.executable, "-c", "print('hello')"], capture_output=True, check=True)
    assert scan.seen["log records"] > seen["log records"]
    assert scan.seen["argv"] > seen["argv"]
    assert scan.seen["texts"] > seen["texts"]
    assert secret_scan.STATIC_SECRETS[0] in scan.secrets


def test_the_command_line_never_shows_logs_or_stores_the_key(sandbox: SandboxHandle, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"CONNECTSAFELY_API_KEY": sandbox.key, "CONNECTSAFELY_BASE_URL": sandbox.base_url}
    outputs: list[str] = []

    def cli(*args: str) -> Any:
        result = run_cli(*args, "-vv", data_dir=data, env=env)  # DEBUG logging on stderr
        outputs.append(result.stdout + result.stderr)
        return result

    assert cli("sync", "--once").returncode == 0
    conversation = json.loads(cli("conversations", "--json").stdout)[0]
    sent = json.loads(cli("send", conversation["conversationUrn"], "a secret-free hello").stdout)
    assert cli("recall", conversation["conversationUrn"], sent["messageUrn"]).returncode == 0
    cli("messages", conversation["conversationUrn"], "--json")
    sandbox.control("POST", "faults", {"method": "GET", "path": "accounts", "count": 5, "status": 500})
    assert cli("sync", "--once").returncode == 4  # an error path too
    assert any("DEBUG" in out for out in outputs)  # the logs were really on
    for out in outputs:
        assert sandbox.key not in out
    for path in data.rglob("*"):
        if path.is_file():
            assert sandbox.key.encode() not in path.read_bytes(), path


def test_the_watcher_at_debug_verbosity_never_prints_the_key(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """``sync --watch -vv``: the event stream's handshake carries the key; DEBUG output must not show it."""
    from tests.fixtures.cli import LAUNCHER

    cli_env = {"CONNECTSAFELY_API_KEY": sandbox.key, "CONNECTSAFELY_BASE_URL": sandbox.base_url}
    assert run_cli("sync", "--once", data_dir=tmp_path, env=cli_env).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTSAFELY_")}
    env.update(
        cli_env,
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    out = tmp_path / "watch.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, "sync", "--watch", "-vv", "--data-dir", str(tmp_path)],
            env=env,
            stdout=sink,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + 30
        while "mode: live" not in out.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text(errors="replace")
            time.sleep(0.1)
        sandbox.control("POST", "ws/drop")  # and a second handshake
        deadline = time.monotonic() + 30
        while out.read_text(errors="replace").count("mode: live") < 2:
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text(errors="replace")
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    text = out.read_text(errors="replace")
    assert "DEBUG" in text
    assert sandbox.key not in text


LEAK_PROBE_KEY = "leak_probe_key_not_in_the_scan_list"
"""Deliberately not registered with the run's scanner: the test below looks for it itself, in records the
scanner does not see (``websockets`` at DEBUG)."""


def test_the_event_stream_handshake_logs_no_key_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async def handler(connection: ServerConnection) -> None:
            await connection.send(json.dumps({"type": "hello", "sessionId": "s", "seq": 0, "resumed": True}))
            await connection.close()

        quiet = logging.getLogger("tests.quiet_ws_server")
        quiet.setLevel(logging.WARNING)
        server = await serve(handler, "127.0.0.1", 0, logger=quiet)
        port = next(iter(server.sockets)).getsockname()[1]
        with Cache.open(tmp_path, "http://127.0.0.1:9/linkedin") as cache:
            cache.writer.set_last_applied_seq(0).result()

            async def no_catch_up() -> None:
                raise AssertionError("unexpected catch-up")

            url = f"ws://127.0.0.1:{port}/linkedin/ws"
            stream = EventStream(url, LEAK_PROBE_KEY, "s", cache, catch_up=no_catch_up)
            try:
                with contextlib.suppress(ConnectionClosed):
                    await asyncio.wait_for(stream.run_once(), 20)
            finally:
                server.close()
                await server.wait_closed()
            assert stream.connections == 1  # the handshake, with the key, did happen

    with caplog.at_level(logging.DEBUG):  # every logger at DEBUG, as a user's -vv would have it
        asyncio.run(scenario())
    assert caplog.records  # DEBUG logging was on and recorded the run
    assert not [r for r in caplog.records if LEAK_PROBE_KEY in r.getMessage()]


# --- the keyring ----------------------------------------------------------------------------------


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.delenv(credentials.KEY_ENV, raising=False)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_the_key_is_stored_in_the_keyring_and_nowhere_else(
    memory_keyring: MemoryKeyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_scan.register_secret(OWN_KEY)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    base = "https://api.connectsafely.ai/linkedin"
    assert credentials.lookup_key(base).key is None
    credentials.store_key(base, OWN_KEY)
    assert memory_keyring.store == {(credentials.KEYRING_SERVICE, base): OWN_KEY}
    found = credentials.lookup_key(base)
    assert (found.key, found.source, found.keyring_available) == (OWN_KEY, "keyring", True)
    assert credentials.lookup_key("https://other.example/linkedin").key is None  # per backend
    monkeypatch.setenv(credentials.KEY_ENV, "from-the-environment")
    assert credentials.lookup_key(base).source == "environment"  # an explicit key wins
    monkeypatch.delenv(credentials.KEY_ENV)
    credentials.forget_key(base)
    assert credentials.lookup_key(base).key is None
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # nothing was written to a file


def test_without_a_keyring_storing_the_key_refuses_instead_of_writing_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(keyring.errors.KeyringError):
            credentials.store_key("https://api.connectsafely.ai/linkedin", OWN_KEY)
    finally:
        keyring.set_keyring(previous)


# --- files are user-only ---------------------------------------------------------------------


def test_the_data_dir_cache_files_and_log_file_are_user_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: group and others could read what is created
    try:
        data = data_dir(tmp_path / "fresh" / "data")
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        data.chmod(0o755)
        assert stat.S_IMODE(data_dir(data).stat().st_mode) == 0o700  # an existing one is tightened
        with Cache.open(data, "http://127.0.0.1:1/linkedin") as cache:
            cache.writer.set_last_applied_seq(1).result()
            files = sorted(data.glob("cache-*"))
            assert {p.name.rpartition(".")[2] for p in files} >= {
                "sqlite",
                "lock",
                "sqlite-wal",
                "sqlite-shm",
            }
            for path in files:
                assert private(path), (path, oct(path.stat().st_mode))

        from desktop.app import configure_file_logging

        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            log_path = configure_file_logging(data)
            logging.getLogger("connectsafely").warning("a line")
        finally:
            for handler in root.handlers:
                if handler not in handlers:
                    handler.close()
                    root.removeHandler(handler)
            root.setLevel(level)
        assert log_path.read_text().strip() and private(log_path)
    finally:
        os.umask(old)


def test_the_sandbox_state_dir_and_its_files_are_user_only(tmp_path: Path) -> None:
    state = tmp_path / "data" / "sandbox"
    old = os.umask(0o022)
    try:
        handle = start_sandbox(tmp_path / "work", "--state-dir", str(state), key=None)
    finally:
        os.umask(old)
    try:
        secret_scan.register_secret(handle.key)
        handle.client().get("/accounts")
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        files = [p for p in state.rglob("*") if p.is_file()]
        assert {"key", "endpoint.json"} <= {p.name for p in files}
        for path in [*files, *(tmp_path / "work").glob("responses-*.jsonl")]:
            assert private(path), (path, oct(path.stat().st_mode))
    finally:
        handle.stop()


# --- transport and paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/linkedin",
        "ws://example.com/linkedin/ws",
        "http://10.0.0.7:8080/linkedin",
        "ws://192.168.1.2/ws",
        "http://127.0.0.1.nip.io/linkedin",
        "http://localhost.example.com/linkedin",
        "http://0.0.0.0:8765/linkedin",
        "http://[::ffff:7f00:1]/linkedin",
        "http://user:pw@127.0.0.1/linkedin",
        "ftp://127.0.0.1/linkedin",
    ],
)
def test_plain_transport_off_loopback_is_refused(url: str) -> None:
    with pytest.raises(BadServerUrl):
        check_transport_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/linkedin", "ws://localhost/ws", "http://[::1]:80/x"])
def test_plain_transport_to_loopback_is_allowed(url: str) -> None:
    assert check_transport_url(url)


@settings(max_examples=200, deadline=None)
@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}", fullmatch=True),
    scheme=st.sampled_from(["http", "ws"]),
)
def test_any_named_host_with_plain_transport_is_refused(host: str, scheme: str) -> None:
    if host == "localhost":
        return
    with pytest.raises(BadServerUrl):
        check_transport_url(f"{scheme}://{host}/linkedin")


def test_the_command_line_refuses_a_plain_url_off_loopback(sandbox: SandboxHandle, tmp_path: Path) -> None:
    env = {"CONNECTSAFELY_API_KEY": sandbox.key, "CONNECTSAFELY_BASE_URL": "http://example.com/linkedin"}
    result = run_cli("sync", "--once", data_dir=tmp_path, env=env)
    assert result.returncode == 2 and "only to this computer" in result.stderr
    env["CONNECTSAFELY_BASE_URL"] = sandbox.base_url
    watch = run_cli("sync", "--watch", "--ws-url", "ws://example.com/linkedin/ws", data_dir=tmp_path, env=env)
    assert watch.returncode == 2 and "only to this computer" in watch.stderr
    assert "Traceback" not in result.stderr + watch.stderr


NASTY_URN = st.lists(
    st.sampled_from(
        ["/", "..", "?", "#", "%", "%2F", "%2e%2e", "&accountId=x", "urn:li:", "(", ")", ",", " "]
    )
    | st.text(max_size=4),
    max_size=8,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(conversation=NASTY_URN, message=NASTY_URN)
def test_a_urn_cannot_change_the_request_path_or_query(conversation: str, message: str) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True, "messageUrn": message})

    async def recall() -> None:
        async with ApiClient(
            "http://127.0.0.1:9/linkedin", OWN_KEY, budget=None, transport=httpx.MockTransport(answer)
        ) as api:
            await api.recall("0123456789abcdef01234567", conversation, message)
            await api.react("0123456789abcdef01234567", conversation, message, "👍")

    asyncio.run(recall())
    for request, tail in zip(seen, ([], ["react"]), strict=True):
        raw = request.url.raw_path.decode("ascii")
        path = raw.partition("?")[0]
        segments = path.split("/")
        assert segments[:3] == ["", "linkedin", "conversations"]
        assert segments[4] == "messages" and segments[6:] == tail
        assert unquote(segments[3]) == conversation and unquote(segments[5]) == message
        assert len(segments) == 6 + len(tail)  # nothing added, nothing resolved away
        assert dict(request.url.params) == {"accountId": "0123456789abcdef01234567"}
        assert not request.url.fragment


def test_a_path_traversal_urn_reaches_the_recall_route_and_is_refused_there(sandbox: SandboxHandle) -> None:
    client = sandbox.client()
    account = client.get("/accounts").json()[0]["id"]
    bad = quote("urn:li:msg_conversation:(urn:li:fsd_profile:A,2-a/../../../accounts)", safe="")
    response = client.delete(
        f"/conversations/{bad}/messages/{quote('2-a/..?#%', safe='')}", params={"accountId": account}
    )
    assert response.status_code == 400 and response.json()["code"] == "INVALID_URN"
    routes = sandbox.control("GET", "requests")["routes"]
    assert any(r.startswith("DELETE /conversations/") for r in routes) and "GET /accounts" in routes
    assert routes["GET /accounts"] == 1  # the traversal did not reach another route


# --- bounded frames -------------------------------------------------------------------------------


def test_a_frame_above_1_mib_is_refused_by_the_listener(tmp_path: Path) -> None:
    async def scenario() -> None:
        async def handler(connection: ServerConnection) -> None:
            await connection.send(json.dumps({"type": "hello", "sessionId": "s", "seq": 0, "resumed": True}))
            await connection.send(json.dumps({"type": "heartbeat", "seq": 0, "pad": "x" * MAX_FRAME_BYTES}))
            await connection.wait_closed()

        server = await serve(handler, "127.0.0.1", 0, max_size=None)
        port = next(iter(server.sockets)).getsockname()[1]
        with Cache.open(tmp_path, "http://127.0.0.1:9/linkedin") as cache:
            cache.writer.set_last_applied_seq(0).result()

            async def no_catch_up() -> None:
                raise AssertionError("unexpected catch-up")

            stream = EventStream(
                f"ws://127.0.0.1:{port}/linkedin/ws", OWN_KEY, "s", cache, catch_up=no_catch_up
            )
            try:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(stream.run_once(), 20)
                assert closed.value.sent is not None and closed.value.sent.code == CloseCode.MESSAGE_TOO_BIG
                assert cache.reader.last_applied_seq() == 0
            finally:
                server.close()
                await server.wait_closed()

    assert MAX_FRAME_BYTES == 1 << 20
    asyncio.run(scenario())


# --- plain text -----------------------------------------------------------------------------------

HOSTILE_TEXTS = [
    '<img src=x onerror="alert(1)"><a href="https://evil.example">click</a><b>bold</b>',
    "\u202eevil.exe\u202c and \u2067isolated\u2069 \u200f<i>rtl</i>",
    "<table>" + "<tr><td>cell</td></tr>" * 5000 + "</table>",  # 100 KB of markup
    ("lorem <b>ipsum</b> \u202e" * 8000)[:100_000],
]


@pytest.mark.gui
@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=["html", "rtl", "100kb-html", "100kb-mixed"])
def test_hostile_message_text_is_laid_out_as_plain_text_and_bounded(qapp: Any, text: str) -> None:
    from PySide6.QtCore import QRect

    from tests.ui.painting import one_message_model, option, render
    from ui.delegates import MessageDelegate
    from ui.text import bubble_text, one_line

    model = one_message_model(text)
    delegate = MessageDelegate()
    opt = option(800, 10)
    layout = delegate.layout_for(opt, model.index(0, 0))
    shown, omitted = bubble_text(text)
    assert layout.text_layout.text() == shown  # the literal characters, markup and controls included
    assert omitted == len(text) - len(shown) and len(shown) <= 4_000
    opt.rect = QRect(0, 0, 800, layout.height)
    render(delegate, opt, model)  # painting finishes (pytest-timeout guards against a freeze)
    assert layout.height < 2_500
    preview = one_line(text)
    assert len(preview) <= 301 and "\n" not in preview


def test_nothing_the_run_produced_contains_an_api_key(request: pytest.FixtureRequest) -> None:
    """Moved to the end of the run by the plugin: the logs, outputs, argv and files of every test so far."""
    scan = secret_scan.scanner()
    root = secret_scan.base_temp(request.config)
    if root is not None:
        scan.scan_tree(root)
    print("secret scan:", json.dumps({**scan.seen, "keys": len(scan.secrets)}))
    assert scan.seen["log records"] > 0 and scan.seen["files"] > 0
    assert not scan.findings, "\n".join(sorted({str(f) for f in scan.findings})[:50])
