"""A campaign's figures as its sender sees them (the stats API and the campaign page). Read-only.

The counters come from one grouped query over the campaign's deliveries (probe and rest apart,
summed for the whole send), the timeline from one more, bucketed by the database (Trunc), so a
million-recipient campaign costs two index scans, not a query per figure.

What the figures mean (each counts recipients, as the verdict does):

* sent: handed to the backend and accepted. refused: handed over and refused at once (a 5xx, or
  a 4xx retried until it gave up), with the answer read as a bounce or a block. delivered: sent,
  and neither bounced hard, nor blocked, nor (unless the provider later reported it delivered)
  bounced soft.
* opened, clicked: people's; a click counts as an open too. machine_opened, machine_clicked: those
  whose only opens or clicks were machines' (privacy proxies, security scanners).
* hard_bounced, soft_bounced, blocked: refused at hand-over or reported after sending (blocked: a
  provider refused the content or the sender). complained, unsubscribed: reported after sending.
* failed: refused for good by the backend (the refused ones, and those the backend never
  answered). pending: not handed over yet (waiting or under way).
  possibly_duplicated: handed over when a worker died, or when the connection was lost before the
  server answered, then sent again: may have arrived twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import CharField, Count, Max, Min, QuerySet, Value
from django.db.models.functions import Trunc
from django.utils import timezone

from campaigns import selectors
from campaigns.models import Campaign, Delivery
from campaigns.selectors import ATTEMPTED, DELIVERY_COUNTERS, SENT, probe_figures, probe_history
from campaigns.states import MORE_TO_COME
from campaigns.verdict import Thresholds, judge

# "attempted" is sent + refused: the verdict's base for bounces, not a figure of its own.
FIGURES = [name for name in DELIVERY_COUNTERS if name != "attempted"] + ["probe_size"]
# The verdict's rates (campaigns.verdict.judge), and those it gives intervals for.
RATE_NAMES = (
    "complaint_rate",
    "hard_bounce_rate",
    "soft_bounce_rate",
    "block_rate",
    "refusal_rate",
    "unsubscribe_rate",
    "open_rate",
    "click_rate",
    "inactive_rate",
)
INTERVAL_NAMES = ("complaint_rate", "hard_bounce_rate", "block_rate", "unsubscribe_rate")

# The timeline's series: each counts the deliveries whose time falls in the bucket, of the sent
# ones, or (bounces and blocks) of those handed over, refused at once included.
_SERIES = {
    "sent": ("sent_at",),
    "opened": ("opened_at",),
    "clicked": ("clicked_at",),
    "bounced": ("hard_bounced_at", "soft_bounced_at"),
    "blocked": ("blocked_at",),
    "complained": ("complained_at",),
}
_OF_ATTEMPTED = frozenset({"hard_bounced_at", "soft_bounced_at", "blocked_at"})
_SERIES_FIELDS = [field for fields in _SERIES.values() for field in fields]
_STEPS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
# Bucket size by how long the send has been going: at most about a hundred buckets until
# the send spans days, when a day each reads best.
MINUTE_BUCKETS_UP_TO = timedelta(hours=2)
HOUR_BUCKETS_UP_TO = timedelta(days=4)


def campaign_stats(*, campaign: Campaign) -> dict[str, Any]:
    """The campaign's figures, the probe's apart, the rates the verdict uses (stored once
    judged, else as they stand), the verdict, a timeline and the probe's provider mix, as
    JSON-ready values. Two queries once judged (three before approval, to count the recipients;
    four more while a probe awaits its verdict, for its recipients' history)."""
    # Plain dicts: the counters' names are made at run time.
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in Delivery.objects.filter(campaign=campaign)
        .values("is_probe")
        .annotate(
            **{
                name: Count("id", filter=condition) for name, condition in DELIVERY_COUNTERS.items()
            },
            first_sent=Min("sent_at", filter=SENT),
            **{f"first_{field}": Min(field, filter=ATTEMPTED) for field in _OF_ATTEMPTED},
            **{f"last_{field}": Max(field, filter=_base(field)) for field in _SERIES_FIELDS},
        )
        .order_by()
    ]
    whole, probe = _counters(campaign, rows)

    # A probe refused whole has no message sent: its timeline starts at the first refusal.
    firsts = ["first_sent", *(f"first_{field}" for field in _OF_ATTEMPTED)]
    first_sent = min((row[key] for row in rows for key in firsts if row[key]), default=None)
    last_event = max(
        (row[f"last_{field}"] for row in rows for field in _SERIES_FIELDS if row[f"last_{field}"]),
        default=None,
    )
    if first_sent is not None and campaign.status in MORE_TO_COME:
        # While the send goes on, the timeline runs to now: a quiet hold shows as one.
        last_event = max(last_event or first_sent, timezone.now())
    return {
        **_shown(whole),
        "probe": _shown(probe),
        "rates": _rates(campaign, probe),
        "verdict": campaign.verdict or None,
        "hold_until": campaign.hold_until.isoformat() if campaign.hold_until else None,
        "status": campaign.status,
        "timeline": _timeline(campaign, first_sent, last_event),
        "providers": _providers(campaign.probe_plan or {}),
    }


def _counters(campaign: Campaign, rows: list[dict]) -> tuple[dict, dict]:
    """The whole send's counters and the probe's, from the rows grouped by is_probe, each with
    the recipients (fixed at approval, else counted) and the probe's size."""
    probe_row = next((row for row in rows if row["is_probe"]), {})
    whole = {name: sum(row[name] for row in rows) for name in DELIVERY_COUNTERS}
    probe = {name: probe_row.get(name, 0) for name in DELIVERY_COUNTERS}
    whole["recipients"] = (
        campaign.recipients_at_approval
        if campaign.recipients_at_approval is not None
        else selectors.recipient_count(campaign=campaign)
    )
    whole["probe_size"] = probe["probe_size"] = campaign.probe_size
    return whole, probe


def campaign_figures(*, campaign: Campaign) -> dict[str, Any]:
    """The counters alone (the whole send, and the probe's under "probe"), as campaign_stats
    gives them: one grouped query (two before approval, to count the recipients). The campaign
    page polls them with its timeline while the send goes on."""
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in Delivery.objects.filter(campaign=campaign)
        .values("is_probe")
        .annotate(
            **{name: Count("id", filter=condition) for name, condition in DELIVERY_COUNTERS.items()}
        )
        .order_by()
    ]
    whole, probe = _counters(campaign, rows)
    return {**_shown(whole), "probe": _shown(probe)}


def _shown(figures: dict[str, int | None]) -> dict[str, int | None]:
    return {name: figures[name] for name in FIGURES}


def _rates(campaign: Campaign, probe: dict[str, int]) -> dict[str, Any]:
    """The probe's rates and Wilson intervals: the verdict's once judged, else judged now (with
    the probe recipients' history once there is a probe: four more small queries)."""
    if campaign.verdict:
        basis = "verdict"
        rates = dict(campaign.verdict.get("rates", {}))
        intervals = dict(campaign.verdict.get("intervals", {}))
    else:
        basis = "live"
        history = probe_history(campaign=campaign) if probe["recipients"] else None
        verdict = judge(probe_figures(probe, history), Thresholds.from_settings()).as_dict()
        rates, intervals = verdict["rates"], verdict["intervals"]
    return {
        "basis": basis,
        **{name: float(rates.get(name, 0.0)) for name in RATE_NAMES},
        "intervals": {
            name: [float(bound) for bound in intervals.get(name, (0.0, 0.0))]
            for name in INTERVAL_NAMES
        },
    }


def bucket_unit(span: timedelta) -> str:
    """The timeline's bucket size for a send that has gone on for `span`."""
    if span <= MINUTE_BUCKETS_UP_TO:
        return "minute"
    if span <= HOUR_BUCKETS_UP_TO:
        return "hour"
    return "day"


def _truncated(moment: datetime, unit: str) -> datetime:
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    if unit in ("hour", "day"):
        moment = moment.replace(minute=0)
    if unit == "day":
        moment = moment.replace(hour=0)
    return moment


def _timeline(
    campaign: Campaign, first: datetime | None, last: datetime | None
) -> list[dict[str, Any]]:
    """Every bucket from the first message sent to the last thing that happened (or now, while
    the send is under way), empty ones included (a chart's x axis), each with its counts."""
    if first is None or last is None:
        return []
    unit = bucket_unit(last - first)
    counts: dict[tuple[datetime, str], int] = {}
    for row in _series_counts(campaign, unit):
        key = (_truncated(row["bucket"], unit), row["series"])
        counts[key] = counts.get(key, 0) + row["n"]
    step = _STEPS[unit]
    buckets = []
    start, end = _truncated(first, unit), _truncated(last, unit)
    while start <= end:
        buckets.append(
            {
                "start": start.isoformat(),
                "end": (start + step).isoformat(),
                **{series: counts.get((start, series), 0) for series in _SERIES},
            }
        )
        start += step
    return buckets


def _series_counts(campaign: Campaign, unit: str) -> QuerySet:
    """(bucket, series, n) rows for every series, in one UNION ALL query."""
    parts = [
        Delivery.objects.filter(_base(field), campaign=campaign, **{f"{field}__isnull": False})
        .annotate(
            bucket=Trunc(field, unit, tzinfo=UTC),
            series=Value(series, output_field=CharField()),
        )
        .values("bucket", "series")
        .annotate(n=Count("id"))
        .order_by()
        for series, fields in _SERIES.items()
        for field in fields
    ]
    return parts[0].union(*parts[1:], all=True)


def _base(field: str):
    """The deliveries a timeline field counts: bounces and blocks of those handed over (refused
    at once included), everything else of those sent."""
    return ATTEMPTED if field in _OF_ATTEMPTED else SENT


def _providers(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The probe plan's mix: each mailbox provider's recipients and its share of the probe."""
    recipients = plan.get("providers", {}) or {}
    allocation = plan.get("allocation", {}) or {}
    names = sorted(set(recipients) | set(allocation), key=lambda n: (-recipients.get(n, 0), n))
    return [
        {
            "provider": name,
            "recipients": int(recipients.get(name, 0)),
            "probe": int(allocation.get(name, 0)),
        }
        for name in names
    ]
