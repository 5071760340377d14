"""The application's look: the style sheet (the template shipped in ``resources/style.qss``, coloured from a
palette), the Qt palette of what the sheet does not paint (dialogs, tooltips), and the theme in force —
the desktop's colour scheme or the user's View › Theme choice."""

from __future__ import annotations

import enum
import string
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication, QPalette

from .palette import DARK, LIGHT, Palette, qcolor


def load_style_sheet(path: Path | None = None, palette: Palette = LIGHT) -> str:
    """The QSS of the template at ``path`` (or the shipped one) with ``palette``'s colours filled in;
    "" when it cannot be read (the app still works, unstyled)."""
    try:
        template = path.read_text(encoding="utf-8") if path is not None else _shipped_template()
    except (OSError, ModuleNotFoundError):
        return ""
    return fill_style_sheet(template, palette)


_TEMPLATE: list[str] = []


def _shipped_template() -> str:
    """The shipped template, read once (every window and every theme switch fills it)."""
    if not _TEMPLATE:
        # By name, not by import: resources/ is data, not a layer ui/ depends on.
        _TEMPLATE.append(resources.files("resources").joinpath("style.qss").read_text(encoding="utf-8"))
    return _TEMPLATE[0]


def fill_style_sheet(template: str, palette: Palette) -> str:
    """``template`` with each ``$role`` replaced by that role's colour in ``palette``.

    A placeholder that names no role is a bug in the template, not something to show half-styled:
    ``ValueError`` names it."""
    try:
        return string.Template(template).substitute(palette.style_values())
    except KeyError as unknown:
        raise ValueError(f"the style sheet names a role the palette lacks: ${unknown.args[0]}") from None


def qt_palette(palette: Palette) -> QPalette:
    """A ``QPalette`` of ``palette``'s colours, for what the style sheet does not paint: dialogs, message
    boxes, tooltips, the file dialog. Without it a dark theme on a light desktop would put light text on
    the platform's light dialog background."""
    result = QPalette()
    role = QPalette.ColorRole
    pairs = (
        (role.Window, palette.window),
        (role.WindowText, palette.text),
        (role.Base, palette.surface),
        (role.AlternateBase, palette.alternate_row),
        (role.ToolTipBase, palette.surface),
        (role.ToolTipText, palette.text),
        (role.PlaceholderText, palette.placeholder_text),
        (role.Text, palette.text),
        (role.Button, palette.surface),
        (role.ButtonText, palette.secondary_text),
        (role.BrightText, palette.danger),
        (role.Light, palette.button_hover),
        (role.Midlight, palette.subtle),
        (role.Mid, palette.border_soft),
        (role.Dark, palette.divider),
        (role.Shadow, palette.window),
        (role.Highlight, palette.accent),
        (role.HighlightedText, palette.on_accent),
        (role.Link, palette.accent),
        (role.LinkVisited, palette.accent_hover),
    )
    for color_role, value in pairs:
        result.setColor(color_role, qcolor(value))
    disabled = QPalette.ColorGroup.Disabled
    for color_role in (role.WindowText, role.Text, role.ButtonText):
        result.setColor(disabled, color_role, qcolor(palette.disabled_text))
    return result


class ThemeChoice(enum.StrEnum):
    """View › Theme: follow the desktop, or one palette whatever the desktop says."""

    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"

    @classmethod
    def parse(cls, value: object) -> ThemeChoice:
        """A stored choice; anything unknown (an old or hand-edited settings file) is "System"."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.SYSTEM


THEME_CHOICE_TEXT = {
    ThemeChoice.SYSTEM: "System",
    ThemeChoice.LIGHT: "Light",
    ThemeChoice.DARK: "Dark",
}


def palette_for(choice: ThemeChoice, scheme: Qt.ColorScheme) -> Palette:
    """The palette a choice means under the desktop's colour scheme (an unknown scheme is light)."""
    if choice is ThemeChoice.LIGHT:
        return LIGHT
    if choice is ThemeChoice.DARK:
        return DARK
    return DARK if scheme == Qt.ColorScheme.Dark else LIGHT


class Theme(QObject):
    """The palette in force for the whole application: the user's choice, or the desktop's colour scheme
    (``QStyleHints.colorScheme``, followed live through its change signal) when the choice is "System".

    ``palette_changed`` fires whenever the palette in force changes, by either cause; the application's
    ``QPalette`` is set to it (``qt_palette``) first, so dialogs opened afterwards match."""

    palette_changed = Signal(object)
    """Palette: the one now in force."""

    def __init__(self, choice: ThemeChoice = ThemeChoice.SYSTEM, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._choice = choice
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._on_color_scheme_changed)
        self._scheme = hints.colorScheme()
        self._palette = palette_for(choice, self._scheme)
        self._apply_to_application()

    @property
    def choice(self) -> ThemeChoice:
        return self._choice

    @property
    def palette(self) -> Palette:
        return self._palette

    def set_choice(self, choice: ThemeChoice) -> None:
        self._choice = choice
        self._update()

    def set_color_scheme(self, scheme: Qt.ColorScheme) -> None:
        """The desktop's scheme changed (the style hints' signal; tests call it directly)."""
        self._scheme = scheme
        self._update()

    def _on_color_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        self.set_color_scheme(scheme)

    def _update(self) -> None:
        palette = palette_for(self._choice, self._scheme)
        if palette is self._palette:
            return
        self._palette = palette
        self._apply_to_application()
        self.palette_changed.emit(palette)

    def _apply_to_application(self) -> None:
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            QGuiApplication.setPalette(qt_palette(self._palette))
