"""How fast reports about sent mail are applied, against plain SQL doing the least the same
reports must write; and how long an unsubscribe takes to suppress.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cm_feedback_bench \\
        .venv/bin/python bench/feedback_bench.py [--reports 20000] [--batch 500]

The database named in DATABASE_URL is dropped and created again. One account, one list and two
sent campaigns to the same subscribers: the first receives the reports through
`feedback_apply_batch`, in batches of --batch as the ESP webhooks and process_feedback call it;
the second receives the same reports from the ceiling (batch after batch, ours then the ceiling's,
so that both meet the same noise), plain SQL in one transaction per batch doing the minimal
equivalent writes (one INSERT ... ON CONFLICT DO NOTHING of the events, one
UPDATE of the deliveries' timestamps), with no matching, locking, subscriber, consent,
suppression or webhook work. Scenarios, each on its own subscribers:

- hard bounces: --reports, one per message (each ends a subscription, suppresses the address
  for the account and platform-wide, writes a consent record);
- duplicates: the same hard bounces posted again (an ESP retrying): nothing may change;
- complaints: --reports, one per message;
- mixed storm: --reports over a third as many messages: delivered, soft and hard bounces,
  blocks, complaints, unsubscribes, some delivered after their bounce (out of order), some the
  same event twice, some the same complaint through a second channel; shuffled;
- one by one: --one-by-one hard bounces through `feedback_apply` (a batch of one, one
  transaction each), the path every report took before batches;

then --unsubscribes RFC 8058 one-click POSTs to /u/<token>/ through Django's full request stack:
round trip and the recorded time from request to suppression; then --front-unsubscribes through
what the hot front does when the tracking queue's consumer runs (complaints.services.
one_click_unsubscribe_accept: the address suppressed and the rest queued, one write), and the
consumer's drain of them (one_clicks_pending_apply), each rate printed. After each scenario the
campaign's counters (what the campaign page, the verdict and the stats API read) are checked
against what was applied, right after the last batch commits.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cm_feedback_bench"


def prepare_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def seed(recipients: int):
    """(our campaign, the ceiling's campaign, subscriber ids, {subscriber id: (our delivery id,
    the ceiling's delivery id)})."""
    from django.utils import timezone

    from accounts.models import Account
    from campaigns.models import Campaign, Delivery
    from lists.models import MailingList, Subscriber

    account = Account.objects.create(
        company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd, Leeds"
    )
    mailing_list = MailingList.objects.create(account=account, name="Bench", purpose="News")
    campaigns = []
    for name in ("Bench", "Ceiling"):
        campaign = Campaign.objects.create(
            account=account,
            name=name,
            subject="News",
            from_name="Bench",
            from_email="news@news.bench.example",
            html_body="<p>Hi</p>",
            status="sent",
        )
        campaign.lists.set([mailing_list])
        campaigns.append(campaign)
    now = timezone.now() - timedelta(days=1)
    subscribers = Subscriber.objects.bulk_create(
        (
            Subscriber(
                mailing_list=mailing_list,
                email=f"r{n}@example.org",
                status="subscribed",
                subscribed_at=now,
            )
            for n in range(recipients)
        ),
        batch_size=5000,
    )
    ids = [s.pk for s in subscribers]
    deliveries: dict[int, list[int]] = {sid: [] for sid in ids}
    for campaign in campaigns:
        for start in range(0, len(ids), 5000):
            rows = Delivery.objects.bulk_create(
                Delivery(
                    campaign=campaign,
                    subscriber_id=sid,
                    email=f"r{sid}@example.org",
                    provider="other",
                    status="sent",
                    sent_at=now,
                    provider_message_id=f"{campaign.pk}-{sid}",
                )
                for sid in ids[start : start + 5000]
            )
            for row in rows:
                deliveries[row.subscriber_id].append(row.pk)
    return campaigns[0], campaigns[1], ids, deliveries


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Report:
    """One report of a scenario, for both paths: (subscriber, kind, event id, source, when)."""

    __slots__ = ("subscriber_id", "kind", "event_id", "source", "occurred_at")

    def __init__(self, subscriber_id, kind, event_id, source, occurred_at):
        self.subscriber_id = subscriber_id
        self.kind = kind
        self.event_id = event_id
        self.source = source
        self.occurred_at = occurred_at


def one_kind(ids: list[int], kind: str, source: str, now) -> list[Report]:
    return [Report(sid, kind, f"{kind}-{sid}", source, now) for sid in ids]


def mixed_storm(ids: list[int], count: int, now, rng: random.Random) -> list[Report]:
    """About `count` reports over `ids`: what a day of ESP webhooks and a feedback mailbox bring
    (see the module docstring)."""
    reports: list[Report] = []
    weights = [
        ("delivered", 0.55),
        ("soft_bounce", 0.12),
        ("hard_bounce", 0.08),
        ("blocked", 0.05),
        ("complained", 0.05),
        ("unsubscribed", 0.05),
    ]
    kinds, shares = zip(*weights, strict=True)
    while len(reports) < count:
        sid = rng.choice(ids)
        kind = rng.choices(kinds, shares)[0]
        at = now - timedelta(minutes=rng.uniform(0, 600))
        report = Report(sid, kind, f"m{len(reports)}", "sendgrid", at)
        reports.append(report)
        roll = rng.random()
        if roll < 0.08:  # the ESP retried its post
            reports.append(report)
        elif roll < 0.12 and kind in ("complained", "unsubscribed", "hard_bounce"):
            # The same message reported again through another channel (a feedback loop).
            reports.append(Report(sid, kind, f"m{len(reports)}-fbl", "arf", at))
        elif roll < 0.16 and kind == "hard_bounce":
            # The "delivered" of a bounced message, arriving after the bounce.
            reports.append(Report(sid, "delivered", f"m{len(reports)}-late", "sendgrid", at))
    rng.shuffle(reports)
    return reports[:count]


def ours(reports: list[Report], campaign_id: int) -> list:
    from campaigns.tokens import MessageTokens
    from complaints.services import Feedback

    refs: dict[int, str] = {}
    feedback = []
    for r in reports:
        if r.subscriber_id not in refs:
            tokens = MessageTokens(campaign_id=campaign_id, subscriber_id=r.subscriber_id)
            refs[r.subscriber_id] = tokens.message_ref()
        feedback.append(
            Feedback(
                source=r.source,
                event_id=r.event_id,
                kind=r.kind,
                message_ref=refs[r.subscriber_id],
                recipient=f"r{r.subscriber_id}@example.org",
                occurred_at=r.occurred_at,
                code="5.1.1" if r.kind == "hard_bounce" else "",
            )
        )
    return feedback


def run_scenario(
    reports: list[Report], campaign, ceiling_campaign, deliveries: dict, batch: int
) -> tuple[float, float, Counter]:
    """(our seconds, the ceiling's seconds, our outcomes): batch after batch, ours then the
    ceiling's on the same reports, so that both meet the same noise of a shared machine."""
    from complaints.services import feedback_apply_batch

    feedback = ours(reports, campaign.pk)
    outcomes: Counter = Counter()
    ours_seconds = ceiling_seconds = 0.0
    for start in range(0, len(reports), batch):
        started = time.perf_counter()
        for event in feedback_apply_batch(feedback[start : start + batch]):
            outcomes[event.outcome if event is not None else "already applied"] += 1
        ours_seconds += time.perf_counter() - started
        ceiling_seconds += run_ceiling(reports[start : start + batch], ceiling_campaign, deliveries)
    return ours_seconds, ceiling_seconds, outcomes


_CEILING_EVENTS = """
INSERT INTO {events} (source, event_id, kind, outcome, account_id, campaign_id, delivery_id,
    is_probe, recipient, code, detail, comment, occurred_at, received_at)
SELECT u.source, u.event_id, u.kind, 'applied', %s, %s, u.delivery_id, false, u.recipient,
    u.code, '', '', u.occurred_at, now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[],
    %s::timestamptz[]) AS u(source, event_id, kind, delivery_id, recipient, code, occurred_at)
ON CONFLICT (source, event_id) DO NOTHING
"""
_CEILING_DELIVERIES = """
UPDATE {deliveries} AS d SET
    delivered_at = COALESCE(d.delivered_at, v.delivered_at),
    soft_bounced_at = COALESCE(d.soft_bounced_at, v.soft_bounced_at),
    hard_bounced_at = COALESCE(d.hard_bounced_at, v.hard_bounced_at),
    blocked_at = COALESCE(d.blocked_at, v.blocked_at),
    complained_at = COALESCE(d.complained_at, v.complained_at),
    unsubscribed_at = COALESCE(d.unsubscribed_at, v.unsubscribed_at)
FROM (
    SELECT id,
        min(at) FILTER (WHERE kind = 'delivered') AS delivered_at,
        min(at) FILTER (WHERE kind = 'soft_bounce') AS soft_bounced_at,
        min(at) FILTER (WHERE kind = 'hard_bounce') AS hard_bounced_at,
        min(at) FILTER (WHERE kind = 'blocked') AS blocked_at,
        min(at) FILTER (WHERE kind = 'complained') AS complained_at,
        min(at) FILTER (WHERE kind = 'unsubscribed') AS unsubscribed_at
    FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS u(id, kind, at)
    GROUP BY id
) AS v
WHERE d.id = v.id
"""


def run_ceiling(part: list[Report], campaign, deliveries: dict[int, list[int]]) -> float:
    """One batch of the same reports, to the ceiling's campaign, as the least SQL that records
    them: one transaction, two statements."""
    from django.db import connection, transaction

    from campaigns.models import Delivery
    from complaints.models import FeedbackEvent

    events_sql = _CEILING_EVENTS.format(events=FeedbackEvent._meta.db_table)
    deliveries_sql = _CEILING_DELIVERIES.format(deliveries=Delivery._meta.db_table)
    started = time.perf_counter()
    delivery_ids = [deliveries[r.subscriber_id][1] for r in part]
    kinds = [r.kind for r in part]
    times = [r.occurred_at for r in part]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            events_sql,
            [
                campaign.account_id,
                campaign.pk,
                [r.source for r in part],
                [f"ceiling-{r.event_id}" for r in part],
                kinds,
                delivery_ids,
                [f"r{r.subscriber_id}@example.org" for r in part],
                ["5.1.1" if r.kind == "hard_bounce" else "" for r in part],
                times,
            ],
        )
        cursor.execute(deliveries_sql, [delivery_ids, kinds, times])
    return time.perf_counter() - started


def check_counters(campaign, expected: Counter) -> str:
    """What the campaign page, the verdict and the stats API read, right after the commits."""
    from campaigns.selectors import delivery_figures

    figures = delivery_figures(campaign=campaign, probe_only=False)
    found = {
        "hard_bounce": figures.hard_bounces,
        "complained": figures.complaints,
        "unsubscribed": figures.unsubscribes,
        "blocked": figures.blocks,
    }
    wrong = {k: (found[k], expected[k]) for k in found if found[k] != expected[k]}
    if wrong:
        return f"counters WRONG (found, expected): {wrong}"
    return "counters up to date: " + ", ".join(f"{k} {v:,}" for k, v in found.items())


def messages_with(reports: list[Report]) -> Counter:
    """How many messages got at least one report of each kind (what the counters count)."""
    seen = {(r.subscriber_id, r.kind) for r in reports}
    return Counter(kind for _, kind in seen)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=20_000, help="reports per scenario")
    parser.add_argument("--batch", type=int, default=None, help="reports per batch")
    parser.add_argument("--one-by-one", type=int, default=1_000, help="reports applied singly")
    parser.add_argument("--unsubscribes", type=int, default=2_000, help="one-click POSTs")
    parser.add_argument(
        "--front-unsubscribes",
        type=int,
        default=2_000,
        help="one-clicks through the hot front's write and the consumer's drain",
    )
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("The bench needs PostgreSQL: set DATABASE_URL=postgres://...")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # Subscriber webhooks would be queued on the broker; none are configured here.
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    prepare_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from campaigns.tokens import MessageTokens
    from complaints.models import FeedbackEvent, FeedbackKind
    from complaints.services import FEEDBACK_BATCH_SIZE, feedback_apply
    from lists.models import PlatformSuppression, Suppression

    batch = args.batch or FEEDBACK_BATCH_SIZE
    rng = random.Random(args.seed)
    n = args.reports
    storm_messages = max(1, n // 3)
    sizes = [n, n, storm_messages, args.one_by_one, args.unsubscribes, args.front_unsubscribes]
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    campaign, ceiling_campaign, ids, deliveries = seed(sum(sizes))
    print(
        f"seeded {len(ids):,} subscribers, {2 * len(ids):,} deliveries in "
        f"{time.perf_counter() - started:.1f} s; batches of {batch}"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        # Statistics, as a database in service has them (autovacuum may be off, or late).
        cursor.execute("ANALYZE")
    groups, start = [], 0
    for size in sizes:
        groups.append(ids[start : start + size])
        start += size
    bounced_ids, complained_ids, storm_ids, single_ids, unsubscribe_ids, front_ids = groups
    now = timezone.now() - timedelta(minutes=5)

    scenarios = [
        ("hard bounces", one_kind(bounced_ids, "hard_bounce", "sendgrid", now)),
        ("duplicates", None),  # the hard bounces again
        ("complaints", one_kind(complained_ids, "complained", "arf", now)),
        ("mixed storm", mixed_storm(storm_ids, n, now, rng)),
    ]
    applied_so_far: list[Report] = []
    print(f"{'scenario':<14}{'reports':>9}{'ours/s':>10}{'ceiling/s':>11}{'share':>8}  outcomes")
    for name, reports in scenarios:
        if reports is None:
            reports = scenarios[0][1]
        elapsed, ceiling, outcomes = run_scenario(
            reports, campaign, ceiling_campaign, deliveries, batch
        )
        rate, ceiling_rate = len(reports) / elapsed, len(reports) / ceiling
        print(
            f"{name:<14}{len(reports):>9,}{rate:>10,.0f}{ceiling_rate:>11,.0f}"
            f"{rate / ceiling_rate:>8.0%}  "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))
        )
        applied_so_far += reports
        print(f"{'':<14}{check_counters(campaign, messages_with(applied_so_far))}")

    singles = ours(one_kind(single_ids, "hard_bounce", "dsn", now), campaign.pk)
    started = time.perf_counter()
    applied = sum(feedback_apply(f) is not None for f in singles)
    elapsed = time.perf_counter() - started
    print(
        f"one by one (feedback_apply, a transaction each): {applied:,} hard bounces in "
        f"{elapsed:.2f} s = {applied / elapsed:,.0f}/s"
    )

    client = Client(HTTP_HOST="127.0.0.1")
    round_trips = []
    for sid in unsubscribe_ids:
        token = MessageTokens(campaign_id=campaign.pk, subscriber_id=sid).unsubscribe()
        started = time.perf_counter()
        response = client.post(
            f"/u/{token}/",
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        round_trips.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    if round_trips:
        total = sum(round_trips)
        p50, p99 = statistics.median(round_trips) * 1000, percentile(round_trips, 0.99) * 1000
        print(
            f"one-click unsubscribes: {len(round_trips):,} in {total:.2f} s = "
            f"{len(round_trips) / total:,.0f}/s; round trip p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
        latencies = [
            event.suppression_seconds
            for event in FeedbackEvent.objects.filter(
                kind=FeedbackKind.UNSUBSCRIBED, source="one_click"
            ).only("occurred_at", "suppressed_at")
        ]
        print(
            f"request to suppression: median {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
            f"worst {max(latencies) * 1000:.1f} ms"
        )
    if front_ids:
        front_one_clicks(campaign.pk, front_ids)
    print(
        f"suppressions: {Suppression.objects.count():,} for the account, "
        f"{PlatformSuppression.objects.count():,} platform-wide"
    )


def front_one_clicks(campaign_id: int, subscriber_ids: list[int]) -> None:
    """What the hot front does for a one-click POST when the consumer runs (the address
    suppressed and the rest queued, one write in autocommit: one_click_unsubscribe_accept), one
    request after another; then the consumer's drain of them (one_clicks_pending_apply)."""
    from campaigns.tokens import TokenData, TokenKind
    from complaints.models import FeedbackEvent, PendingOneClick
    from complaints.services import one_click_unsubscribe_accept, one_clicks_pending_apply

    round_trips = []
    for sid in subscriber_ids:
        token = TokenData(kind=TokenKind.UNSUBSCRIBE, campaign_id=campaign_id, subscriber_id=sid)
        started = time.perf_counter()
        accepted = one_click_unsubscribe_accept(token)
        round_trips.append(time.perf_counter() - started)
        assert accepted
    total = sum(round_trips)
    p50, p99 = statistics.median(round_trips) * 1000, percentile(round_trips, 0.99) * 1000
    print(
        f"one-click front (suppress + queue): {len(round_trips):,} in {total:.2f} s = "
        f"{len(round_trips) / total:,.0f}/s; p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    started = time.perf_counter()
    drained = 0
    while handled := one_clicks_pending_apply():
        drained += handled
    elapsed = time.perf_counter() - started
    applied = FeedbackEvent.objects.filter(
        source="one_click", event_id__in=[f"{campaign_id}:{sid}" for sid in subscriber_ids]
    ).count()
    left = PendingOneClick.objects.count()
    print(
        f"consumer drain: {drained:,} in {elapsed:.2f} s = {drained / elapsed:,.0f}/s; "
        f"applied {applied:,}, left pending {left:,}"
    )


if __name__ == "__main__":
    main()
