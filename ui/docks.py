"""The window's docks, hidden until asked for: the recall log (bottom) and the notifications (right)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from sync.model import Message

from .notifications import NotificationList
from .recall_log_model import RecallLogModel
from .recall_log_panel import RecallLogPanel


class Docks:
    """The recall log's table (read when its dock is shown, and on every attempt while it is) and the list
    of new messages (activating one calls ``open_message``)."""

    def __init__(
        self, window: QMainWindow, recall_log_model: RecallLogModel, open_message: Callable[[Message], None]
    ) -> None:
        self._recall_log_model = recall_log_model
        # The table under a bar with "Export as CSV…" (ui.recall_log_panel).
        self.recall_log_panel = RecallLogPanel(recall_log_model, window)
        self.recall_log_panel.exported.connect(lambda text: window.statusBar().showMessage(text, 10_000))
        self.recall_log_view = self.recall_log_panel.view
        self.recall_log_dock = QDockWidget("Recall log", window)
        self.recall_log_dock.setObjectName("recallLogDock")
        self.recall_log_dock.setWidget(self.recall_log_panel.widget)
        self.recall_log_dock.visibilityChanged.connect(self._on_recall_log_dock_visibility_changed)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.recall_log_dock)
        self.recall_log_dock.hide()

        self.notifications = NotificationList()
        self.notifications.notification_activated.connect(open_message)
        self.notifications.count_changed.connect(self._on_notifications_count_changed)
        self.notifications_dock = QDockWidget("Notifications", window)
        self.notifications_dock.setObjectName("notificationsDock")
        self.notifications_dock.setWidget(self.notifications)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.notifications_dock)
        self.notifications_dock.hide()

    def refresh_recall_log(self) -> None:
        """Re-read the recall log if its dock is shown (reading it costs nothing worth saving then)."""
        if self.recall_log_dock.isVisible():
            self._recall_log_model.refresh()

    def _on_recall_log_dock_visibility_changed(self, visible: bool) -> None:
        if visible:
            self.refresh_recall_log()

    def _on_notifications_count_changed(self, count: int) -> None:
        self.notifications_dock.setWindowTitle(f"Notifications ({count})" if count else "Notifications")
