"""Moderators, senders and campaigns submitted through the real service (so their findings are the
real analyser's)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_token_create
from campaigns import sending
from campaigns.models import Campaign
from tests.campaigns.factories import CampaignFactory, subscribe_many
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory

# Work-from-home wording: the analyser flags it for review (it does not block submission).
QUICK_MONEY_HTML = "<h1>Hello {{ subscriber.name }}</h1><p>Earn a passive income from home.</p>"


@pytest.fixture
def moderator(db):
    """A staff user with no sender account of their own."""
    return UserFactory(email="mo@consentmail.example", is_staff=True, account=None)


@pytest.fixture
def sender(db):
    return UserFactory(email="pat@acme.example", account__company_name="Acme Ltd")


@pytest.fixture
def mailing_list(sender):
    mailing_list = MailingListFactory(account=sender.account, name="Monthly news")
    subscribe_many(mailing_list, 20)
    return mailing_list


def submit(mailing_list, *, submitted_ago: timedelta | None = None, **fields) -> Campaign:
    """A draft to `mailing_list`, submitted by its account through the service."""
    account = mailing_list.account
    campaign = CampaignFactory(account=account, lists=[mailing_list], **fields)
    sending.campaign_submit(account=account, campaign_id=campaign.pk, actor=None)
    if submitted_ago is not None:
        Campaign.objects.filter(pk=campaign.pk).update(submitted_at=timezone.now() - submitted_ago)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def submitted(mailing_list):
    return submit(mailing_list, name="Spring offer", html_body=QUICK_MONEY_HTML)


@pytest.fixture
def mod_api(moderator):
    """The API as a moderator in the browser (session auth)."""
    client = APIClient()
    client.force_login(moderator)
    client.user = moderator
    return client


@pytest.fixture
def sender_api(sender):
    _, key = api_token_create(user=sender, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.user = sender
    return client
