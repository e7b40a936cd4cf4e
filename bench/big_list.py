"""A list of a million subscribers, each with a consent record, for the subscriber benches
(bench/subscriber_search_bench.py, bench/export_bench.py). Written by SQL (generate_series),
so making it takes a minute or two, not an import's; kept between runs (one list per size).

Addresses and names vary like real ones do for a trigram index (hex fragments, 500 domains):
`user<i>.<8 hex>@shop<i % 500>.example`, "<Title-cased 6 hex> <Title-cased 9 hex>".
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/consentmail_subscriber_bench"


def setup_django(database_url: str) -> None:
    """Create the database if needed, point Django at it and migrate it."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not found.fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def big_list(rows: int):
    """The bench list of `rows` subscribers (made on first use), with its account."""
    from django.db import connection

    from accounts.models import Account
    from lists.models import MailingList

    name = f"Bench list of {rows}"
    found = MailingList.objects.filter(name=name).select_related("account").first()
    if found is not None:
        return found
    account = Account.objects.create(
        company_name="Subscriber Bench Ltd",
        contact_name="Bench",
        phone="+1 555 0100",
        postal_address="1 Bench Street",
    )
    mailing_list = MailingList.objects.create(
        account=account, name=name, purpose="Bench letters.", double_opt_in=False
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO lists_subscriber (mailing_list_id, email, name, phone, attributes, status,
                is_role_address, created_at, updated_at, subscribed_at, language)
            SELECT %s,
                'user' || i || '.' || substr(md5(i::text), 1, 8) || '@shop' || (i %% 500)
                    || '.example',
                initcap(substr(md5((i * 7)::text), 1, 6)) || ' '
                    || initcap(substr(md5((i * 13)::text), 9, 9)),
                '+1 555 ' || lpad((i %% 10000)::text, 4, '0'),
                jsonb_build_object('city', (ARRAY['Leeds', 'Paris', 'Kazan'])[1 + i %% 3]),
                CASE WHEN i %% 20 = 0 THEN 'unsubscribed' ELSE 'subscribed' END,
                false, now(), now(), now() - (i %% 365) * interval '1 day', ''
            FROM generate_series(1, %s) AS i
            """,
            [mailing_list.pk, rows],
        )
        cursor.execute(
            """
            INSERT INTO lists_consentrecord (subscriber_id, event, source, obtained_at, ip,
                user_agent, purpose_text, form_url, proof, proof_file, created_at)
            SELECT id, 'granted', 'web_form', subscribed_at, '203.0.113.9', 'Mozilla/5.0',
                'Bench letters.', 'https://shop.example/sign-up', 'Sign-up form', '', now()
            FROM lists_subscriber WHERE mailing_list_id = %s
            """,
            [mailing_list.pk],
        )
        cursor.execute("VACUUM ANALYZE lists_subscriber")
        cursor.execute("VACUUM ANALYZE lists_consentrecord")
    print(f"made {name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return mailing_list
