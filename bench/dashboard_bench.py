"""How long the sender's dashboard takes for an account with a big list, and how many queries.

    .venv/bin/python bench/dashboard_bench.py [--subscribers 1000000] [--lists 20] [--index]
        [--reuse] [--database-url postgres://postgres@127.0.0.1:5432/cm_dashboard_bench]

The database named is dropped and created again (unless --reuse). One account with one list of
`--subscribers` (their subscriptions spread over the last 200 days, a tenth of them since
unsubscribed), `--lists` more lists of 1,000, 60 campaigns in every status, 40,000 sent messages
and 2,000 unsubscribes and complaints. Figures: the dashboard's median and worst time over 7
requests (30 days per day, then 90 days per week), its query count, and the list-growth query
alone; with --index, the same again once the bench database has an index on lists_subscriber
(mailing_list_id, subscribed_at), which no migration creates yet.
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

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cm_dashboard_bench"


def prepare_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def seed(*, subscribers: int, lists: int):
    """The account and its data, written with INSERT ... SELECT (the counters' triggers run)."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from accounts.models import Account, User
    from campaigns.models import Campaign, Delivery
    from campaigns.states import CampaignStatus
    from complaints.models import FeedbackEvent
    from lists.models import MailingList

    account = Account.objects.create(
        company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd, Leeds"
    )
    user = User.objects.create_user(
        email="dashboard-bench@example.com", account=account, email_verified_at=timezone.now()
    )
    big = MailingList.objects.create(account=account, name="Big list", purpose="News")
    small = [
        MailingList.objects.create(account=account, name=f"List {n:02}", purpose="News")
        for n in range(lists)
    ]
    campaigns = [
        Campaign(
            account=account,
            name=f"Campaign {n}",
            subject="News",
            from_name="Bench",
            from_email="news@news.bench.example",
            html_body="<p>Hi</p>",
            status=status,
        )
        for n, status in enumerate(list(CampaignStatus.values) * 5)
    ]
    Campaign.objects.bulk_create(campaigns)
    sent = Campaign.objects.filter(account=account, status="sent").first()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO lists_subscriber (mailing_list_id, email, name, phone, attributes, status,
                is_role_address, created_at, updated_at, subscribed_at)
            SELECT %s, 'r' || n || '@example.org', '', '', '{}',
                CASE WHEN n %% 10 = 0 THEN 'unsubscribed' ELSE 'subscribed' END, false, now(),
                now(), now() - (n %% 200) * interval '1 day' - (n %% 86400) * interval '1 second'
            FROM generate_series(1, %s) AS n
            """,
            [big.pk, subscribers],
        )
        for mailing_list in small:
            cursor.execute(
                """
                INSERT INTO lists_subscriber (mailing_list_id, email, name, phone, attributes,
                    status, is_role_address, created_at, updated_at, subscribed_at)
                SELECT %s, 's' || n || '@example.org', '', '', '{}', 'subscribed', false, now(),
                    now(), now() - (n %% 90) * interval '1 day'
                FROM generate_series(1, 1000) AS n
                """,
                [mailing_list.pk],
            )
    now = timezone.now()
    ids = big.subscribers.order_by("id").values_list("id", flat=True)[:40_000]
    Delivery.objects.bulk_create(
        (
            Delivery(
                campaign=sent,
                subscriber_id=sid,
                provider="other",
                status="sent",
                sent_at=now - timedelta(days=2),
                hard_bounced_at=now if sid % 100 == 0 else None,
            )
            for sid in ids
        ),
        batch_size=5000,
    )
    FeedbackEvent.objects.bulk_create(
        FeedbackEvent(
            source="one_click",
            event_id=f"bench-{n}",
            kind="complained" if n % 4 == 0 else "unsubscribed",
            account=account,
            campaign=sent,
            recipient=f"r{n}@example.org",
            occurred_at=now - timedelta(minutes=n),
        )
        for n in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return user, big


def timed(client, url: str, runs: int = 7) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--lists", type=int, default=20)
    parser.add_argument(
        "--reuse", action="store_true", help="time the data a previous run left, seed nothing"
    )
    parser.add_argument(
        "--index",
        action="store_true",
        help="time again with an index on lists_subscriber (mailing_list_id, subscribed_at), "
        "which no migration creates yet",
    )
    args = parser.parse_args()
    if not args.reuse:
        prepare_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from datetime import UTC, datetime, timedelta
    from datetime import time as day_start

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from lists.selectors import list_growth

    if args.reuse:
        user = User.objects.get(email="dashboard-bench@example.com")
        big = user.account.lists.get(name="Big list")
    else:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        user, big = seed(subscribers=args.subscribers, lists=args.lists)
        print(
            f"seeded {args.subscribers:,} + {args.lists} x 1,000 subscribers "
            f"in {time.perf_counter() - started:.1f} s"
        )
    print(f"the big list: {big.subscribers.count():,} subscribers")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    client.get("/dashboard/")  # warm up
    with CaptureQueriesContext(connection) as queries:
        client.get("/dashboard/")
    print(f"queries per dashboard: {len(queries)}")
    since = datetime.combine(
        datetime.now(UTC).date() - timedelta(days=29), day_start.min, tzinfo=UTC
    )
    rounds = ["without an index on (mailing_list_id, subscribed_at)"]
    if args.index:
        rounds.append("with that index")
    for round_label in rounds:
        if round_label == "with that index":
            with connection.cursor() as cursor:
                cursor.execute(
                    "CREATE INDEX IF NOT EXISTS bench_subscriber_list_subscribed "
                    "ON lists_subscriber (mailing_list_id, subscribed_at)"
                )
                cursor.execute("VACUUM ANALYZE lists_subscriber")
        print(round_label + ":")
        for label, url in (("30 days", "/dashboard/"), ("90 days", "/dashboard/?growth=90")):
            times = timed(client, url)
            print(
                f"  dashboard, {label}: median {statistics.median(times):.0f} ms, "
                f"worst {max(times):.0f} ms"
            )
        times = []
        for _ in range(7):
            started = time.perf_counter()
            list_growth(account=big.account, list_ids=[big.pk], since=since)
            times.append((time.perf_counter() - started) * 1000)
        print(f"  list growth query, 30 days: median {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
