"""The app's colours by role, in one place: the delegates paint with them, the style sheet is filled in."""

from __future__ import annotations

import dataclasses
import functools
import zlib
from dataclasses import dataclass

from PySide6.QtGui import QColor


@dataclass(frozen=True, slots=True)
class Palette:
    """Every colour the app shows, by what it is for (``"#RRGGBB"``).

    A role is named for its use, not its value: two roles may share a value in one palette (white
    surfaces and white text on the accent) and part in another (a dark one). The style sheet names the
    roles as ``$role`` (``ui.style``); the delegates read them through ``qcolor``.
    """

    name: str
    # Surfaces
    window: str
    """Behind the panes."""
    surface: str
    """Panes, lists, inputs, buttons, menus."""
    subtle: str
    """A quiet fill: a hovered row, dock titles, table headers, the progress bar's groove."""
    alternate_row: str
    search: str
    """The search box at rest."""
    button_hover: str
    selection: str
    """A selected row or menu item."""
    # Text
    text: str
    secondary_text: str
    """Buttons, the status bar, secondary details."""
    muted: str
    """Times, headlines, quiet labels."""
    placeholder_text: str
    disabled_text: str
    menu_disabled_text: str
    on_accent: str
    """Text and marks drawn on the accent (a badge, a filled button, a checked chip)."""
    avatar_text: str
    """Initials on an avatar circle."""
    # Lines
    divider: str
    """Between the big parts: sidebar, status bar, splitter, table header."""
    divider_soft: str
    """Under bars and headers, the table's grid."""
    divider_faint: str
    """Between notifications."""
    row_divider: str
    """Between conversation rows."""
    input_border: str
    button_border: str
    border_soft: str
    """Menus, drop-down lists, disabled buttons."""
    # The accent and states
    accent: str
    accent_hover: str
    accent_disabled: str
    accent_light: str
    """The focus ring around a selected bubble, the progress bar's chunk."""
    chip_checked: str
    danger: str
    """Refused and failed recalls, Offline, the destructive button."""
    danger_hover: str
    success: str
    """Live, a recall done, a connection test passed."""
    info: str
    """Polling (the normal state against the real service: not a warning)."""
    warning: str
    warning_strong: str
    attention: str
    """Accounts that need attention."""
    uncertain: str
    """A recall not confirmed yet."""
    star: str
    # Bubbles
    own_bubble: str
    own_text: str
    """A message's text (and its links) on one's own bubble."""
    own_muted: str
    """Sender and time on one's own bubble."""
    other_bubble: str
    other_text: str
    reaction_border: str
    reaction_fill: str
    # Date separators in a thread
    day_fill: str
    """The pill behind "Today", "Yesterday", a date (its text is ``muted``)."""
    # Banners and badges
    info_bg: str
    info_border: str
    warning_bg: str
    warning_border: str
    error_bg: str
    error_border: str
    sandbox_bg: str
    sandbox_text: str
    # Scroll bars
    scrollbar: str
    scrollbar_hover: str
    avatars: tuple[str, ...]
    """Avatar circles: one per person, stable across runs (``avatar_color``)."""

    def style_values(self) -> dict[str, str]:
        """The style sheet's ``$role`` placeholders and their colours (every role of one colour)."""
        return {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name not in ("name", "avatars")
        }


# Values that more than one role takes, each written once.
_WHITE = "#FFFFFF"
_INK = "#1D2226"
_SLATE = "#404549"
_GREY = "#666A6F"
_BLUE = "#0A66C2"
_PALE_BLUE = "#C9D9EA"
_SELECTION_BLUE = "#E3EDF9"
_LIGHT_BLUE = "#7FB0E6"
_QUIET = "#F3F6F8"
_LINE = "#E0DFDC"
_SOFT_LINE = "#ECEBE8"
_SOFT_BORDER = "#D5D8DB"
_INPUT_BORDER = "#C9CDD2"
_RED = "#B3261E"
_GREEN = "#2E7D4F"
_AMBER = "#B26A00"
_CREAM = "#FFF4E5"
_SAND = "#F2C27A"

LIGHT = Palette(
    name="light",
    window="#F4F2EE",
    surface=_WHITE,
    subtle=_QUIET,
    alternate_row="#F8F9FA",
    search="#EEF3F8",
    button_hover="#F2F4F6",
    selection=_SELECTION_BLUE,
    text=_INK,
    secondary_text=_SLATE,
    muted=_GREY,
    placeholder_text="#8A8D91",
    disabled_text="#A0A4A8",
    menu_disabled_text="#9A9DA1",
    on_accent=_WHITE,
    avatar_text=_WHITE,
    divider=_LINE,
    divider_soft=_SOFT_LINE,
    divider_faint="#F0F0EE",
    row_divider="#E6E9EC",
    input_border=_INPUT_BORDER,
    button_border="#A8AEB5",
    border_soft=_SOFT_BORDER,
    accent=_BLUE,
    accent_hover="#004182",
    accent_disabled=_PALE_BLUE,
    accent_light=_LIGHT_BLUE,
    chip_checked="#01754F",
    danger=_RED,
    danger_hover="#8C1D18",
    success=_GREEN,
    info="#2E6DA4",
    warning=_AMBER,
    warning_strong="#7A4800",
    attention="#8A5300",
    uncertain="#9A6700",
    star="#E3A008",
    own_bubble=_BLUE,
    own_text=_WHITE,
    own_muted="#E0EDFA",
    other_bubble="#EEF1F4",
    other_text=_INK,
    reaction_border="#D5DAE0",
    reaction_fill=_WHITE,
    day_fill=_QUIET,
    info_bg="#E8F1FB",
    info_border=_PALE_BLUE,
    warning_bg=_CREAM,
    warning_border=_SAND,
    error_bg="#FDECEA",
    error_border="#F0B4AE",
    sandbox_bg="#FCE8B2",
    sandbox_text="#6B4E00",
    scrollbar="#C4C8CC",
    scrollbar_hover="#A0A5AA",
    avatars=("#5B7FDB", "#D9743C", "#3C9D6E", "#B0549E", "#4C9DB8", "#C2523F", "#7A6BC9", "#8C8C3A"),
)
"""The light look the app has always had."""

# The dark look: light text on slate surfaces; the accent turns a light blue (text on it dark) so that
# links, names and badges keep their contrast on dark surfaces, while one's own bubbles stay a deeper blue
# under white text. Every text/background pair a person reads is at least 4.5:1 (WCAG AA), checked by
# tests/ui/test_themes.py.
_NIGHT = "#0E1419"
_D_SURFACE = "#1B1F23"
_D_SUBTLE = "#252A30"
_D_TEXT = "#E6E9EC"
_D_SECONDARY = "#C3C8CD"
_D_MUTED = "#9BA3AB"
_D_SKY = "#70B5F9"
_D_SELECTION = "#1E3A5C"
_D_LINE = "#343A41"
_D_SOFT_LINE = "#2B3137"
_D_BORDER = "#49515A"

DARK = Palette(
    name="dark",
    window="#101317",
    surface=_D_SURFACE,
    subtle=_D_SUBTLE,
    alternate_row="#20252A",
    search="#262B31",
    button_hover="#2A3037",
    selection=_D_SELECTION,
    text=_D_TEXT,
    secondary_text=_D_SECONDARY,
    muted=_D_MUTED,
    placeholder_text="#7E868E",
    disabled_text="#5F676F",
    menu_disabled_text="#6B737B",
    on_accent=_NIGHT,
    avatar_text=_NIGHT,
    divider=_D_LINE,
    divider_soft=_D_SOFT_LINE,
    divider_faint="#262B30",
    row_divider="#2A3036",
    input_border=_D_BORDER,
    button_border="#5A636C",
    border_soft="#3C434A",
    accent=_D_SKY,
    accent_hover="#9CCBFB",
    accent_disabled="#35506B",
    accent_light="#3F7FBF",
    chip_checked="#5CC08F",
    danger="#F28B82",
    danger_hover="#F6AEA9",
    success="#6DD19C",
    info="#7EB6E8",
    warning="#E8B04B",
    warning_strong="#F2C77A",
    attention="#F0B45A",
    uncertain="#E8C25A",
    star="#F2C14E",
    own_bubble="#1F5A96",
    own_text="#FFFFFF",
    own_muted="#D4E5F7",
    other_bubble="#2C3238",
    other_text=_D_TEXT,
    reaction_border="#48505A",
    reaction_fill="#2A3037",
    day_fill=_D_SUBTLE,
    info_bg="#16283B",
    info_border="#2B4A6B",
    warning_bg="#2E2414",
    warning_border="#6B5220",
    error_bg="#3A1D1B",
    error_border="#7A3A35",
    sandbox_bg="#4A3B12",
    sandbox_text="#F6DC8E",
    scrollbar="#4A5158",
    scrollbar_hover="#646C74",
    avatars=("#8FA8EA", "#EFA27A", "#7CCFA2", "#D894C8", "#86C7DC", "#E8907F", "#AFA4E6", "#C5C56E"),
)
"""The dark look (View › Theme, or the desktop's dark colour scheme)."""

PALETTES: dict[str, Palette] = {LIGHT.name: LIGHT, DARK.name: DARK}
"""Every palette by name (the View › Theme choices other than "System")."""


@functools.cache
def qcolor(value: str) -> QColor:
    """A palette colour as a ``QColor``, made once per value (painting reads colours on every row).
    Shared: never modified."""
    return QColor(value)


def avatar_color(palette: Palette, seed: str) -> str:
    """A stable colour per person (crc32, not hash(): the same person keeps a colour across runs)."""
    return palette.avatars[zlib.crc32(seed.encode("utf-8")) % len(palette.avatars)]
