"""Enforcement end to end, with a real Celery worker on Redis and real SMTP to a sink: recipients
report a probe as spam through the links in the messages they received; the hold sends the
campaign to review; a moderator declines it and freezes the account; the account's other
campaign, mid-send, pauses; the account's sending API calls answer 403; unfreezing resumes the
other campaign, which finishes with every recipient mailed exactly once."""

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_token_create
from campaigns.models import Campaign, Delivery, DeliveryStatus
from moderation import services as moderation
from moderation.enforcement import decisions
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.integration.conftest import let_pass, wait_for
from tests.integration.test_staged_send import end_hold, status_becomes
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.slow]

REPORT_LINK = re.compile(r"http://testserver(/r/[A-Za-z0-9_-]+/)")


@pytest.fixture
def moderator(transactional_db):
    return UserFactory(is_staff=True)


@pytest.fixture
def slow_send_worker(celery_worker_process, mail_sink, settings):
    """Sends at most 100 messages a second for the account, so a release of 900 (nine seconds)
    is still under way when the account is frozen a second or so into it."""
    settings.HOLD_SECONDS = 1
    celery_worker_process(
        {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_sink.port),
            "SITE_URL": "http://testserver",
            "HOLD_SECONDS": "1",
            "SEND_BATCH_SIZE": "100",
            "SEND_RATE_PER_ACCOUNT": "100",
        }
    )
    return mail_sink


def _to(sink, subject: str) -> list:
    return [m for m in sink.messages() if m.subject == subject]


def _settled(sink, subject: str) -> int:
    """The number of messages once none has arrived for two seconds."""
    seen = {"count": -1}

    def still() -> bool:
        count = len(_to(sink, subject))
        if count == seen["count"]:
            return True
        seen["count"] = count
        return False

    wait_for(still, timeout=30, interval=2.0, what=f"{subject} to settle")
    return seen["count"]


def test_complaints_review_decline_freeze_pause_403_unfreeze_resume(slow_send_worker, moderator):
    sink = slow_send_worker
    user = UserFactory()
    account = user.account
    SenderDomainFactory(account=account, domain="news.acme.example", verified_at=timezone.now())
    news = MailingListFactory(account=account, name="Monthly news")
    offers = MailingListFactory(account=account, name="Offers")
    subscribe_many(news, 1000, prefix="n")
    subscribe_many(offers, 1000, prefix="o")
    first = submitted_campaign(news, from_email="news@news.acme.example", subject="Winter menu")
    second = submitted_campaign(offers, from_email="news@news.acme.example", subject="Spring sale")
    _, key = api_token_create(user=user, name="integration")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    # Both probes go out; 2 of the first campaign's 100 recipients report it from their mail.
    moderation.decision_approve(
        campaign_id=second.pk, moderator=moderator, version_id=waiting_version(second)
    )
    moderation.decision_approve(
        campaign_id=first.pk, moderator=moderator, version_id=waiting_version(first)
    )
    status_becomes(second, "holding")
    status_becomes(first, "holding")
    wait_for(lambda: len(_to(sink, "Spring sale")) >= 100, timeout=120, what="second probe")
    wait_for(lambda: len(_to(sink, "Winter menu")) >= 100, timeout=120, what="first probe")
    # The second waits out its hold while the first is judged.
    Campaign.objects.filter(pk=second.pk).update(hold_until=timezone.now() + timedelta(hours=1))
    recipients = Client()
    for message in _to(sink, "Winter menu")[:2]:
        path = REPORT_LINK.search(message.text).group(1)
        assert recipients.post(path, {"comment": "I never signed up."}).status_code == 302

    # The first goes to review; the second, clean, is released (slowly, by the account's rate).
    assert end_hold(first) == {first.pk: "review"}
    first.refresh_from_db()
    assert first.verdict["rates"]["complaint_rate"] == pytest.approx(0.02)
    assert first.verdict["rule"].startswith("complaints")
    assert end_hold(second) == {second.pk: "green"}
    status_becomes(second, "releasing")
    wait_for(lambda: len(_to(sink, "Spring sale")) >= 200, timeout=60, what="release under way")

    moderation.decision_decline(campaign_id=first.pk, moderator=moderator, reason="Complaints.")
    decisions.account_freeze(
        account_id=account.pk, moderator=moderator, reason="Spam complaints over the limit."
    )

    second.refresh_from_db()
    assert second.status == "paused" and second.resume_status == "releasing"
    # Batches already claimed finish (each worker task holds one); no new batch starts.
    paused_at = _settled(sink, "Spring sale")
    let_pass(3.0)
    assert len(_to(sink, "Spring sale")) == paused_at < 1000
    assert Delivery.objects.filter(campaign=second, status=DeliveryStatus.PENDING).count() == (
        1000 - paused_at
    )

    created = api.post(
        "/api/v1/campaigns/",
        {
            "name": "Another",
            "lists": [news.pk],
            "subject": "Hello",
            "from_name": "Acme",
            "from_email": "news@news.acme.example",
            "html_body": "<p>Hi</p>",
        },
        format="json",
    )
    submit = api.post(f"/api/v1/campaigns/{first.pk}/submit/")
    test_send = api.post(f"/api/v1/campaigns/{second.pk}/test/")
    for answer in (created, submit, test_send):
        assert answer.status_code == 403
        assert "frozen" in answer.json()["detail"]
    assert Campaign.objects.filter(account=account).count() == 2

    decisions.account_unfreeze(
        account_id=account.pk, moderator=moderator, reason="Appeal accepted: list cleaned."
    )
    status_becomes(second, "sent", timeout=180)
    wait_for(lambda: len(_to(sink, "Spring sale")) >= 1000, timeout=120, what="the rest")
    let_pass(1.0)

    spring = Counter(m.to for m in _to(sink, "Spring sale"))
    assert len(spring) == 1000 and max(spring.values()) == 1
    assert Delivery.objects.filter(campaign=second, status=DeliveryStatus.SENT).count() == 1000
    # The declined campaign sent its probe and nothing more.
    assert len(_to(sink, "Winter menu")) == 100
    first.refresh_from_db()
    assert first.status == "declined"
