"""The sender's branding on recipient pages: which uploads are images we serve, and the colours
a brand colour gives buttons and links without losing contrast (WCAG AA, 4.5:1)."""

from __future__ import annotations

import re

# Recognised by their first bytes, never by the file's name or the browser's word for it. SVG is
# not among them: it is a document that can carry script.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
COLOR = re.compile(r"#?([0-9a-fA-F]{6})")
AA_CONTRAST = 4.5
WHITE, DARK, BLACK = "#ffffff", "#1d2330", "#000000"


def image_type(head: bytes) -> str | None:
    """The Content-Type of a PNG, JPEG, GIF or WebP image from its first 12 bytes, else None."""
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def normalise_color(value: str) -> str | None:
    """ "#RRGGBB" or "rrggbb" as "#rrggbb"; "" for no colour; None when it is not a colour."""
    value = (value or "").strip()
    if not value:
        return ""
    match = COLOR.fullmatch(value)
    return f"#{match.group(1).lower()}" if match else None


def _luminance(color: str) -> float:
    """WCAG relative luminance of "#rrggbb"."""
    channels = []
    for i in (1, 3, 5):
        c = int(color[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two "#rrggbb" colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def palette(color: str) -> dict[str, str]:
    """What a brand colour paints: buttons in the colour with white or dark text, whichever
    reads better, and links in the colour only where it reads on white (otherwise the dark
    ink). For a few mid-tones neither white nor the site's dark ink reaches 4.5:1; pure black
    or white always does (at worst about 4.58:1), so the text falls back to one of them."""
    ink = max((WHITE, DARK), key=lambda text: contrast(color, text))
    if contrast(color, ink) < AA_CONTRAST:
        ink = max((WHITE, BLACK), key=lambda text: contrast(color, text))
    link = color if contrast(color, WHITE) >= AA_CONTRAST else DARK
    return {"brand": color, "brand_ink": ink, "link": link}
