"""The probe recipients' history: who was inactive in the account's last campaigns (no person's
open or click), who is new, and that the verdict shows it without being decided by it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import selectors
from campaigns.models import Delivery, DeliveryStatus
from campaigns.verdict import Thresholds, Tier, judge
from tests.campaigns.factories import CampaignFactory, subscribe_many
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def campaign_at(account, mailing_list, days_ago: int):
    return CampaignFactory(
        account=account, lists=[mailing_list], probe_sent_at=NOW - timedelta(days=days_ago)
    )


def deliver(campaign, subscriber_ids, *, probe=False, status=DeliveryStatus.SENT, **fields):
    Delivery.objects.bulk_create(
        Delivery(
            campaign=campaign,
            subscriber_id=pk,
            provider="other",
            is_probe=probe,
            status=status,
            sent_at=NOW if status == DeliveryStatus.SENT else None,
            **fields,
        )
        for pk in subscriber_ids
    )


@pytest.fixture
def probe(account, mailing_list, settings):
    """Ten probe recipients. The account's three previous campaigns reached the first eight:
    0-1 opened one as people, 2 clicked one, 3 only had machine opens and scanner clicks, 4-7 did
    nothing; 8-9 were sent none of them. An older, fourth campaign (outside the last three)
    reached 4 and 8, who opened it; another account's campaign reached 9."""
    settings.INACTIVE_CAMPAIGNS = 3
    ids = subscribe_many(mailing_list, 10)
    oldest = campaign_at(account, mailing_list, days_ago=40)
    first, second, third = (campaign_at(account, mailing_list, days_ago=d) for d in (30, 20, 10))
    deliver(oldest, [ids[4], ids[8]], opened_at=NOW)
    deliver(first, ids[0:8])
    deliver(second, ids[0:1], opened_at=NOW)
    deliver(second, ids[1:2], opened_at=NOW, clicked_at=NOW)
    deliver(third, ids[2:3], clicked_at=NOW, opened_at=NOW)
    deliver(third, ids[3:4], machine_opens=3, machine_clicks=2)
    stranger_list = MailingListFactory()
    stranger_ids = subscribe_many(stranger_list, 10)  # the same addresses, another account
    stranger = campaign_at(stranger_list.account, stranger_list, days_ago=5)
    deliver(stranger, stranger_ids[9:10], opened_at=NOW)
    current = CampaignFactory(account=account, lists=[mailing_list], probe_sent_at=NOW)
    deliver(current, ids, probe=True)
    return current


def test_inactive_recipients_are_those_sent_the_last_campaigns_who_engaged_with_none(probe):
    history = selectors.probe_history(campaign=probe)

    assert history == selectors.RecipientHistory(
        recipients=10, inactive=5, first_time=2, earlier_campaigns=3
    )


def test_the_same_address_on_another_list_of_the_account_is_the_same_person(
    probe, account, mailing_list
):
    other_list = MailingListFactory(account=account)
    # r5@... (inactive so far) opened the last campaign, sent to their row on another list.
    elsewhere = subscribe_many(other_list, 6)[5]
    latest = CampaignFactory(
        account=account, lists=[other_list], probe_sent_at=NOW - timedelta(days=1)
    )
    deliver(latest, [elsewhere], opened_at=NOW)

    history = selectors.probe_history(campaign=probe)

    # The last three are now the 20-, 10- and 1-day-old ones: 0, 1 and 2 engaged, 5 engaged
    # through the other list; 3 was sent one and engaged with none; 4, 6, 7 (sent only the
    # 30-day-old one), 8 and 9 were sent none of them.
    assert history == selectors.RecipientHistory(
        recipients=10, inactive=1, first_time=5, earlier_campaigns=3
    )


def test_a_first_campaign_has_no_history_and_everyone_is_new(account, mailing_list):
    ids = subscribe_many(mailing_list, 4)
    current = CampaignFactory(account=account, lists=[mailing_list], probe_sent_at=NOW)
    deliver(current, ids, probe=True)

    assert selectors.probe_history(campaign=current) == selectors.RecipientHistory(
        recipients=4, inactive=0, first_time=4, earlier_campaigns=0
    )


def test_the_figures_carry_the_history_and_it_informs_without_deciding(probe):
    figures = selectors.delivery_figures(campaign=probe, probe_only=True)

    assert (figures.sent, figures.recipients, figures.inactive, figures.first_time) == (
        10,
        10,
        5,
        2,
    )
    verdict = judge(figures, Thresholds.from_settings())
    assert (verdict.tier, verdict.rule) == (Tier.GREEN, "green")
    assert verdict.inactive == {
        "recipients": 10,
        "inactive": 5,
        "first_time": 2,
        "campaigns": 3,
        "share": 0.5,
    }
    assert verdict.rates["inactive_rate"] == 0.5


def test_the_history_takes_four_queries_whatever_the_campaigns(probe, django_assert_num_queries):
    with django_assert_num_queries(4):
        selectors.probe_history(campaign=probe)


def test_refusals_at_hand_over_are_attempts_and_bounces(account, mailing_list):
    ids = subscribe_many(mailing_list, 10)
    current = CampaignFactory(account=account, lists=[mailing_list], probe_sent_at=NOW)
    deliver(current, ids[:6], probe=True)
    deliver(current, ids[6:8], probe=True, status=DeliveryStatus.FAILED, hard_bounced_at=NOW)
    deliver(current, ids[8:9], probe=True, status=DeliveryStatus.FAILED, blocked_at=NOW)
    # Failed without a server's answer (the backend was unreachable): not an attempt.
    deliver(current, ids[9:10], probe=True, status=DeliveryStatus.FAILED, error="timed out")

    figures = selectors.delivery_figures(campaign=current, probe_only=True)

    assert (figures.sent, figures.refused, figures.attempted) == (6, 3, 9)
    assert (figures.hard_bounces, figures.blocks) == (2, 1)
