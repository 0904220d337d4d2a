"""Accent colours and their contrast, by WCAG 2's formulas (relative luminance, 1.4.3)."""

from __future__ import annotations

import re

#: What a stored accent colour looks like: "#1f5fbf".
HEX_COLOR = re.compile(r"#[0-9a-f]{6}")
#: WCAG AA for normal text (1.4.3): links and button labels are normal text.
AA_CONTRAST = 4.5
WHITE = "#ffffff"
#: The page background of portal.css (--bg): links sit on it as well as on white cards.
PAGE_BACKGROUND = "#f6f7f9"


def normalized(value: str) -> str | None:
    """``value`` as "#rrggbb" in lower case ("1F5FBF" and "#1f5fbf" alike), or None."""
    value = value.strip().lower()
    if not value.startswith("#"):
        value = f"#{value}"
    return value if HEX_COLOR.fullmatch(value) else None


def _channels(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """Relative luminance of "#rrggbb" (0 black, 1 white)."""
    red, green, blue = (_linear(c) for c in _channels(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """The contrast ratio of two colours, 1 to 21."""
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def worst_contrast(color: str) -> float:
    """The lowest contrast the accent meets: as text on white or on the page, and under
    white button text (the same pair as text on white)."""
    return min(contrast(color, WHITE), contrast(color, PAGE_BACKGROUND))


def readable(color: str) -> bool:
    """Whether the accent is readable as text on the pages and behind white text (AA)."""
    return worst_contrast(color) >= AA_CONTRAST


def darkened_until_readable(color: str) -> str:
    """The same hue, darkened just enough to be ``readable`` (black at the very worst)."""
    channels = _channels(color)
    for step in range(100, -1, -1):
        candidate = "#" + "".join(f"{round(c * step / 100):02x}" for c in channels)
        if readable(candidate):
            return candidate
    return "#000000"
