"""The window's right pane: a placeholder, or the open conversation's header, thread, grace and reply bars."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from sync.model import Conversation

from .message_model import MessageListModel
from .reply_box import ReplyBox
from .text import one_line, primary_participant
from .views import MessageListView
from .widgets import plain_label


class ThreadPane:
    """The thread of the open conversation under its header, with the recall grace bar and the reply bar
    below; a placeholder while none is open.

    ``stack`` is the pane. Its parts are plain ``QWidget``s: the style sheet paints a plain widget's
    background, not a subclass's.
    """

    def __init__(self, messages: MessageListModel, grace_bar: QWidget) -> None:
        self._messages = messages
        self.stack = QStackedWidget()
        self.placeholder = plain_label("Select a conversation to read it here.", "placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        thread = QWidget()
        thread.setObjectName("thread")
        layout = QVBoxLayout(thread)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QWidget()
        header.setObjectName("threadHeader")
        header_layout = QVBoxLayout(header)
        header_layout.setContentsMargins(20, 12, 20, 12)
        header_layout.setSpacing(2)
        self.contact_label = plain_label(object_name="contactName")
        self.headline_label = plain_label(object_name="contactHeadline")
        header_layout.addWidget(self.contact_label)
        header_layout.addWidget(self.headline_label)
        self.message_view = MessageListView()
        self.message_view.set_message_model(messages)
        self.reply_box = ReplyBox()
        layout.addWidget(header)
        layout.addWidget(self.message_view, 1)
        layout.addWidget(grace_bar)
        layout.addWidget(self.reply_box.widget)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(thread)

    def show_conversation(self, conversation: Conversation | None) -> None:
        """Show ``conversation``'s thread under its header, or the placeholder for None."""
        if conversation is None:
            self._messages.set_conversation(None, None)
            self.stack.setCurrentIndex(0)
            return
        self._messages.set_conversation(conversation.account_id, conversation.conversation_id)
        self.show_header(conversation)
        self.stack.setCurrentIndex(1)

    def show_header(self, conversation: Conversation) -> None:
        """The contact's name and headline ("N participants" for a group)."""
        self.contact_label.setText(one_line(conversation.title, 120))
        person = primary_participant(conversation)
        headline = person.headline if person is not None and len(conversation.participants) == 1 else ""
        if len(conversation.participants) > 1:
            headline = f"{len(conversation.participants)} participants"
        self.headline_label.setText(one_line(headline, 200))
        self.headline_label.setVisible(bool(headline))
