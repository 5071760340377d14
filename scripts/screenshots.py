"""Take the README's screenshots from the real app in sandbox mode, on a real (virtual) screen.

Run under Xvfb (after `bash scripts/setup.sh --screen`):

    xvfb-run -a -s "-screen 0 2480x860x24" .venv/bin/python scripts/screenshots.py resources/screenshots

It starts the app's own pieces exactly as `connectsafely-desktop` does (a fresh data dir, so the data
dir's sandbox is started as a child process), then drives the recall flow like a person would. The last
shots switch the running sandbox to the vendor profile (spec §8: what the real service sends, an account
without an API seat, no event stream) to show what a user of the real service sees.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication

from desktop import backend as backends
from desktop.loop import run
from desktop.services import InboxService
from desktop.settings import Settings
from desktop.windows import WindowManager
from sync.model import Message, RecallState
from sync.recall_rules import eligibility
from ui.style import ThemeChoice


async def until(predicate: Callable[[], bool], limit_s: float = 15.0) -> None:
    async def waiter() -> None:
        while not predicate():  # noqa: ASYNC110  (polls a plain predicate)
            await asyncio.sleep(0.02)

    await asyncio.wait_for(waiter(), limit_s)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    data = Path(tempfile.mkdtemp(prefix="connectsafely-shots-"))
    sandbox = backends.start_sandbox(data, live=False)
    backend = backends.running_sandbox(data)
    assert backend is not None

    async def shoot() -> int:
        def on_bug(error: BaseException) -> None:
            print("bug:", repr(error), file=sys.stderr)

        service = InboxService(backend, data, on_bug=on_bug)
        manager = WindowManager(service, Settings(data), sandbox=True, recall_grace_s=0)
        await service.engine.sync_once()
        service.start()
        window = manager.open_window()
        window.move(20, 20)
        window.resize(1200, 760)
        now = service.api.server_now_ms()

        def own_messages() -> list[Message]:
            found = []
            for account in service.reader.accounts():
                for conversation in service.cache.reader.conversations(account.account_id, limit=50):
                    found += [
                        m
                        for m in service.cache.reader.messages(
                            account.account_id, conversation.conversation_id
                        )
                        if eligibility(m, now).allowed  # own, and inside the recall window
                    ]
            return found

        mine = own_messages()
        target = mine[0]
        conversation = service.reader.conversation(target.account_id, target.conversation_id)
        assert conversation is not None
        window.open_conversation(conversation)
        await until(lambda: service.stream_state.value == "live")
        await asyncio.sleep(0.5)
        window.grab().save(str(out / "inbox.png"))

        # The same inbox in the dark theme (View › Theme › Dark), then back to the desktop's colours.
        window.theme_actions[ThemeChoice.DARK].trigger()
        await asyncio.sleep(0.5)
        window.grab().save(str(out / "inbox-dark.png"))
        window.theme_actions[ThemeChoice.SYSTEM].trigger()
        await asyncio.sleep(0.3)

        # Everyday actions in another conversation: a link in a message, a reaction, the bubble menu's
        # emoji picker, the Starred chip next to Unread only.
        chat = next(
            c
            for c in service.cache.reader.conversations(target.account_id, limit=50)
            if c.conversation_id != target.conversation_id
        )
        window.open_conversation(chat)
        agenda = "The agenda is at https://example.com/agenda — see you then!"
        await service.send(chat.account_id, chat.conversation_urn, agenda)
        rows = window.message_model

        def newest_inbound() -> Message | None:
            found = [rows.message_at(r) for r in range(rows.rowCount())]
            inbound = [m for m in found if m is not None and not m.is_sent_by_owner]
            return inbound[-1] if inbound else None

        def sent() -> bool:
            return any((rows.message_at(r) or target).text == agenda for r in range(rows.rowCount()))

        await until(sent)
        liked = newest_inbound()
        assert liked is not None
        await service.react(liked, "👍", True)
        await until(
            lambda: any(r.emoji == "👍" and r.reacted_by_owner for r in (newest_inbound() or liked).reactions)
        )
        liked = newest_inbound()
        assert liked is not None
        liked_row = rows.row_of(liked.account_id, liked.message_id)
        assert liked_row is not None
        bubble = window.message_view.visualRect(rows.index(liked_row, 0))
        menu = window.message_menu(liked)
        menu.popup(window.message_view.viewport().mapToGlobal(bubble.topLeft() + QPoint(290, 0)))
        await asyncio.sleep(0.6)
        app.primaryScreen().grabWindow(0, 20, 20, 1220, 800).save(str(out / "everyday.png"))
        menu.close()

        # Message search (typed into the box above the list: matching conversations and, below them,
        # matching messages grouped by conversation with the words highlighted), then Ctrl+K.
        window.search_edit.setText("agenda")
        await asyncio.sleep(0.8)
        window.grab().save(str(out / "search.png"))
        window.search_edit.clear()
        window.quick_switch_action.trigger()
        window.quick_switcher.edit.setText("a")
        await asyncio.sleep(0.5)
        app.primaryScreen().grabWindow(0, 20, 20, 1220, 800).save(str(out / "quick-switcher.png"))
        window.quick_switcher.close()

        window.open_conversation(conversation)
        await asyncio.sleep(0.3)

        # A recall in flight: "Recalling…" in the bubble's header, where its time was.
        window.mark_recall_pending(target.account_id, target.message_id)
        await asyncio.sleep(0.3)
        window.grab().save(str(out / "recall-pending.png"))
        window.clear_recall_state(target.account_id, target.message_id)

        # The recall confirmation, as the context menu opens it.
        window.request_recall(target)
        await until(lambda: window.confirm_dialog is not None and window.confirm_dialog.isVisible())
        await asyncio.sleep(0.3)
        screen = app.primaryScreen()
        screen.grabWindow(0, 20, 20, 1220, 800).save(str(out / "recall-confirmation.png"))
        assert window.confirm_dialog is not None
        window.confirm_dialog.reject()
        await asyncio.sleep(0.2)

        # A refused recall: the server says no, with its reason; the bubble stays and says why.
        import httpx

        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {backend.api_key}"}) as control:
            await control.post(
                f"{backend.base_url}/_sandbox/faults",
                json={
                    "method": "DELETE",
                    "path": "/messages/",
                    "count": 50,
                    "status": 404,
                    "code": "CONVERSATION_NOT_FOUND",
                },
            )
            window.request_recall(target)
            await until(lambda: window.confirm_dialog is not None)
            assert window.confirm_dialog is not None
            window.confirm_dialog.accept()

            def failed() -> bool:
                state = window.message_model.recall_state(target.account_id, target.message_id)
                return state is not None and state.has_line

            await until(failed, limit_s=30)
            await asyncio.sleep(0.3)
            window.grab().save(str(out / "recall-failed.png"))
            await control.delete(f"{backend.base_url}/_sandbox/faults")

        # Two windows side by side: a recall in the left one disappears from both.
        second = manager.open_window()
        second.move(1240, 20)
        second.resize(1200, 760)
        second.open_conversation(conversation)
        window.clear_recall_state(target.account_id, target.message_id)
        other = next((m for m in mine if m.conversation_id == target.conversation_id and m != target), target)
        window.request_recall(other)
        await until(lambda: window.confirm_dialog is not None)
        assert window.confirm_dialog is not None
        window.confirm_dialog.accept()
        await until(lambda: second.message_model.row_of(other.account_id, other.message_id) is None)
        await asyncio.sleep(0.5)
        screen.grabWindow(0, 0, 0, 2460, 800).save(str(out / "two-windows.png"))
        second.close()

        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {backend.api_key}"}) as control:
            sandbox_url = f"{backend.base_url}/_sandbox"
            # What the real service looks like: its shapes, an account without an API seat, no stream.
            await control.post(f"{sandbox_url}/profile", json={"profile": "vendor"})
            await control.post(f"{sandbox_url}/ws/drop")
            await until(lambda: service.stream_state.value == "polling", limit_s=60)
            service.sync_now()
            await until(lambda: window.attention_button.isVisible(), limit_s=30)
            # F5: the server reads LinkedIn again; the status bar says how fresh its copy is.
            window.refresh_action.trigger()
            await until(lambda: window.freshness_label.text().startswith("LinkedIn data as of"), limit_s=60)
            await asyncio.sleep(0.5)
            window.grab().save(str(out / "account-attention.png"))
            window.account_combo.showPopup()
            await asyncio.sleep(0.5)
            screen.grabWindow(0, 20, 20, 1220, 800).save(str(out / "account-filter.png"))
            window.account_combo.hidePopup()

            # Settings › Test connection: one line per account (seat, status).
            dialog = manager.open_settings(window)
            dialog.test_button.click()
            await until(dialog.test_button.isEnabled, limit_s=30)
            await asyncio.sleep(0.5)
            frame = dialog.frameGeometry()
            screen.grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height()).save(
                str(out / "settings-test.png")
            )
            dialog.reject()

            # A recall whose answer is lost and cannot be confirmed yet: "Recall not confirmed — checking…".
            fresh = [m for m in own_messages() if eligibility(m, service.api.server_now_ms()).allowed]
            unsure = fresh[0]
            opened = service.reader.conversation(unsure.account_id, unsure.conversation_id)
            assert opened is not None
            window.open_conversation(opened)
            lost = {"method": "DELETE", "path": "/messages/", "count": 50, "status": 500, "phase": "after"}
            await control.post(f"{sandbox_url}/faults", json=lost)
            await control.post(
                f"{sandbox_url}/faults",
                json={"method": "GET", "path": "/messages$", "count": 50, "status": 500},
            )
            window.request_recall(unsure)
            await until(lambda: window.confirm_dialog is not None)
            assert window.confirm_dialog is not None
            window.confirm_dialog.accept()

            def unconfirmed() -> bool:
                state = window.message_model.recall_state(unsure.account_id, unsure.message_id)
                return state is not None and state.state is RecallState.UNCONFIRMED

            await until(unconfirmed, limit_s=60)
            await asyncio.sleep(0.5)
            window.grab().save(str(out / "recall-unconfirmed.png"))
            await control.delete(f"{sandbox_url}/faults")

            # Closing the window while a recall waits for its grace period: it asks.
            window.set_recall_grace_seconds(30)
            waiting = next(m for m in fresh if m.message_id != unsure.message_id)
            target_conversation = service.reader.conversation(waiting.account_id, waiting.conversation_id)
            assert target_conversation is not None
            window.open_conversation(target_conversation)
            window.request_recall(waiting)
            await until(lambda: window.confirm_dialog is not None)
            assert window.confirm_dialog is not None
            window.confirm_dialog.accept()
            await asyncio.sleep(0.3)
            window.close()
            await until(lambda: window.close_question is not None and window.close_question.isVisible())
            await asyncio.sleep(0.5)
            screen.grabWindow(0, 20, 20, 1220, 800).save(str(out / "close-during-grace.png"))
            question = window.close_question
            assert question is not None
            cancel = next(b for b in question.buttons() if b.text() == "Cancel the recall")
            cancel.click()
            await asyncio.sleep(0.5)

        # The recall log: every attempt above, the cancelled one included, in words.
        log_window = manager.open_window()
        log_window.move(20, 20)
        log_window.resize(1200, 760)
        log_window.recall_log_dock.show()
        await asyncio.sleep(0.6)
        log_window.grab().save(str(out / "recall-log.png"))

        for each in list(manager.windows):
            each.close()
        await service.close()
        return 0

    try:
        return run(app, shoot)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
