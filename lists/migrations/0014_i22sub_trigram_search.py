"""Subscriber search finds any part of an address or a name: trigram (pg_trgm) GIN indexes on
the address and on lower(name), which serve `LIKE '%part%'` (lists.selectors.subscribers_for);
and an index on (list, id) for the page numbers of a long list (lists.paging).

PostgreSQL only (TrigramExtension does nothing elsewhere; SQLite scans, which is fine for the
small databases it runs). Built CONCURRENTLY, outside a transaction, so that a deploy on a table
of millions of subscribers does not block sign-ups, imports and unsubscribes while it builds.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "subscriber_email_trgm": "USING gin (email gin_trgm_ops)",
    "subscriber_name_trgm": "USING gin (lower(name) gin_trgm_ops)",
    # The unsearched list's page numbers: OFFSET over (list, id) is an index-only scan; the
    # primary key alone made it read every skipped row to check its list (lists.paging).
    "subscriber_list_id": "(mailing_list_id, id)",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, how in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON lists_subscriber {how}"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("lists", "0013_i22sub_subscriber_change"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
