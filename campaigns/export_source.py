"""The segment as a source of lists' background exports (lists.export_sources): registered when
the app loads, so the lists app runs segment exports without importing this one."""

from __future__ import annotations

from accounts.models import Account
from lists import export_sources


def _segment(account: Account, object_id: int | None) -> export_sources.Found | None:
    from campaigns import segment_selectors
    from lists.exports import export_filename

    segment = segment_selectors.segment_get(account=account, segment_id=object_id or 0)
    if segment is None:
        return None
    return export_sources.Found(
        label=segment.name,
        subscribers=segment_selectors.segment_subscribers(segment=segment),
        filename=export_filename(segment, kind="segment"),
    )


def register() -> None:
    export_sources.register("segment", _segment)
