"""One-click unsubscribes with the tracking queue's consumer running (config.hot_paths,
complaints.services.one_click_unsubscribe_accept and one_clicks_pending_apply): the web process
suppresses the address and queues the rest in one durable write before it answers; the
consumer applies the rest in batches, each once."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from campaigns import delivery, tracking_queue
from campaigns.models import Delivery
from campaigns.tokens import MessageTokens
from complaints import services
from complaints.models import FeedbackDeadLetter, FeedbackEvent, PendingOneClick
from lists.models import ConsentRecord, Subscriber, Suppression
from tests.campaigns.hot_client import HotClient, drain, queue_url
from tests.campaigns.test_delivery import by_email, probing, smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db

ONE_CLICK = b"List-Unsubscribe=One-Click"


@pytest.fixture
def queued(settings):
    settings.TRACKING_QUEUE_URL = queue_url()
    tracking_queue.ensure_group()


def _one_click(campaign, email):
    subscriber = Subscriber.objects.get(email=email)
    token = MessageTokens(campaign_id=campaign.pk, subscriber_id=subscriber.pk).unsubscribe()
    return HotClient().post(
        f"/u/{token}/", data=ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )


def test_a_send_that_starts_after_the_answer_skips_the_address_before_the_consumer_ran(
    queued,
    smtp_server,  # noqa: F811
    probing,  # noqa: F811
):
    answer = _one_click(probing, "r3@gmail.com")

    assert (answer.status_code, answer.content) == (200, b"Unsubscribed.\n")
    # Nothing applied yet: only the suppression and the row the consumer will apply.
    assert Subscriber.objects.get(email="r3@gmail.com").status == "subscribed"
    assert not FeedbackEvent.objects.exists()
    assert PendingOneClick.objects.count() == 1

    transport = delivery.open_transport()
    delivery.send_batch(campaign_id=probing.pk, transport=transport)
    transport.close()

    row = by_email(probing)["r3@gmail.com"]
    assert (row.status, row.error) == ("skipped", "suppressed")
    assert "r3@gmail.com" not in smtp_server.accepted
    assert "r4@gmail.com" in smtp_server.accepted


def test_the_consumer_applies_the_rest_once(queued, probing):  # noqa: F811
    _one_click(probing, "r3@gmail.com")
    received_at = PendingOneClick.objects.get().received_at
    _one_click(probing, "r3@gmail.com")  # the provider posted twice: one row all the same
    assert PendingOneClick.objects.count() == 1

    drain()
    drain()

    subscriber = Subscriber.objects.get(email="r3@gmail.com")
    assert subscriber.status == "unsubscribed"
    event = FeedbackEvent.objects.get()
    assert (event.source, event.kind, event.outcome) == ("one_click", "unsubscribed", "applied")
    # Suppressed when the web process wrote it, not when the consumer came round.
    assert event.suppressed_at == received_at
    assert ConsentRecord.objects.filter(subscriber=subscriber, event="withdrawn").count() == 1
    assert Suppression.objects.filter(email="r3@gmail.com").count() == 1
    assert not PendingOneClick.objects.exists()
    # A POST after it was applied: Django's view says it is done, and changes nothing.
    assert _one_click(probing, "r3@gmail.com").status_code == 200
    assert (FeedbackEvent.objects.count(), PendingOneClick.objects.count()) == (1, 0)


def test_beat_applies_pending_one_clicks_when_no_consumer_runs(queued, probing):  # noqa: F811
    from django.conf import settings

    from complaints.tasks import apply_pending_one_clicks

    _one_click(probing, "r3@gmail.com")
    _one_click(probing, "r4@gmail.com")

    # No consumer: beat's sweep applies them, each once.
    assert apply_pending_one_clicks() == 2
    assert apply_pending_one_clicks() == 0

    assert set(
        Subscriber.objects.filter(status="unsubscribed").values_list("email", flat=True)
    ) == {"r3@gmail.com", "r4@gmail.com"}
    assert FeedbackEvent.objects.count() == 2
    assert not PendingOneClick.objects.exists()
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "complaints.apply_pending_one_clicks" in tasks


def test_the_verdict_waits_for_the_campaigns_pending_one_clicks(queued, probing):  # noqa: F811
    _one_click(probing, "r3@gmail.com")

    assert tracking_queue.pending_for(probing.pk) == 1
    assert tracking_queue.pending_for(probing.pk + 1) == 0

    drain()

    assert tracking_queue.pending_for(probing.pk) == 0


def test_a_poison_one_click_is_kept_and_the_others_applied(
    queued,
    probing,  # noqa: F811
    monkeypatch,
):
    poison = Subscriber.objects.get(email="r4@gmail.com")
    write = services._write

    def breaking(batch, events):
        if any(event.event_id.endswith(f":{poison.pk}") for event in events):
            raise IntegrityError("insert or update violates foreign key constraint")
        return write(batch, events)

    monkeypatch.setattr(services, "_write", breaking)
    for email in ("r3@gmail.com", "r4@gmail.com", "r5@gmail.com"):
        _one_click(probing, email)

    drain()

    assert not PendingOneClick.objects.exists()  # the whole batch acknowledged
    assert sorted(
        Subscriber.objects.filter(status="unsubscribed").values_list("email", flat=True)
    ) == ["r3@gmail.com", "r5@gmail.com"]
    assert FeedbackDeadLetter.objects.get().event_id == f"{probing.pk}:{poison.pk}"
    # Its address stays suppressed: the answer's promise holds.
    assert Suppression.objects.filter(email="r4@gmail.com").exists()


def test_without_the_queue_the_one_click_is_applied_in_the_request(settings, probing):  # noqa: F811
    settings.TRACKING_QUEUE_URL = ""

    _one_click(probing, "r3@gmail.com")

    assert Subscriber.objects.get(email="r3@gmail.com").status == "unsubscribed"
    assert not PendingOneClick.objects.exists()
    assert Delivery.objects.filter(campaign=probing).count() == 6
