"""Reads for moderators: the queue, one campaign's dossier and the audit log.

Moderators see every account, so these are not scoped to one; the API and the pages that call
them are for staff only (moderation.permissions)."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Mod

from accounts.models import Account
from campaigns.models import Campaign
from campaigns.selectors import Preview, campaign_preview, delivery_figures, recipient_count
from campaigns.sending import UNDER_WAY
from campaigns.states import CampaignStatus
from campaigns.verdict import ProbeFigures
from config.errors import ApplicationError
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ConsentSource,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from lists.selectors import role_address_share, status_counts
from moderation.models import AccountFlag, AuditEntry

S = CampaignStatus
# What a moderator may still stop, paused campaigns (a frozen account's) included.
QUEUE_UNDER_WAY = UNDER_WAY | {S.PAUSED}
# The queue's tabs, as (key, label, statuses).
QUEUE_TABS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("submitted", "Submitted", frozenset({S.SUBMITTED})),
    ("review", "In review", frozenset({S.REVIEW})),
    ("under_way", "All under way", QUEUE_UNDER_WAY),
)
# Consent sources are counted over at most about this many subscribers per list: above it, a
# systematic sample (every k-th id) stands for the list.
CONSENT_SAMPLE_SIZE = 2000
# How much of an account's history the dossier shows.
HISTORY_CAMPAIGNS = 20
HISTORY_AUDIT_ENTRIES = 20
NO_CONSENT = "none"


# --- the queue ------------------------------------------------------------------------------------


def campaigns_for_moderation(
    *, status: str = "", statuses: Collection[str] | None = None
) -> QuerySet[Campaign]:
    """Campaigns for moderators: of one status (or of `statuses`), by default every campaign
    still under way; submitted first, then those in review, then the rest, each oldest
    submission first."""
    if status:
        statuses = [status]
    elif statuses is None:
        statuses = QUEUE_UNDER_WAY
    urgency = Case(
        When(status=S.SUBMITTED, then=Value(0)),
        When(status=S.REVIEW, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        Campaign.objects.filter(status__in=list(statuses))
        .select_related("account")
        .prefetch_related("lists")
        .annotate(urgency=urgency)
        .order_by("urgency", F("submitted_at").asc(nulls_last=True), "created_at", "id")
    )


def campaign_for_moderation(*, campaign_id: int) -> Campaign | None:
    """One campaign of any account, with its account and lists."""
    return (
        Campaign.objects.select_related("account")
        .prefetch_related("lists")
        .filter(pk=campaign_id)
        .first()
    )


def queue_tab_statuses(tab: str) -> frozenset[str] | None:
    """The statuses shown under a queue tab (None for an unknown tab)."""
    for key, _label, statuses in QUEUE_TABS:
        if key == tab:
            return statuses
    return None


def queue_counts() -> dict[str, int]:
    """How many campaigns each queue tab holds, in one grouped query."""
    per_status = dict(
        Campaign.objects.filter(status__in=QUEUE_UNDER_WAY)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        key: sum(per_status.get(status, 0) for status in statuses)
        for key, _label, statuses in QUEUE_TABS
    }


# --- one campaign's dossier -----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceShare:
    source: str
    label: str
    count: int
    share: float

    @property
    def percent(self) -> float:
        return round(self.share * 100, 1)


@dataclass(frozen=True)
class ListConsent:
    """Who a list's subscribers are and how their consent was obtained."""

    mailing_list: MailingList
    subscribed: int
    status_counts: dict[str, int]
    sources: list[SourceShare]
    # How many subscribers the sources were counted over, and whether that was a sample.
    counted: int
    sampled: bool
    role_share: float
    role_dominated: bool
    created_at: datetime
    oldest_subscription: datetime | None
    newest_subscription: datetime | None

    @property
    def role_percent(self) -> float:
        return round(self.role_share * 100, 1)

    @property
    def unconsented(self) -> int:
        """Subscribed addresses (of those counted) without any record of given consent."""
        return sum(row.count for row in self.sources if row.source == NO_CONSENT)


@dataclass(frozen=True)
class PreviousCampaign:
    id: int
    name: str
    status: str
    status_label: str
    submitted_at: datetime | None
    created_at: datetime
    verdict_tier: str
    moderation_note: str


@dataclass(frozen=True)
class AccountHistory:
    account: Account
    campaigns: list[PreviousCampaign]
    campaign_count: int
    status_totals: dict[str, int]
    audit_entries: list[AuditEntry]
    open_flags: list[AccountFlag]


@dataclass(frozen=True)
class Dossier:
    """Everything a moderator weighs for one campaign."""

    campaign: Campaign
    findings: list[dict]
    preview: Preview | None
    preview_error: str
    recipient_count: int
    lists: list[ListConsent]
    history: AccountHistory
    probe_figures: ProbeFigures | None
    verdict: dict = field(default_factory=dict)

    @property
    def findings_by_severity(self) -> dict[str, list[dict]]:
        groups: dict[str, list[dict]] = {"block": [], "review": [], "info": []}
        for finding in self.findings:
            groups.setdefault(finding.get("severity", "info"), []).append(finding)
        return groups


def _source_labels() -> dict[str, str]:
    return {**dict(ConsentSource.choices), NO_CONSENT: "No record of consent"}


def consent_sources(*, mailing_list: MailingList, subscribed: int) -> tuple[list[SourceShare], int]:
    """The sources of the subscribed subscribers' latest given consent, counted in one grouped
    query: over all of them up to CONSENT_SAMPLE_SIZE, else over every k-th subscriber by id (a
    systematic sample that spans the list's whole history, imports old and new). Returns the
    rows, most common first, and how many subscribers were counted."""
    latest_source = (
        ConsentRecord.objects.filter(subscriber=OuterRef("pk"), event=ConsentEvent.GRANTED)
        .order_by("-obtained_at", "-id")
        .values("source")[:1]
    )
    members = Subscriber.objects.filter(
        mailing_list=mailing_list, status=SubscriberStatus.SUBSCRIBED
    )
    if subscribed > CONSENT_SAMPLE_SIZE:
        stride = math.ceil(subscribed / CONSENT_SAMPLE_SIZE)
        members = members.annotate(id_mod=Mod(F("id"), Value(stride))).filter(id_mod=0)
    rows = (
        members.annotate(consent_source=Subquery(latest_source))
        .values("consent_source")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {row["consent_source"] or NO_CONSENT: row["n"] for row in rows}
    counted = sum(counts.values())
    labels = _source_labels()
    shares = [
        SourceShare(
            source=source,
            label=labels.get(source, source),
            count=n,
            share=n / counted if counted else 0.0,
        )
        for source, n in counts.items()
    ]
    shares.sort(key=lambda row: (-row.count, row.source))
    return shares, counted


def _subscription_bounds(mailing_list: MailingList) -> tuple[datetime | None, datetime | None]:
    """When the longest- and most recently subscribed members joined: the first and last by id,
    read through the (list, status, id) index instead of scanning the list for min and max."""
    members = Subscriber.objects.filter(
        mailing_list=mailing_list, status=SubscriberStatus.SUBSCRIBED
    )
    oldest = members.order_by("id").values_list("subscribed_at", "created_at").first()
    newest = members.order_by("-id").values_list("subscribed_at", "created_at").first()
    return (
        (oldest[0] or oldest[1]) if oldest else None,
        (newest[0] or newest[1]) if newest else None,
    )


def list_consent(*, mailing_list: MailingList) -> ListConsent:
    """One list's consent make-up: counts from the counters, consent sources, role addresses,
    its age and the span of its subscriptions."""
    counts = status_counts(mailing_list=mailing_list)
    subscribed = counts[SubscriberStatus.SUBSCRIBED]
    sources, counted = consent_sources(mailing_list=mailing_list, subscribed=subscribed)
    share = role_address_share(mailing_list=mailing_list)
    oldest, newest = _subscription_bounds(mailing_list)
    return ListConsent(
        mailing_list=mailing_list,
        subscribed=subscribed,
        status_counts=counts,
        sources=sources,
        counted=counted,
        sampled=subscribed > CONSENT_SAMPLE_SIZE,
        role_share=share,
        role_dominated=share > settings.ROLE_ADDRESS_FLAG_SHARE,
        created_at=mailing_list.created_at,
        oldest_subscription=oldest,
        newest_subscription=newest,
    )


def account_history(*, account: Account, exclude_campaign_id: int | None = None) -> AccountHistory:
    """An account's record: its other campaigns (newest first) with status and probe verdict,
    past audit entries, open flags."""
    others = Campaign.objects.filter(account=account)
    if exclude_campaign_id is not None:
        others = others.exclude(pk=exclude_campaign_id)
    status_totals = dict(others.values_list("status").annotate(n=Count("id")).order_by())
    labels = dict(CampaignStatus.choices)
    rows = others.order_by("-created_at", "-id").values(
        "id", "name", "status", "submitted_at", "created_at", "verdict", "moderation_note"
    )[:HISTORY_CAMPAIGNS]
    campaigns = [
        PreviousCampaign(
            id=row["id"],
            name=row["name"],
            status=row["status"],
            status_label=labels.get(row["status"], row["status"]),
            submitted_at=row["submitted_at"],
            created_at=row["created_at"],
            verdict_tier=(row["verdict"] or {}).get("tier", ""),
            moderation_note=row["moderation_note"],
        )
        for row in rows
    ]
    return AccountHistory(
        account=account,
        campaigns=campaigns,
        campaign_count=sum(status_totals.values()),
        status_totals=status_totals,
        audit_entries=list(audit_log(account_id=account.pk)[:HISTORY_AUDIT_ENTRIES]),
        open_flags=list(
            AccountFlag.objects.filter(account=account, resolved_at__isnull=True).order_by(
                "-created_at"
            )
        ),
    )


def campaign_dossier(*, campaign_id: int) -> Dossier | None:
    """A moderator's view of one campaign: the analyser's findings as stored when submitted, the
    rendered message (footer included), its lists' consent make-up, the account's history and,
    once the probe went out, its figures and verdict. None for an unknown campaign."""
    campaign = campaign_for_moderation(campaign_id=campaign_id)
    if campaign is None:
        return None
    account = campaign.account
    preview, preview_error = None, ""
    try:
        preview = campaign_preview(account=account, campaign=campaign)
    except ApplicationError as exc:
        preview_error = exc.message
    lists = list(campaign.lists.all())
    has_probe = campaign.probe_size is not None or campaign.probe_sent_at is not None
    return Dossier(
        campaign=campaign,
        findings=list(campaign.findings or []),
        preview=preview,
        preview_error=preview_error,
        recipient_count=recipient_count(campaign=campaign) if lists else 0,
        lists=[list_consent(mailing_list=mailing_list) for mailing_list in lists],
        history=account_history(account=account, exclude_campaign_id=campaign.pk),
        probe_figures=delivery_figures(campaign=campaign, probe_only=True) if has_probe else None,
        verdict=dict(campaign.verdict or {}),
    )


# --- the audit log --------------------------------------------------------------------------------


def audit_log(
    *, account_id: int | None = None, campaign_id: int | None = None, action: str = ""
) -> QuerySet[AuditEntry]:
    """Audit entries, newest first, optionally of one account, one campaign and one action."""
    entries = AuditEntry.objects.select_related("actor")
    if account_id is not None:
        entries = entries.filter(account_id=account_id)
    if campaign_id is not None:
        entries = entries.filter(campaign_id=campaign_id)
    if action:
        entries = entries.filter(action=action)
    return entries.order_by("-at", "-id")
