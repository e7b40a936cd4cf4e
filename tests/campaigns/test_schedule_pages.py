"""The schedule in the browser: its page, the campaign page and the index show it in the zone
chosen (the Chromium journey is tests/browser/test_schedule_journey.py)."""

import re
from datetime import UTC, timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignScheduleChange
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def campaign(account, sender_domain, mailing_list, subscriber):
    return CampaignFactory(account=account, name="November news", lists=[mailing_list])


def _words(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _wall(days=5):
    return (timezone.now() + timedelta(days=days)).replace(
        tzinfo=None, hour=8, minute=15, second=0, microsecond=0
    )


def test_the_sender_schedules_a_draft_in_a_zone_and_every_page_shows_it_there(
    owner, user, campaign
):
    wall = _wall()
    url = reverse("campaign_schedule", args=[campaign.pk])
    assert owner.get(url).status_code == 200

    response = owner.post(
        url,
        {"scheduled_at": wall.strftime("%Y-%m-%dT%H:%M"), "schedule_timezone": "Asia/Kolkata"},
        follow=True,
    )

    shown = f"{wall:%Y-%m-%d %H:%M} (Asia/Kolkata)"
    assert "Schedule saved." in _words(response)
    assert shown in _words(response)
    assert f"Scheduled for {wall:%Y-%m-%d %H:%M} (Asia/Kolkata)" in _words(response)
    campaign.refresh_from_db()
    assert campaign.schedule_timezone == "Asia/Kolkata"
    # India is UTC+05:30 all year.
    assert campaign.scheduled_at == wall.replace(tzinfo=UTC) - timedelta(hours=5, minutes=30)
    assert f"Starts {shown}" in _words(owner.get(reverse("campaigns")))
    change = CampaignScheduleChange.objects.get()
    assert (change.actor, change.status) == (user, "draft")


def test_a_past_time_is_shown_as_an_error_and_saves_nothing(owner, campaign):
    response = owner.post(
        reverse("campaign_schedule", args=[campaign.pk]),
        {"scheduled_at": "2020-02-02T10:00", "schedule_timezone": "Europe/Paris"},
    )

    assert response.status_code == 200
    assert "has passed" in _words(response)
    assert Campaign.objects.get(pk=campaign.pk).scheduled_at is None


def test_clearing_goes_back_to_at_approval(owner, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        scheduled_at=timezone.now() + timedelta(days=1), schedule_timezone="UTC"
    )

    response = owner.post(
        reverse("campaign_schedule", args=[campaign.pk]), {"clear": "1"}, follow=True
    )

    assert "Schedule cleared" in _words(response)
    assert "As soon as a moderator approves it" in _words(response)
    assert Campaign.objects.get(pk=campaign.pk).scheduled_at is None


def test_once_the_probe_has_started_the_page_refuses_and_the_link_is_gone(owner, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        status="holding", scheduled_at=timezone.now() - timedelta(hours=1), schedule_timezone="UTC"
    )

    response = owner.post(
        reverse("campaign_schedule", args=[campaign.pk]),
        {"scheduled_at": _wall().strftime("%Y-%m-%dT%H:%M"), "schedule_timezone": "UTC"},
        follow=True,
    )

    assert "can no longer change" in _words(response)
    assert reverse("campaign_schedule", args=[campaign.pk]) not in response.content.decode()
    assert not CampaignScheduleChange.objects.exists()


def test_an_approved_campaign_waiting_for_its_time_says_so(owner, campaign):
    at = timezone.now() + timedelta(days=1)
    Campaign.objects.filter(pk=campaign.pk).update(
        status="approved", approved_at=timezone.now(), scheduled_at=at, schedule_timezone="UTC"
    )

    page = _words(owner.get(reverse("campaign_detail", args=[campaign.pk])))

    assert f"Approved. The probe starts at {at:%Y-%m-%d %H:%M} (UTC)" in page
    assert "Choosing the probe" not in page


def test_another_accounts_campaign_is_a_404(owner, other_user):
    foreign = CampaignFactory(account=other_user.account)

    assert owner.get(reverse("campaign_schedule", args=[foreign.pk])).status_code == 404
