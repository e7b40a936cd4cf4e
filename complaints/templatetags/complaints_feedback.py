"""The account health panel (dashboard and feedback page), the dashboard's recent unsubscribes
and complaints, and the figures' formats.

Inclusion tags, so that the dashboard (in accounts, which must not import complaints) shows the
panels from its template alone: `{% load complaints_feedback %}{% account_health_panel account %}`.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from accounts.models import Account
from campaigns.verdict import Thresholds
from complaints.models import FeedbackKind
from complaints.selectors import HealthStatus, account_health, feedback_latest
from config import charts
from config.numbers import percent as _percent

register = template.Library()

HEALTH_LABELS = {
    HealthStatus.GOOD: (_("Good"), "ok"),
    HealthStatus.WARNING: (_("Warning"), "warning"),
    HealthStatus.OVER_LIMIT: (_("Over the limit"), "error"),
    HealthStatus.NOT_ENOUGH_DATA: (_("Not enough data"), ""),
}
GAUGE_WIDTH = 240
_GAUGE_LEVELS = {
    HealthStatus.GOOD: "ok",
    HealthStatus.WARNING: "warning",
    HealthStatus.OVER_LIMIT: "error",
}
# The dashboard's "recent unsubscribes and complaints"; the feedback page has them all.
RECENT_FEEDBACK = 10


@register.inclusion_tag("complaints/_health_panel.html")
def account_health_panel(account: Account, compact: bool = True) -> dict:
    """The account's health over the rolling window, with the thresholds it is judged by, and
    a gauge per rate with the thresholds marked on it."""
    health = account_health(account=account)
    label, css = HEALTH_LABELS[health.status]
    thresholds = Thresholds.from_settings()
    limits = {
        "hard_bounce_rate": ("hard_bounces", thresholds.hard_bounces),
        "complaint_rate": ("complaints", thresholds.complaints),
    }
    # Rates of a handful of messages are drawn, but not judged (nor coloured) yet.
    judged = health.sent >= settings.HEALTH_MIN_SENT
    gauges = {}
    for key, (metric, levels) in limits.items():
        rate = getattr(health, key)
        warn, limit = levels.warn, levels.limit
        marks = {"warn": warn} if limit is None else {"warn": warn, "limit": limit}
        drawn = charts.gauge(rate, marks=marks, width=GAUGE_WIDTH)
        # Coloured as account health judged the rate (campaigns.verdict.judge_rate).
        level = _GAUGE_LEVELS[health.levels.get(metric, HealthStatus.GOOD)]
        gauges[key] = {
            **drawn,
            "rate": rate,
            "warn": warn,
            "limit": limit,
            "level": level if judged else "unjudged",
        }
    return {
        "health": health,
        "status_label": label,
        "status_class": css,
        "compact": compact,
        "complaint_warn": thresholds.complaints.warn,
        "complaint_limit": thresholds.complaints.limit,
        "bounce_warn": thresholds.hard_bounces.warn,
        "bounce_limit": thresholds.hard_bounces.limit,
        "min_sent": settings.HEALTH_MIN_SENT,
        "bounce_gauge": gauges["hard_bounce_rate"],
        "complaint_gauge": gauges["complaint_rate"],
        "gauge_width": GAUGE_WIDTH,
    }


@register.inclusion_tag("accounts/_dashboard_feedback.html")
def dashboard_recent_feedback(account: Account) -> dict:
    """The account's latest unsubscribes and spam complaints, newest first. One query."""
    events = feedback_latest(
        account=account,
        kinds=[FeedbackKind.UNSUBSCRIBED, FeedbackKind.COMPLAINED],
        limit=RECENT_FEEDBACK,
    )
    return {"events": events, "limit": RECENT_FEEDBACK}


def _trimmed(number: float, places: int) -> str:
    """`number` with at most `places` decimals, trailing zeros dropped, in the language's
    decimal separator ("3,5" in Russian)."""
    text = f"{number:.{places}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return text.replace(".", formats.get_format("DECIMAL_SEPARATOR"))


@register.filter
def percent(rate) -> str:
    """0.0042 -> "0.42%", 0.05 -> "5%": a rate as the project writes one (config.numbers), with
    the language's decimal separator ("0,42%" in Russian)."""
    return _percent(rate)


@register.filter
def duration(seconds) -> str:
    """A time to suppression, readable at any scale: "0.04 s", "12 s", "3.5 min", "2.1 h",
    "3.2 days"; "" when there is none. Units in the active language."""
    if seconds is None or seconds == "":
        return ""
    seconds = max(0.0, float(seconds))
    # The units are marked outside f-strings: xgettext does not look inside them.
    if seconds < 1:
        # Two significant decimals at most, but never "0 s" for something that took time.
        figure = "<" + _trimmed(0.01, 2) if 0 < seconds < 0.005 else _trimmed(seconds, 2)
        unit = pgettext("seconds, after a number", "s")
    elif seconds < 60:
        figure, unit = _trimmed(seconds, 1), pgettext("seconds, after a number", "s")
    elif seconds < 3600:
        figure, unit = _trimmed(seconds / 60, 1), pgettext("minutes, after a number", "min")
    elif seconds < 2 * 86400:
        figure, unit = _trimmed(seconds / 3600, 1), pgettext("hours, after a number", "h")
    else:
        figure, unit = _trimmed(seconds / 86400, 1), pgettext("days, after a number", "days")
    return f"{figure} {unit}"
