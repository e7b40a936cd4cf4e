"""campaigns.delivery_updates: the one way other apps (complaints' feedback) write a delivery."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from campaigns.delivery_updates import deliveries_feedback_record
from campaigns.models import Delivery, DeliveryStatus
from tests.campaigns.factories import CampaignFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliveries(user):
    mailing_list = MailingListFactory(account=user.account)
    campaign = CampaignFactory(account=user.account)
    return [
        Delivery.objects.create(
            campaign=campaign,
            subscriber=SubscriberFactory(mailing_list=mailing_list),
            provider="other",
            status=DeliveryStatus.SENT,
        )
        for _ in range(3)
    ]


def test_writes_the_feedback_times_of_the_given_rows_only(deliveries):
    first, second, untouched = deliveries
    now = timezone.now()
    rows = [
        SimpleNamespace(pk=first.pk, complained_at=now, delivered_at=None),
        SimpleNamespace(pk=second.pk, complained_at=None, delivered_at=now - timedelta(minutes=1)),
    ]
    deliveries_feedback_record(deliveries=rows, fields={"delivered_at", "complained_at"})
    written = {
        pk: (delivered, complained)
        for pk, delivered, complained in Delivery.objects.values_list(
            "pk", "delivered_at", "complained_at"
        )
    }
    assert written[first.pk] == (None, now)
    assert written[second.pk] == (now - timedelta(minutes=1), None)
    assert written[untouched.pk] == (None, None)


def test_refuses_any_field_but_a_feedback_time(deliveries):
    row = SimpleNamespace(pk=deliveries[0].pk, status=DeliveryStatus.FAILED)
    with pytest.raises(ValueError, match="status"):
        deliveries_feedback_record(deliveries=[row], fields=["status"])
    assert Delivery.objects.get(pk=deliveries[0].pk).status == DeliveryStatus.SENT


def test_nothing_to_write_is_no_statement(deliveries, django_assert_num_queries):
    with django_assert_num_queries(0):
        deliveries_feedback_record(deliveries=[], fields=["delivered_at"])
