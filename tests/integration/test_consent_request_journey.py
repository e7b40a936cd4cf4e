"""A consent request to existing clients, end to end (issue 25): a real Celery worker on Redis
sends through real SMTP to an aiosmtpd sink. 50 existing clients are uploaded, the request is
moderated and probed like any campaign, 10 clients confirm through the link in the mail they
received; exactly those 10 are subscribed with their proof, and a later campaign reaches only
them."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from campaigns import consent_requests, sending
from campaigns.models import Campaign, CandidateStatus, ConsentCandidate, Delivery
from lists.models import ConsentRecord, Subscriber
from moderation import services as moderation
from tests.campaigns.factories import submitted_campaign, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.integration.conftest import let_pass, wait_for
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.slow]

LINK = re.compile(r"http://testserver(/k/[^/\s]+/)")
SUBJECT = "asks: may we keep writing to you?"


def _requests(sink) -> list:
    """The consent requests in the sink (notifications to the sender land there too)."""
    return [m for m in sink.messages() if SUBJECT in m.subject]


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


def _status_becomes(campaign: Campaign, *statuses: str) -> None:
    def reached():
        campaign.refresh_from_db()
        return campaign.status in statuses

    wait_for(reached, timeout=120, what=f"status {statuses}")


def _through_the_hold(campaign: Campaign, moderator) -> None:
    """End the hold now; a small probe may go to review, where the moderator releases it."""
    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now() - timedelta(seconds=1))
    moderation.holds_evaluate()
    campaign.refresh_from_db()
    if campaign.status == "review":
        moderation.decision_release(campaign_id=campaign.pk, moderator=moderator)
    _status_becomes(campaign, "sent")


def test_fifty_clients_asked_ten_confirm_and_only_they_get_the_next_campaign(
    send_worker, transactional_db, tmp_path
):
    moderator = UserFactory(is_staff=True)
    account = UserFactory().account
    SenderDomainFactory(account=account, domain="news.bistro.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account, name="Bistro news")
    clients = [f"client{n}@example.org" for n in range(50)]
    path = tmp_path / "clients.csv"
    path.write_text("email,name\n" + "".join(f"{e},Client {n}\n" for n, e in enumerate(clients)))

    request = consent_requests.consent_request_create(
        account=account,
        created_by=None,
        mailing_list_id=mailing_list.pk,
        from_name="Bistro",
        from_email="news@news.bistro.example",
        intro="You ate with us this year.",
    )
    report = consent_requests.consent_candidates_upload(
        account=account, campaign_id=request.pk, path=path, filename="clients.csv"
    )
    assert (report.added, report.refused) == (50, [])
    sending.campaign_submit(account=account, campaign_id=request.pk, actor=None)
    moderation.decision_approve(
        campaign_id=request.pk, moderator=moderator, version_id=waiting_version(request)
    )
    _status_becomes(request, "holding")
    assert request.probe_size == 5
    wait_for(lambda: len(_requests(send_worker)) >= 5, timeout=60, what="the probe")
    _through_the_hold(request, moderator)
    wait_for(lambda: len(_requests(send_worker)) >= 50, timeout=120, what="50 requests")
    let_pass(1.0)  # anything more would have arrived by now
    asked = _requests(send_worker)
    assert len(asked) == 50
    assert sorted(m.to for m in asked) == sorted(clients)
    assert all("Yes, keep me informed" in m.text for m in asked)

    confirming = sorted(asked, key=lambda m: m.to)[:10]
    for n, message in enumerate(confirming):
        link = LINK.search(message.text).group(1)
        browser = Client(HTTP_USER_AGENT=f"Browser {n}", REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert b"consent-yes" in browser.get(link).content
        assert b"consent-confirmed" in browser.post(link).content

    confirmed = sorted(m.to for m in confirming)
    subscribed = Subscriber.objects.filter(mailing_list=mailing_list, status="subscribed")
    assert sorted(subscribed.values_list("email", flat=True)) == confirmed
    records = ConsentRecord.objects.filter(subscriber__in=subscribed).order_by("subscriber__email")
    assert [(r.source, r.event) for r in records] == [("client_reconfirmed", "granted")] * 10
    assert {r.ip for r in records} == {f"198.51.100.{n + 1}" for n in range(10)}
    assert all(r.user_agent.startswith("Browser ") for r in records)
    assert ConsentCandidate.objects.filter(status=CandidateStatus.CONFIRMED).count() == 10
    assert Subscriber.objects.filter(mailing_list=mailing_list, status="unconfirmed").count() == 40

    later = submitted_campaign(
        mailing_list,
        from_email="news@news.bistro.example",
        from_name="Bistro",
        subject="Spring menu",
        html_body='<p>Hello, the <a href="https://bistro.example/menu">menu</a>.</p>',
    )
    moderation.decision_approve(
        campaign_id=later.pk, moderator=moderator, version_id=waiting_version(later)
    )
    _status_becomes(later, "holding")
    _through_the_hold(later, moderator)

    def spring() -> list:
        return [m for m in send_worker.messages() if m.subject == "Spring menu"]

    wait_for(lambda: len(spring()) >= 10, timeout=60, what="the later campaign")
    let_pass(1.0)
    assert sorted(m.to for m in spring()) == confirmed
    assert Delivery.objects.filter(campaign=later).count() == 10
    # The request never mails anyone twice.
    assert Delivery.objects.filter(campaign=request).count() == 50
