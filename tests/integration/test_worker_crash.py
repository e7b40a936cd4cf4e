"""A worker killed (SIGKILL) in the middle of a batch: a new worker and the sweeper finish the
send, every recipient gets the message, and duplicates are no more than the messages that were
in flight at the kill (one per killed connection), which are counted and flagged."""

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from campaigns import delivery
from campaigns.models import Delivery, DeliveryStatus, SendBatch
from moderation import services as moderation
from outbox.sink import MaildirHandler, read_messages
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.dns_server import free_port
from tests.factories import SenderDomainFactory, UserFactory
from tests.integration.conftest import wait_for
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.slow]


class SlowHandler(MaildirHandler):
    """Takes 10 ms a message, so a batch is still running when the test kills its worker."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_sink(tmp_path):
    directory = tmp_path / "mail"
    controller = Controller(SlowHandler(directory), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield directory, controller.port
    controller.stop()


def test_a_killed_worker_loses_no_recipient_and_duplicates_at_most_its_message_in_flight(
    celery_worker_process, slow_sink, settings
):
    directory, port = slow_sink
    settings.SEND_LEASE_SECONDS = 1.0
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "SITE_URL": "http://testserver",
        "PROBE_SHARE": "1.0",  # the whole list is the probe: one phase to watch
        "SEND_BATCH_SIZE": "150",
        "SEND_TASKS_PER_CAMPAIGN": "1",
        "SEND_LEASE_SECONDS": "1",
    }
    account = UserFactory().account
    SenderDomainFactory(account=account, domain="news.acme.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account)
    subscribe_many(mailing_list, 600)
    campaign = submitted_campaign(mailing_list, from_email="news@news.acme.example")
    first = celery_worker_process(env)

    moderation.decision_approve(
        campaign_id=campaign.pk,
        moderator=UserFactory(is_staff=True),
        version_id=waiting_version(campaign),
    )
    wait_for(lambda: len(list(Path(directory).glob("*.eml"))) >= 200, timeout=60, what="200 mails")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    at_kill = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count()
    assert 0 < at_kill < 600, "the kill must land in the middle of the send"
    assert SendBatch.objects.filter(campaign=campaign, status="running").exists()

    celery_worker_process(env)
    time.sleep(settings.SEND_LEASE_SECONDS + 0.5)  # the dead batch's heartbeat goes stale
    report = delivery.sweep()  # what beat runs every few seconds

    assert report.dead_batches == 1
    assert report.in_flight_at_death == 1
    campaign.refresh_from_db()

    def finished():
        campaign.refresh_from_db()
        return campaign.status == "holding"

    wait_for(finished, timeout=60, what="the probe to finish on the new worker")
    messages = [m for m in read_messages(directory) if m.subject.startswith("News for")]
    per_recipient = Counter(message.to for message in messages)
    emails = set(mailing_list.subscribers.values_list("email", flat=True))
    assert set(per_recipient) == emails  # nobody lost
    duplicates = sum(count - 1 for count in per_recipient.values())
    in_flight = sum(
        SendBatch.objects.filter(campaign=campaign).values_list("in_flight_at_death", flat=True)
    )
    assert in_flight == 1
    assert duplicates <= in_flight
    flagged = Delivery.objects.filter(campaign=campaign, possibly_duplicated=True)
    assert flagged.count() == 1
    if duplicates:
        flagged_email = mailing_list.subscribers.get(pk=flagged.get().subscriber_id).email
        assert per_recipient[flagged_email] == 2
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 600
