"""The dashboard's campaigns panel: how many campaigns are in each status, as a bar list.

An inclusion tag, so that the dashboard (in accounts, which must not import campaigns) shows the
panel from its template alone: `{% load campaigns_dashboard %}{% dashboard_campaigns account %}`.
"""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Account, User
from accounts.selectors import sender_domain_records
from campaigns.selectors import campaign_status_counts, getting_started
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


@register.inclusion_tag("accounts/_getting_started.html")
def getting_started_checklist(account: Account, user: User, domains) -> dict:
    """The whole path from sign-up to a submitted campaign, each step done or to do, with the
    sender domain's records and their last live checks. One query (the domains are given)."""
    facts = getting_started(account=account)
    # The domain furthest along: verified first, then the most records found.
    best, best_records = None, []
    for domain in domains:
        records = [
            r for r in sender_domain_records(sender_domain=domain) if r.key != "dkim_retired"
        ]
        score = (domain.is_verified, sum(r.is_found for r in records))
        if best is None or score > (best.is_verified, sum(r.is_found for r in best_records)):
            best, best_records = domain, records
    records_done = bool(best and best.is_verified and all(r.is_found for r in best_records))
    domain_url = reverse("sender_domain", args=[best.pk]) if best else reverse("sender_domains")
    steps = [
        ("email", _("Verify your e-mail address"), user.is_email_verified, None),
        (
            "profile",
            _("Complete your company identity"),
            bool(account.postal_address and account.phone),
            reverse("profile"),
        ),
        ("domain", _("Publish your sender domain's records"), records_done, domain_url),
        ("list", _("Create your first list"), facts.has_list, reverse("lists")),
        (
            "subscribers",
            _("Add subscribers: an import or a sign-up form"),
            facts.has_subscribers_or_import,
            reverse("lists"),
        ),
        ("draft", _("Write your first campaign"), facts.has_campaign, reverse("campaign_create")),
        ("test", _("Send yourself a test"), facts.has_test_send, reverse("campaigns")),
        (
            "submit",
            _("Submit a campaign for moderation"),
            facts.has_submitted,
            reverse("campaigns"),
        ),
    ]
    return {
        "steps": [
            {"key": key, "label": label, "done": done, "url": url}
            for key, label, done, url in steps
        ],
        "domain": best,
        "domain_records": best_records,
        "user": user,
    }
