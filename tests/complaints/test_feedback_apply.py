"""feedback_apply: the one place every channel's report lands, matched by our signed
per-message reference, applied once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Delivery
from campaigns.selectors import suppressed_addresses
from campaigns.tokens import MessageTokens
from complaints.models import FeedbackEvent, FeedbackKind
from complaints.services import Feedback, feedback_apply
from lists.models import PlatformSuppression, Suppression
from lists.services.suppression import PLATFORM_HARD_BOUNCE, suppression_reason
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def _feedback(tokens, kind, *, event_id="evt-1", **fields):
    return Feedback(
        source="amazon_ses",
        event_id=event_id,
        kind=kind,
        message_ref=tokens.message_ref(),
        **fields,
    )


def test_a_hard_bounce_marks_the_delivery_ends_the_subscription_and_suppresses_everywhere(
    tokens, delivery, subscriber, account
):
    event = feedback_apply(_feedback(tokens, FeedbackKind.HARD_BOUNCE, code="5.1.1"))

    delivery.refresh_from_db()
    subscriber.refresh_from_db()
    assert event.outcome == "applied"
    assert (event.account_id, event.campaign_id, event.delivery_id) == (
        account.pk,
        delivery.campaign_id,
        delivery.pk,
    )
    assert event.is_probe is True
    assert event.recipient == "ann.lee@example.org"
    assert delivery.hard_bounced_at is not None
    assert subscriber.status == "bounced"
    assert suppression_reason(account=account, email="ann.lee@example.org") == "hard_bounce"
    assert PlatformSuppression.objects.count() == 1
    # Another account never stored the address, yet skips it.
    other = AccountFactory()
    assert suppression_reason(account=other, email="Ann.Lee@example.org") == PLATFORM_HARD_BOUNCE
    assert suppressed_addresses(account_id=other.pk, emails=["ann.lee@example.org"]) == {
        "ann.lee@example.org": PLATFORM_HARD_BOUNCE
    }


def test_a_complaint_is_per_account_only(tokens, delivery, subscriber, account):
    feedback_apply(_feedback(tokens, FeedbackKind.COMPLAINED))

    subscriber.refresh_from_db()
    delivery.refresh_from_db()
    assert subscriber.status == "complained"
    assert delivery.complained_at is not None
    assert suppression_reason(account=account, email="ann.lee@example.org") == "complained"
    assert suppression_reason(account=AccountFactory(), email="ann.lee@example.org") is None
    assert not PlatformSuppression.objects.exists()


def test_the_same_event_twice_changes_nothing_the_second_time(tokens, delivery, subscriber):
    first = feedback_apply(_feedback(tokens, FeedbackKind.COMPLAINED))
    again = feedback_apply(_feedback(tokens, FeedbackKind.COMPLAINED))

    assert first is not None and again is None
    assert FeedbackEvent.objects.count() == 1
    assert subscriber.consent_records.filter(event="withdrawn").count() == 1


def test_a_late_unsubscribe_does_not_weaken_a_complaint(tokens, delivery, subscriber, account):
    feedback_apply(_feedback(tokens, FeedbackKind.COMPLAINED, event_id="a"))
    feedback_apply(_feedback(tokens, FeedbackKind.UNSUBSCRIBED, event_id="b"))

    subscriber.refresh_from_db()
    delivery.refresh_from_db()
    assert subscriber.status == "complained"
    assert delivery.unsubscribed_at is not None
    assert Suppression.objects.get(account=account).reason == "complained"


def test_out_of_order_delivered_after_bounce_keeps_the_bounce(tokens, delivery, subscriber):
    earlier = timezone.now() - timedelta(minutes=5)
    feedback_apply(_feedback(tokens, FeedbackKind.HARD_BOUNCE, event_id="b"))
    feedback_apply(_feedback(tokens, FeedbackKind.DELIVERED, event_id="d", occurred_at=earlier))

    delivery.refresh_from_db()
    subscriber.refresh_from_db()
    assert delivery.hard_bounced_at is not None
    assert delivery.delivered_at == earlier
    assert subscriber.status == "bounced"


def test_a_forged_or_unknown_reference_changes_nothing(delivery, subscriber):
    forged = MessageTokens(campaign_id=delivery.campaign_id, subscriber_id=subscriber.pk)
    ref = forged.message_ref()
    tampered = ref[:-2] + ("AA" if not ref.endswith("AA") else "BB")

    event = feedback_apply(
        Feedback(
            source="dsn",
            event_id="x",
            kind=FeedbackKind.HARD_BOUNCE,
            message_ref=tampered,
            recipient="ann.lee@example.org",
        )
    )

    subscriber.refresh_from_db()
    assert event.outcome == "unmatched"
    assert subscriber.status == "subscribed"
    assert not Suppression.objects.exists() and not PlatformSuppression.objects.exists()
    assert Delivery.objects.get(pk=delivery.pk).hard_bounced_at is None


def test_a_test_message_is_recorded_as_such_and_changes_nothing(delivery, subscriber):
    test = MessageTokens(
        campaign_id=delivery.campaign_id, subscriber_id=subscriber.pk, is_test=True
    )
    event = feedback_apply(_feedback(test, FeedbackKind.COMPLAINED))

    subscriber.refresh_from_db()
    assert event.outcome == "test"
    assert subscriber.status == "subscribed"
    assert not Suppression.objects.exists()


def test_matched_by_the_providers_message_id_without_our_reference(delivery, subscriber):
    event = feedback_apply(
        Feedback(
            source="mailgun",
            event_id="m-1",
            kind=FeedbackKind.UNSUBSCRIBED,
            provider_message_id="0100018c-provider-id",
        )
    )

    subscriber.refresh_from_db()
    assert event.delivery_id == delivery.pk
    assert subscriber.status == "unsubscribed"
    assert event.suppression_seconds is not None and event.suppression_seconds < 5


def test_an_esp_open_counts_like_the_pixel(tokens, delivery):
    feedback_apply(
        _feedback(
            tokens,
            FeedbackKind.OPENED,
            user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 "
            "Firefox/128.0",
            ip="203.0.113.9",
        )
    )

    delivery.refresh_from_db()
    assert (delivery.opens, delivery.opened_at is not None) == (1, True)


def test_the_health_of_many_accounts_is_each_ones_own(tokens, delivery, account, settings):
    from complaints.selectors import account_health, accounts_health

    settings.HEALTH_MIN_SENT = 1
    feedback_apply(_feedback(tokens, FeedbackKind.COMPLAINED))
    quiet = AccountFactory()

    many = accounts_health(accounts=[account, quiet])

    assert (many[account.pk].sent, many[account.pk].complaints) == (1, 1)
    assert many[account.pk].status == "over_limit"
    assert (many[quiet.pk].sent, many[quiet.pk].status) == (0, "not_enough_data")
    assert many[account.pk] == account_health(
        account=account, now=many[account.pk].since + timedelta(days=settings.HEALTH_WINDOW_DAYS)
    )


def test_a_report_naming_another_address_only_reaches_the_messages_recipient(
    tokens, delivery, subscriber, account
):
    event = feedback_apply(
        _feedback(
            tokens, FeedbackKind.HARD_BOUNCE, recipient="victim@example.com", detail="550 5.1.1"
        )
    )

    assert event.recipient == "ann.lee@example.org"
    assert event.detail == (
        "550 5.1.1; reported recipient victim@example.com is not the address the message went to"
    )
    other = AccountFactory()
    assert suppression_reason(account=other, email="victim@example.com") is None
    assert suppression_reason(account=other, email="ann.lee@example.org") == PLATFORM_HARD_BOUNCE


def test_a_report_naming_the_recipient_in_other_case_keeps_its_detail(tokens, delivery):
    event = feedback_apply(
        _feedback(tokens, FeedbackKind.HARD_BOUNCE, recipient="ANN.LEE@example.org", detail="x")
    )

    assert (event.recipient, event.detail) == ("ann.lee@example.org", "x")


def test_a_block_counts_against_the_campaign_and_never_against_the_address(
    tokens, delivery, subscriber, account
):
    event = feedback_apply(_feedback(tokens, FeedbackKind.BLOCKED, code="5.7.1"))

    delivery.refresh_from_db()
    subscriber.refresh_from_db()
    assert (event.outcome, event.kind, event.suppressed_at) == ("applied", "blocked", None)
    assert delivery.blocked_at == event.occurred_at
    assert (delivery.hard_bounced_at, delivery.soft_bounced_at) == (None, None)
    assert subscriber.status == "subscribed"
    assert (Suppression.objects.count(), PlatformSuppression.objects.count()) == (0, 0)


def test_the_third_soft_bounce_over_a_week_suppresses_for_the_account(
    tokens, delivery, subscriber, account, campaign
):
    from tests.campaigns.factories import CampaignFactory

    for days in (9, 4):
        Delivery.objects.create(
            campaign=CampaignFactory(account=account),
            subscriber=subscriber,
            provider="other",
            status="sent",
            soft_bounced_at=timezone.now() - timedelta(days=days),
        )

    event = feedback_apply(_feedback(tokens, FeedbackKind.SOFT_BOUNCE, code="4.2.2"))
    again = feedback_apply(_feedback(tokens, FeedbackKind.SOFT_BOUNCE, event_id="evt-2"))

    subscriber.refresh_from_db()
    assert event.suppressed_at is not None
    assert again.suppressed_at is None  # the same message's second report counts once
    assert suppression_reason(account=account, email="ann.lee@example.org") == "soft_bounces"
    assert subscriber.status == "subscribed"
    assert PlatformSuppression.objects.count() == 0
    assert suppression_reason(account=AccountFactory(), email="ann.lee@example.org") is None


def test_two_soft_bounces_suppress_nothing(tokens, delivery, subscriber, account):
    from tests.campaigns.factories import CampaignFactory

    Delivery.objects.create(
        campaign=CampaignFactory(account=account),
        subscriber=subscriber,
        provider="other",
        status="sent",
        soft_bounced_at=timezone.now() - timedelta(days=30),
    )

    event = feedback_apply(_feedback(tokens, FeedbackKind.SOFT_BOUNCE, code="4.2.2"))

    assert event.suppressed_at is None
    assert Suppression.objects.count() == 0
