"""Running the sandbox as a process: the command line, the key, the state dir and :func:`serve`.

``connectsafely-desktop sandbox`` and ``python -m sync.sandbox`` both call :func:`main`. The first
line printed is the endpoint object of spec §7; the key comes from the environment or a 0600 file,
never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from sync.sandbox.app import BASE, Options, Sandbox
from sync.sandbox.controls import WS_ANSWERS
from sync.sandbox.data import Params
from sync.sandbox.identity import state_dir_id
from sync.sandbox.profiles import PROFILES

log = logging.getLogger("sync.sandbox")

KEY_ENV: Final = "CONNECTSAFELY_SANDBOX_KEY"
RECORD_ENV: Final = "CONNECTSAFELY_SANDBOX_RECORD"
"""Hidden: append every API response (not ``/ws``, not ``_sandbox``) to this JSONL file, for spec checks."""
PARENT_ENV: Final = "CONNECTSAFELY_SANDBOX_PARENT_PID"
"""Hidden: exit when this process is no longer the parent (a killed test run leaves no sandbox behind)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="connectsafely-desktop sandbox",
        description="Run the local ConnectSafely sandbox (HTTP + WebSocket). The key comes from "
        f"${KEY_ENV}, or is generated into a 0600 file; it is never taken on the command line.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", type=int, default=None, metavar="MS", help="sandbox clock start, epoch ms")
    parser.add_argument("--conversations", type=int, default=12)
    parser.add_argument("--messages-per-conversation", type=int, default=20)
    parser.add_argument("--heartbeat-s", type=float, default=30.0)
    parser.add_argument("--rate-limit", choices=("on", "off"), default="on")
    parser.add_argument("--no-events", action="store_true", help="serve no event stream (see --ws-answer)")
    parser.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="contract",
        help="contract: the project's spec (default); vendor: only what the real service documents",
    )
    parser.add_argument(
        "--ws-answer",
        choices=WS_ANSWERS,
        default="404",
        help="what /ws answers when there is no stream: 404, a 200 HTML page, or a 502 (default 404)",
    )
    parser.add_argument("--live", action="store_true", help="contacts reply now and then")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="data for trying the app (its embedded sandbox): only contacts message the two accounts, "
        "never each other (the default data keeps the thread between them that the tests need)",
    )
    parser.add_argument("--live-interval-s", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", type=Path, default=None, help="persist state between runs")
    parser.add_argument(
        "--background",
        action="store_true",
        help="run at background CPU priority (the app's embedded sandbox: it stands in for a remote server)",
    )
    return parser


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)


def _key(state_dir: Path | None) -> tuple[str, Path | None]:
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return from_env, None
    folder = state_dir if state_dir is not None else Path(tempfile.mkdtemp(prefix="connectsafely-sandbox-"))
    key_file = folder / "key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip(), key_file
    key = "sbx_" + secrets.token_urlsafe(32)
    _write_private(key_file, key + "\n")
    return key, key_file


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        host=args.host,
        port=args.port,
        seed=args.seed,
        now=args.now,
        conversations=args.conversations,
        per_conversation=args.messages_per_conversation,
        heartbeat_s=args.heartbeat_s,
        rate_limit=args.rate_limit == "on",
        events=not args.no_events,
        live=args.live,
        live_interval_s=args.live_interval_s,
        state_dir=args.state_dir,
        profile=args.profile,
        ws_answer=args.ws_answer,
        demo=args.demo,
    )


def _params(opts: Options) -> Params:
    wanted = Params(
        opts.seed,
        opts.now if opts.now is not None else int(time.time() * 1000),
        opts.conversations,
        opts.per_conversation,
        opts.demo,
    )
    if opts.state_dir is None:
        return wanted
    stored = opts.state_dir / "params.json"
    if stored.exists():
        # The state dir's data wins: its journal only makes sense on top of the data it was written against.
        params = Params.from_json(json.loads(stored.read_text(encoding="utf-8")))
        if (params.seed, params.conversations, params.per_conversation, params.demo) != (
            wanted.seed,
            wanted.conversations,
            wanted.per_conversation,
            wanted.demo,
        ):
            log.warning("using the data of %s (%s); reset to change it", opts.state_dir, params.to_json())
        return params
    _write_private(stored, json.dumps(wanted.to_json()))
    return wanted


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve(opts: Options, *, ready: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM; ``ready`` gets the endpoint line once the socket listens."""
    sandbox_id = None
    if opts.state_dir is not None:
        _private_dir(opts.state_dir)
        sandbox_id = state_dir_id(opts.state_dir)  # written once: the app's cache is this sandbox's
    key, key_file = _key(opts.state_dir)
    sandbox = Sandbox(opts, key, _params(opts), os.environ.get(RECORD_ENV) or None)
    family = socket.AF_INET6 if ":" in opts.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((opts.host, opts.port))
    port = sock.getsockname()[1]
    runner = web.AppRunner(sandbox.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.SockSite(runner, sock, shutdown_timeout=1.0)
    await site.start()
    base = f"http://{_url_host(opts.host)}:{port}{BASE}"
    line = {
        "baseUrl": base,
        "wsUrl": f"ws://{_url_host(opts.host)}:{port}{BASE}/ws",
        "keyFile": key_file and str(key_file),
    }
    endpoint_file = None
    if opts.state_dir is not None:
        endpoint_file = opts.state_dir / "endpoint.json"
        _write_private(
            endpoint_file,
            json.dumps(
                {
                    "baseUrl": line["baseUrl"],
                    "wsUrl": line["wsUrl"],
                    "pid": os.getpid(),
                    "sandboxId": sandbox_id,
                }
            ),
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before the line: whoever reads it may stop us at once
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    watcher = None
    if os.environ.get(PARENT_ENV, "").isdigit():
        watcher = asyncio.create_task(_exit_with_parent(int(os.environ[PARENT_ENV]), stop))
    if ready is not None:
        ready(line)
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await runner.cleanup()
        if endpoint_file is not None:
            with contextlib.suppress(FileNotFoundError):
                endpoint_file.unlink()


async def _exit_with_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent_pid:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
            return  # stopping anyway
    stop.set()


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.conversations < 4 or args.messages_per_conversation < 0:
        parser.error("--conversations must be at least 4 and --messages-per-conversation at least 0")
    if args.now is not None and not 10**12 <= args.now < 10**13:
        parser.error("--now is epoch milliseconds (13 digits)")  # message tokens hold a 13-digit sentAt
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="sandbox: %(levelname)s %(message)s")
    if args.background:
        from sync.priority import run_in_background

        run_in_background()
    opts = options_from(args)
    if opts.host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("serving plain HTTP on %s, beyond loopback", opts.host)

    def ready(line: dict[str, Any]) -> None:
        print(json.dumps(line), flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(opts, ready=ready))
    return 0
