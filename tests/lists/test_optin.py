"""Double opt-in through the hosted form, with mail going through SMTP to the real local sink."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from lists.models import ConsentRecord, Subscriber, SubscriberStatus, Suppression
from lists.services.optin import subscription_confirm_token
from lists.services.subscribers import subscriber_unsubscribe
from lists.services.suppression import suppression_add
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp_to_sink(settings, mail_sink):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mail_sink.port
    settings.SITE_URL = "http://testserver"
    return mail_sink


def _subscribe(client, mailing_list, HTTP_X_FORWARDED_FOR=None, **fields):  # noqa: N803
    data = {"email": "reader@example.org", "name": "Rea Der", "consent": "on", **fields}
    headers = {"HTTP_X_FORWARDED_FOR": HTTP_X_FORWARDED_FOR} if HTTP_X_FORWARDED_FOR else {}
    return client.post(
        f"/subscribe/{mailing_list.public_id}/",
        data,
        HTTP_USER_AGENT="Mozilla/5.0 (test)",
        REMOTE_ADDR="198.51.100.23",
        **headers,
    )


def test_double_opt_in_end_to_end_through_the_mail_sink(client, smtp_to_sink):
    mailing_list = MailingListFactory(name="Garden notes", purpose="Seasonal garden tips.")
    page = client.get(f"/subscribe/{mailing_list.public_id}/")
    assert page.status_code == 200
    assert "Seasonal garden tips." in page.text
    assert mailing_list.account.company_name in page.text
    assert 'name="consent"' in page.text and "checked" not in page.text
    assert page["X-Frame-Options"] == "DENY"  # nobody can frame the consent box to click it

    response = _subscribe(client, mailing_list)
    assert response.status_code == 302
    assert client.get(response["Location"]).text.count("Check your inbox") >= 1
    subscriber = Subscriber.objects.get()
    assert subscriber.status == SubscriberStatus.UNCONFIRMED

    message = smtp_to_sink.wait_for(to="reader@example.org", subject="Please confirm")
    assert "Seasonal garden tips." in message.text
    assert mailing_list.account.company_name in message.text
    path = re.search(r"http://testserver(/confirm/[^\s]+/)", message.text).group(1)

    # Opening the link (a mail scanner does too) changes nothing; the button does.
    assert "Yes, subscribe me" in client.get(path).text
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNCONFIRMED
    confirmed = client.post(path, REMOTE_ADDR="198.51.100.24")
    assert confirmed.status_code == 200
    assert "Subscription confirmed" in confirmed.text
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.SUBSCRIBED
    assert subscriber.subscribed_at is not None
    granted, confirmation = subscriber.consent_records.all()
    assert (granted.event, granted.source, granted.ip) == ("granted", "web_form", "198.51.100.23")
    assert granted.user_agent == "Mozilla/5.0 (test)"
    # What the form showed, as shown (tests/lists/test_informed_consent.py has every sentence).
    assert granted.purpose_text.startswith("What you will receive: Seasonal garden tips.\n")
    assert granted.purpose_text.endswith("\nWe will e-mail you a link to confirm.")
    assert granted.form_url.endswith(f"/subscribe/{mailing_list.public_id}/")
    assert (confirmation.event, confirmation.ip) == ("confirmed", "198.51.100.24")

    assert client.post(path).status_code == 200  # a second click changes nothing
    assert subscriber.consent_records.count() == 2


def test_the_consent_box_must_be_ticked(client, smtp_to_sink):
    mailing_list = MailingListFactory()
    response = _subscribe(client, mailing_list, consent="")
    assert response.status_code == 400
    assert "Tick the box to agree" in response.text
    assert not Subscriber.objects.exists()
    assert smtp_to_sink.messages() == []


def test_adult_lists_require_the_age_confirmation(client, smtp_to_sink):
    mailing_list = MailingListFactory(adult_content=True)
    assert "I confirm I am 18 or older." in client.get(f"/subscribe/{mailing_list.public_id}/").text
    response = _subscribe(client, mailing_list)
    assert response.status_code == 400
    assert "adults only" in response.text
    assert not Subscriber.objects.exists()
    assert _subscribe(client, mailing_list, adult="on").status_code == 302
    assert Subscriber.objects.count() == 1


def test_the_honeypot_answers_like_success_and_stores_nothing(client, smtp_to_sink):
    mailing_list = MailingListFactory()
    response = _subscribe(client, mailing_list, website="http://spam.example")
    assert response.status_code == 302
    assert not Subscriber.objects.exists()
    assert smtp_to_sink.messages() == []


def test_posts_are_rate_limited_per_client(client, settings, smtp_to_sink):
    settings.SUBSCRIBE_RATE_PER_MINUTE = 2
    mailing_list = MailingListFactory(double_opt_in=False)
    assert _subscribe(client, mailing_list, email="a@example.org").status_code == 302
    assert _subscribe(client, mailing_list, email="b@example.org").status_code == 302
    response = _subscribe(client, mailing_list, email="c@example.org")
    assert response.status_code == 429
    assert sorted(Subscriber.objects.values_list("email", flat=True)) == [
        "a@example.org",
        "b@example.org",
    ]


def test_single_opt_in_subscribes_at_once(client, smtp_to_sink):
    mailing_list = MailingListFactory(double_opt_in=False)
    response = _subscribe(client, mailing_list)
    assert "You are subscribed" in client.get(response["Location"]).text
    assert Subscriber.objects.get().status == SubscriberStatus.SUBSCRIBED
    assert smtp_to_sink.messages() == []


def test_a_suppressed_address_must_confirm_even_on_a_single_opt_in_list(client, smtp_to_sink):
    mailing_list = MailingListFactory(double_opt_in=False)
    suppression_add(account=mailing_list.account, email="reader@example.org", reason="unsubscribed")
    _subscribe(client, mailing_list)
    subscriber = Subscriber.objects.get()
    assert subscriber.status == SubscriberStatus.UNCONFIRMED
    smtp_to_sink.wait_for(to="reader@example.org", subject="Please confirm")
    client.post(f"/confirm/{subscription_confirm_token(subscriber)}/")
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.SUBSCRIBED
    assert not Suppression.objects.exists()


def test_an_old_link_does_not_resubscribe_someone_who_left(client, smtp_to_sink):
    subscriber = SubscriberFactory(status=SubscriberStatus.UNCONFIRMED)
    old_link = f"/confirm/{subscription_confirm_token(subscriber)}/"
    subscriber_unsubscribe(subscriber=subscriber, channel="one_click")
    response = client.post(old_link)
    assert response.status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED


@pytest.mark.parametrize("token", ["nonsense", "eyJzIjoxfQ:1abc:tampered"])
def test_a_bad_token_is_a_friendly_404(client, token):
    response = client.get(f"/confirm/{token}/")
    assert response.status_code == 404
    assert "invalid or has expired" in response.text


def test_the_form_is_a_404_for_an_unknown_list(client):
    assert client.get("/subscribe/not-a-list/").status_code == 404


def test_a_subscribed_address_is_not_revealed_or_duplicated(client, smtp_to_sink):
    mailing_list = MailingListFactory()
    SubscriberFactory(mailing_list=mailing_list, email="reader@example.org")
    response = _subscribe(client, mailing_list)
    assert response.status_code == 302
    assert response["Location"].endswith("?next=confirm")  # what a new address gets too
    assert Subscriber.objects.count() == 1
    assert ConsentRecord.objects.count() == 1
    assert mail.outbox == [] and smtp_to_sink.messages() == []


def test_the_form_cannot_flood_an_inbox_with_confirmations(client, settings, smtp_to_sink):
    settings.SUBSCRIBE_RATE_PER_MINUTE = 100
    mailing_list = MailingListFactory()
    for _ in range(5):
        assert _subscribe(client, mailing_list).status_code == 302
    smtp_to_sink.wait_for(to="reader@example.org", subject="Please confirm")
    assert len(smtp_to_sink.messages()) == 1
    # After the quiet period a new request gets a new e-mail.
    Subscriber.objects.update(confirmation_sent_at=timezone.now() - timedelta(hours=1))
    _subscribe(client, mailing_list)
    assert len(smtp_to_sink.messages()) == 2


def test_a_failed_send_gives_the_claim_back_for_the_retry(settings):
    from unittest import mock

    from lists.services.optin import subscriber_send_confirmation

    subscriber = SubscriberFactory(status=SubscriberStatus.UNCONFIRMED)
    with (
        mock.patch("lists.services.optin._send_confirmation", side_effect=ConnectionError),
        pytest.raises(ConnectionError),
    ):
        subscriber_send_confirmation(subscriber_id=subscriber.pk)
    subscriber.refresh_from_db()
    assert subscriber.confirmation_sent_at is None
    assert subscriber_send_confirmation(subscriber_id=subscriber.pk) is True
    assert subscriber_send_confirmation(subscriber_id=subscriber.pk) is False  # not again so soon


def test_a_client_cannot_choose_the_ip_recorded_with_its_consent(client, settings):
    mailing_list = MailingListFactory(double_opt_in=False)
    settings.TRUSTED_PROXY_COUNT = 0
    _subscribe(client, mailing_list, email="a@example.org", HTTP_X_FORWARDED_FOR="1.2.3.4")
    settings.TRUSTED_PROXY_COUNT = 1  # behind our proxy, which appends the peer it saw
    _subscribe(
        client, mailing_list, email="b@example.org", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7"
    )
    recorded = dict(
        ConsentRecord.objects.values_list("subscriber__email", "ip").order_by("subscriber__email")
    )
    assert recorded == {"a@example.org": "198.51.100.23", "b@example.org": "198.51.100.7"}


def test_forged_forwarded_headers_do_not_dodge_the_rate_limit(client, settings):
    settings.SUBSCRIBE_RATE_PER_MINUTE = 2
    settings.TRUSTED_PROXY_COUNT = 1
    mailing_list = MailingListFactory(double_opt_in=False)
    codes = [
        _subscribe(
            client,
            mailing_list,
            email=f"r{i}@example.org",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 198.51.100.7",
        ).status_code
        for i in range(3)
    ]
    assert codes == [302, 302, 429]
