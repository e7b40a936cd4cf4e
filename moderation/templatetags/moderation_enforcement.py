"""Template helpers for enforcement: where an account stands with its appeal (the sender's frozen
banner shows the deadline), and percentages for the moderators' health panel."""

from __future__ import annotations

from django import template

from accounts.models import Account
from moderation.selectors import AppealState, appeal_state_for

register = template.Library()


@register.simple_tag
def appeal_state(account: Account | None) -> AppealState | None:
    """{% appeal_state account as appeal %}: deadline, the appeal of this freeze, whether one
    may be filed now (None without an account)."""
    if account is None:
        return None
    return appeal_state_for(account=account)


@register.filter
def as_percent(rate) -> str:
    """0.0123 -> "1.23%"."""
    try:
        return f"{float(rate) * 100:.2f}%"
    except (TypeError, ValueError):
        return ""
