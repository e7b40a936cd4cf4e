import threading

import pytest

from config.bulk import run_ahead


def test_run_ahead_yields_everything_in_order():
    assert list(run_ahead(iter(range(100)), depth=2)) == list(range(100))


def test_run_ahead_raises_the_producers_error_after_the_items_before_it():
    def produce():
        yield 1
        yield 2
        raise ValueError("row 3 is broken")

    seen = []
    with pytest.raises(ValueError, match="row 3 is broken"):
        for item in run_ahead(produce()):
            seen.append(item)
    assert seen == [1, 2]


def test_run_ahead_stops_its_thread_when_the_consumer_stops():
    produced = []

    def produce():
        for i in range(1000):
            produced.append(i)
            yield i

    for item in run_ahead(produce(), depth=2):
        if item == 3:
            break
    assert not any(t.name == "run-ahead" and t.is_alive() for t in threading.enumerate())
    assert len(produced) < 10  # it ran ahead by a couple of items, not through the file


@pytest.mark.django_db
def test_update_rows_writes_each_rows_own_values_in_one_statement(django_assert_num_queries):
    from django.db import connection
    from django.utils import timezone

    from config.bulk import update_rows
    from lists.models import Subscriber
    from tests.lists.factories import MailingListFactory, SubscriberFactory

    mailing_list = MailingListFactory()
    ann, bob, cy = (
        SubscriberFactory(mailing_list=mailing_list, email=f"{n}@example.org")
        for n in ("ann", "bob", "cy")
    )
    ann.status, ann.unsubscribed_at = "complained", timezone.now()
    bob.status, bob.unsubscribed_at = "bounced", None

    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        update_rows(Subscriber, [ann, bob], ["status", "unsubscribed_at"])

    found = dict(Subscriber.objects.values_list("email", "status"))
    assert found == {
        "ann@example.org": "complained",
        "bob@example.org": "bounced",
        "cy@example.org": cy.status,
    }
    assert Subscriber.objects.get(pk=ann.pk).unsubscribed_at == ann.unsubscribed_at
    assert Subscriber.objects.get(pk=bob.pk).unsubscribed_at is None


@pytest.mark.django_db
def test_insert_new_rows_keeps_what_is_there_and_the_first_of_the_rows():
    from config.bulk import insert_new_rows
    from lists.models import Suppression
    from tests.factories import AccountFactory

    account = AccountFactory()
    Suppression.objects.create(account=account, email_hash="a", email="a@x", reason="complained")

    insert_new_rows(
        Suppression,
        ["account_id", "email_hash", "email", "reason"],
        [
            (account.pk, "a", "a@x", "unsubscribed"),
            (account.pk, "b", "b@x", "hard_bounce"),
            (account.pk, "b", "", "unsubscribed"),
        ],
    )

    found = {s.email_hash: (s.email, s.reason) for s in Suppression.objects.all()}
    assert found == {"a": ("a@x", "complained"), "b": ("b@x", "hard_bounce")}
    assert Suppression.objects.get(email_hash="b").created_at is not None
