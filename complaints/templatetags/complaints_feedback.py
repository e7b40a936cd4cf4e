"""The account health panel (dashboard and feedback page) and the figures' formats.

An inclusion tag, so that the dashboard (in accounts, which must not import complaints) shows the
panel from its template alone: `{% load complaints_feedback %}{% account_health_panel account %}`.
"""

from __future__ import annotations

from django import template
from django.conf import settings

from accounts.models import Account
from complaints.selectors import HealthStatus, account_health

register = template.Library()

HEALTH_LABELS = {
    HealthStatus.GOOD: ("Good", "ok"),
    HealthStatus.WARNING: ("Warning", "warning"),
    HealthStatus.OVER_LIMIT: ("Over the limit", "error"),
    HealthStatus.NOT_ENOUGH_DATA: ("Not enough data", ""),
}


@register.inclusion_tag("complaints/_health_panel.html")
def account_health_panel(account: Account, compact: bool = True) -> dict:
    """The account's health over the rolling window, with the thresholds it is judged by."""
    health = account_health(account=account)
    label, css = HEALTH_LABELS[health.status]
    return {
        "health": health,
        "status_label": label,
        "status_class": css,
        "compact": compact,
        "complaint_warn": settings.COMPLAINT_WARN,
        "complaint_limit": settings.COMPLAINT_LIMIT,
        "bounce_warn": settings.HARD_BOUNCE_WARN,
        "bounce_limit": settings.HARD_BOUNCE_LIMIT,
        "min_sent": settings.HEALTH_MIN_SENT,
    }


def _trimmed(number: float, places: int) -> str:
    text = f"{number:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def percent(rate) -> str:
    """0.0042 -> "0.42%", 0.05 -> "5%": a rate as a percentage, two decimals at most."""
    if rate is None or rate == "":
        return ""
    return _trimmed(float(rate) * 100, 2) + "%"


@register.filter
def duration(seconds) -> str:
    """A time to suppression, readable at any scale: "0.04 s", "12 s", "3.5 min", "2.1 h",
    "3.2 days"; "" when there is none."""
    if seconds is None or seconds == "":
        return ""
    seconds = max(0.0, float(seconds))
    if seconds < 1:
        # Two significant decimals at most, but never "0 s" for something that took time.
        return ("<0.01" if 0 < seconds < 0.005 else _trimmed(seconds, 2)) + " s"
    if seconds < 60:
        return _trimmed(seconds, 1) + " s"
    if seconds < 3600:
        return _trimmed(seconds / 60, 1) + " min"
    if seconds < 2 * 86400:
        return _trimmed(seconds / 3600, 1) + " h"
    return _trimmed(seconds / 86400, 1) + " days"
