"""A sent message to one subscriber, to report on: what every complaints test starts from."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import MessageTokens
from tests.campaigns.factories import CampaignFactory
from tests.factories import SenderDomainFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory


@pytest.fixture
def account(user):
    return user.account


@pytest.fixture
def sender_domain(account):
    return SenderDomainFactory(
        account=account, domain="news.acme.example", verified_at=timezone.now()
    )


@pytest.fixture
def mailing_list(account):
    return MailingListFactory(account=account, name="Monthly news")


@pytest.fixture
def subscriber(mailing_list):
    return SubscriberFactory(mailing_list=mailing_list, email="ann.lee@example.org", name="Ann")


@pytest.fixture
def campaign(account, mailing_list, sender_domain):
    return CampaignFactory(account=account, lists=[mailing_list], status="holding")


@pytest.fixture
def delivery(campaign, subscriber):
    """Sent an hour ago, in the probe, with the provider's message id the SMTP server gave."""
    return Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        is_probe=True,
        status=DeliveryStatus.SENT,
        sent_at=timezone.now() - timedelta(hours=1),
        provider_message_id="0100018c-provider-id",
    )


@pytest.fixture
def tokens(delivery):
    return MessageTokens(campaign_id=delivery.campaign_id, subscriber_id=delivery.subscriber_id)
