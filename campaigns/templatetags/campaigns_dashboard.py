"""The dashboard's campaigns panel: how many campaigns are in each status, as a bar list.

An inclusion tag, so that the dashboard (in accounts, which must not import campaigns) shows the
panel from its template alone: `{% load campaigns_dashboard %}{% dashboard_campaigns account %}`.
"""

from __future__ import annotations

from django import template
from django.urls import reverse

from accounts.models import Account
from campaigns.selectors import campaign_status_counts
from campaigns.states import CampaignStatus
from config import charts

register = template.Library()

S = CampaignStatus
# The staged send in order, always shown (a zero says something too) ...
PIPELINE = (S.DRAFT, S.SUBMITTED, S.APPROVED, S.PROBING, S.HOLDING, S.REVIEW, S.RELEASING, S.SENT)
# ... and the ways out of it, shown only when a campaign took one.
EXITS = (S.REJECTED, S.DECLINED, S.PAUSED, S.CANCELLED)
BAR_WIDTH = 100


@register.inclusion_tag("accounts/_dashboard_campaigns.html")
def dashboard_campaigns(account: Account) -> dict:
    """Campaigns per status, each linking to the campaign list filtered by it. One query."""
    counts = campaign_status_counts(account=account)
    statuses = [*PIPELINE, *(status for status in EXITS if counts[status])]
    lengths = charts.bar_lengths({s: counts[s] for s in statuses}, width=BAR_WIDTH)
    index = reverse("campaigns")
    return {
        "status_rows": [
            {
                "status": status.value,
                "label": status.label,
                "count": counts[status],
                "length": lengths[status],
                "url": f"{index}?status={status.value}",
            }
            for status in statuses
        ],
        "total": sum(counts.values()),
        "bar_width": BAR_WIDTH,
    }
