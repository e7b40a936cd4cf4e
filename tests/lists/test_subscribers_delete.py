"""subscribers_delete: set-based, by the ids the queryset matched when called, in batches, with
the consent history, recorded edits and tag links of those subscribers and nothing else."""

import pytest
from django.db.models import Count

from lists.models import ConsentRecord, Subscriber, SubscriberChange, SubscriberTag, Tag
from lists.services import subscribers as subscriber_services
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


def test_deletes_the_subscribers_and_what_hangs_off_them_batch_after_batch(user, tag, monkeypatch):
    monkeypatch.setattr(subscriber_services, "SUBSCRIBERS_DELETE_BATCH", 2)
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


def test_the_subscribers_are_those_the_queryset_matched_when_called(user, tag):
    """A queryset that reads the rows being deleted (here: the consent records) still deletes
    its subscribers: the ids are read before anything goes."""
    mailing_list = MailingListFactory(account=user.account)
    ann = _with_history(SubscriberFactory(mailing_list=mailing_list), tag)
    with_consent = Subscriber.objects.annotate(records=Count("consent_records")).filter(
        records__gt=0
    )

    assert subscribers_delete(with_consent.filter(pk=ann.pk)) == 1

    assert not Subscriber.objects.exists()
    assert not ConsentRecord.objects.exists()
    assert not SubscriberChange.objects.exists()
    assert not SubscriberTag.objects.exists()


def test_nothing_matched_deletes_nothing(user, tag):
    ann = _with_history(
        SubscriberFactory(mailing_list=MailingListFactory(account=user.account)), tag
    )

    assert subscribers_delete(Subscriber.objects.none()) == 0
    assert subscribers_delete(Subscriber.objects.filter(email="nobody@example.org")) == 0

    assert list(Subscriber.objects.values_list("pk", flat=True)) == [ann.pk]
    assert ConsentRecord.objects.count() == 1
    assert SubscriberTag.objects.count() == 1
