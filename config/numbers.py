"""The one way the project writes a rate as a percentage: the probe's verdict, account health, the
campaign page and the moderators' pages all call `percent` (templates through the `percent` and
`as_percent` filters, which are this function).

Enough digits to compare a rate with the thresholds (0.1%, 0.3%, 2%, 5%) and no more: two decimals
under 1%, one from 1% on, trailing zeros dropped; a rate too small to show is "<0.01%", never a
misleading "0%".
"""

from __future__ import annotations

from django.utils import formats


def percent(fraction: float | None, *, localize: bool = True) -> str:
    """0.0044 -> "0.44%", 0.025 -> "2.5%", 0.05 -> "5%", 0.00001 -> "<0.01%"; "" for None or "".
    With `localize`, the active language's decimal separator ("2,5%" in Russian); without it a
    dot, for text stored in English (a verdict's reasons, a log line)."""
    if fraction is None or fraction == "":
        return ""
    value = float(fraction) * 100
    if value == 0:
        return "0%"
    if 0 < value < 0.01:
        text = "<0.01"
    else:
        text = f"{value:.2f}" if abs(value) < 1 else f"{value:.1f}"
        text = text.rstrip("0").rstrip(".")
    if localize:
        text = text.replace(".", formats.get_format("DECIMAL_SEPARATOR"))
    return f"{text}%"
