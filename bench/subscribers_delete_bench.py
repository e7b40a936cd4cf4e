"""Time `lists.services.subscribers.subscribers_delete` on a list of 100,000 subscribers (with two
consent records each, a recorded edit for one in four and a tag for one in two) against the way
it was written before: Django's private `QuerySet._raw_delete`, kept here as the reference.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cm_subscribers_delete_bench \\
        .venv/bin/python bench/subscribers_delete_bench.py [--subscribers 100000] [--reps 3]
        [--impls raw,service,ids]

The database named in DATABASE_URL is created if missing and migrated. Each repetition empties
the lists' tables and seeds the list anew with INSERT ... SELECT generate_series, runs
VACUUM ANALYZE as autovacuum would leave a settled table, then times one implementation end to
end in one transaction (commit included). Implementations alternate in order from one
repetition to the next so that neither always runs on a warmer cache. Each run is checked: the
list's rows are gone from the four tables, a second list's rows are all there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_bench import prepare_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cm_subscribers_delete_bench"
KEPT = 1_000  # subscribers of a second list, which no run may touch


def raw_delete_reference(subscribers) -> int:
    """subscribers_delete as it was (main before issue 24): the two last DELETEs through
    Django's private QuerySet._raw_delete."""
    from django.db import transaction

    from lists.models import ConsentRecord, SubscriberChange, SubscriberTag

    records = ConsentRecord.objects.filter(subscriber__in=subscribers.values("pk"))
    storage = ConsentRecord._meta.get_field("proof_file").storage
    names = list(
        records.filter(import_job__isnull=True)
        .exclude(proof_file="")
        .values_list("proof_file", flat=True)
    )
    records.delete()
    SubscriberChange.objects.filter(subscriber__in=subscribers.values("pk")).delete()
    tag_links = SubscriberTag.objects.filter(subscriber__in=subscribers.values("pk"))
    tag_links._raw_delete(tag_links.db)
    deleted = subscribers._raw_delete(subscribers.db)
    transaction.on_commit(lambda: [storage.delete(name) for name in names])
    return deleted


def service(subscribers) -> int:
    from lists.services.subscribers import subscribers_delete

    return subscribers_delete(subscribers)


def ids_array(subscribers) -> int:
    """The alternative measured and not taken: only documented APIs (the ids read with
    values_list, then `DELETE ... WHERE column = ANY(<ids>)` a table through a cursor). Each
    statement probes the index once an id: about twice the time of a subquery's hash join."""
    from django.db import connection

    from lists.models import ConsentRecord, Subscriber, SubscriberChange, SubscriberTag

    ids = list(subscribers.order_by().values_list("pk", flat=True))
    deleted = 0
    with connection.cursor() as cursor:
        for model, column in (
            (ConsentRecord, "subscriber_id"),
            (SubscriberChange, "subscriber_id"),
            (SubscriberTag, "subscriber_id"),
            (Subscriber, "id"),
        ):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE {column} = ANY(%s)",  # noqa: S608
                [ids],
            )
            deleted = cursor.rowcount
    return deleted


IMPLS = {"raw": raw_delete_reference, "service": service, "ids": ids_array}


def seed(count: int) -> tuple[int, int]:
    """A fresh account with the list to delete (`count` subscribers) and a list to keep."""
    from django.db import connection

    from accounts.models import Account
    from lists.models import MailingList, Tag

    account = Account.objects.create(
        company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd, Leeds"
    )
    doomed = MailingList.objects.create(account=account, name="Doomed", purpose="News")
    kept = MailingList.objects.create(account=account, name="Kept", purpose="News")
    tag = Tag.objects.create(account=account, name="vip")
    with connection.cursor() as cursor:
        for list_id, n in ((doomed.pk, count), (kept.pk, KEPT)):
            params = {"list": list_id, "n": n, "tag": tag.pk}
            cursor.execute(
                """
                INSERT INTO lists_subscriber (email, name, phone, attributes, status,
                    is_role_address, created_at, updated_at, mailing_list_id, language)
                SELECT 'reader' || g || '@example.org', 'Reader ' || g, '', '{}', 'subscribed',
                       false, now(), now(), %(list)s, 'en'
                FROM generate_series(1, %(n)s) g
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO lists_consentrecord (event, source, obtained_at, user_agent,
                    purpose_text, form_url, proof, proof_file, created_at, subscriber_id)
                SELECT e.event, 'web_form', now(), 'Mozilla/5.0', 'News', '', 'bench', '',
                       now(), s.id
                FROM lists_subscriber s
                CROSS JOIN (VALUES ('granted'), ('confirmed')) AS e(event)
                WHERE s.mailing_list_id = %(list)s
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO lists_subscriberchange (changes, channel, changed_at, subscriber_id)
                SELECT '{"name": ["a", "b"]}', 'browser', now(), s.id
                FROM lists_subscriber s WHERE s.mailing_list_id = %(list)s AND s.id %% 4 = 0
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO lists_subscribertag (subscriber_id, tag_id)
                SELECT s.id, %(tag)s
                FROM lists_subscriber s WHERE s.mailing_list_id = %(list)s AND s.id %% 2 = 0
                """,
                params,
            )
    connection.close()
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as admin:
        for table in (
            "lists_subscriber",
            "lists_consentrecord",
            "lists_subscriberchange",
            "lists_subscribertag",
        ):
            admin.execute(f"VACUUM ANALYZE {table}")
    return doomed.pk, kept.pk


def rows_of(list_id: int) -> dict[str, int]:
    from lists.models import ConsentRecord, Subscriber, SubscriberChange, SubscriberTag

    return {
        "subscribers": Subscriber.objects.filter(mailing_list_id=list_id).count(),
        "consent records": ConsentRecord.objects.filter(
            subscriber__mailing_list_id=list_id
        ).count(),
        "changes": SubscriberChange.objects.filter(subscriber__mailing_list_id=list_id).count(),
        "tag links": SubscriberTag.objects.filter(subscriber__mailing_list_id=list_id).count(),
    }


def run(name: str, count: int) -> float:
    from django.db import connection, transaction

    from lists.models import ConsentRecord, Subscriber

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE lists_subscribertag, lists_subscriberchange, lists_consentrecord, "
            "lists_subscriber, lists_tag, lists_mailinglist, accounts_account CASCADE"
        )
    doomed, kept = seed(count)
    kept_before = rows_of(kept)
    records_before = ConsentRecord.objects.count()
    started = time.perf_counter()
    with transaction.atomic():
        deleted = IMPLS[name](Subscriber.objects.filter(mailing_list_id=doomed))
    seconds = time.perf_counter() - started
    left = rows_of(doomed)
    assert deleted == count, (name, deleted)
    assert not any(left.values()), (name, left)
    assert rows_of(kept) == kept_before, name
    assert ConsentRecord.objects.count() == records_before - 2 * count, name
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--impls", default="raw,service,ids")
    args = parser.parse_args()
    impls = args.impls.split(",")
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("The bench needs PostgreSQL: set DATABASE_URL=postgres://...")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    media = tempfile.TemporaryDirectory(prefix="subscribers-delete-bench-media-")
    os.environ["MEDIA_ROOT"] = media.name
    prepare_database(url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    figures: dict[str, list[float]] = {name: [] for name in impls}
    for rep in range(args.reps):
        order = impls if rep % 2 == 0 else list(reversed(impls))
        for name in order:
            seconds = run(name, args.subscribers)
            figures[name].append(seconds)
            print(
                f"rep {rep + 1} {name:<8} {seconds:7.2f} s  (load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
    print(f"{args.subscribers:,} subscribers, 2 consent records each, median of {args.reps}:")
    reference = statistics.median(figures[impls[0]])
    for name in impls:
        median = statistics.median(figures[name])
        print(f"  {name:<8} {median:7.2f} s   {median / reference:5.2f} x {impls[0]}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    media.cleanup()


if __name__ == "__main__":
    main()
