"""The staged send end to end: a real Celery worker on Redis sends through real SMTP to an
aiosmtpd sink. Approval sends exactly the probe; after the hold, figures within the thresholds
release exactly the rest, figures over them send the campaign to review, and a decline sends
nothing more."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Delivery, DeliveryStatus
from moderation import services as moderation
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.integration.conftest import let_pass, wait_for
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.slow]


@pytest.fixture
def moderator(transactional_db):
    return UserFactory(is_staff=True)


@pytest.fixture
def send_worker(celery_worker_process, mail_sink, settings):
    settings.HOLD_SECONDS = 1
    celery_worker_process(
        {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_sink.port),
            "SITE_URL": "http://testserver",
            "HOLD_SECONDS": "1",
            "SEND_BATCH_SIZE": "200",
        }
    )
    return mail_sink


def campaign_to(size: int) -> Campaign:
    account = UserFactory().account
    SenderDomainFactory(account=account, domain="news.acme.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account, name="Monthly news")
    subscribe_many(mailing_list, size)
    return submitted_campaign(
        mailing_list, from_email="news@news.acme.example", subject="Winter menu"
    )


def status_becomes(campaign: Campaign, status: str, timeout: float = 120) -> Campaign:
    def reached():
        campaign.refresh_from_db()
        return campaign.status == status

    wait_for(reached, timeout=timeout, what=f"status {status}")
    return campaign


def received(sink) -> list:
    return [m for m in sink.messages() if m.subject == "Winter menu"]


def settle(sink, expected: int) -> list:
    """Wait for `expected` messages, then a little longer to see that no more arrive."""
    wait_for(lambda: len(received(sink)) >= expected, timeout=120, what=f"{expected} messages")
    let_pass(1.0)
    return received(sink)


def end_hold(campaign: Campaign) -> dict:
    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now() - timedelta(seconds=1))
    return moderation.holds_evaluate()


def test_probe_then_release_within_the_thresholds(send_worker, moderator):
    campaign = campaign_to(2000)

    moderation.decision_approve(
        campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
    )
    status_becomes(campaign, "holding")
    probe = settle(send_worker, 200)

    assert len(probe) == 200
    assert campaign.probe_size == 200
    assert campaign.hold_until is not None
    # Within the thresholds: 3 hard bounces (1.5%) and 1 complaint (0.5% of 200, over the review
    # threshold of 0.3%, but the interval's low end, 0.09%, is under 0.1%: noise in a probe of
    # 177 or more, review in a smaller one): amber, released with a warning.
    sent = list(
        Delivery.objects.filter(campaign=campaign, is_probe=True).values_list("pk", flat=True)
    )
    Delivery.objects.filter(pk__in=sent[:3]).update(hard_bounced_at=timezone.now())
    Delivery.objects.filter(pk__in=sent[3:4]).update(complained_at=timezone.now())

    assert end_hold(campaign) == {campaign.pk: "amber"}
    status_becomes(campaign, "sent")
    everything = settle(send_worker, 2000)

    assert len(everything) == 2000
    recipients = Counter(message.to for message in everything)
    assert len(recipients) == 2000 and max(recipients.values()) == 1
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 2000
    assert campaign.moderation_note  # the amber warning the sender sees
    for message in everything:
        headers, text = message.message, message.text  # the text part decoded once, not thrice
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/u/" in headers["List-Unsubscribe"] and "mailto:" in headers["List-Unsubscribe"]
        assert "Report spam" in text and "Unsubscribe" in text
        assert 'id="compliance-footer"' in message.html
        assert "You receive this because you subscribed to “Monthly news”" in text
        assert headers["X-Sink-Mail-From"].startswith("bounce+")


def test_over_the_thresholds_review_and_a_decline_sends_nothing_more(send_worker, moderator):
    campaign = campaign_to(1000)

    moderation.decision_approve(
        campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
    )
    status_becomes(campaign, "holding")
    assert len(settle(send_worker, 100)) == 100
    sent = list(
        Delivery.objects.filter(campaign=campaign, is_probe=True).values_list("pk", flat=True)
    )
    Delivery.objects.filter(pk__in=sent[:8]).update(hard_bounced_at=timezone.now())  # 8%

    assert end_hold(campaign) == {campaign.pk: "review"}
    campaign.refresh_from_db()
    assert campaign.status == "review"
    assert campaign.verdict["rule"].startswith("bounces")

    moderation.decision_decline(campaign_id=campaign.pk, moderator=moderator, reason="Old list.")
    let_pass(3.0)  # a worker that would send would have by now

    assert len(received(send_worker)) == 100
    campaign.refresh_from_db()
    assert campaign.status == "declined"
    # The audience was fixed at approval; the declined rest is skipped, never sent.
    deliveries = Delivery.objects.filter(campaign=campaign)
    assert deliveries.filter(status=DeliveryStatus.SENT).count() == 100
    assert deliveries.filter(status=DeliveryStatus.SKIPPED).count() == 900
