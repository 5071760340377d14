"""The emoji picker at the top of a bubble's context menu: a row of reactions, your own ones checked."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QMenu, QToolButton, QWidget, QWidgetAction

from sync.model import Message

REACTION_EMOJI: tuple[tuple[str, str], ...] = (
    ("👍", "Thumbs up"),
    ("❤️", "Heart"),
    ("😂", "Laughing"),
    ("😮", "Surprised"),
    ("😢", "Sad"),
    ("🎉", "Celebrate"),
    ("👏", "Clapping"),
)
"""The emoji offered, with the words a screen reader says for each."""


def own_reactions(message: Message) -> set[str]:
    """The emoji this account has reacted to ``message`` with."""
    return {r.emoji for r in message.reactions if r.reacted_by_owner}


def add_reaction_picker(menu: QMenu, message: Message, react: Callable[[Message, str, bool], None]) -> None:
    """A row of emoji buttons at the top of ``menu`` (a click toggles your reaction and closes the menu),
    and the same as a "React" submenu of checkable actions, for the keyboard."""
    mine = own_reactions(message)
    row = QWidget(menu)
    row.setObjectName("reactionPicker")
    layout = QHBoxLayout(row)
    layout.setContentsMargins(8, 4, 8, 4)
    layout.setSpacing(2)
    for emoji, name in REACTION_EMOJI:
        button = QToolButton(row)
        button.setObjectName("reactionButton")
        button.setText(emoji)
        button.setCheckable(True)
        button.setChecked(emoji in mine)
        button.setAutoRaise(True)
        verb = "Remove your reaction" if emoji in mine else "React with"
        button.setToolTip(f"{verb} {emoji}")
        button.setAccessibleName(f"{verb}: {name}")

        def clicked(_checked: bool = False, e: str = emoji) -> None:
            menu.close()
            react(message, e, e not in mine)

        button.clicked.connect(clicked)
        layout.addWidget(button)
    picker = QWidgetAction(menu)
    picker.setObjectName("reactionPickerAction")
    picker.setDefaultWidget(row)
    # On top: a separator, then the rest of the menu under the picker and its submenu.
    first = menu.insertSeparator(menu.actions()[0]) if menu.actions() else menu.addSeparator()
    menu.insertAction(first, picker)

    submenu = QMenu("React", menu)
    submenu.setObjectName("reactMenu")
    for emoji, name in REACTION_EMOJI:
        action = submenu.addAction(f"{emoji}  {name}")
        action.setObjectName("reactAction")
        action.setCheckable(True)
        action.setChecked(emoji in mine)
        action.triggered.connect(lambda _checked=False, e=emoji: react(message, e, e not in mine))
    menu.insertMenu(first, submenu)
