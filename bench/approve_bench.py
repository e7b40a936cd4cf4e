"""Approving a campaign to 1,000,000 subscribers on PostgreSQL: the audience fixed (a waiting
delivery per recipient with its address and merge data), the probe chosen. Prints the seconds
and the peak memory of the worker's step, beside its ceiling measured in the same run: one bare
`INSERT ... SELECT` of the same rows (deduplicated by address, no suppression check, no
provider, no merge data snapshot in Python), and the ratio.

    .venv/bin/python bench/approve_bench.py [--subscribers 1000000] [--database-url ...]

It uses its own database (default consentmail_bench, created and migrated if missing) and
deletes what it made at the end. The aim (issue 17): under 20 s and 300 MB.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import DOMAINS, prepare_database  # noqa: E402


def seed(mailing_list, count: int) -> None:
    """`count` subscribed subscribers with a consent record each, written with COPY."""
    from django.db import connection
    from django.utils import timezone

    from lists.models import ConsentRecord, Subscriber

    now = timezone.now().isoformat()
    subscriber_table = Subscriber._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY {subscriber_table} (mailing_list_id, email, name, phone, attributes, status, "
            "is_role_address, created_at, updated_at, subscribed_at, language) FROM STDIN"
        ) as copy:
            # Written 50,000 rows at a time: the bench's own data must not set the peak memory
            # it reports for the approval.
            for start in range(0, count, 50_000):
                buffer = io.StringIO()
                for n in range(start, min(count, start + 50_000)):
                    city = ("Leeds", "Paris", "Kazan")[n % 3]
                    buffer.write(
                        f"{mailing_list.pk}\tr{n}@{DOMAINS[n % len(DOMAINS)]}\tReader {n}\t\t"
                        f'{{"city": "{city}", "plan": "p{n % 7}"}}\tsubscribed\tf\t'
                        f"{now}\t{now}\t{now}\ten\n"
                    )
                copy.write(buffer.getvalue())
        cursor.execute(
            f"INSERT INTO {ConsentRecord._meta.db_table} (subscriber_id, event, source, "  # noqa: S608
            "obtained_at, purpose_text, ip, user_agent, form_url, proof, proof_file, created_at) "
            f"SELECT id, 'granted', 'web_form', now(), 'News', NULL, '', '', '', '', now() "
            f"FROM {subscriber_table} WHERE mailing_list_id = %s",
            [mailing_list.pk],
        )


def ceiling(campaign, list_id: int) -> float:
    """Seconds for the bare SQL that writes one waiting row per distinct address."""
    from django.db import connection, transaction

    from campaigns.models import Delivery
    from lists.models import Subscriber

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Delivery._meta.db_table} (campaign_id, subscriber_id, provider, email, "  # noqa: S608
            "merge_data, is_probe, status, attempts, possibly_duplicated, error, "
            "provider_message_id, opens, clicks, machine_opens, machine_clicks) "
            "SELECT DISTINCT ON (lower(email)) %s, id, 'other', email, '{}'::jsonb, false, "
            "'waiting', 0, false, '', '', 0, 0, 0, 0 "
            f"FROM {Subscriber._meta.db_table} WHERE mailing_list_id = %s AND status = "
            "'subscribed' ORDER BY lower(email), id",
            [campaign.pk, list_id],
        )
        transaction.set_rollback(True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/consentmail_bench"
    )
    args = parser.parse_args()

    prepare_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from accounts.models import Account
    from campaigns import sending
    from campaigns.models import Campaign, Delivery, DeliveryStatus
    from campaigns.versions import version_freeze
    from lists.models import MailingList
    from lists.services.lists import list_delete

    account = Account.objects.create(
        company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd"
    )
    mailing_list = MailingList.objects.create(
        account=account, name=f"approve bench {time.time()}", purpose="Benchmark."
    )
    started = time.perf_counter()
    seed(mailing_list, args.subscribers)
    print(f"seeded {args.subscribers:,} subscribers in {time.perf_counter() - started:.1f} s")
    campaign = Campaign.objects.create(
        account=account,
        name="Approve bench",
        subject="News for {{ subscriber.attributes.city | default('you') }}",
        from_name="Bench",
        from_email="news@news.bench.example",
        html_body='<p>Hello {{ subscriber.name }}</p><p><a href="https://bench.example/">x</a></p>',
        status="submitted",
    )
    campaign.lists.set([mailing_list])
    campaign.submitted_version = version_freeze(campaign=campaign, actor=None)
    campaign.save(update_fields=["submitted_version"])
    try:
        bare = ceiling(campaign, mailing_list.pk)
        print(f"ceiling: bare INSERT ... SELECT DISTINCT ON of the same rows: {bare:.1f} s")

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        sending.campaign_approve(
            campaign_id=campaign.pk, actor=None, version_id=campaign.submitted_version_id
        )
        approved = time.perf_counter()
        if os.environ.get("PROFILE"):
            import cProfile

            cProfile.runctx(
                "sending.campaign_start_probe(campaign_id=campaign.pk)",
                globals(),
                {"sending": sending, "campaign": campaign},
                os.environ["PROFILE"],
            )
            campaign.refresh_from_db()
        else:
            campaign = sending.campaign_start_probe(campaign_id=campaign.pk)
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        waiting = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.WAITING)
        print(
            f"approval: {approved - started:.2f} s (the web request); fixing the audience and "
            f"choosing the probe: {elapsed - (approved - started):.1f} s"
        )
        print(
            f"  {campaign.recipients_at_approval:,} recipients fixed, probe of "
            f"{campaign.probe_size:,}, {waiting.count():,} waiting for the release"
        )
        print(f"  total {elapsed:.1f} s; ceiling {bare:.1f} s; ratio {bare / elapsed:.0%}")
        print(f"  peak memory (max RSS): {peak:.0f} MB (before: {rss_before:.0f} MB)")
    finally:
        started = time.perf_counter()
        Delivery.objects.filter(campaign=campaign).delete()
        Campaign.objects.filter(pk=campaign.pk).update(
            submitted_version=None, approved_version=None
        )
        Campaign.objects.filter(pk=campaign.pk).delete()
        list_delete(mailing_list=mailing_list)
        account.delete()
        print(f"cleaned up in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
