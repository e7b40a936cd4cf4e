"""How fast reports about sent mail are applied, and how long an unsubscribe takes to suppress.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cm_feedback_bench \\
        .venv/bin/python bench/feedback_bench.py [--recipients 10000]

The database named in DATABASE_URL is dropped and created again. One account, list and sent
campaign to `--recipients` subscribers. Then, in one process: half of them hard-bounce through
`feedback_apply` (as the ESP webhooks and process_feedback call it); the same reports again
(duplicates, which must change nothing); and the other half unsubscribe with RFC 8058 one-click
POSTs to /u/<token>/ through Django's full request stack. Figures: reports per second, HTTP
round trip per unsubscribe (median, p99), and the recorded time from request to suppression.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
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
    from django.utils import timezone

    from accounts.models import Account
    from campaigns.models import Campaign, Delivery
    from lists.models import MailingList, Subscriber

    account = Account.objects.create(
        company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd, Leeds"
    )
    mailing_list = MailingList.objects.create(account=account, name="Bench", purpose="News")
    campaign = Campaign.objects.create(
        account=account,
        name="Bench",
        subject="News",
        from_name="Bench",
        from_email="news@news.bench.example",
        html_body="<p>Hi</p>",
        status="sent",
    )
    campaign.lists.set([mailing_list])
    now = timezone.now()
    subscribers = Subscriber.objects.bulk_create(
        Subscriber(
            mailing_list=mailing_list,
            email=f"r{n}@example.org",
            status="subscribed",
            subscribed_at=now,
        )
        for n in range(recipients)
    )
    Delivery.objects.bulk_create(
        Delivery(campaign=campaign, subscriber=s, provider="other", status="sent", sent_at=now)
        for s in subscribers
    )
    return campaign, [s.pk for s in subscribers]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
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

    from campaigns.tokens import MessageTokens
    from complaints.models import FeedbackEvent, FeedbackKind
    from complaints.services import Feedback, feedback_apply
    from lists.models import PlatformSuppression, Suppression

    call_command("migrate", verbosity=0)
    campaign, ids = seed(args.recipients)
    half = len(ids) // 2
    bounces = [
        Feedback(
            source="dsn",
            event_id=f"bench-{sid}",
            kind=FeedbackKind.HARD_BOUNCE,
            message_ref=MessageTokens(campaign_id=campaign.pk, subscriber_id=sid).message_ref(),
            code="5.1.1",
        )
        for sid in ids[:half]
    ]

    started = time.perf_counter()
    applied = sum(feedback_apply(f) is not None for f in bounces)
    elapsed = time.perf_counter() - started
    print(f"hard bounces applied: {applied:,} in {elapsed:.2f} s = {applied / elapsed:,.0f}/s")

    started = time.perf_counter()
    again = sum(feedback_apply(f) is not None for f in bounces)
    elapsed = time.perf_counter() - started
    print(
        f"the same reports again: {again} applied, {len(bounces):,} refused as duplicates "
        f"in {elapsed:.2f} s = {len(bounces) / elapsed:,.0f}/s"
    )

    client = Client(HTTP_HOST="127.0.0.1")
    round_trips = []
    for sid in ids[half:]:
        token = MessageTokens(campaign_id=campaign.pk, subscriber_id=sid).unsubscribe()
        started = time.perf_counter()
        response = client.post(
            f"/u/{token}/",
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        round_trips.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    total = sum(round_trips)
    p50, p99 = statistics.median(round_trips) * 1000, percentile(round_trips, 0.99) * 1000
    print(
        f"one-click unsubscribes: {len(round_trips):,} in {total:.2f} s = "
        f"{len(round_trips) / total:,.0f}/s; round trip p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    latencies = [
        event.suppression_seconds
        for event in FeedbackEvent.objects.filter(kind=FeedbackKind.UNSUBSCRIBED).only(
            "occurred_at", "suppressed_at"
        )
    ]
    print(
        f"request to suppression: median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, worst {max(latencies) * 1000:.1f} ms"
    )
    print(
        f"suppressions: {Suppression.objects.count():,} for the account, "
        f"{PlatformSuppression.objects.count():,} platform-wide"
    )


if __name__ == "__main__":
    main()
