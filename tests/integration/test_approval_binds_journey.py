"""Approval binds, end to end (issue 17): a real Celery worker on Redis sends through real SMTP
to an aiosmtpd sink while a sender tries every way to change what a moderator approved:
resubmitting other content under the moderator's open page, then during the hold rewriting the
subscribers' merge data and their addresses, renaming the list and the company, and adding
subscribers. What arrives is exactly the approved version, to exactly the approved audience."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account
from campaigns import sending
from campaigns.models import Campaign, Delivery, DeliveryStatus
from campaigns.sending import VersionMismatch
from lists.models import MailingList, Subscriber
from moderation import services as moderation
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.integration.conftest import let_pass, wait_for
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.slow]

APPROVED_SUBJECT = "Winter menu for {{ subscriber.attributes.city | default('you') }}"
APPROVED_HTML = (
    "<p>Hello {{ subscriber.name }}, our {{ subscriber.attributes.dish | default('soup') }} "
    'is back.</p><p><a href="https://bistro.example/menu">The menu</a></p>'
)


@pytest.fixture
def send_worker(celery_worker_process, mail_sink, settings):
    settings.HOLD_SECONDS = 3600
    celery_worker_process(
        {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_sink.port),
            "SITE_URL": "http://testserver",
            "HOLD_SECONDS": "3600",
            "SEND_BATCH_SIZE": "50",
        }
    )
    return mail_sink


def _status_becomes(campaign: Campaign, status: str) -> None:
    def reached():
        campaign.refresh_from_db()
        return campaign.status == status

    wait_for(reached, timeout=120, what=f"status {status}")


def _received(sink) -> list:
    return [m for m in sink.messages() if m.subject.startswith("Winter menu")]


def test_what_arrives_is_the_approved_version_to_the_approved_audience(
    send_worker, transactional_db
):
    moderator = UserFactory(is_staff=True)
    account = UserFactory().account
    SenderDomainFactory(account=account, domain="news.bistro.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account, name="Bistro news")
    subscribe_many(mailing_list, 200)
    Subscriber.objects.filter(mailing_list=mailing_list).update(
        attributes={"city": "Leeds", "dish": "stew"}
    )
    campaign = submitted_campaign(
        mailing_list,
        from_email="news@news.bistro.example",
        from_name="Bistro",
        subject=APPROVED_SUBJECT,
        html_body=APPROVED_HTML,
    )
    seen_by_moderator = waiting_version(campaign)

    # The sender withdraws, swaps the content and resubmits under the moderator's open page.
    sending.campaign_withdraw(account=account, campaign_id=campaign.pk, actor=None)
    Campaign.objects.filter(pk=campaign.pk).update(
        subject="Account locked - act now",
        html_body='<p><a href="https://phish.example/login">Log in</a></p>',
    )
    sending.campaign_submit(account=account, campaign_id=campaign.pk, actor=None)
    with pytest.raises(VersionMismatch):
        moderation.decision_approve(
            campaign_id=campaign.pk, moderator=moderator, version_id=seen_by_moderator
        )
    # The moderator reloads, sees the new version and rejects it; the sender puts the
    # original back and submits again; that version is approved.
    moderation.decision_reject(
        campaign_id=campaign.pk,
        moderator=moderator,
        reason="Phishing.",
        version_id=waiting_version(campaign),
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        subject=APPROVED_SUBJECT, html_body=APPROVED_HTML
    )
    sending.campaign_submit(account=account, campaign_id=campaign.pk, actor=None)
    approved = waiting_version(campaign)
    moderation.decision_approve(campaign_id=campaign.pk, moderator=moderator, version_id=approved)
    _status_becomes(campaign, "holding")
    wait_for(lambda: len(_received(send_worker)) >= 20, timeout=60, what="the probe")

    # During the hold: every way to change what the rest gets.
    Subscriber.objects.filter(mailing_list=mailing_list).update(
        name="Security team https://phish.example",
        attributes={"city": "Account locked", "dish": "<a href='https://phish.example'>x</a>"},
    )
    victim = Subscriber.objects.filter(mailing_list=mailing_list).order_by("-id").first()
    original_address = Delivery.objects.get(campaign=campaign, subscriber_id=victim.pk).email
    Subscriber.objects.filter(pk=victim.pk).update(email="victim@target.example")
    MailingList.objects.filter(pk=mailing_list.pk).update(name="PayPal alerts")
    Account.objects.filter(pk=account.pk).update(company_name="PayPal")
    subscribe_many(mailing_list, 5, prefix="late")

    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now() - timedelta(seconds=1))
    moderation.holds_evaluate()
    _status_becomes(campaign, "sent")
    wait_for(lambda: len(_received(send_worker)) >= 200, timeout=120, what="200 messages")
    let_pass(1.0)  # anything more would have arrived by now
    messages = _received(send_worker)

    assert len(messages) == 200
    recipients = {m.to for m in messages}
    assert len(recipients) == 200
    assert not [r for r in recipients if "late" in r or "victim@target.example" in r]
    assert any(original_address in r for r in recipients)
    for message in messages:
        assert message.subject == "Winter menu for Leeds"
        assert message.message["From"] == "Bistro <news@news.bistro.example>"
        body = message.text + message.html
        assert "phish.example" not in body and "PayPal" not in body
        assert "stew is back" in message.text
        links = set(re.findall(r"http://testserver/c/[^/\s\"]+/", message.html))
        assert len(links) == 1
    # The click link of a released message goes to the approved address only.
    link = re.search(r"http://testserver(/c/[^/\s\"]+/)", messages[-1].html).group(1)
    response = Client().get(link)
    assert response.status_code == 302 and response["Location"] == "https://bistro.example/menu"
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 200
