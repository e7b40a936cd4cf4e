"""The per-status counters the database keeps must equal a real count after every kind of write."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count

from lists import selectors
from lists.models import Subscriber, SubscriberCount, SubscriberStatus
from lists.services.imports import import_create
from lists.services.optin import subscription_confirm, subscription_confirm_token
from lists.services.privacy import subscriber_erase
from lists.services.subscribers import subscriber_add, subscriber_unsubscribe
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _real(mailing_list):
    counts = dict.fromkeys(SubscriberStatus.values, 0)
    rows = mailing_list.subscribers.values_list("status").annotate(n=Count("id")).order_by()
    counts.update(dict(rows))
    return counts


def test_counters_follow_every_write(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    mailing_list = MailingListFactory(double_opt_in=True)
    other = MailingListFactory(account=mailing_list.account)
    SubscriberFactory.create_batch(3, mailing_list=mailing_list)
    SubscriberFactory(mailing_list=other, email="x@example.org")
    waiting = subscriber_add(
        mailing_list=mailing_list,
        email="wait@example.org",
        consent={"source": "api", "proof": "CRM"},
    )
    import_create(
        mailing_list=mailing_list,
        user=None,
        upload=SimpleUploadedFile(
            "a.csv", b"email\nann@example.org\ninfo@example.org\nx@example.org\n"
        ),
        consent_source="paper_form",
        proof="box 4",
    )
    subscription_confirm(token=subscription_confirm_token(waiting), ip=None)
    subscriber_unsubscribe(subscriber=Subscriber.objects.get(email="ann@example.org"))
    subscriber_unsubscribe(
        subscriber=Subscriber.objects.filter(mailing_list=mailing_list).first(),
        status=SubscriberStatus.BOUNCED,
    )
    Subscriber.objects.filter(email="info@example.org").update(name="Info desk")
    subscriber_erase(account=mailing_list.account, email="x@example.org")

    assert selectors.status_counts(mailing_list=mailing_list) == _real(mailing_list)
    assert (
        selectors.status_counts(mailing_list=other)
        == _real(other)
        == {
            "unconfirmed": 0,
            "subscribed": 0,
            "unsubscribed": 0,
            "bounced": 0,
            "complained": 0,
        }
    )
    assert _real(mailing_list)["subscribed"] == 4
    assert selectors.role_address_share(mailing_list=mailing_list) == 0.25
    listed = selectors.lists_for(account=mailing_list.account).get(pk=mailing_list.pk)
    assert listed.subscriber_count == 4

    mailing_list.delete()
    assert not SubscriberCount.objects.filter(mailing_list_id=mailing_list.pk).exists()
