"""The dashboard's lists panel: each list's subscribers and how many joined per day or week.

An inclusion tag, so that the dashboard (in accounts, which must not import lists) shows the
panel from its template alone: `{% load lists_dashboard %}{% dashboard_lists account days %}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django import template
from django.utils import timezone

from accounts.models import Account
from config import charts
from lists.selectors import list_growth, lists_for

register = template.Library()

# The panel shows the largest lists; the list page has the rest.
DASHBOARD_LISTS = 8
# Growth periods the panel offers: days -> bucket ("day" or "week").
GROWTH_PERIODS = {30: "day", 90: "week"}
DEFAULT_GROWTH_DAYS = 30
SPARK_WIDTH, SPARK_HEIGHT = 240, 40


def growth_buckets(days: int, *, today: date) -> tuple[str, list[date]]:
    """The buckets of a growth period (a key of GROWTH_PERIODS) ending today: 30 days one by one,
    or 90 days as the 13 weeks (from Monday) that cover them. Returns (bucket kind, first day of
    each bucket)."""
    per = GROWTH_PERIODS[days]
    if per == "day":
        return per, [today - timedelta(days=days - 1 - n) for n in range(days)]
    weeks = -(-days // 7)  # 90 days -> 13 weeks, this one included
    monday = today - timedelta(days=today.weekday())
    return per, [monday - timedelta(weeks=weeks - 1 - n) for n in range(weeks)]


@register.inclusion_tag("accounts/_dashboard_lists.html")
def dashboard_lists(account: Account, days: int = DEFAULT_GROWTH_DAYS) -> dict:
    """The account's largest lists with their subscriber counts and a sparkline of new
    subscribers per day (30 days) or per week (90 days). Two queries, whatever the list count."""
    if days not in GROWTH_PERIODS:
        days = DEFAULT_GROWTH_DAYS
    per, starts = growth_buckets(days, today=timezone.now().astimezone(UTC).date())
    shown = list(
        # lists_for annotates subscriber_count, which its QuerySet[MailingList] type cannot say.
        lists_for(account=account).order_by("-subscriber_count", "name")[: DASHBOARD_LISTS + 1]  # type: ignore[misc]
    )
    has_more = len(shown) > DASHBOARD_LISTS
    shown = shown[:DASHBOARD_LISTS]
    since = datetime.combine(starts[0], time.min, tzinfo=UTC)
    growth = (
        list_growth(account=account, list_ids=[m.pk for m in shown], since=since, per=per)
        if shown
        else {}
    )
    rows = []
    for mailing_list in shown:
        counts = growth[mailing_list.pk]
        values = [counts.get(start, 0) for start in starts]
        busiest = max(range(len(values)), key=lambda i: (values[i], i)) if any(values) else None
        rows.append(
            {
                "list": mailing_list,
                "subscribers": mailing_list.subscriber_count,  # type: ignore[attr-defined]  # (above)
                "new": sum(values),
                "bars": [
                    {**bar, "start": start}
                    for bar, start in zip(
                        charts.columns(values, width=SPARK_WIDTH, height=SPARK_HEIGHT),
                        starts,
                        strict=True,
                    )
                ],
                "buckets": [
                    {"start": start, "count": value}
                    for start, value in zip(starts, values, strict=True)
                ],
                "busiest": (
                    {"start": starts[busiest], "count": values[busiest]}
                    if busiest is not None
                    else None
                ),
            }
        )
    return {
        "list_rows": rows,
        "has_more": has_more,
        "days": days,
        "per": per,
        "periods": list(GROWTH_PERIODS),
        "first": starts[0],
        "last": _bucket_end(starts[-1], per),
        "spark_width": SPARK_WIDTH,
        "spark_height": SPARK_HEIGHT,
    }


def _bucket_end(start: date, per: str) -> date:
    """The last day a bucket covers."""
    return start if per == "day" else start + timedelta(days=6)
