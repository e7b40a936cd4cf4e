"""feedback_apply_batch: many reports in one transaction, with the very result of applying them
one by one. Held to the one-report implementation it replaced (tests/complaints/
reference_feedback.py) on random mixes of reports: duplicates, several reports per message,
out-of-order events, soft bounces across campaigns, unmatched, test and forged ones."""

from __future__ import annotations

import contextlib
import json
import random
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import WebhookDelivery, WebhookEndpoint
from campaigns.delivery_updates import FEEDBACK_FIELDS
from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import MessageTokens
from complaints.models import FeedbackEvent, FeedbackKind
from complaints.services import Feedback, feedback_apply, feedback_apply_batch
from lists.models import ConsentRecord, PlatformSuppression, Subscriber, Suppression
from tests.campaigns.factories import CampaignFactory
from tests.complaints.payloads import basic_auth
from tests.complaints.reference_feedback import reference_feedback_apply
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

K = FeedbackKind
KINDS = [
    K.DELIVERED,
    K.SOFT_BOUNCE,
    K.SOFT_BOUNCE,
    K.HARD_BOUNCE,
    K.BLOCKED,
    K.COMPLAINED,
    K.UNSUBSCRIBED,
]
SOURCES = ["amazon_ses", "dsn", "arf", "one_click"]


class _Rollback(Exception):
    pass


@pytest.fixture
def world(account, sender_domain):
    """Three sent campaigns of one account to eight subscribers on two lists (one address on
    both, in another case: the soft-bounce rule counts an address, not a row), a ninth
    subscriber already unsubscribed, and a webhook endpoint for every subscriber event."""
    news = MailingListFactory(account=account, name="News")
    offers = MailingListFactory(account=account, name="Offers")
    subscribers = [
        SubscriberFactory(mailing_list=news, email=f"person{n}@example.org") for n in range(6)
    ]
    subscribers.append(SubscriberFactory(mailing_list=offers, email="PERSON0@example.org"))
    subscribers.append(SubscriberFactory(mailing_list=offers, email="other@example.org"))
    subscribers.append(
        SubscriberFactory(mailing_list=news, email="gone@example.org", status="unsubscribed")
    )
    campaigns = [
        CampaignFactory(account=account, lists=[news, offers], status="sent") for _ in range(3)
    ]
    sent = timezone.now() - timedelta(days=40)
    deliveries = [
        Delivery.objects.create(
            campaign=campaign,
            subscriber=subscriber,
            provider="other",
            is_probe=n % 2 == 0,
            status=DeliveryStatus.SENT,
            sent_at=sent,
            provider_message_id=f"pmid-{campaign.pk}-{subscriber.pk}",
        )
        for campaign in campaigns
        for n, subscriber in enumerate(subscribers)
    ]
    WebhookEndpoint.objects.create(
        account=account,
        url="https://hooks.example/in",
        secret="whsec_test",
        events=["subscriber.unsubscribed", "subscriber.bounced", "subscriber.complained"],
    )
    return deliveries


def random_reports(rng: random.Random, deliveries: list[Delivery], count: int) -> list[Feedback]:
    now = timezone.now()
    reports = []
    for n in range(count):
        delivery = rng.choice(deliveries)
        tokens = MessageTokens(
            campaign_id=delivery.campaign_id,
            subscriber_id=delivery.subscriber_id,
            is_test=rng.random() < 0.05,
        )
        how = rng.random()
        fields: dict = {}
        if how < 0.7:
            fields["message_ref"] = tokens.message_ref()
        elif how < 0.85:
            fields["provider_message_id"] = delivery.provider_message_id
        elif how < 0.9:
            fields["provider_message_id"] = "unknown-id"
        else:
            fields["message_ref"] = tokens.message_ref()[:-3] + "xyz"  # forged
        if rng.random() < 0.1:
            fields["recipient"] = "stranger@example.net"
        # Mostly distinct ids, some the same (a webhook retried, a mailbox read twice).
        event_id = f"e{rng.randrange(count // 2)}" if rng.random() < 0.3 else f"u{n}"
        reports.append(
            Feedback(
                source=rng.choice(SOURCES),
                event_id=event_id,
                kind=rng.choice(KINDS),
                occurred_at=now - timedelta(days=rng.uniform(0, 30)),
                code=rng.choice(["", "5.1.1", "4.2.2"]),
                **fields,
            )
        )
    return reports


def snapshot() -> dict:
    """Everything feedback writes, without row ids and without the times taken from the clock
    (those are compared as set or not set)."""
    return {
        "events": Counter(
            (
                e.source,
                e.event_id,
                e.kind,
                e.outcome,
                e.account_id,
                e.campaign_id,
                e.delivery_id,
                e.is_probe,
                e.recipient,
                e.code,
                e.detail,
                e.occurred_at,
                e.suppressed_at is not None,
            )
            for e in FeedbackEvent.objects.all()
        ),
        "deliveries": sorted(Delivery.objects.values_list("pk", *FEEDBACK_FIELDS)),
        "subscribers": sorted(
            (pk, status, unsubscribed_at is not None)
            for pk, status, unsubscribed_at in Subscriber.objects.values_list(
                "pk", "status", "unsubscribed_at"
            )
        ),
        "consent": Counter(ConsentRecord.objects.values_list("subscriber_id", "event", "source")),
        "suppressions": sorted(
            Suppression.objects.values_list("account_id", "email_hash", "email", "reason")
        ),
        "platform": sorted(
            PlatformSuppression.objects.values_list("email_hash", "reason", "source")
        ),
        "webhooks": Counter(
            (
                d.endpoint_id,
                d.event,
                json.dumps({k: v for k, v in d.payload["data"].items()}, sort_keys=True),
            )
            for d in WebhookDelivery.objects.all()
        ),
    }


def at_most(django_assert_max_num_queries, count: int):
    """At most `count` statements on PostgreSQL; SQLite (local runs) writes a row at a time."""
    if connection.vendor != "postgresql":
        return contextlib.nullcontext()
    return django_assert_max_num_queries(count)


def outcomes(results: list[FeedbackEvent | None]) -> list[str | None]:
    return [None if event is None else event.outcome for event in results]


def apply_and_look(apply) -> tuple[list, dict]:
    """Apply in a savepoint, take what it wrote, and roll it back."""
    found = {}
    try:
        with transaction.atomic():
            found["results"] = apply()
            found["state"] = snapshot()
            raise _Rollback
    except _Rollback:
        pass
    return found["results"], found["state"]


@pytest.mark.parametrize("seed", range(8))
def test_batches_give_the_state_one_by_one_gives(world, seed, settings):
    settings.SOFT_BOUNCE_SUPPRESS_COUNT = 3
    settings.SOFT_BOUNCE_SUPPRESS_DAYS = 7
    rng = random.Random(seed)
    reports = random_reports(rng, world, 120)
    # Some reports already applied before (a retried post, a mailbox read again).
    for report in reports[:5]:
        reference_feedback_apply(report)

    one_by_one, expected = apply_and_look(
        lambda: outcomes([reference_feedback_apply(r) for r in reports])
    )

    def in_batches():
        results, start = [], 0
        while start < len(reports):
            size = rng.choice([1, 2, 7, 30, 500])
            results += feedback_apply_batch(reports[start : start + size])
            start += size
        return outcomes(results)

    batched, found = apply_and_look(in_batches)
    whole, whole_found = apply_and_look(lambda: outcomes(feedback_apply_batch(reports)))

    assert batched == one_by_one
    assert whole == one_by_one
    for part in expected:
        assert found[part] == expected[part], part
        assert whole_found[part] == expected[part], part
    # The mix did exercise the rules it is meant to.
    assert {"applied", "duplicate", "unmatched", None} <= set(one_by_one)
    assert expected["consent"] and expected["platform"] and expected["webhooks"]


def test_the_soft_bounce_rule_counts_reports_of_one_batch_in_their_order(world, settings, account):
    settings.SOFT_BOUNCE_SUPPRESS_COUNT = 3
    settings.SOFT_BOUNCE_SUPPRESS_DAYS = 7
    # person0 on News and PERSON0 on Offers are one address for the account.
    person0 = [d for d in world if d.subscriber.email.lower() == "person0@example.org"]
    now = timezone.now()
    reports = [
        Feedback(
            source="dsn",
            event_id=f"soft-{n}",
            kind=K.SOFT_BOUNCE,
            message_ref=MessageTokens(
                campaign_id=d.campaign_id, subscriber_id=d.subscriber_id
            ).message_ref(),
            occurred_at=now - timedelta(days=days),
        )
        for n, (d, days) in enumerate(zip(person0, [10, 9, 1, 0], strict=False))
    ]

    results = feedback_apply_batch(reports)

    # The first two: too few; the third spans nine days: suppressed from there on.
    assert [e.suppressed_at is not None for e in results] == [False, False, True, True]
    assert Suppression.objects.get(account=account).reason == "soft_bounces"
    assert Subscriber.objects.filter(status="subscribed").count() == 8


def test_a_batch_takes_a_few_statements_whatever_its_size(world, django_assert_max_num_queries):
    reports = [
        Feedback(
            source="sendgrid",
            event_id=f"hb-{d.pk}",
            kind=K.HARD_BOUNCE,
            message_ref=MessageTokens(
                campaign_id=d.campaign_id, subscriber_id=d.subscriber_id
            ).message_ref(),
        )
        for d in world
    ]

    with at_most(django_assert_max_num_queries, 16):
        results = feedback_apply_batch(reports)

    assert len(results) == len(world) == 27
    assert Counter(e.outcome for e in results) == {"applied": 27}
    # The one already unsubscribed too: a bounce is the stronger signal.
    assert Subscriber.objects.filter(status="bounced").count() == 9
    assert PlatformSuppression.objects.count() == 8  # person0 and PERSON0 are one address


def test_the_same_report_twice_in_one_batch_is_applied_once(tokens, subscriber):
    report = Feedback(
        source="arf", event_id="x", kind=K.COMPLAINED, message_ref=tokens.message_ref()
    )

    first, again = feedback_apply_batch([report, report])

    assert first.outcome == "applied" and again is None
    assert FeedbackEvent.objects.count() == 1
    assert subscriber.consent_records.filter(event="withdrawn").count() == 1


def test_feedback_apply_is_a_batch_of_one(tokens, subscriber):
    report = Feedback(
        source="arf", event_id="x", kind=K.COMPLAINED, message_ref=tokens.message_ref()
    )

    assert feedback_apply(report).outcome == "applied"
    assert feedback_apply(report) is None
    assert feedback_apply_batch([]) == []


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")
def test_a_sendgrid_post_is_applied_as_one_batch_and_its_retry_changes_nothing(
    client, settings, world, django_assert_max_num_queries
):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hooks:s3cret-webhook-pass"}
    events = [
        {
            "email": d.subscriber.email,
            "timestamp": 1763630043,
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 no such user",
            "sg_event_id": f"sg-{d.pk}",
            "sg_message_id": f"sgm-{d.pk}",
            "message_ref": MessageTokens(
                campaign_id=d.campaign_id, subscriber_id=d.subscriber_id
            ).message_ref(),
        }
        for d in world
    ]
    body = json.dumps(events)

    with at_most(django_assert_max_num_queries, 20):
        response = client.post(
            "/webhooks/sendgrid/tracking/", body, content_type="application/json", **basic_auth()
        )
    before = snapshot()
    again = client.post(
        "/webhooks/sendgrid/tracking/", body, content_type="application/json", **basic_auth()
    )

    assert response.status_code == again.status_code == 200
    assert FeedbackEvent.objects.count() == 27
    assert Counter(FeedbackEvent.objects.values_list("outcome", flat=True)) == {"applied": 27}
    assert Delivery.objects.filter(hard_bounced_at__isnull=False).count() == 27
    assert snapshot() == before


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_same_post_applied_twice_at_once_is_applied_once(world):
    """An ESP retrying while its first post is still being applied: two batches with the same
    reports (in another order), in two connections at the same time."""
    import threading

    reports = [
        Feedback(
            source="sendgrid",
            event_id=f"c-{d.pk}",
            kind=K.COMPLAINED,
            message_ref=MessageTokens(
                campaign_id=d.campaign_id, subscriber_id=d.subscriber_id
            ).message_ref(),
        )
        for d in world
    ]
    start = threading.Barrier(2)
    results: dict[str, list] = {}
    errors: list[BaseException] = []

    def post(name: str, batch: list[Feedback]) -> None:
        try:
            start.wait()
            results[name] = feedback_apply_batch(batch)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=("first", reports)),
        threading.Thread(target=post, args=("retry", list(reversed(reports)))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    applied = [e for batch in results.values() for e in batch if e is not None]
    assert len(applied) == len(reports) == 27
    assert FeedbackEvent.objects.count() == 27
    # Nine subscribers (one was unsubscribed: a complaint is stronger), each withdrawn once
    # although each got three complaints (one per campaign), each twice.
    assert ConsentRecord.objects.filter(event="withdrawn").count() == 9
    assert WebhookDelivery.objects.count() == 9
    assert Subscriber.objects.filter(status="complained").count() == 9


def test_an_integrity_error_that_is_not_the_reports_own_row_is_raised(
    tokens, subscriber, monkeypatch
):
    """Only the report's (source, event id) row already there means "already applied": a
    caller that answers for the report itself (a page) gets the error."""
    from django.db import IntegrityError

    from complaints import services

    def broken(batch, events):
        raise IntegrityError("insert or update on table violates foreign key constraint")

    monkeypatch.setattr(services, "_write", broken)
    report = Feedback(
        source="arf", event_id="x", kind=K.COMPLAINED, message_ref=tokens.message_ref()
    )

    with pytest.raises(IntegrityError):
        feedback_apply_batch([report], dead_letter=False)
    with pytest.raises(IntegrityError):
        feedback_apply(report)
    assert not FeedbackEvent.objects.exists()


def test_a_report_committed_meanwhile_by_another_is_already_applied(
    tokens, subscriber, monkeypatch
):
    from django.db import IntegrityError

    from complaints import services

    report = Feedback(
        source="arf", event_id="x", kind=K.COMPLAINED, message_ref=tokens.message_ref()
    )
    feedback_apply(report)  # the other process's, committed while ours kept meeting it

    def racing(reports):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(services, "_apply_batch", racing)

    assert feedback_apply_batch([report]) == [None]


def test_an_esps_opens_and_clicks_are_recorded_together_and_once(world, monkeypatch):
    from campaigns import tracking
    from campaigns.models import TrackingEvent

    calls = []
    real = tracking.hits_record
    monkeypatch.setattr(tracking, "hits_record", lambda hits: calls.append(hits) or real(hits))
    deliveries = list(Delivery.objects.filter(status=DeliveryStatus.SENT)[:3])
    reports = [
        Feedback(
            source="mailgun",
            event_id=f"e{n}",
            kind=K.OPENED if n < 2 else K.CLICKED,
            message_ref=MessageTokens(
                campaign_id=d.campaign_id, subscriber_id=d.subscriber_id
            ).message_ref(),
            user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        )
        for n, d in enumerate(deliveries)
    ]

    feedback_apply_batch(reports)
    feedback_apply_batch(reports)  # the ESP retried the post

    assert [len(hits) for hits in calls] == [3]
    events = TrackingEvent.objects.filter(delivery__in=deliveries)
    assert sorted(events.values_list("kind", flat=True)) == ["click", "open", "open"]
    ids = set(
        FeedbackEvent.objects.filter(kind__in=("opened", "clicked")).values_list("pk", flat=True)
    )
    assert {e.queue_id for e in events} == {f"feedback:{pk}" for pk in ids}
