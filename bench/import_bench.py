"""Import a generated 1,000,000-row CSV into PostgreSQL; print rows/s, its ceiling and peak memory.

    .venv/bin/python bench/import_bench.py [--rows 1000000] [--database-url postgres://...]

It uses its own database (default i20_import_bench on 127.0.0.1, created and migrated if
missing), runs the import the way a worker does (`import_run`) and reports the peak resident
memory of this process, which parses the file and writes the rows.

The ceiling is plain SQL on the same server and the same rows, measured in the same run: COPY of
the file into an unlogged stage table, one `INSERT ... ON CONFLICT DO NOTHING` into a table with
the subscribers' unique index, and one consent row per subscriber written into a table with a
deferred foreign key to it, in one transaction. The ratio is the import's rows/s over it.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "yandex.ru", "mail.ru", "example.org"]
FIRST = ["Anna", "Boris", "Chloe", "Dmitri", "Emma", "Farid", "Grace", "Hugo", "Ирина", "Олег"]


TAGS = ["", "", "vip", "customer", "vip; customer", "event-2026", "customer, newsletter"]


def generate(path: Path, rows: int, *, tags: bool = False) -> None:
    rng = random.Random(42)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "phone", "city"] + (["tags"] if tags else []))
        for i in range(rows):
            first = rng.choice(FIRST)
            writer.writerow(
                [
                    f"{first.lower() if first.isascii() else 'user'}.{i}@{rng.choice(DOMAINS)}",
                    f"{first} {i}",
                    f"+1 555 {i % 10000:04d}",
                    rng.choice(["Leeds", "Paris", "Kazan", ""]),
                ]
                + ([rng.choice(TAGS)] if tags else [])
            )


def prepare_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def measure(label: str, mailing_list, source: Path, *, tags: bool = False) -> tuple[float, float]:
    """Run one import of `source` into `mailing_list` the way a worker does; print its figures."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from lists.models import ImportJob, ImportStatus
    from lists.services.imports import import_create, import_run

    upload = SimpleUploadedFile(source.name, b"")
    upload.file = source.open("rb")
    upload.size = source.stat().st_size
    job = import_create(
        mailing_list=mailing_list,
        user=None,
        upload=upload,
        consent_source="paper_form",
        proof="Benchmark",
        start=False,
    )
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.QUEUED,
        column_map={
            "email": 0,
            "name": 1,
            "phone": 2,
            "attributes": {"city": 3},
            **({"tags": 4} if tags else {}),
        },
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    cpu_started = time.process_time()
    status = import_run(import_id=job.pk)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    job.refresh_from_db()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{label}: status {status}: imported {job.imported:,}, updated {job.updated:,}, "
        f"skipped {job.skipped:,} of {job.total_rows:,} rows"
    )
    if tags:
        from lists.models import SubscriberTag

        links = SubscriberTag.objects.filter(subscriber__mailing_list=mailing_list).count()
        print(f"  {links:,} tag links (the ceiling writes the same links)")
    print(f"  took {elapsed:.1f} s: {job.processed / elapsed:,.0f} rows per second")
    print(f"  CPU time of this process {cpu:.1f} s ({cpu / elapsed:.0%} of the wall time)")
    print(f"  peak memory (max RSS): {peak:.0f} MB (before the import: {rss_before:.0f} MB)")
    return elapsed, peak


def ceiling(source: Path, rows: int, *, tags: bool = False) -> float:
    """Plain SQL on the same rows: COPY into an unlogged stage, INSERT ... ON CONFLICT into a
    table with the same unique index, a consent row per subscriber with a deferred foreign
    key; one transaction. Returns the seconds it took (file read included)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            DROP TABLE IF EXISTS bench_ceiling_consent, bench_ceiling_subscriber,
                bench_ceiling_stage, bench_ceiling_tag, bench_ceiling_subscribertag;
            CREATE UNLOGGED TABLE bench_ceiling_stage (
                email text, name text, phone text, city text, tags text);
            CREATE TABLE bench_ceiling_subscriber (LIKE lists_subscriber INCLUDING ALL);
            CREATE TABLE bench_ceiling_consent (LIKE lists_consentrecord INCLUDING ALL);
            CREATE TABLE bench_ceiling_tag (LIKE lists_tag INCLUDING ALL);
            CREATE TABLE bench_ceiling_subscribertag (LIKE lists_subscribertag INCLUDING ALL);
            ALTER TABLE bench_ceiling_consent ADD FOREIGN KEY (subscriber_id)
                REFERENCES bench_ceiling_subscriber (id) DEFERRABLE INITIALLY DEFERRED;
            """
        )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        with (
            source.open("rb") as handle,
            cursor.cursor.copy(
                "COPY bench_ceiling_stage (email, name, phone, city"
                + (", tags" if tags else "")
                + ") FROM STDIN (FORMAT csv, HEADER true)"
            ) as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        cursor.execute(
            """
            INSERT INTO bench_ceiling_subscriber (mailing_list_id, email, name, phone,
                attributes, status, is_role_address, created_at, updated_at, subscribed_at,
                language)
            SELECT 1, lower(email), name, phone, jsonb_build_object('city', city),
                'subscribed', false, now(), now(), now(), ''
            FROM bench_ceiling_stage
            ON CONFLICT DO NOTHING
            """
        )
        cursor.execute(
            """
            INSERT INTO bench_ceiling_consent (subscriber_id, event, source, obtained_at,
                user_agent, purpose_text, form_url, proof, proof_file, created_at)
            SELECT id, 'granted', 'paper_form', now(), '', 'Benchmark.', '', 'Benchmark', '',
                now()
            FROM bench_ceiling_subscriber
            """
        )
        if tags:
            # the same work the import does for the column: each name once per account, then
            # one link per (subscriber, tag), names split on ; and , as the import splits them
            cursor.execute(
                """
                CREATE TEMPORARY TABLE bench_ceiling_pairs ON COMMIT DROP AS
                SELECT DISTINCT lower(stage.email) AS email, trim(part) AS name
                FROM bench_ceiling_stage AS stage,
                    regexp_split_to_table(coalesce(stage.tags, ''), '[;,]') AS part
                WHERE trim(part) <> ''
                """
            )
            cursor.execute(
                """
                INSERT INTO bench_ceiling_tag (account_id, name, created_at)
                SELECT DISTINCT ON (lower(name)) 1, name, now() FROM bench_ceiling_pairs
                ON CONFLICT DO NOTHING
                """
            )
            cursor.execute(
                """
                INSERT INTO bench_ceiling_subscribertag (subscriber_id, tag_id)
                SELECT subscriber.id, tag.id
                FROM bench_ceiling_pairs AS pair
                JOIN bench_ceiling_subscriber AS subscriber
                    ON subscriber.mailing_list_id = 1 AND subscriber.email = pair.email
                JOIN bench_ceiling_tag AS tag ON lower(tag.name) = lower(pair.name)
                ON CONFLICT DO NOTHING
                """
            )
        cursor.execute("COMMIT")
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_ceiling_subscriber")
        written = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM bench_ceiling_subscribertag")
        links = cursor.fetchone()[0]
        cursor.execute(
            "DROP TABLE bench_ceiling_consent, bench_ceiling_subscriber, bench_ceiling_stage, "
            "bench_ceiling_tag, bench_ceiling_subscribertag"
        )
    print(
        f"ceiling (plain SQL, same rows, same server): {written:,} of {rows:,} rows in "
        f"{elapsed:.1f} s: {rows / elapsed:,.0f} rows per second"
        + (f"; {links:,} tag links" if tags else "")
    )
    return elapsed


def setup_django(database_url: str) -> None:
    """Point Django at the bench database (created and migrated if missing), as a worker runs."""
    prepare_database(database_url)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ["DEBUG"] = "false"  # as on a worker: DEBUG would also keep every query in memory
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/i20_import_bench"
    )
    parser.add_argument("--keep", action="store_true", help="keep the imported list afterwards")
    parser.add_argument(
        "--twice", action="store_true", help="import the same file again into the same list"
    )
    parser.add_argument(
        "--tags",
        action="store_true",
        help="add a tags column (0 to 2 tags a row) that the import maps and writes",
    )
    args = parser.parse_args()

    setup_django(args.database_url)
    from django.conf import settings

    from accounts.models import Account
    from lists.models import MailingList
    from lists.services.lists import list_delete

    with tempfile.TemporaryDirectory() as tmp:
        settings.MEDIA_ROOT = tmp
        source = Path(tmp) / "subscribers.csv"
        started = time.perf_counter()
        generate(source, args.rows, tags=args.tags)
        size = source.stat().st_size
        print(
            f"generated {args.rows:,} rows ({size / 1e6:.1f} MB) in "
            f"{time.perf_counter() - started:.1f} s"
        )

        account = Account.objects.create(
            company_name="Bench Ltd", contact_name="B", phone="1", postal_address="1 Bench Rd"
        )
        mailing_list = MailingList.objects.create(
            account=account, name=f"bench {time.time()}", purpose="Benchmark."
        )
        settings.IMPORT_MAX_BYTES = max(settings.IMPORT_MAX_BYTES, size + 1)
        print(f"batch size {settings.IMPORT_BATCH_SIZE}, database {args.database_url}")
        ceiling_seconds = ceiling(source, args.rows, tags=args.tags)
        for run in ("first import", "same file again")[: 2 if args.twice else 1]:
            elapsed, peak = measure(run, mailing_list, source, tags=args.tags)
            print(
                f"  figure {args.rows / elapsed:,.0f} rows/s; ceiling "
                f"{args.rows / ceiling_seconds:,.0f} rows/s; ratio "
                f"{ceiling_seconds / elapsed:.0%} (goal: at least 50%); peak {peak:.0f} MB "
                "(goal: under 300 MB)"
            )

    if not args.keep:
        started = time.perf_counter()
        list_delete(mailing_list=mailing_list)
        print(f"deleting the list and its subscribers took {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
