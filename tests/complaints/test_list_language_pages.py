"""The unsubscribe and report pages follow the list's language unless the browser asks for
another one the service has (issue 23), and the report page names the subject as the message
had it, never its merge tags (issue 23, item 1)."""

import re

import pytest
from django.core.cache import cache

from campaigns.models import Campaign, Delivery
from campaigns.tokens import MessageTokens
from tests.campaigns.factories import with_approved_version

pytestmark = pytest.mark.django_db

RU = {"accept-language": "ru-RU,ru;q=0.9"}
EN = {"accept-language": "en-US,en;q=0.9"}
CAKES = "{{ subscriber.first_name | default('Hello') }}, our Christmas cakes are here"


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    cache.clear()


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.mark.parametrize(
    ("language", "headers", "expected", "words"),
    [
        ("ru", {}, "ru", "Пожаловаться на это письмо как на спам"),
        ("ru", EN, "en", "Report this message as spam"),
        ("en", RU, "ru", "Пожаловаться на это письмо как на спам"),
        ("en", {}, "en", "Report this message as spam"),
    ],
)
def test_the_report_page_follows_the_list_unless_the_browser_asks(
    client, tokens, mailing_list, language, headers, expected, words
):
    mailing_list.language = language
    mailing_list.save()
    page = client.get(f"/r/{tokens.report()}/", headers=headers)
    assert page["Content-Language"] == expected
    assert words in _text(page)


def test_the_unsubscribe_page_of_a_russian_list_is_russian_for_a_browser_asking_nothing(
    client, tokens, mailing_list, subscriber
):
    mailing_list.language = "ru"
    mailing_list.save()
    url = f"/u/{tokens.unsubscribe()}/"
    page = client.get(url)
    assert page["Content-Language"] == "ru"
    assert '<button type="submit" id="unsubscribe-button">Отписаться</button>' in (
        page.content.decode()
    )
    done = client.post(url, follow=True)
    assert "Вы отписались" in _text(done)
    assert client.get(url, headers=EN)["Content-Language"] == "en"


def _cakes(campaign: Campaign) -> Campaign:
    Campaign.objects.filter(pk=campaign.pk).update(subject=CAKES)
    campaign.refresh_from_db()
    return with_approved_version(campaign)


def test_the_report_page_shows_the_subject_as_sent_not_the_template(
    client, campaign, delivery, tokens
):
    _cakes(campaign)
    Delivery.objects.filter(pk=delivery.pk).update(
        email="ann.lee@example.org", merge_data={"name": "Ann Lee"}
    )
    # Edited after approval: the recipient got the approved version's subject.
    Campaign.objects.filter(pk=campaign.pk).update(subject="Edited {{ subscriber.email }}")

    page = client.get(f"/r/{tokens.report()}/")

    text = _text(page)
    assert "Did you receive “Ann, our Christmas cakes are here” from" in text
    assert "{{" not in page.content.decode() and "Edited" not in text


def test_a_recipient_without_a_name_sees_the_default_the_message_had(
    client, campaign, delivery, tokens, subscriber
):
    _cakes(campaign)
    Delivery.objects.filter(pk=delivery.pk).update(email=subscriber.email, merge_data={"name": ""})
    page = client.get(f"/r/{tokens.report()}/", headers=RU)
    assert "Вы получили «Hello, our Christmas cakes are here» от" in _text(page)
    assert "{{" not in page.content.decode()


def test_a_test_messages_report_link_shows_the_subject_filled_in(client, campaign, subscriber):
    Campaign.objects.filter(pk=campaign.pk).update(subject=CAKES)
    token = MessageTokens(
        campaign_id=campaign.pk, subscriber_id=subscriber.pk, is_test=True
    ).report()
    page = client.get(f"/r/{token}/")
    assert "“Ann, our Christmas cakes are here”" in _text(page)
