"""Time the campaign page, the progress fragment it polls and the clicks per link, for a big
campaign half way through its release.

    .venv/bin/python bench/campaign_page_bench.py [--recipients 100000]
        [--database-url postgres://postgres@127.0.0.1:5432/consentmail_page_bench]

It (re)creates its own database, writes a campaign of `recipients` deliveries (a 1,000 probe,
then the rest, half of them still pending), people's clicks from a tenth of the messages sent
(on one of three links each) and a scanner's on every link of a fiftieth, then prints each
request's median over several runs and its number of queries: the progress fragment the page
polls (releasing, when it counts the deliveries, and back in the hold, when it counts none),
the whole campaign page and the clicks per link.

Beside each it measures a ceiling in the same run and prints the ratio (ceiling time over
figure time): the same signed-in client through the same middleware to /healthz/, plus the
bare SQL that answers the same questions (deliveries by status, clicks by link).
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

DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "yandex.ru", "mail.ru", "example.org"]


def prepare_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def create_campaign(recipients: int):
    """A campaign to `recipients` subscribers, releasing: probe and half the rest sent."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from accounts.models import Account, SenderDomain, User
    from campaigns.models import Campaign, Delivery, TrackingEvent
    from config.bulk import insert_rows
    from lists.models import MailingList, Subscriber

    now = timezone.now()
    account = Account.objects.create(
        company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd, Leeds"
    )
    user = User.objects.create_user(email="page-bench@example.com", password=None, account=account)
    SenderDomain.objects.create(account=account, domain="news.bench.example", verified_at=now)
    mailing_list = MailingList.objects.create(account=account, name="Bench", purpose="News")
    subscriber_ids = insert_rows(
        Subscriber,
        ["email", "name", "status", "subscribed_at"],
        [(f"r{n}@{DOMAINS[n % 6]}", f"Reader {n}", "subscribed", now) for n in range(recipients)],
        shared={"mailing_list_id": mailing_list.pk},
    )
    probe = min(1000, recipients // 10)
    campaign = Campaign.objects.create(
        account=account,
        name="Bench",
        subject="News",
        from_name="Bench",
        from_email="news@news.bench.example",
        html_body="<p>"
        + " ".join(f'<a href="https://bench.example/{n}">Link {n}</a>' for n in range(3))
        + "</p>",
        status="releasing",
        submitted_at=now - timedelta(hours=8),
        approved_at=now - timedelta(hours=7),
        recipients_at_approval=recipients,
        probe_size=probe,
        probe_sent_at=now - timedelta(hours=7),
        hold_until=now - timedelta(hours=1),
        verdict={"tier": "green", "rule": "green", "reasons": [], "rates": {}},
        judged_at=now - timedelta(hours=1),
        released_at=now - timedelta(hours=1),
    )
    campaign.lists.set([mailing_list])
    half = probe + (recipients - probe) // 2
    insert_rows(
        Delivery,
        ["subscriber_id", "provider", "is_probe", "status", "sent_at"],
        [
            (pk, "gmail", n < probe, "sent" if n < half else "pending", now if n < half else None)
            for n, pk in enumerate(subscriber_ids)
        ],
        shared={"campaign_id": campaign.pk},
        return_ids=False,
    )
    sent = list(
        Delivery.objects.filter(campaign=campaign, status="sent")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    people, scanned = (
        sent[: len(sent) // 10],
        sent[len(sent) // 10 : len(sent) // 10 + len(sent) // 50],
    )
    events = [(pk, "click", n % 3, "") for n, pk in enumerate(people)]
    events += [(pk, "click", link, "all_links") for pk in scanned for link in range(3)]
    insert_rows(
        TrackingEvent,
        ["delivery_id", "kind", "link_index", "machine_reason"],
        events,
        return_ids=False,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return user, campaign, len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/consentmail_page_bench"
    )
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import warnings

    import django

    # collectstatic has not run for a bench; whitenoise says so once per client.
    warnings.filterwarnings("ignore", message="No directory at")
    prepare_database(args.database_url)
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from campaigns import selectors
    from campaigns.models import Campaign

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    user, campaign, clicks = create_campaign(args.recipients)
    print(
        f"campaign of {args.recipients:,} deliveries, {clicks:,} click events "
        f"(written in {time.perf_counter() - started:.1f} s)"
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    fragment = f"/campaigns/{campaign.pk}/progress/"

    def holding():
        # The same campaign back in its hold: the fragment counts nothing then.
        Campaign.objects.filter(pk=campaign.pk).update(status="holding", released_at=None)

    def bare_sql(sql: str):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(sql, [campaign.pk])
                cursor.fetchall()

        return run

    # The ceilings, measured in the same run: the same signed-in client through the same
    # middleware to a page that does nothing (/healthz/), and bare SQL answering the same
    # questions (deliveries by status; clicks by link) with no ORM, selector or template.
    statuses = bare_sql(
        "SELECT status, count(*) FROM campaigns_delivery WHERE campaign_id = %s GROUP BY status"
    )
    link_groups = bare_sql(
        "SELECT link_index, count(DISTINCT delivery_id) FILTER (WHERE machine_reason = ''),"
        " count(*) FILTER (WHERE machine_reason = ''),"
        " count(*) FILTER (WHERE machine_reason <> '')"
        " FROM campaigns_trackingevent AS event"
        " JOIN campaigns_delivery AS delivery ON delivery.id = event.delivery_id"
        " WHERE delivery.campaign_id = %s AND event.kind = 'click'"
        " AND event.link_index IS NOT NULL GROUP BY link_index"
    )

    def bare_request():
        return client.get("/healthz/")

    def timed(label: str, times_run: int, call) -> tuple[float, int]:
        call()  # warm: the compiled campaign, the session
        times = []
        for _ in range(times_run):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                result = call()
                times.append(time.perf_counter() - began)
            status = getattr(result, "status_code", 200)
            assert status == 200, (label, status)
        return statistics.median(times), len(queries.captured_queries)

    runs = [
        ("progress, releasing", 20, None, lambda: client.get(fragment), [bare_request, statuses]),
        (
            "campaign page",
            5,
            None,
            lambda: client.get(f"/campaigns/{campaign.pk}/"),
            [bare_request, statuses, link_groups],
        ),
        (
            "clicks per link",
            10,
            None,
            lambda: selectors.link_clicks(campaign=campaign),
            [link_groups],
        ),
        ("progress, holding", 20, holding, lambda: client.get(fragment), [bare_request]),
    ]
    for label, times_run, before, call, ceiling_parts in runs:
        if before:
            before()
        figure, queries = timed(label, times_run, call)
        ceiling = sum(timed(label, times_run, part)[0] for part in ceiling_parts)
        print(
            f"{label:20} median {figure * 1000:7.1f} ms over {times_run} runs, {queries} queries;"
            f" ceiling {ceiling * 1000:6.1f} ms; ratio {ceiling / figure:.0%}"
        )


if __name__ == "__main__":
    main()
