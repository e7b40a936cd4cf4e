"""The probe's verdict sees what really happened (issue 18), end to end: a real Celery worker on
Redis sends the probe through real SMTP, then the hold is judged.

* A server that refuses every probe recipient at RCPT with "550 5.1.1 user unknown": nothing was
  accepted, the campaign goes to review (never released), and the refused addresses are no longer
  mailable (bounced, suppressed for the account and platform-wide).
* 30% of the probe's recipients press the one-click unsubscribe of the message they received: the
  campaign goes to review, not out to everyone else.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from campaigns import selectors
from campaigns.models import Campaign, Delivery, DeliveryStatus
from config.coded_text import render
from lists.models import Subscriber
from moderation import services as moderation
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.dns_server import free_port
from tests.factories import SenderDomainFactory, UserFactory
from tests.integration.conftest import let_pass, wait_for
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.slow]

SUBJECT = "Spring menu"
WORKER_ENV = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "127.0.0.1",
    "SITE_URL": "http://testserver",
    "HOLD_SECONDS": "1",
    "SEND_BATCH_SIZE": "50",
}


class RefusingHandler:
    """An SMTP server that knows none of the recipients: every RCPT TO gets "550 5.1.1 user
    unknown" (so no DATA is ever sent); it remembers who was asked for."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.refused.append(address)
        return f"550 5.1.1 <{address}>: Recipient address rejected: user unknown"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - never reached
        return "554 5.5.1 Error: no valid recipients"


@pytest.fixture
def moderator(transactional_db):
    return UserFactory(is_staff=True)


@pytest.fixture
def refusing_server():
    handler = RefusingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


def campaign_to(size: int) -> Campaign:
    account = UserFactory().account
    SenderDomainFactory(account=account, domain="news.harbour.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account, name="Harbour news")
    subscribe_many(mailing_list, size)
    return submitted_campaign(mailing_list, from_email="news@news.harbour.example", subject=SUBJECT)


def approve(campaign: Campaign, moderator) -> None:
    moderation.decision_approve(
        campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
    )


def status_becomes(campaign: Campaign, status: str, timeout: float = 120) -> Campaign:
    def reached():
        campaign.refresh_from_db()
        return campaign.status == status

    wait_for(reached, timeout=timeout, what=f"status {status}")
    return campaign


def end_hold(campaign: Campaign) -> dict:
    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now() - timedelta(seconds=1))
    return moderation.holds_evaluate()


def test_a_probe_refused_at_rcpt_goes_to_review_and_the_addresses_stop_being_mailable(
    celery_worker_process, refusing_server, moderator, settings
):
    port, server = refusing_server
    settings.HOLD_SECONDS = 1
    celery_worker_process(WORKER_ENV | {"EMAIL_PORT": str(port)})
    campaign = campaign_to(200)

    approve(campaign, moderator)
    status_becomes(campaign, "holding")

    probe = Delivery.objects.filter(campaign=campaign, is_probe=True)
    assert campaign.probe_size == 20 and probe.count() == 20
    # Every probe message was handed over once (a 5xx is final, never retried) and refused.
    # (The server refuses the notifications to the sender's users as well: not counted here.)
    audience = set(
        Subscriber.objects.filter(mailing_list__account=campaign.account).values_list(
            "email", flat=True
        )
    )

    def refused_recipients() -> list[str]:
        return sorted(address for address in server.refused if address in audience)

    wait_for(lambda: len(refused_recipients()) >= 20, timeout=30, what="20 refusals")
    emails = sorted(probe.values_list("subscriber__email", flat=True))
    assert refused_recipients() == emails
    assert probe.filter(status=DeliveryStatus.FAILED, hard_bounced_at__isnull=False).count() == 20
    assert "5.1.1" in probe.first().error

    assert end_hold(campaign) == {campaign.pk: "review"}
    campaign.refresh_from_db()
    assert campaign.status == "review"
    verdict = campaign.verdict
    assert (verdict["tier"], verdict["rule"], verdict["flag_account"]) == (
        "review",
        "bounces_limit",
        True,
    )
    assert verdict["rates"]["refusal_rate"] == 1.0
    assert verdict["rates"]["hard_bounce_rate"] == 1.0
    # Stored as codes, read in the reader's language (English here).
    assert render(verdict["reasons"][0]) == (
        "The mail server accepted none of the 20 probe messages handed to it: a probe with no "
        "accepted message is never released on its own."
    )
    # The figures the sender sees say the same.
    figures = selectors.delivery_figures(campaign=campaign, probe_only=True)
    assert (figures.sent, figures.refused, figures.hard_bounces) == (0, 20, 20)

    # The refused addresses are mailable no more: bounced, and suppressed for the account and
    # (a mailbox that does not exist) for every account.
    subscribers = Subscriber.objects.filter(
        email__in=emails, mailing_list__account=campaign.account
    )
    assert set(subscribers.values_list("status", flat=True)) == {"bounced"}
    suppressed = selectors.suppressed_addresses(
        account_id=campaign.account_id, emails=[email.lower() for email in emails]
    )
    assert sorted(suppressed) == [email.lower() for email in emails]
    other_account = UserFactory().account
    elsewhere = selectors.suppressed_addresses(
        account_id=other_account.pk, emails=[email.lower() for email in emails]
    )
    assert sorted(elsewhere) == [email.lower() for email in emails]

    # Nothing more goes out while it waits for a moderator.
    let_pass(2.0)
    assert refused_recipients() == emails
    assert (
        Delivery.objects.filter(campaign=campaign, is_probe=False)
        .exclude(status=DeliveryStatus.WAITING)
        .count()
        == 0
    )


def test_thirty_percent_of_the_probe_unsubscribing_sends_it_to_review(
    celery_worker_process, mail_sink, moderator, settings, client
):
    settings.HOLD_SECONDS = 1
    celery_worker_process(WORKER_ENV | {"EMAIL_PORT": str(mail_sink.port)})
    campaign = campaign_to(1000)

    approve(campaign, moderator)
    status_becomes(campaign, "holding")
    wait_for(
        lambda: len([m for m in mail_sink.messages() if m.subject == SUBJECT]) >= 100,
        timeout=120,
        what="the probe's 100 messages",
    )
    received = [m for m in mail_sink.messages() if m.subject == SUBJECT]
    assert len(received) == 100

    # 30 recipients press their mail client's unsubscribe button: RFC 8058's one-click POST to
    # the URL in the List-Unsubscribe header of the message they received.
    leaving = received[:30]
    for message in leaving:
        header = str(message.message["List-Unsubscribe"])
        token = re.search(r"http://testserver/u/([^/>]+)/", header).group(1)
        response = client.post(
            f"/u/{token}/",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200

    assert end_hold(campaign) == {campaign.pk: "review"}
    campaign.refresh_from_db()
    assert campaign.status == "review"
    verdict = campaign.verdict
    assert (verdict["tier"], verdict["rule"], verdict["flag_account"]) == (
        "review",
        "unsubscribes_review",
        False,
    )
    assert verdict["rates"]["unsubscribe_rate"] == 0.3
    assert any(
        render(reason).startswith("30 unsubscribes in 100 messages: 30%")
        for reason in verdict["reasons"]
    )
    gone = [message.to for message in leaving]
    assert set(
        Subscriber.objects.filter(
            email__in=gone, mailing_list__account=campaign.account
        ).values_list("status", flat=True)
    ) == {"unsubscribed"}

    # Not released: nobody else gets it while a moderator decides.
    let_pass(2.0)
    assert len([m for m in mail_sink.messages() if m.subject == SUBJECT]) == 100
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 100
