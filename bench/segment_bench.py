"""Count typical segments of a 1,000,000-subscriber list on PostgreSQL; print each figure, its
ceiling and the ratio (goal: every count under 2 s).

    .venv/bin/python bench/segment_bench.py [--subscribers 1000000] [--reuse]
        [--database-url postgres://postgres@127.0.0.1:5432/cm_segment_bench]

The database named is dropped and created again (unless --reuse, which keeps the data of an
earlier run). One account with a list of `--subscribers` written with COPY (a tenth of them
unsubscribed, cities, plans and languages in their attributes, subscriptions spread over 400
days), a second list of 50,000 half of whose addresses are also on the first, a consent record
per subscriber (web form, paper form or API), tags (vip on a tenth, customer on three in ten),
five sent campaigns of 200,000 messages each with opens (a quarter) and clicks (one in twenty)
over the last 120 days, and 2,000 suppressed addresses.

Each figure is `campaigns.segment_selectors.segment_count` (the ORM's one query: EXISTS
subqueries, each address once, the account's suppressed addresses left out), median of 3.
The ceiling is hand-written SQL selecting the same subscribers without the suppression check
(a bare count of the selection); the ratio is ceiling time over figure time, so it shows what
the ORM and the suppression check add.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cm_segment_bench"
CITIES = ["Leeds", "York", "Paris", "Kazan", "Berlin"]
GOAL_SECONDS = 2.0


def prepare_database(url: str, *, reuse: bool) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if found.fetchone() and reuse:
            return
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _copy(table: str, columns: list[str], rows) -> None:
    from django.db import connection

    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def seed(subscribers: int) -> dict:
    """The account and its data; returns the ids the segments need."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Account
    from campaigns.models import Campaign
    from lists.addresses import address_hasher
    from lists.models import MailingList, Suppression, Tag

    rng = random.Random(22)
    now = timezone.now()
    account = Account.objects.create(
        company_name="Segment Bench Ltd", contact_name="B", phone="1", postal_address="1 Rd"
    )
    big = MailingList.objects.create(account=account, name="Big list", purpose="News")
    second = MailingList.objects.create(account=account, name="Second list", purpose="News")
    started = time.perf_counter()

    def subscriber_rows():
        for n in range(subscribers):
            status = "unsubscribed" if n % 10 == 0 else "subscribed"
            attributes = (
                f'{{"city": "{CITIES[n % 5]}", "plan": "{"gold" if n % 7 == 0 else "basic"}"}}'
            )
            yield (
                big.pk,
                f"r{n}@example.org",
                f"Reader {n}",
                "",
                attributes,
                status,
                False,
                now,
                now,
                now - timedelta(days=n % 400, seconds=n % 86400),
                "ru" if n % 10 == 3 else "",
            )
        for n in range(50_000):
            email = f"r{n * 2}@example.org" if n % 2 == 0 else f"s{n}@example.net"
            yield (second.pk, email, "", "", "{}", "subscribed", False, now, now, now, "")

    _copy(
        "lists_subscriber",
        [
            "mailing_list_id",
            "email",
            "name",
            "phone",
            "attributes",
            "status",
            "is_role_address",
            "created_at",
            "updated_at",
            "subscribed_at",
            "language",
        ],
        subscriber_rows(),
    )
    print(f"  subscribers copied in {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM lists_subscriber WHERE mailing_list_id = %s ORDER BY id", [big.pk]
        )
        big_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT id FROM lists_subscriber WHERE mailing_list_id = %s ORDER BY id", [second.pk]
        )
        second_ids = [row[0] for row in cursor.fetchall()]
    started = time.perf_counter()
    sources = ["web_form"] * 7 + ["paper_form"] * 2 + ["api"]
    _copy(
        "lists_consentrecord",
        [
            "subscriber_id",
            "event",
            "source",
            "obtained_at",
            "user_agent",
            "purpose_text",
            "form_url",
            "proof",
            "proof_file",
            "created_at",
        ],
        (
            (sid, "granted", sources[i % 10], now, "", "News", "", "bench", "", now)
            for i, sid in enumerate(big_ids + second_ids)
        ),
    )
    print(f"  consent records copied in {time.perf_counter() - started:.0f} s")
    vip = Tag.objects.create(account=account, name="vip")
    customer = Tag.objects.create(account=account, name="customer")
    started = time.perf_counter()

    def tag_rows():
        for i, sid in enumerate(big_ids):
            if i % 10 == 1:
                yield (sid, vip.pk)
            if i % 10 in (2, 4, 6):
                yield (sid, customer.pk)
        for i, sid in enumerate(second_ids):
            if i % 4 == 0:
                yield (sid, vip.pk)

    _copy("lists_subscribertag", ["subscriber_id", "tag_id"], tag_rows())
    print(f"  tags copied in {time.perf_counter() - started:.0f} s")
    campaigns = Campaign.objects.bulk_create(
        Campaign(
            account=account,
            name=f"Sent {n}",
            subject="News",
            from_name="Bench",
            from_email="news@bench.example",
            html_body="<p>Hi</p>",
            status="sent",
        )
        for n in range(5)
    )
    started = time.perf_counter()

    def delivery_rows():
        for c, campaign in enumerate(campaigns):
            sent_at = now - timedelta(days=10 + 25 * c)
            chosen = rng.sample(range(len(big_ids)), min(200_000, len(big_ids) // 5))
            for index in chosen:
                opened = sent_at + timedelta(hours=2) if index % 4 == c % 4 else None
                clicked = sent_at + timedelta(hours=3) if index % 20 == c else None
                yield (
                    campaign.pk,
                    big_ids[index],
                    False,
                    "other",
                    f"r{index}@example.org",
                    "{}",
                    "sent",
                    0,
                    sent_at,
                    "",
                    "",
                    False,
                    opened,
                    clicked,
                    1 if opened else 0,
                    1 if clicked else 0,
                    0,
                    0,
                )

    _copy(
        "campaigns_delivery",
        [
            "campaign_id",
            "subscriber_id",
            "is_probe",
            "provider",
            "email",
            "merge_data",
            "status",
            "attempts",
            "sent_at",
            "provider_message_id",
            "error",
            "possibly_duplicated",
            "opened_at",
            "clicked_at",
            "opens",
            "clicks",
            "machine_opens",
            "machine_clicks",
        ],
        delivery_rows(),
    )
    print(f"  deliveries copied in {time.perf_counter() - started:.0f} s")
    digest = address_hasher(account.pk)
    Suppression.objects.bulk_create(
        Suppression(
            account=account,
            email_hash=digest(f"r{n}@example.org"),
            email=f"r{n}@example.org",
            reason="complained",
        )
        for n in range(1, 2_000 * 37, 37)
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {"account": account.pk, "big": big.pk, "second": second.pk}


def segments(ids: dict) -> list[tuple[str, list[int], str, list[dict], str]]:
    """(label, lists, match, conditions, the hand-written ceiling's WHERE on subscriber s).
    Only ids of the bench's own rows and fixed dates go into the SQL text."""
    from django.utils import timezone

    day = (timezone.localdate() - timedelta(days=90)).isoformat()
    account = ids["account"]
    vip = f"(SELECT id FROM lists_tag WHERE account_id = {account} AND lower(name) = 'vip')"  # noqa: S608
    customer = (
        f"(SELECT id FROM lists_tag WHERE account_id = {account} AND lower(name) = 'customer')"  # noqa: S608
    )

    def engaged(column: str, days: int | None) -> str:
        since = f" AND d.{column} >= now() - interval '{days} days'" if days else ""
        return (
            f"EXISTS (SELECT 1 FROM campaigns_delivery d JOIN campaigns_campaign c "  # noqa: S608
            f"ON c.id = d.campaign_id WHERE c.account_id = {account} AND d.email = s.email "
            f"AND d.{column} IS NOT NULL{since})"
        )

    def tagged(tag: str) -> str:
        return (
            f"EXISTS (SELECT 1 FROM lists_subscribertag t WHERE t.subscriber_id = s.id "  # noqa: S608
            f"AND t.tag_id IN {tag})"
        )

    big = [ids["big"]]
    return [
        ("has tag vip", big, "all", [{"field": "tag", "op": "has", "value": "vip"}], tagged(vip)),
        (
            "city is Leeds and subscribed in the last 90 days",
            big,
            "all",
            [
                {"field": "attribute", "key": "city", "op": "equals", "value": "leeds"},
                {"field": "subscribed", "op": "on_or_after", "value": day},
            ],
            f"lower(s.attributes ->> 'city') = 'leeds' AND s.subscribed_at >= '{day}'",
        ),
        (
            "opened in the last 30 days",
            big,
            "all",
            [{"field": "opened", "op": "within_days", "value": 30}],
            engaged("opened_at", 30),
        ),
        (
            "never opened",
            big,
            "all",
            [{"field": "opened", "op": "never"}],
            "NOT " + engaged("opened_at", None),
        ),
        (
            "consent from a paper form, or language ru (any)",
            big,
            "any",
            [
                {"field": "consent_source", "op": "is", "value": "paper_form"},
                {"field": "language", "op": "is", "value": "ru"},
            ],
            "(EXISTS (SELECT 1 FROM lists_consentrecord r WHERE r.subscriber_id = s.id "
            "AND r.event = 'granted' AND r.source = 'paper_form') OR s.language = 'ru')",
        ),
        (
            "customer, not vip, clicked in the last 90 days",
            big,
            "all",
            [
                {"field": "tag", "op": "has", "value": "customer"},
                {"field": "tag", "op": "has_not", "value": "vip"},
                {"field": "clicked", "op": "within_days", "value": 90},
            ],
            f"{tagged(customer)} AND NOT {tagged(vip)} AND {engaged('clicked_at', 90)}",
        ),
        (
            "vip on two lists (each address once)",
            [ids["big"], ids["second"]],
            "all",
            [{"field": "tag", "op": "has", "value": "vip"}],
            tagged(vip),
        ),
    ]


def ceiling_count(list_ids: list[int], where: str) -> tuple[int, float]:
    from django.db import connection

    distinct = "count(DISTINCT s.email)" if len(list_ids) > 1 else "count(*)"
    sql = (
        f"SELECT {distinct} FROM lists_subscriber s WHERE s.mailing_list_id = ANY(%s) "  # noqa: S608
        f"AND s.status = 'subscribed' AND {where}"
    )
    times, found = [], 0
    for _ in range(3):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, [list_ids])
            found = cursor.fetchone()[0]
        times.append(time.perf_counter() - started)
    return found, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--reuse", action="store_true", help="keep the data of an earlier run")
    args = parser.parse_args()

    prepare_database(args.database_url, reuse=args.reuse)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import Account
    from campaigns.models import Segment
    from campaigns.segment_selectors import segment_count
    from lists.models import MailingList

    call_command("migrate", verbosity=0)
    account = Account.objects.filter(company_name="Segment Bench Ltd").first()
    if account is None:
        print(f"seeding {args.subscribers:,} subscribers ...")
        started = time.perf_counter()
        ids = seed(args.subscribers)
        print(f"seeded in {time.perf_counter() - started:.0f} s")
    else:
        lists = dict(MailingList.objects.filter(account=account).values_list("name", "pk"))
        ids = {"account": account.pk, "big": lists["Big list"], "second": lists["Second list"]}

    worst = 0.0
    for label, list_ids, match, conditions, where in segments(ids):
        segment = Segment.objects.create(
            account_id=ids["account"],
            name=f"bench {label} {time.time()}",
            match=match,
            conditions=conditions,
        )
        segment.lists.set(list_ids)
        times, count = [], 0
        for _ in range(3):
            started = time.perf_counter()
            count = segment_count(segment=segment)
            times.append(time.perf_counter() - started)
        figure = statistics.median(times)
        bare, ceiling = ceiling_count(list_ids, where)
        worst = max(worst, figure)
        print(
            f"{label}: {count:,} addresses; figure {figure:.2f} s; ceiling {ceiling:.2f} s "
            f"({bare:,} before suppressions); ratio {ceiling / figure:.0%}; "
            f"{'under' if figure < GOAL_SECONDS else 'OVER'} the {GOAL_SECONDS:.0f} s goal"
        )
        segment.delete()
    print(f"worst count {worst:.2f} s (goal: under {GOAL_SECONDS:.0f} s)")


if __name__ == "__main__":
    main()
