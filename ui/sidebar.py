"""The window's left pane: search, the account filter, "Unread only", and the conversation list."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .accounts import NO_API_ACCESS, AccountStates
from .conversation_model import ConversationFilter, ConversationListModel
from .views import ConversationListView
from .widgets import plain_label

SEARCH_DEBOUNCE_MS = 200


class Sidebar(QObject):
    """The filters over the conversation list, the list, and what the list says when it is empty.

    ``widget`` is the pane (a plain ``QWidget``: the style sheet paints a plain widget's background, not a
    subclass's).
    """

    account_filter_changed = Signal()
    """The account filter's choice changed (and the list was filtered by it)."""

    def __init__(self, model: ConversationListModel, accounts: AccountStates, parent: QObject) -> None:
        super().__init__(parent)
        self._model = model
        self._accounts = accounts
        self.widget = QWidget()
        self.widget.setObjectName("sidebar")
        layout = QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        filters = QWidget()
        filters.setObjectName("filterBar")
        # Never taller than its rows: the height goes to the list, the search's results or the empty label.
        filters.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.filter_bar = filters
        filters_layout = QVBoxLayout(filters)
        filters_layout.setContentsMargins(12, 12, 12, 10)
        filters_layout.setSpacing(8)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("searchEdit")
        self.search_edit.setPlaceholderText("Search conversations")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._on_search_edit_text_changed)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.account_combo = QComboBox()
        self.account_combo.setObjectName("accountCombo")
        # An account's state makes its row long ("… — no API access on your plan"): the sidebar keeps its
        # width (the current text is elided) and the list that drops down is as wide as its rows.
        self.account_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.account_combo.setMinimumContentsLength(14)
        self.account_combo.currentIndexChanged.connect(self._on_account_combo_current_index_changed)
        self.unread_button = QPushButton("Unread only")
        self.unread_button.setObjectName("filterChip")
        self.unread_button.setCheckable(True)
        self.unread_button.toggled.connect(self._on_unread_button_toggled)
        self.starred_button = QPushButton("★ Starred")
        self.starred_button.setObjectName("filterChip")
        self.starred_button.setCheckable(True)
        self.starred_button.setToolTip("Show starred conversations only")
        self.starred_button.toggled.connect(self._on_starred_button_toggled)
        row.addWidget(self.account_combo, 1)
        row.addWidget(self.unread_button)
        row.addWidget(self.starred_button)
        filters_layout.addWidget(self.search_edit)
        filters_layout.addLayout(row)
        self.conversation_view = ConversationListView()
        self.conversation_view.setModel(model)
        self.empty_list_label = plain_label("No conversations", "emptyListLabel")
        self.empty_list_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(filters)
        layout.addWidget(self.conversation_view, 1)
        layout.addWidget(self.empty_list_label)
        for signal in (model.modelReset, model.rowsInserted):
            signal.connect(self.update_empty_label)
        model.rowsRemoved.connect(self.update_empty_label)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)

    def apply_filter(self) -> None:
        """Filter the list by the search text, the account chosen and "Unread only"."""
        self._model.set_filter(
            ConversationFilter(
                account_id=self.account_combo.currentData(),
                unread_only=self.unread_button.isChecked(),
                search=self.search_edit.text(),
                starred_only=self.starred_button.isChecked(),
            )
        )

    def add_below_list(self, widget: QWidget) -> None:
        """Put ``widget`` under the conversation list, sharing its height (the message search's results)."""
        layout = self.widget.layout()
        if isinstance(layout, QVBoxLayout):
            layout.insertWidget(layout.indexOf(self.empty_list_label) + 1, widget, 1)

    def focus_search(self) -> None:
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    def shown_account_ids(self) -> tuple[str, ...]:
        """The account filter's choice: one account, or () for all of them."""
        current = self.account_combo.currentData()
        return (current,) if isinstance(current, str) else ()

    def show_account(self, account_id: str) -> None:
        """Filter the list to one account."""
        index = self.account_combo.findData(account_id)
        if index >= 0:
            self.account_combo.setCurrentIndex(index)

    def show_accounts(self) -> bool:
        """Fill the account filter again, each account with its problem; whether its choice changed (the
        account chosen is gone), in which case the list still has to be filtered again."""
        combo = self.account_combo
        current = combo.currentData()
        combo.blockSignals(True)
        try:
            combo.clear()
            combo.addItem("All accounts", None)
            for account in self._accounts.accounts:
                name = account.name or account.account_id
                problem = self._accounts.problem(account.account_id)
                combo.addItem(f"{name} — {problem}" if problem else name, account.account_id)
                tip = self._accounts.tip(account.account_id)
                if tip:
                    combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
            found = combo.findData(current)
            combo.setCurrentIndex(max(0, found))
            self._model.set_account_labels(self._accounts.row_labels())
            # The drop-down list shows each row whole, even where the combo itself is narrower.
            view = combo.view()
            view.setMinimumWidth(view.sizeHintForColumn(0) + 24)
        finally:
            combo.blockSignals(False)
        return bool(combo.currentData() != current)

    def update_empty_label(self) -> None:
        """Say why the list is empty (a filter, no conversations yet, or what is wrong with the account)."""
        empty = self._model.rowCount() == 0
        f = self._model.filter
        filtered = bool(f.search or f.unread_only or f.starred_only)
        text = "No matching conversations" if filtered else "No conversations yet"
        if f.starred_only and not (f.search or f.unread_only):
            text = "No starred conversations"
        if f.account_id is not None and not filtered:
            problem = self._accounts.problem(f.account_id)
            account = self._accounts.account(f.account_id)
            name = (account.name if account is not None else "") or "This account"
            if problem == NO_API_ACCESS:
                text = (
                    f"{name} has no API access on your ConnectSafely plan, so its conversations are not "
                    "synced."
                )
            elif problem:
                text = f"No conversations yet: {problem}."
        self.empty_list_label.setWordWrap(True)
        self.empty_list_label.setText(text)
        self.empty_list_label.setVisible(empty)
        # An empty list gives its height up: to the message search's results when a search found only
        # messages (else half the sidebar stayed blank above them), or to the label, centred in it.
        self.conversation_view.setVisible(not empty)

    def _on_search_edit_text_changed(self, _text: str) -> None:
        self._search_timer.start()

    def _on_search_timer_timeout(self) -> None:
        self.apply_filter()

    def _on_account_combo_current_index_changed(self, _index: int) -> None:
        self.apply_filter()
        self.account_filter_changed.emit()

    def _on_unread_button_toggled(self, _checked: bool) -> None:
        self.apply_filter()

    def _on_starred_button_toggled(self, _checked: bool) -> None:
        self.apply_filter()
