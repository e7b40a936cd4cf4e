"""The sender's "Unsubscribes and complaints" page: the account's health, how fast unsubscribes
take effect, and the processed unsubscribes, complaints, bounces and abuse reports, one tab each,
filterable by campaign and exportable as CSV."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from accounts.http import SenderRequest
from accounts.models import Account
from accounts.views import account_required
from campaigns import selectors as campaign_selectors
from campaigns.models import Campaign
from campaigns.states import CampaignStatus
from complaints import selectors
from complaints.models import AbuseReport, FeedbackEvent, FeedbackKind
from config.i18n import StrOrPromise
from lists.exports import csv_lines

PAGE_SIZE = 50
# The campaign filter offers the most recent campaigns that can have had recipients.
CAMPAIGN_CHOICES = 200
NEVER_SENT = [
    CampaignStatus.DRAFT,
    CampaignStatus.SUBMITTED,
    CampaignStatus.REJECTED,
    CampaignStatus.APPROVED,
]
# Under a minute reads as "immediately"; the large mailbox providers require under two days.
IMMEDIATE = timedelta(minutes=1).total_seconds()
PROVIDER_LIMIT = timedelta(days=2).total_seconds()


def _when(value) -> str:
    return value.isoformat() if value else ""


def _campaign_name(row) -> str:
    return row.campaign.name if row.campaign_id and row.campaign else ""


def _unsubscribe_cells(event: FeedbackEvent) -> list:
    seconds = event.suppression_seconds
    return [
        _when(event.occurred_at),
        event.recipient,
        event.list_name or "",  # type: ignore[attr-defined]  # the selector's annotation
        _campaign_name(event),
        event.get_source_display(),
        _when(event.suppressed_at),
        "" if seconds is None else f"{seconds:.3f}",
    ]


def _complaint_cells(event: FeedbackEvent) -> list:
    return [
        _when(event.occurred_at),
        event.recipient,
        _campaign_name(event),
        event.get_source_display(),
        event.comment,
    ]


def _bounce_cells(event: FeedbackEvent) -> list:
    return [
        _when(event.occurred_at),
        event.get_kind_display(),
        event.recipient,
        _campaign_name(event),
        event.code,
        event.detail,
    ]


def _abuse_cells(report: AbuseReport) -> list:
    # Never the reporter's address, IP or words: the sender must not learn who reported them.
    return [
        _when(report.created_at),
        _campaign_name(report),
        report.get_status_display(),
        _when(report.resolved_at),
        report.resolution_note,
    ]


@dataclass(frozen=True)
class Tab:
    slug: str
    label: StrOrPromise
    rows: Callable[[Account, int | None], QuerySet]
    csv_header: list[str]
    # Cells of one row of the tab's own model (a FeedbackEvent, an AbuseReport).
    csv_cells: Callable[[Any], list]


def _events(*kinds: str) -> Callable[[Account, int | None], QuerySet]:
    return lambda account, campaign_id: selectors.feedback_for(
        account=account, kinds=list(kinds), campaign_id=campaign_id
    )


TABS = {
    tab.slug: tab
    for tab in (
        Tab(
            "unsubscribes",
            _("Unsubscribes"),
            _events(FeedbackKind.UNSUBSCRIBED),
            ["when", "email", "list", "campaign", "channel", "suppressed_at", "seconds"],
            _unsubscribe_cells,
        ),
        Tab(
            "complaints",
            _("Complaints"),
            _events(FeedbackKind.COMPLAINED),
            ["when", "email", "campaign", "channel", "comment"],
            _complaint_cells,
        ),
        Tab(
            "bounces",
            _("Bounces"),
            _events(FeedbackKind.HARD_BOUNCE, FeedbackKind.SOFT_BOUNCE),
            ["when", "type", "email", "campaign", "code", "detail"],
            _bounce_cells,
        ),
        Tab(
            "abuse",
            _("Abuse reports"),
            lambda account, campaign_id: selectors.abuse_reports_for(
                account=account, campaign_id=campaign_id
            ),
            ["date", "campaign", "status", "resolved_at", "moderator_note"],
            _abuse_cells,
        ),
    )
}
DEFAULT_TAB = "unsubscribes"


def _campaign_id(request: HttpRequest) -> int | None:
    """?campaign=<id>, or None for all campaigns. Only an id is read; whose campaign it is does
    not matter here: every row is selected within the account, so another's shows nothing."""
    value = request.GET.get("campaign", "").strip()
    if value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _query(*, tab: str, campaign_id: int | None, **extra: str) -> str:
    """The query string of a link on the page: the tab and the campaign filter kept."""
    params: dict = {"tab": tab}
    if campaign_id is not None:
        params["campaign"] = campaign_id
    return urlencode({**params, **extra})


def _csv_response(tab: Tab, rows: QuerySet) -> StreamingHttpResponse:
    cells: Iterable[list] = (tab.csv_cells(row) for row in rows.iterator(chunk_size=2000))
    response = StreamingHttpResponse(csv_lines(tab.csv_header, cells), content_type="text/csv")
    filename = f"{tab.slug}-{timezone.now():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _latency_state(latency: selectors.SuppressionLatency) -> str:
    if not latency.count or latency.worst_seconds is None:
        return "none"
    if latency.worst_seconds < IMMEDIATE:
        return "immediate"
    if latency.worst_seconds < PROVIDER_LIMIT:
        return "within"
    return "late"


@account_required
def feedback(request: SenderRequest) -> HttpResponse | StreamingHttpResponse:
    account = request.user.account
    tab = TABS.get(request.GET.get("tab", ""), TABS[DEFAULT_TAB])
    campaign_id = _campaign_id(request)
    rows = tab.rows(account, campaign_id)
    if request.GET.get("format") == "csv":
        return _csv_response(tab, rows)

    campaigns = (
        campaign_selectors.campaigns_for(account=account)
        .exclude(status__in=NEVER_SENT)
        .prefetch_related(None)
        .only("id", "name")
    )
    choices = list(campaigns[:CAMPAIGN_CHOICES])
    selected: Campaign | None = None
    if campaign_id is not None:
        chosen = campaign_selectors.campaigns_for(account=account).filter(pk=campaign_id)
        selected = chosen.prefetch_related(None).only("id", "name").first()
        if selected is not None and selected not in choices:
            choices.insert(0, selected)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    tabs = [
        {
            "slug": other.slug,
            "label": other.label,
            "query": _query(tab=other.slug, campaign_id=campaign_id),
            "count": page.paginator.count
            if other is tab
            else other.rows(account, campaign_id).count(),
            "current": other is tab,
        }
        for other in TABS.values()
    ]
    latency = selectors.unsubscribe_latency(account=account)
    return render(
        request,
        "complaints/account/feedback.html",
        {
            "tab": tab.slug,
            "tabs": tabs,
            "page": page,
            "page_query": _query(tab=tab.slug, campaign_id=campaign_id),
            "csv_query": _query(tab=tab.slug, campaign_id=campaign_id, format="csv"),
            "campaign_id": campaign_id,
            "campaign_filtered": campaign_id is not None,
            "selected_campaign": selected,
            "campaign_choices": choices,
            "latency": latency,
            "latency_state": _latency_state(latency),
        },
    )
