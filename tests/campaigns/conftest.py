import pytest
from django.utils import timezone

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
    return SubscriberFactory(
        mailing_list=mailing_list,
        email="ann.lee@example.org",
        name="Ann Lee",
        attributes={"city": "Leeds"},
    )


@pytest.fixture
def campaign_fields(sender_domain, mailing_list):
    return {
        "name": "November news",
        "lists": [mailing_list.pk],
        "subject": "Hello {{ subscriber.first_name | default('friend') }}",
        "from_name": "Acme News",
        "from_email": "news@news.acme.example",
        "reply_to": "",
        "html_body": '<p>Hi {{ subscriber.name }}, see <a href="https://acme.example/new">new</a>.</p>',
        "text_body": "",
    }
