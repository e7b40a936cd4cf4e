"""Sending to a server that pipelines (RFC 2920): a message's final dot goes with the next
message's envelope and its answer comes with theirs (campaigns.delivery.SmtpTransport.hand_over);
each message is still recorded before the next one is handed over, and each answer lands on its
own delivery."""

from __future__ import annotations

import time
from datetime import date

import pytest
from django.utils import timezone

from campaigns import delivery, sending
from campaigns.delivery import SmtpTransport
from campaigns.models import Delivery, DeliveryStatus, SendBatch
from campaigns.rendering import CampaignContent, Recipient, compile_campaign
from lists.models import Subscriber
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory
from tests.reliability.fault_harness import ControlledSink


@pytest.fixture
def sink(settings):
    server = ControlledSink()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    yield server
    server.close()


def _rendered(email: str):
    content = CampaignContent(
        campaign_id=7,
        account_id=3,
        subject="Hello {{ subscriber.name }}",
        from_name="Acme News",
        from_email="news@news.acme.example",
        reply_to="",
        html_body="<p>Hello {{ subscriber.name }}, our winter menu.</p>",
        text_body="",
        company_name="Acme Ltd",
        postal_address="1 Mill Lane, Leeds",
    )
    recipient = Recipient(
        subscriber_id=11,
        email=email,
        name="Ann Smith",
        phone="",
        attributes={},
        list_id=5,
        list_name="Monthly news",
        consent_source="web_form",
        consented_at=date(2025, 1, 2),
    )
    return compile_campaign(content).render(recipient)


@pytest.mark.django_db
def test_each_answer_is_recorded_before_the_next_message_goes(sink):
    transport = SmtpTransport()
    events: list[tuple] = []

    def record(tag, outcome):
        events.append(("record", tag, outcome, time.time()))
        return True

    def settle(number):
        def before_handover():
            events.append(("settle", number))
            return True

        return before_handover

    try:
        for number in range(1, 5):
            transport.hand_over(
                _rendered(f"r{number}@example.org"),
                tag=number,
                record=record,
                before_handover=settle(number),
            )
            if number == 1:
                # All but its final dot, which goes with the next message's envelope: the
                # server has not got it yet, and its answer is not waited for.
                assert events == []
                assert sink.accepted_total() == 0
        transport.finish()
    finally:
        transport.close()

    assert [event[:2] for event in events] == [
        ("settle", 1),
        ("record", 1),
        ("settle", 2),
        ("record", 2),
        ("settle", 3),
        ("record", 3),
        ("settle", 4),
        ("record", 4),
    ]
    recorded = {event[1]: event for event in events if event[0] == "record"}
    assert all(event[2].startswith("2.0.0 Ok: queued as") for event in recorded.values())
    accepted = sink.snapshot()
    assert sorted(accepted) == [f"r{number}@example.org" for number in range(1, 5)]
    for number in range(2, 5):
        # The server had message n only after message n-1's answer was recorded.
        (arrived,) = accepted[f"r{number}@example.org"]
        assert arrived > recorded[number - 1][3]


class _DeferringSink(ControlledSink):
    """Answers 451 after the whole message in the transactions numbered in `deferred`."""

    def __init__(self, deferred: set[int]) -> None:
        super().__init__()
        self.deferred = deferred

    def _fate(self):
        with self._lock:
            self.counters.transactions += 1
            number = self.counters.transactions
        return ("defer", "data") if number in self.deferred else ("accept", "")


@pytest.mark.django_db
def test_a_refusal_after_the_message_lands_on_its_own_delivery(settings):
    server = _DeferringSink({2, 4})
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.PROBE_SHARE = 1.0
    account = UserFactory().account
    SenderDomainFactory(account=account, domain="news.acme.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account)
    subscribe_many(mailing_list, 6, domains=("example.org",))
    campaign = submitted_campaign(mailing_list, from_email="news@news.acme.example")
    sending.campaign_approve(
        campaign_id=campaign.pk, actor=None, version_id=waiting_version(campaign)
    )
    sending.campaign_start_probe(campaign_id=campaign.pk, seed=1)
    emails = dict(Subscriber.objects.values_list("pk", "email"))
    in_order = [
        emails[row.subscriber_id]
        for row in Delivery.objects.filter(campaign=campaign).order_by("id")
    ]
    try:
        transport = delivery.open_transport()
        claimed = delivery.send_batch(campaign_id=campaign.pk, transport=transport)
        transport.close()
        accepted = server.snapshot()
    finally:
        server.close()

    assert claimed == 6
    rows = {emails[row.subscriber_id]: row for row in Delivery.objects.filter(campaign=campaign)}
    deferred = {in_order[1], in_order[3]}
    for email, row in rows.items():
        if email in deferred:
            assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
            assert row.error.startswith("451 4.3.0")
            assert not row.provider_message_id
        else:
            assert row.status == DeliveryStatus.SENT
            assert row.provider_message_id.startswith("2.0.0 Ok: queued as")
        assert not row.possibly_duplicated
    assert sorted(accepted) == sorted(set(in_order) - deferred)
    batch = SendBatch.objects.get(campaign=campaign)
    assert (batch.sent, batch.deferred, batch.failed) == (4, 2, 0)


@pytest.mark.django_db
def test_after_a_failed_sent_record_nothing_more_may_be_handed_over():
    """A "sent" whose write failed (here: PostgreSQL refuses the parameters) leaves the message
    unrecorded: the recorder must answer False from then on, or the next message would go
    unrecorded too (two possible duplicates in one batch, where the sweeper flags one)."""
    from django.db import connection
    from psycopg import OperationalError

    assert connection.vendor == "postgresql"  # the recorder's asynchronous path
    account = UserFactory().account
    campaign = submitted_campaign(MailingListFactory(account=account))
    recorder = delivery._Recorder(SendBatch.objects.create(campaign=campaign, worker="test"))
    assert recorder.settle() is True

    recorder.sent("not a number", "queued")  # its id cannot be read as a bigint
    with pytest.raises(OperationalError):
        recorder.settle()

    assert recorder.settle() is False
    assert recorder.settle() is False
