"""Reads of what recipients reported: an account's feedback, its health across campaigns, and the
abuse reports that name it. Every selector is scoped to the account it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import CharField, Count, F, Q, QuerySet, TextField, Value
from django.db.models.functions import NullIf
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_noop

from accounts.models import Account
from campaigns.models import Delivery, DeliveryStatus
from complaints.models import (
    AbuseReport,
    AbuseStatus,
    FeedbackEvent,
    FeedbackKind,
    FeedbackOutcome,
)


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
    seconds = sorted(max(0.0, (done - at).total_seconds()) for at, done in pairs)
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

    `status`: over_limit (the policy's limits, HARD_BOUNCE_LIMIT / COMPLAINT_LIMIT, or
    ABUSE_UPHELD_WARN upheld abuse reports: the account is warned and flagged), warning (over the
    stricter HARD_BOUNCE_WARN / COMPLAINT_WARN), good, or not_enough_data (fewer than
    HEALTH_MIN_SENT messages sent in the window: rates of a handful say nothing).
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
    reasons: list[str] = field(default_factory=list)

    @property
    def hard_bounce_rate(self) -> float:
        return self.hard_bounces / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0

    @property
    def unsubscribe_rate(self) -> float:
        return self.unsubscribes / self.sent if self.sent else 0.0


def _percent(rate: float) -> str:
    return f"{rate * 100:.2f}%"


class HealthReason(str):
    """One reason for a health verdict: the English text (what flags, state reasons and logs
    keep), which can also say itself in the active language for a page (`translated`)."""

    def __new__(cls, template: str, **params):
        self = super().__new__(cls, template % params)
        self.template, self.params = template, params
        return self

    def __getnewargs_ex__(self):  # copies and pickles rebuild it from its parts
        return (self.template,), self.params

    def translated(self) -> str:
        separator = formats.get_format("DECIMAL_SEPARATOR")
        params = {
            name: value.replace(".", separator) if isinstance(value, str) else value
            for name, value in self.params.items()
        }
        return gettext(self.template) % params


_HEALTH_COUNTS = {
    "sent": Count("id"),
    "hard_bounces": Count("id", filter=Q(hard_bounced_at__isnull=False)),
    "complaints": Count("id", filter=Q(complained_at__isnull=False)),
    "unsubscribes": Count("id", filter=Q(unsubscribed_at__isnull=False)),
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
        for row in Delivery.objects.filter(
            campaign__account_id__in=ids, status=DeliveryStatus.SENT, sent_at__gte=since
        )
        .values("campaign__account_id")
        .annotate(**_HEALTH_COUNTS)
        .order_by()
    }
    abuse = {
        row.pop("account_id"): row
        for row in AbuseReport.objects.filter(account_id__in=ids)
        .values("account_id")
        .annotate(**_abuse_counts(since))
        .order_by()
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


def _judge(*, since: datetime, counts: dict, abuse: dict) -> AccountHealth:
    window = settings.HEALTH_WINDOW_DAYS
    sent = counts["sent"]
    bounce_rate = counts["hard_bounces"] / sent if sent else 0.0
    complaint_rate = counts["complaints"] / sent if sent else 0.0
    enough = sent >= settings.HEALTH_MIN_SENT
    over, warn = [], []
    if enough:
        if complaint_rate >= settings.COMPLAINT_LIMIT:
            over.append(
                HealthReason(
                    gettext_noop(
                        "Spam complaints at %(rate)s of %(sent)s messages, at or over the limit "
                        "of %(limit)s."
                    ),
                    rate=_percent(complaint_rate),
                    sent=sent,
                    limit=_percent(settings.COMPLAINT_LIMIT),
                )
            )
        elif complaint_rate >= settings.COMPLAINT_WARN:
            warn.append(
                HealthReason(
                    gettext_noop(
                        "Spam complaints at %(rate)s of %(sent)s messages, over %(warn)s."
                    ),
                    rate=_percent(complaint_rate),
                    sent=sent,
                    warn=_percent(settings.COMPLAINT_WARN),
                )
            )
        if bounce_rate >= settings.HARD_BOUNCE_LIMIT:
            over.append(
                HealthReason(
                    gettext_noop(
                        "Hard bounces at %(rate)s of %(sent)s messages, at or over the limit of "
                        "%(limit)s."
                    ),
                    rate=_percent(bounce_rate),
                    sent=sent,
                    limit=_percent(settings.HARD_BOUNCE_LIMIT),
                )
            )
        elif bounce_rate >= settings.HARD_BOUNCE_WARN:
            warn.append(
                HealthReason(
                    gettext_noop("Hard bounces at %(rate)s of %(sent)s messages, over %(warn)s."),
                    rate=_percent(bounce_rate),
                    sent=sent,
                    warn=_percent(settings.HARD_BOUNCE_WARN),
                )
            )
    if abuse["upheld"] >= settings.ABUSE_UPHELD_WARN:
        over.append(
            HealthReason(
                gettext_noop("%(count)s abuse report(s) upheld in the last %(days)s days."),
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
        hard_bounces=counts["hard_bounces"],
        complaints=counts["complaints"],
        unsubscribes=counts["unsubscribes"],
        upheld_abuse_reports=abuse["upheld"],
        open_abuse_reports=abuse["open"],
        status=status,
        reasons=over + warn,
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
