"""Server-rendered SVG charts: the geometry is worked out here and templates draw it, so charts
need no script and no third-party library, and every page keeps its numbers as text beside them.

Coordinates are returned as strings with a dot for the decimal point: rendered as floats, Django
would localise them ("12,5" in Russian), which SVG does not read. Shared by the dashboard's
charts; `nice_ceiling` is the campaign timeline's scale rule, here for any chart to reuse."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def coordinate(value: float) -> str:
    """An SVG coordinate: one decimal, never a locale's comma."""
    return f"{value:.1f}"


def nice_ceiling(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def columns(
    values: Sequence[int],
    *,
    width: float,
    height: float,
    gap: float = 0.25,
    min_height: float = 1.5,
) -> list[dict]:
    """Vertical bars side by side across `width`, scaled so the largest value fills `height`.

    Each bar: {x, y, width, height, value, index}. A zero gets no height; any other value at
    least `min_height`, so a single new subscriber beside a busy day still shows."""
    if not values:
        return []
    peak = max(values)
    slot = width / len(values)
    bar_width = slot * (1 - gap)
    bars = []
    for index, value in enumerate(values):
        bar_height = height * value / peak if peak else 0.0
        if value and bar_height < min_height:
            bar_height = min_height
        bars.append(
            {
                "index": index,
                "value": value,
                "x": coordinate(index * slot + (slot - bar_width) / 2),
                "y": coordinate(height - bar_height),
                "width": coordinate(max(bar_width, 0.5)),
                "height": coordinate(bar_height),
            }
        )
    return bars


def bar_lengths(values: Mapping[str, int], *, width: float) -> dict[str, str]:
    """{key: length} of horizontal bars for `values` on one scale: the largest spans `width`,
    a non-zero value is never shorter than a visible sliver, a zero is "0"."""
    peak = max(values.values(), default=0)
    if not peak:
        return dict.fromkeys(values, "0")
    return {
        key: coordinate(max(width * value / peak, 2.0)) if value else "0"
        for key, value in values.items()
    }


def gauge(
    value: float,
    *,
    marks: Mapping[str, float],
    width: float,
    headroom: float = 1.5,
    label_margin: float = 14.0,
) -> dict:
    """A horizontal gauge for a rate against thresholds (e.g. {"warn": 0.02, "limit": 0.05}).

    The scale runs from 0 to `headroom` times the highest mark, whatever the value, so the marks
    keep their place (and their labels apart) however bad it gets; a value past the end fills
    the gauge and sets `beyond`. Returns {fill, marks: {key: x}, labels: {key: x}, scale_max,
    beyond, over: {key: bool}}: `fill` is the filled length, `labels` where each mark's label is
    centred (clear of the edges), `over[key]` whether the value has reached that mark."""
    scale_max = max(marks.values(), default=0.0) * headroom or 1.0

    def x_of(rate: float) -> float:
        return width * min(max(rate, 0.0), scale_max) / scale_max

    fill = x_of(value)
    if value > 0 and fill < 2.0:
        fill = 2.0  # a rate above zero never looks like none
    # Labels centred on their marks, kept clear of the edges.
    margin = min(label_margin, width / 2)
    return {
        "fill": coordinate(fill),
        "marks": {key: coordinate(x_of(rate)) for key, rate in marks.items()},
        "labels": {
            key: coordinate(min(max(x_of(rate), margin), width - margin))
            for key, rate in marks.items()
        },
        "scale_max": scale_max,
        "beyond": value > scale_max,
        "over": {key: value >= rate for key, rate in marks.items()},
    }
