"""Reads of what recipients reported: an account's feedback, its health across campaigns, and the
abuse reports that name it. Every selector is scoped to the account it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import CharField, Count, F, Q, QuerySet, TextField, Value
from django.db.models.functions import NullIf
from django.utils import timezone

from accounts.models import Account
from campaigns.models import Delivery, DeliveryStatus
from campaigns.verdict import Thresholds, Tier, judge_rate
from complaints.models import (
    AbuseReport,
    AbuseStatus,
    FeedbackEvent,
    FeedbackKind,
    FeedbackOutcome,
)
from config.coded_text import CodedText, coded, in_english, render
from config.coded_text import percent as as_percent
from lists.models import Subscriber, SubscriberStatus


def feedback_for(
    *, account: Account, kinds: list[str] | tuple[str, ...] = (), campaign_id: int | None = None
) -> QuerySet[FeedbackEvent]:
    """The account's applied feedback events (of `kinds`, and of one campaign: another account's
    campaign id matches nothing), newest first, each annotated with `list_name`: the list of
    the subscriber it was about ("" once the subscriber is erased)."""
    events = (
        FeedbackEvent.objects.filter(account=account, outcome=FeedbackOutcome.APPLIED)
        .select_related("campaign")
        # Every join after the nullable delivery is a LEFT JOIN: an event whose delivery or
        # subscriber is gone still shows, without a list.
        .annotate(list_name=F("delivery__subscriber__mailing_list__name"))
        .order_by("-occurred_at", "-id")
    )
    if kinds:
        events = events.filter(kind__in=kinds)
    if campaign_id is not None:
        events = events.filter(campaign_id=campaign_id)
    return events


def feedback_latest(
    *, account: Account, kinds: list[str] | tuple[str, ...], limit: int
) -> list[FeedbackEvent]:
    """The account's `limit` latest applied feedback events of `kinds`, newest first, as
    `feedback_for` gives them (with `list_name`). The rows are picked from the events table
    alone before the joins, so the cost follows the limit, not the account's history (joined
    first, every event met every delivery). One query."""
    latest = (
        FeedbackEvent.objects.filter(
            account=account, outcome=FeedbackOutcome.APPLIED, kind__in=kinds
        )
        .order_by("-occurred_at", "-id")
        .values("pk")[:limit]
    )
    return list(feedback_for(account=account, kinds=kinds).filter(pk__in=latest))


def abuse_reports_for(*, account: Account, campaign_id: int | None = None) -> QuerySet[AbuseReport]:
    """Abuse reports matched to the account (optionally to one of its campaigns), newest
    first. Callers show the sender the status and the moderator's note, never the reporter."""
    reports = (
        AbuseReport.objects.filter(account=account)
        .select_related("campaign")
        .order_by("-created_at", "-id")
    )
    if campaign_id is not None:
        reports = reports.filter(campaign_id=campaign_id)
    return reports


@dataclass(frozen=True)
class SuppressionLatency:
    """How fast unsubscribes took effect: from the request (or the provider's report) to the
    address being suppressed. Mailbox providers require under two days."""

    count: int
    median_seconds: float | None
    worst_seconds: float | None


def unsubscribe_latency(*, account: Account, since: datetime | None = None) -> SuppressionLatency:
    """Median and worst time to suppression of the account's unsubscribes (since `since`)."""
    events = FeedbackEvent.objects.filter(
        account=account,
        outcome=FeedbackOutcome.APPLIED,
        kind=FeedbackKind.UNSUBSCRIBED,
        suppressed_at__isnull=False,
    ).order_by("-occurred_at")
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    # Bounded: the figure is a summary, the last 10,000 say all it needs to.
    pairs = list(events.values_list("occurred_at", "suppressed_at")[:10_000])
    # (suppressed_at is never null here: the filter above; its column is nullable.)
    seconds = sorted(
        max(0.0, (done - at).total_seconds()) for at, done in pairs if done is not None
    )
    if not seconds:
        return SuppressionLatency(count=0, median_seconds=None, worst_seconds=None)
    middle = len(seconds) // 2
    median = seconds[middle] if len(seconds) % 2 else (seconds[middle - 1] + seconds[middle]) / 2
    return SuppressionLatency(count=len(seconds), median_seconds=median, worst_seconds=seconds[-1])


class HealthStatus:
    GOOD = "good"
    NOT_ENOUGH_DATA = "not_enough_data"
    WARNING = "warning"
    OVER_LIMIT = "over_limit"


@dataclass(frozen=True)
class AccountHealth:
    """An account's rolling figures across all its campaigns, and what they amount to.

    `sent`: messages handed to the mail server in the window, accepted or refused at once (a
    refusal at hand-over is a bounce like any other); `accepted`: those it accepted. Hard bounces
    and provider blocks are rates of `sent`; complaints and unsubscribes of `accepted`.

    `status`: over_limit (the policy's limits, HARD_BOUNCE_LIMIT / COMPLAINT_LIMIT, or
    ABUSE_UPHELD_WARN upheld abuse reports: the account is warned and flagged), warning (any
    metric at or over its warning level: HARD_BOUNCE_WARN, COMPLAINT_WARN, BLOCK_WARN,
    UNSUBSCRIBE_WARN), good, or not_enough_data (fewer than HEALTH_MIN_SENT messages sent in the
    window: rates of a handful say nothing). The thresholds are the probe verdict's
    (campaigns.verdict.Thresholds), judged by the same `judge_rate` as a population.
    """

    window_days: int
    since: datetime
    sent: int
    hard_bounces: int
    complaints: int
    unsubscribes: int
    upheld_abuse_reports: int
    open_abuse_reports: int
    status: str
    reasons: list[HealthReason] = field(default_factory=list)
    accepted: int = 0
    blocks: int = 0
    # Per metric (complaints, hard_bounces, blocks, unsubscribes): good, warning or over_limit,
    # as judged (empty while there is not enough data).
    levels: dict[str, str] = field(default_factory=dict)

    @property
    def hard_bounce_rate(self) -> float:
        return self.hard_bounces / self.sent if self.sent else 0.0

    @property
    def block_rate(self) -> float:
        return self.blocks / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.accepted if self.accepted else 0.0

    @property
    def unsubscribe_rate(self) -> float:
        return self.unsubscribes / self.accepted if self.accepted else 0.0


class HealthReason(str):
    """One reason for a health verdict: the English text (what logs and plain-text readers
    keep), with `text`, its code and parameters (complaints/texts.py), which flags, warnings and
    the audit log store and pages render in the reader's language (`translated`)."""

    text: CodedText

    def __new__(cls, code: str, **params):
        text = coded(code, **params)
        self = super().__new__(cls, in_english(text))
        self.text = text
        return self

    def __getnewargs_ex__(self):  # copies and pickles rebuild it from its parts
        return (self.text["code"],), self.text["params"]

    def translated(self) -> str:
        return render(self.text)


# Handed over in the window: accepted then, or refused at once then (a refused message has no
# sent_at; the time its refusal was read stands in).
def _in_window(since: datetime) -> Q:
    return Q(status=DeliveryStatus.SENT, sent_at__gte=since) | (
        Q(status=DeliveryStatus.FAILED)
        & (Q(hard_bounced_at__gte=since) | Q(soft_bounced_at__gte=since) | Q(blocked_at__gte=since))
    )


_HEALTH_COUNTS = {
    "sent": Count("id"),
    "accepted": Count("id", filter=Q(status=DeliveryStatus.SENT)),
    "hard_bounces": Count("id", filter=Q(hard_bounced_at__isnull=False)),
    "blocks": Count("id", filter=Q(blocked_at__isnull=False)),
    "complaints": Count("id", filter=Q(status=DeliveryStatus.SENT, complained_at__isnull=False)),
    "unsubscribes": Count(
        "id", filter=Q(status=DeliveryStatus.SENT, unsubscribed_at__isnull=False)
    ),
}


def _abuse_counts(since: datetime) -> dict:
    return {
        "upheld": Count("id", filter=Q(status=AbuseStatus.UPHELD, resolved_at__gte=since)),
        "open": Count("id", filter=Q(status=AbuseStatus.OPEN)),
    }


def account_health(*, account: Account, now: datetime | None = None) -> AccountHealth:
    """The account's health over the last HEALTH_WINDOW_DAYS (two aggregate queries)."""
    return accounts_health(accounts=[account], now=now)[account.pk]


def accounts_health(
    *, accounts: list[Account], now: datetime | None = None
) -> dict[int, AccountHealth]:
    """{account id: health} for several accounts in two grouped queries (a page of the
    moderators' account list), judged exactly as `account_health`."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.HEALTH_WINDOW_DAYS)
    ids = [account.pk for account in accounts]
    sent = {
        row.pop("campaign__account_id"): row
        for row in map(
            dict,
            Delivery.objects.filter(_in_window(since), campaign__account_id__in=ids)
            .values("campaign__account_id")
            .annotate(**_HEALTH_COUNTS)
            .order_by(),
        )
    }
    abuse = {
        row.pop("account_id"): row
        for row in map(
            dict,
            AbuseReport.objects.filter(account_id__in=ids)
            .values("account_id")
            .annotate(**_abuse_counts(since))
            .order_by(),
        )
    }
    nothing = dict.fromkeys(_HEALTH_COUNTS, 0)
    return {
        pk: _judge(
            since=since,
            counts=sent.get(pk, nothing),
            abuse=abuse.get(pk, {"upheld": 0, "open": 0}),
        )
        for pk in ids
    }


# What each judged metric reads: (its AccountHealth count, the base it is a rate of). The reason
# at the policy's limit is complaints.health.<metric>_limit, at the warning level
# complaints.health.<metric>_warn (complaints/texts.py); metrics without a policy limit (blocks,
# unsubscribes) never reach the first.
_HEALTH_METRICS = {
    "complaints": ("complaints", "accepted"),
    "hard_bounces": ("hard_bounces", "sent"),
    "blocks": ("blocks", "sent"),
    "unsubscribes": ("unsubscribes", "accepted"),
}


def _judge(*, since: datetime, counts: dict, abuse: dict) -> AccountHealth:
    window = settings.HEALTH_WINDOW_DAYS
    sent = counts["sent"]
    enough = sent >= settings.HEALTH_MIN_SENT
    thresholds = Thresholds.from_settings()
    over, warn = [], []
    levels: dict[str, str] = {}
    if enough:
        for name, (count, base) in _HEALTH_METRICS.items():
            metric_levels = getattr(thresholds, name)
            # Every message the account sent in the window, not a sample: judged by the rate.
            judged = judge_rate(counts[count], counts[base], metric_levels, sample=False)
            figures = {"rate": as_percent(judged.rate), "sent": counts[base]}
            if judged.flagged:
                levels[name] = HealthStatus.OVER_LIMIT
                limit = as_percent(metric_levels.limit)
                over.append(HealthReason(f"complaints.health.{name}_limit", **figures, limit=limit))
            elif judged.tier is not Tier.GREEN:
                levels[name] = HealthStatus.WARNING
                warn_at = as_percent(metric_levels.warn)
                warn.append(HealthReason(f"complaints.health.{name}_warn", **figures, warn=warn_at))
            else:
                levels[name] = HealthStatus.GOOD
    if abuse["upheld"] >= settings.ABUSE_UPHELD_WARN:
        over.append(
            HealthReason(
                "complaints.health.abuse_upheld",
                count=abuse["upheld"],
                days=window,
            )
        )
    if over:
        status = HealthStatus.OVER_LIMIT
    elif warn:
        status = HealthStatus.WARNING
    elif not enough:
        status = HealthStatus.NOT_ENOUGH_DATA
    else:
        status = HealthStatus.GOOD
    return AccountHealth(
        window_days=window,
        since=since,
        sent=sent,
        accepted=counts["accepted"],
        hard_bounces=counts["hard_bounces"],
        blocks=counts["blocks"],
        complaints=counts["complaints"],
        unsubscribes=counts["unsubscribes"],
        upheld_abuse_reports=abuse["upheld"],
        open_abuse_reports=abuse["open"],
        status=status,
        reasons=over + warn,
        levels=levels,
    )


def accounts_with_recent_feedback(*, since: datetime) -> list[int]:
    """Ids of accounts that received a bounce or complaint, or had an abuse report resolved,
    since `since`: the ones whose health may have changed."""
    from_feedback = FeedbackEvent.objects.filter(
        received_at__gte=since,
        outcome=FeedbackOutcome.APPLIED,
        kind__in=[FeedbackKind.HARD_BOUNCE, FeedbackKind.COMPLAINED],
        account__isnull=False,
    ).values_list("account_id", flat=True)
    from_abuse = AbuseReport.objects.filter(
        resolved_at__gte=since, account__isnull=False
    ).values_list("account_id", flat=True)
    return sorted(set(from_feedback) | set(from_abuse))


# --- the sender's feedback page and GET /api/v1/complaints/ -------------------------------------


class ComplaintItemType:
    COMPLAINT = "complaint"
    ABUSE_REPORT = "abuse_report"
    CHOICES = [(COMPLAINT, "Spam complaint"), (ABUSE_REPORT, "Abuse report")]


# The columns both halves of the merged listing select, in this order: a UNION pairs columns by
# position, so each half names every column as an annotation (never a model field, whose place
# in the SELECT Django chooses) and asks for them in this order.
COMPLAINT_ITEM_COLUMNS = (
    "item_type",
    "item_id",
    "item_campaign",
    "item_campaign_name",
    "item_email",
    "item_source",
    "item_comment",
    "item_status",
    "item_resolution_note",
    "item_created_at",
)
# The public /abuse/ form: what an abuse report's `source` reads.
ABUSE_FORM_SOURCE = "abuse_form"


def _complaint_items(account: Account) -> QuerySet:
    return FeedbackEvent.objects.filter(
        account=account, outcome=FeedbackOutcome.APPLIED, kind=FeedbackKind.COMPLAINED
    ).annotate(
        item_type=Value(ComplaintItemType.COMPLAINT, output_field=CharField()),
        item_id=F("id"),
        item_campaign=F("campaign_id"),
        item_campaign_name=F("campaign__name"),
        # Blank once the subscriber is erased: null, as for an abuse report.
        item_email=NullIf(F("recipient"), Value("")),
        item_source=F("source"),
        item_comment=F("comment"),
        item_status=Value("recorded", output_field=CharField()),
        item_resolution_note=Value("", output_field=TextField()),
        item_created_at=F("occurred_at"),
    )


def _abuse_items(account: Account) -> QuerySet:
    # The reporter's address, IP and own words stay with the moderators: the sender could
    # otherwise find out who reported them.
    return AbuseReport.objects.filter(account=account).annotate(
        item_type=Value(ComplaintItemType.ABUSE_REPORT, output_field=CharField()),
        item_id=F("id"),
        item_campaign=F("campaign_id"),
        item_campaign_name=F("campaign__name"),
        item_email=Value(None, output_field=CharField()),
        item_source=Value(ABUSE_FORM_SOURCE, output_field=CharField()),
        item_comment=Value(None, output_field=TextField()),
        item_status=F("status"),
        item_resolution_note=F("resolution_note"),
        item_created_at=F("created_at"),
    )


def complaint_items_for(
    *,
    account: Account,
    item_type: str = "",
    campaign_id: int | None = None,
    since: datetime | None = None,
) -> QuerySet:
    """The account's spam complaints (applied, from any channel) and the abuse reports matched
    to it, as one listing of dicts keyed by COMPLAINT_ITEM_COLUMNS, newest first.

    One query (a UNION ALL of the two tables, each filtered by the account and its indexes)
    ordered by (time, type, id): a total order, so LIMIT/OFFSET pages neither skip nor repeat
    an item however the two kinds interleave. `item_email` and `item_comment` are None for abuse
    reports (the reporter's privacy)."""
    halves = []
    for kind, make in (
        (ComplaintItemType.COMPLAINT, _complaint_items),
        (ComplaintItemType.ABUSE_REPORT, _abuse_items),
    ):
        if item_type and item_type != kind:
            continue
        half = make(account)
        if campaign_id is not None:
            half = half.filter(item_campaign=campaign_id)
        if since is not None:
            half = half.filter(item_created_at__gte=since)
        halves.append(half.order_by().values(*COMPLAINT_ITEM_COLUMNS))
    if not halves:
        return FeedbackEvent.objects.none().values(*COMPLAINT_ITEM_COLUMNS)
    items = halves[0].union(*halves[1:], all=True) if len(halves) > 1 else halves[0]
    return items.order_by("-item_created_at", "-item_type", "-item_id")


def sender_lists_of_address(
    *, account_id: int, email: str, exclude_subscriber_id: int
) -> list[str]:
    """The names of the other lists of one sender (`account_id`) that `email` is subscribed
    to or waits to confirm, for the unsubscribe page: what its "every list" ends
    (complaints.services.unsubscribe_everywhere_apply); that sender's only, never another's."""
    return list(
        Subscriber.objects.filter(
            mailing_list__account_id=account_id,
            email=email,
            status__in=(SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED),
        )
        .exclude(pk=exclude_subscriber_id)
        .order_by("mailing_list__name", "mailing_list_id")
        .values_list("mailing_list__name", flat=True)
    )
