"""The GUI test harness: the real InboxService and WindowManager on a qasync loop, against a sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from desktop.backend import Backend
from desktop.services import InboxService
from desktop.settings import Settings
from desktop.windows import WindowManager
from sync.model import Conversation, Message
from sync.recall_rules import eligibility
from tests.fixtures.sandbox import SandboxHandle

CLOSE_GUIS: pytest.StashKey[Callable[[], None]] = pytest.StashKey()
"""Where the harness leaves the test's closer for the hook in tests/desktop/conftest.py."""


@dataclass
class Gui:
    loop: Any
    service: InboxService
    manager: WindowManager
    sandbox: SandboxHandle
    data: Path

    def drive_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Run the qasync loop (and so Qt's) until ``predicate()`` holds (a deadline, generous for a
        loaded two-core machine, not a timing assert)."""

        async def waiter() -> None:
            while not predicate():  # noqa: ASYNC110  (polls a plain predicate)
                await asyncio.sleep(0.01)

        self.loop.run_until_complete(asyncio.wait_for(waiter(), timeout))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def own_recallable(self) -> Message:
        now = self.service.api.server_now_ms()
        for account in self.service.reader.accounts():
            for conversation in self.service.cache.reader.conversations(account.account_id, limit=500):
                for message in self.service.cache.reader.messages(
                    account.account_id, conversation.conversation_id, limit=500
                ):
                    if eligibility(message, now).allowed:
                        return message
        raise AssertionError("no recallable message in the seeded data")

    def conversation_of(self, message: Message) -> Conversation:
        conversation = self.service.reader.conversation(message.account_id, message.conversation_id)
        assert conversation is not None
        return conversation


def close_all(made: list[Gui]) -> None:
    """Close every window and service the test made, on the loop. Idempotent."""
    for harness in made:
        for window in list(harness.manager.windows):
            window.close()
        harness.run(harness.service.close())


async def first_sync(service: InboxService, sandbox: SandboxHandle) -> None:
    """The first sync, as the app's sync worker would run it: on a client of its own, so that the GUI's
    share of the request budget (``sync.worker.GUI_BUDGET``) is whole for what the test does next. Then
    one read through the GUI's client, which learns the server's clock from its ``Date`` header."""
    from sync.api import ApiClient
    from sync.engine import SyncEngine

    async with ApiClient(sandbox.base_url, sandbox.key, budget=None) as api:
        await SyncEngine(api, service.cache).sync_once()
    await service.api.accounts()


@pytest.fixture
def gui_factory(
    request: pytest.FixtureRequest, qtbot: QtBot, qloop: Any, tmp_path: Path
) -> Iterator[Callable[[SandboxHandle], Gui]]:
    made: list[Gui] = []

    def make(sandbox: SandboxHandle) -> Gui:
        data = tmp_path / f"data-{len(made)}"
        data.mkdir()
        backend = Backend(sandbox.base_url, None, sandbox.key, True, "sandbox")
        service = InboxService(
            backend, data, on_bug=lambda error: pytest.fail(f"bug reached the GUI: {error!r}")
        )
        manager = WindowManager(service, Settings(data), sandbox=True, recall_grace_s=0)
        harness = Gui(qloop, service, manager, sandbox, data)
        made.append(harness)
        harness.run(first_sync(service, sandbox))
        return harness

    # Closed as soon as the test body returns (tests/desktop/conftest.py): pytest-qt processes Qt events
    # right after it, outside the asyncio loop, and a task it stepped then (an HTTP request of the
    # watcher) failed with "no running event loop".
    request.node.stash[CLOSE_GUIS] = lambda: close_all(made)
    try:
        yield make
    finally:
        close_all(made)


@pytest.fixture
def gui(gui_factory: Callable[[SandboxHandle], Gui], sandbox: SandboxHandle) -> Gui:
    return gui_factory(sandbox)
