"""A list has a language (issue 23): the owner's by default, set in the list form and the API,
shown on the list page; its confirmation e-mail and recipient pages follow it unless the
recipient's browser asks for another language the service has."""

import re

import pytest
from django.core import mail
from django.core.cache import cache

from config.errors import ApplicationError
from lists.models import MailingList, SubscriberStatus
from lists.services.lists import list_create, list_update
from lists.services.optin import subscriber_send_confirmation, subscription_confirm_token
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

RU = {"accept-language": "ru-RU,ru;q=0.9"}
EN = {"accept-language": "en-GB,en;q=0.8"}
GERMAN = {"accept-language": "de-DE,de;q=0.9"}
POLICY = "https://shop.example.org/privacy"


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    cache.clear()


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_a_new_list_speaks_its_owners_language_unless_told():
    russian_owner = UserFactory(language="ru")
    no_choice = UserFactory(language="")

    assert (
        list_create(
            account=russian_owner.account, name="Новости", purpose="x", privacy_policy_url=POLICY
        ).language
        == "ru"
    )
    assert (
        list_create(
            account=no_choice.account, name="News", purpose="x", privacy_policy_url=POLICY
        ).language
        == "en"
    )
    assert (
        list_create(
            account=russian_owner.account,
            name="English news",
            purpose="x",
            privacy_policy_url=POLICY,
            language="en",
        ).language
        == "en"
    )


def test_a_language_the_service_does_not_have_is_refused():
    owner = UserFactory()
    with pytest.raises(ApplicationError) as refused:
        list_create(
            account=owner.account, name="N", purpose="x", privacy_policy_url=POLICY, language="de"
        )
    assert refused.value.field == "language"
    assert not MailingList.objects.exists()
    mailing_list = MailingListFactory(account=owner.account)
    with pytest.raises(ApplicationError):
        list_update(mailing_list=mailing_list, language="xx")
    mailing_list.refresh_from_db()
    assert mailing_list.language == "en"


def test_the_list_form_offers_the_owners_language_and_the_page_shows_the_choice(client):
    owner = UserFactory(language="ru")
    client.force_login(owner)
    form = client.get("/lists/new/").content.decode()
    assert re.search(r'<option value="ru" selected>Русский</option>', form)

    client.post(
        "/lists/new/",
        {"name": "Garden", "purpose": "Tips", "privacy_policy_url": POLICY, "language": "en"},
    )
    mailing_list = MailingList.objects.get(name="Garden")
    assert mailing_list.language == "en"
    page = client.get(f"/lists/{mailing_list.pk}/").content.decode()
    assert '<span class="badge" id="list-language" lang="en">English</span>' in page

    client.post(
        f"/lists/{mailing_list.pk}/edit/",
        {"name": "Garden", "purpose": "Tips", "privacy_policy_url": POLICY, "language": "ru"},
    )
    mailing_list.refresh_from_db()
    assert mailing_list.language == "ru"


def test_the_api_takes_and_gives_the_language(token_client, user):
    created = token_client.post(
        "/api/v1/lists/",
        {"name": "Новости", "purpose": "x", "privacy_policy_url": POLICY, "language": "ru"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["language"] == "ru"
    list_id = created.json()["id"]

    changed = token_client.patch(f"/api/v1/lists/{list_id}/", {"language": "en"}, format="json")
    assert changed.json()["language"] == "en"
    refused = token_client.patch(f"/api/v1/lists/{list_id}/", {"language": "de"}, format="json")
    assert refused.status_code == 400
    assert token_client.get(f"/api/v1/lists/{list_id}/").json()["language"] == "en"
    default = token_client.post(
        "/api/v1/lists/",
        {"name": "News", "purpose": "x", "privacy_policy_url": POLICY},
        format="json",
    )
    assert default.json()["language"] == "en"


def test_the_confirmation_email_of_a_russian_list_is_russian():
    mailing_list = MailingListFactory(name="Сад", language="ru")
    subscriber = SubscriberFactory(
        mailing_list=mailing_list, email="reader@example.org", status=SubscriberStatus.UNCONFIRMED
    )
    assert subscriber.language == ""  # added by the sender: no page language

    assert subscriber_send_confirmation(subscriber_id=subscriber.pk)

    (message,) = mail.outbox
    assert message.subject == "Подтвердите подписку на «Сад»"
    assert message.extra_headers["Content-Language"] == "ru"


def test_the_confirmation_email_follows_the_page_the_person_signed_up_on():
    mailing_list = MailingListFactory(name="Garden", language="ru")
    subscriber = SubscriberFactory(
        mailing_list=mailing_list, status=SubscriberStatus.UNCONFIRMED, language="en"
    )
    assert subscriber_send_confirmation(subscriber_id=subscriber.pk)
    assert mail.outbox[0].subject == "Please confirm your subscription to Garden"


@pytest.mark.parametrize(
    ("language", "headers", "expected"),
    [
        ("ru", {}, "ru"),  # the browser asks for nothing: the list's
        ("ru", GERMAN, "ru"),  # asks for a language the service lacks: the list's
        ("ru", EN, "en"),  # asks for English, which the service has
        ("en", RU, "ru"),
        ("en", {}, "en"),
    ],
)
def test_the_sign_up_form_follows_the_list_unless_the_browser_asks(
    client, language, headers, expected
):
    mailing_list = MailingListFactory(language=language)
    page = client.get(f"/subscribe/{mailing_list.public_id}/", headers=headers)
    assert page["Content-Language"] == expected
    assert f'<html lang="{expected}">' in page.content.decode()
    assert ("Адрес электронной почты" in _text(page)) == (expected == "ru")


def test_a_sign_up_on_a_russian_list_is_confirmed_in_russian(
    client, django_capture_on_commit_callbacks
):
    mailing_list = MailingListFactory(name="Сад", language="ru")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/subscribe/{mailing_list.public_id}/",
            {"email": "reader@example.org", "name": "Аня", "consent": "on"},
        )
    subscriber = mailing_list.subscribers.get()
    assert subscriber.language == "ru"
    thanks = client.get(f"/subscribe/{mailing_list.public_id}/thanks/?next=confirm")
    assert thanks["Content-Language"] == "ru"

    path = f"/confirm/{subscription_confirm_token(subscriber)}/"
    assert "Да, подпишите меня" in _text(client.get(path))
    assert "Подписка подтверждена" in _text(client.post(path))
    assert client.get(path, headers=EN)["Content-Language"] == "en"


def test_a_used_confirmation_link_says_already_confirmed_not_subscribe_me(client):
    """Issue 23, item 9."""
    mailing_list = MailingListFactory(name="Garden notes")
    subscriber = SubscriberFactory(
        mailing_list=mailing_list, email="reader@example.org", status=SubscriberStatus.UNCONFIRMED
    )
    path = f"/confirm/{subscription_confirm_token(subscriber)}/"
    assert "Yes, subscribe me" in _text(client.get(path))
    client.post(path)

    again = client.get(path)

    assert again.status_code == 200
    text = _text(again)
    assert "Yes, subscribe me" not in text
    assert 'id="already-confirmed"' in again.content.decode()
    assert (
        "You have already confirmed: <strong>reader@example.org</strong> is subscribed to "
        "<strong>Garden notes</strong>."
    ) in again.content.decode()
    russian = _text(client.get(path, headers=RU))
    assert "Уже подтверждено" in russian and "Да, подпишите меня" not in russian
    assert subscriber.consent_records.filter(event="confirmed").count() == 1
