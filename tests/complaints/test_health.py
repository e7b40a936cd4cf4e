"""Account health judges with the probe verdict's thresholds (campaigns.verdict.Thresholds, one
place): hard bounces and provider blocks over the messages handed over in the window (refusals at
hand-over included), complaints and unsubscribes over those accepted; the policy's limits
(complaints "0.5% or more", hard bounces "more than 5%") make it over_limit, every metric's
warning level makes it a warning."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Delivery, DeliveryStatus
from complaints.selectors import HealthStatus, account_health
from tests.campaigns.factories import subscribe_many

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.HEALTH_MIN_SENT = 100
    settings.HEALTH_WINDOW_DAYS = 30
    settings.HARD_BOUNCE_WARN, settings.HARD_BOUNCE_LIMIT = 0.02, 0.05
    settings.COMPLAINT_WARN, settings.COMPLAINT_REVIEW = 0.001, 0.003
    settings.COMPLAINT_LIMIT = 0.005
    settings.BLOCK_WARN, settings.BLOCK_REVIEW = 0.02, 0.05
    settings.UNSUBSCRIBE_WARN, settings.UNSUBSCRIBE_REVIEW = 0.01, 0.02


def sent(campaign, mailing_list, count, *, prefix, days_ago=1, **flags):
    """`count` deliveries accepted `days_ago`; `flags` name how many of them got each mark
    (hard_bounced=3 marks the first three)."""
    ids = subscribe_many(mailing_list, count, prefix=prefix)
    at = NOW - timedelta(days=days_ago)
    rows = []
    for n, pk in enumerate(ids):
        marks = {f"{name}_at": at for name, many in flags.items() if n < many}
        rows.append(
            Delivery(
                campaign=campaign,
                subscriber_id=pk,
                provider="other",
                status=DeliveryStatus.SENT,
                sent_at=at,
                **marks,
            )
        )
    Delivery.objects.bulk_create(rows)


def refused(campaign, mailing_list, count, *, prefix, kind="hard_bounced", days_ago=1):
    """`count` deliveries refused at hand-over `days_ago` (failed, never sent)."""
    ids = subscribe_many(mailing_list, count, prefix=prefix)
    at = NOW - timedelta(days=days_ago)
    Delivery.objects.bulk_create(
        Delivery(
            campaign=campaign,
            subscriber_id=pk,
            provider="other",
            status=DeliveryStatus.FAILED,
            error="550 5.1.1 user unknown",
            **{f"{kind}_at": at},
        )
        for pk in ids
    )


def test_refusals_at_hand_over_count_as_messages_and_as_hard_bounces(
    account, campaign, mailing_list
):
    sent(campaign, mailing_list, 190, prefix="a")
    refused(campaign, mailing_list, 10, prefix="b")
    refused(campaign, mailing_list, 50, prefix="old", days_ago=45)  # outside the window

    health = account_health(account=account)

    assert (health.sent, health.accepted, health.hard_bounces) == (200, 190, 10)
    assert health.hard_bounce_rate == 0.05
    # 5% is the policy's limit, which is "more than 5%": a warning, not over the limit.
    assert health.status == HealthStatus.WARNING
    assert health.reasons == ["Hard bounces at 5% of 200 messages, over 2%."]
    assert health.levels["hard_bounces"] == HealthStatus.WARNING


def test_hard_bounces_over_five_percent_are_over_the_limit(account, campaign, mailing_list):
    sent(campaign, mailing_list, 190, prefix="a", hard_bounced=1)
    refused(campaign, mailing_list, 10, prefix="b")

    health = account_health(account=account)

    assert (health.status, health.hard_bounces, health.sent) == (HealthStatus.OVER_LIMIT, 11, 200)
    assert health.reasons == ["Hard bounces at 5.5% of 200 messages, at or over the limit of 5%."]


def test_complaints_are_a_share_of_the_messages_accepted(account, campaign, mailing_list):
    # 1 complaint in 150 accepted is 0.67%; of the 200 handed over it would be 0.5%.
    sent(campaign, mailing_list, 150, prefix="a", complained=1)
    refused(campaign, mailing_list, 50, prefix="b", kind="soft_bounced")

    health = account_health(account=account)

    assert health.complaint_rate == pytest.approx(1 / 150)
    assert health.status == HealthStatus.OVER_LIMIT
    assert health.reasons == [
        "Spam complaints at 0.67% of 150 messages, at or over the limit of 0.5%."
    ]


def test_provider_blocks_warn_but_never_put_the_account_over_the_limit(
    account, campaign, mailing_list
):
    sent(campaign, mailing_list, 100, prefix="a", blocked=30)
    refused(campaign, mailing_list, 100, prefix="b", kind="blocked")

    health = account_health(account=account)

    assert (health.blocks, health.sent, health.block_rate) == (130, 200, 0.65)
    assert health.status == HealthStatus.WARNING
    assert health.reasons == [
        "Blocked by mailbox providers' spam filters at 65% of 200 messages, over 2%."
    ]
    assert health.levels == {
        "complaints": HealthStatus.GOOD,
        "hard_bounces": HealthStatus.GOOD,
        "blocks": HealthStatus.WARNING,
        "unsubscribes": HealthStatus.GOOD,
    }


def test_unsubscribes_over_their_warning_level_warn(account, campaign, mailing_list):
    sent(campaign, mailing_list, 200, prefix="a", unsubscribed=3)

    health = account_health(account=account)

    assert (health.status, health.unsubscribe_rate) == (HealthStatus.WARNING, 0.015)
    assert health.reasons == ["Unsubscribes at 1.5% of 200 messages, over 1%."]


def test_the_levels_are_the_settings_the_verdict_reads(account, campaign, mailing_list, settings):
    sent(campaign, mailing_list, 200, prefix="a", unsubscribed=2, blocked=4)
    settings.UNSUBSCRIBE_WARN, settings.UNSUBSCRIBE_REVIEW = 0.02, 0.04
    settings.BLOCK_WARN = 0.03

    health = account_health(account=account)

    assert (health.status, health.reasons) == (HealthStatus.GOOD, [])


def test_a_handful_of_messages_is_not_judged(account, campaign, mailing_list):
    sent(campaign, mailing_list, 99, prefix="a", complained=50, blocked=50)

    health = account_health(account=account)

    assert (health.status, health.reasons, health.levels) == (
        HealthStatus.NOT_ENOUGH_DATA,
        [],
        {},
    )
