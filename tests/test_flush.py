"""After a transactional test every table is empty again (tests/postgresql/base.py empties them
by DELETE with the triggers off on PostgreSQL, by Django's TRUNCATE elsewhere)."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from lists.models import Subscriber, SubscriberCount
from tests.campaigns.factories import subscribe_many
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory
from tests.postgresql.base import KEPT_TABLES


@pytest.mark.django_db(transaction=True)
def test_the_flush_after_a_transactional_test_empties_every_table():
    mailing_list = MailingListFactory(account=UserFactory().account)
    subscribe_many(mailing_list, 30)
    # The subscriber-count trigger wrote the list's count; deleting subscribers fires it again.
    assert SubscriberCount.objects.exists() and Subscriber.objects.count() == 30
    migrated = _content_types_and_permissions()

    # As TransactionTestCase flushes after each test: without resetting sequences, which would
    # take Django's TRUNCATE instead of tests/postgresql's DELETE.
    call_command(
        "flush", verbosity=0, interactive=False, reset_sequences=False, inhibit_post_migrate=True
    )

    left = {
        model._meta.db_table: model._default_manager.count()
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }
    kept = KEPT_TABLES if connection.vendor == "postgresql" else set()
    assert {table: rows for table, rows in left.items() if rows and table not in kept} == {}
    if kept:
        # What post_migrate would create again, left as migrate made it: every model's content
        # type and permissions, the same rows (ids included).
        assert _content_types_and_permissions() == migrated
        assert ContentType.objects.filter(app_label="lists", model="subscriber").exists()
        assert Permission.objects.filter(codename="view_subscriber").exists()


def _content_types_and_permissions() -> tuple[list, list]:
    return (
        list(ContentType.objects.order_by("pk").values_list("pk", "app_label", "model")),
        list(Permission.objects.order_by("pk").values_list("pk", "content_type_id", "codename")),
    )


@pytest.mark.django_db
def test_on_postgresql_as_a_superuser_it_deletes_instead_of_truncating():
    if connection.vendor != "postgresql":
        pytest.skip("the DELETE flush is PostgreSQL's")
    statements = connection.ops.sql_flush(no_style(), ["lists_subscriber", "lists_mailinglist"])
    assert statements == [
        "SET LOCAL session_replication_role = replica",
        'DELETE FROM "lists_subscriber"',
        'DELETE FROM "lists_mailinglist"',
    ]
    # The content types and permissions stay: post_migrate would only insert them again.
    kept = connection.ops.sql_flush(
        no_style(), ["django_content_type", "auth_permission", "lists_subscriber"]
    )
    assert kept == [
        "SET LOCAL session_replication_role = replica",
        'DELETE FROM "lists_subscriber"',
    ]
    # Resetting sequences is TRUNCATE's job still.
    reset = connection.ops.sql_flush(no_style(), ["lists_subscriber"], reset_sequences=True)
    assert reset[0].startswith("TRUNCATE")
