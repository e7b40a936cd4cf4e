"""Deleting an account's data is a list of steps, one per app (config.account_data): every model
with a path to an account is covered by a step, deleted or kept on purpose; the steps delete
set-based; and what points at the account's sender domains goes with them."""

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from campaigns.models import Delivery, TrackingEvent
from complaints.models import BlocklistListing
from config.account_data import rows_delete
from lists.models import ConsentRecord, MailingList, Subscriber
from moderation.enforcement import deletion
from tests.factories import SenderDomainFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory


def _models_with_a_path_to_account() -> set:
    """Every model (through tables too) with a foreign key to Account, or to a model that has
    one, and so on: the rows that belong to an account."""
    models = apps.get_models(include_auto_created=True)
    owned = {Account}
    grown = True
    while grown:
        grown = False
        for model in models:
            if model in owned:
                continue
            if any(
                field.many_to_one or field.one_to_one
                for field in model._meta.concrete_fields
                if field.is_relation and field.related_model in owned
            ):
                owned.add(model)
                grown = True
    return owned


def test_every_model_with_a_path_to_an_account_is_covered_by_a_step():
    covered = set().union(*(step.covers() for step in deletion.STEPS))

    missing = sorted(m._meta.label for m in _models_with_a_path_to_account() - covered)

    assert missing == [], (
        "These models hold an account's rows but no deletion step covers them: add them to the "
        "`deletes` (or, with why, the `keeps`) of their app's ACCOUNT_DATA step"
    )


def test_the_search_follows_paths_through_lists_and_campaigns():
    found = {m._meta.label for m in _models_with_a_path_to_account()}

    # Direct, through a list, through a campaign, through a delivery, through a sender domain.
    assert {
        "accounts.Notification",
        "lists.Subscriber",
        "campaigns.Delivery",
        "campaigns.TrackingEvent",
        "complaints.BlocklistListing",
    } <= found
    assert "lists.PlatformSuppression" not in found


def test_each_model_is_covered_once_and_each_step_is_its_own_apps():
    seen: dict = {}
    for step in deletion.STEPS:
        for model in step.covers():
            assert model not in seen, f"{model._meta.label}: both {seen[model]} and {step.app}"
            seen[model] = step.app
            if model._meta.app_label in {"accounts", "lists", "campaigns", "complaints"}:
                assert model._meta.app_label == step.app or step.app == "accounts"
    assert [step.app for step in deletion.STEPS] == [
        "complaints",
        "moderation",
        "campaigns",
        "lists",
        "accounts",
    ]


@pytest.mark.django_db
def test_rows_delete_is_one_statement_and_leaves_other_rows():
    mailing_list = MailingListFactory()
    kept = SubscriberFactory()
    for _ in range(3):
        SubscriberFactory(mailing_list=mailing_list)
    # What points at them goes first: rows_delete applies no cascade.
    ConsentRecord.objects.filter(subscriber__mailing_list=mailing_list).delete()

    with CaptureQueriesContext(connection) as queries:
        count = rows_delete(
            Subscriber,
            field="mailing_list",
            keys=MailingList.objects.filter(pk=mailing_list.pk).values("pk"),
        )

    assert count == 3
    assert len(queries) == 1 and queries[0]["sql"].startswith("DELETE FROM")
    assert list(mailing_list.subscribers.all()) == []
    kept.refresh_from_db()


@pytest.mark.django_db
def test_a_blocklisted_sender_domain_is_deleted_with_its_listings():
    domain = SenderDomainFactory(domain="acme.example")
    BlocklistListing.objects.create(
        kind="domain", subject="acme.example", zone="dbl.example", sender_domain=domain
    )
    account = domain.account
    Account.objects.filter(pk=account.pk).update(state="scheduled_for_deletion")

    counts = deletion.account_data_delete(account_id=account.pk)

    assert counts["sender_domains"] == 1
    assert not BlocklistListing.objects.exists()
    assert Delivery.objects.count() == TrackingEvent.objects.count() == 0
