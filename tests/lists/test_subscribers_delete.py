"""subscribers_delete: set-based (as many statements for five subscribers as for one), with the
consent history, recorded edits and tag links of those subscribers and nothing else."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lists.models import ConsentRecord, Subscriber, SubscriberChange, SubscriberTag, Tag
from lists.services.subscribers import subscribers_delete
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def _with_history(subscriber: Subscriber, tag: Tag) -> Subscriber:
    SubscriberChange.objects.create(
        subscriber=subscriber, changes={"name": ["a", "b"]}, channel="browser"
    )
    SubscriberTag.objects.create(subscriber=subscriber, tag=tag)
    return subscriber


@pytest.fixture
def tag(user):
    return Tag.objects.create(account=user.account, name="vip")


def test_deletes_the_subscribers_and_what_hangs_off_them_and_nothing_else(user, tag):
    doomed = MailingListFactory(account=user.account)
    kept = MailingListFactory(account=user.account)
    for _ in range(5):
        _with_history(SubscriberFactory(mailing_list=doomed), tag)
    survivor = _with_history(SubscriberFactory(mailing_list=kept), tag)

    assert subscribers_delete(Subscriber.objects.filter(mailing_list=doomed)) == 5

    assert list(Subscriber.objects.values_list("pk", flat=True)) == [survivor.pk]
    assert list(ConsentRecord.objects.values_list("subscriber_id", flat=True)) == [survivor.pk]
    assert list(SubscriberChange.objects.values_list("subscriber_id", flat=True)) == [survivor.pk]
    assert list(SubscriberTag.objects.values_list("subscriber_id", flat=True)) == [survivor.pk]
    assert Tag.objects.filter(pk=tag.pk).exists()


def _statements(count: int, user, tag) -> list[str]:
    mailing_list = MailingListFactory(account=user.account)
    for _ in range(count):
        _with_history(SubscriberFactory(mailing_list=mailing_list), tag)
    with CaptureQueriesContext(connection) as queries:
        assert subscribers_delete(Subscriber.objects.filter(mailing_list=mailing_list)) == count
    return [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]


def test_set_based_as_many_statements_for_five_subscribers_as_for_one(user, tag):
    one = _statements(1, user, tag)
    five = _statements(5, user, tag)
    # The proof files' names, then a DELETE a table: no row is loaded, none deleted alone.
    assert one == five == ["SELECT", "DELETE", "DELETE", "DELETE", "DELETE"]
    assert not Subscriber.objects.exists()


def test_nothing_matched_deletes_nothing(user, tag):
    ann = _with_history(
        SubscriberFactory(mailing_list=MailingListFactory(account=user.account)), tag
    )

    assert subscribers_delete(Subscriber.objects.none()) == 0
    assert subscribers_delete(Subscriber.objects.filter(email="nobody@example.org")) == 0

    assert list(Subscriber.objects.values_list("pk", flat=True)) == [ann.pk]
    assert ConsentRecord.objects.count() == 1
    assert SubscriberTag.objects.count() == 1
