"""The schedule through the API: `scheduled_at` and `schedule_timezone` on drafts, and
PATCH /campaigns/{id}/schedule/ until the probe starts."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignScheduleChange
from tests.campaigns.factories import CampaignFactory, approve_now, submitted_campaign
from tests.factories import UserFactory
from tests.lists.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(autouse=True)
def _analyser(settings):
    settings.CONTENT_ANALYSER = "tests.campaigns.test_services.review_analyser"


def _wall_time(days: int = 3) -> datetime:
    return (timezone.now() + timedelta(days=days)).replace(
        tzinfo=None, hour=9, minute=30, second=0, microsecond=0
    )


def test_a_draft_is_created_scheduled_in_its_zone_and_shown_there(token_client, campaign_fields):
    wall_time = _wall_time()
    campaign_fields |= {
        "scheduled_at": wall_time.isoformat(),
        "schedule_timezone": "Asia/Tokyo",
    }

    created = token_client.post("/api/v1/campaigns/", campaign_fields, format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["schedule_timezone"] == "Asia/Tokyo"
    assert body["scheduled_at"] == wall_time.replace(tzinfo=TOKYO).isoformat()
    assert body["scheduled_at"].endswith("+09:00")
    stored = Campaign.objects.get(pk=body["id"])
    assert stored.scheduled_at == wall_time.replace(tzinfo=TOKYO).astimezone(UTC)
    listed = token_client.get("/api/v1/campaigns/").json()["results"][0]
    assert listed["scheduled_at"] == body["scheduled_at"]


def test_an_unscheduled_draft_says_null(token_client, campaign_fields):
    body = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()

    assert (body["scheduled_at"], body["schedule_timezone"]) == (None, "")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scheduled_at": "2020-01-01T09:00:00Z"}, "scheduled_at"),
        ({"scheduled_at": "2020-01-01T09:00:00", "schedule_timezone": "UTC"}, "scheduled_at"),
        ({"scheduled_at": "tomorrow"}, "scheduled_at"),
        (
            {"scheduled_at": "2027-06-01T09:00:00", "schedule_timezone": "Moon/Base"},
            "schedule_timezone",
        ),
    ],
)
def test_a_bad_schedule_is_a_400_on_its_field_and_creates_nothing(
    token_client, campaign_fields, fields, field
):
    response = token_client.post("/api/v1/campaigns/", campaign_fields | fields, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Campaign.objects.exists()


def test_patch_schedule_moves_and_clears_a_draft_and_records_each_change(
    token_client, campaign_fields
):
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]
    url = f"/api/v1/campaigns/{campaign_id}/schedule/"
    when = (timezone.now() + timedelta(days=1)).replace(microsecond=0)

    moved = token_client.patch(
        url,
        {"scheduled_at": when.isoformat(), "schedule_timezone": "America/New_York"},
        format="json",
    )
    cleared = token_client.patch(url, {"scheduled_at": None}, format="json")

    assert moved.status_code == 200, moved.json()
    assert datetime.fromisoformat(moved.json()["scheduled_at"]) == when
    assert moved.json()["schedule_timezone"] == "America/New_York"
    assert cleared.status_code == 200
    assert (cleared.json()["scheduled_at"], cleared.json()["schedule_timezone"]) == (None, "")
    changes = CampaignScheduleChange.objects.filter(campaign_id=campaign_id)
    assert [c.new_timezone for c in changes] == ["America/New_York", ""]
    assert {c.actor for c in changes} == {token_client.user}


def test_patch_schedule_needs_the_field_and_refuses_the_past(token_client, campaign_fields):
    campaign_id = token_client.post("/api/v1/campaigns/", campaign_fields, format="json").json()[
        "id"
    ]
    url = f"/api/v1/campaigns/{campaign_id}/schedule/"

    missing = token_client.patch(url, {}, format="json")
    past = token_client.patch(url, {"scheduled_at": "2021-05-05T10:00:00+02:00"}, format="json")

    assert missing.status_code == 400 and "scheduled_at" in missing.json()
    assert past.status_code == 400 and "has passed" in str(past.json())
    assert not CampaignScheduleChange.objects.exists()


def test_an_approved_campaign_waiting_for_its_time_can_be_moved_not_once_started(
    token_client, mailing_list, django_capture_on_commit_callbacks
):
    SubscriberFactory(mailing_list=mailing_list)
    campaign = submitted_campaign(mailing_list)
    url = f"/api/v1/campaigns/{campaign.pk}/schedule/"
    soon = timezone.now() + timedelta(hours=2)
    assert (
        token_client.patch(url, {"scheduled_at": soon.isoformat()}, format="json").status_code
        == 200
    )
    campaign = approve_now(campaign, UserFactory(is_staff=True), django_capture_on_commit_callbacks)
    assert campaign.status == "approved"

    later = token_client.patch(
        url, {"scheduled_at": (soon + timedelta(days=1)).isoformat()}, format="json"
    )
    assert later.status_code == 200
    assert later.json()["status"] == "approved"

    with django_capture_on_commit_callbacks(execute=True):
        started = token_client.patch(url, {"scheduled_at": None}, format="json")
    assert started.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == "holding"

    refused = token_client.patch(url, {"scheduled_at": soon.isoformat()}, format="json")
    assert refused.status_code == 409
    assert "can no longer change" in refused.json()["detail"]


def test_another_accounts_campaign_is_a_404(token_client):
    foreign = CampaignFactory(account=UserFactory().account)

    response = token_client.patch(
        f"/api/v1/campaigns/{foreign.pk}/schedule/",
        {"scheduled_at": (timezone.now() + timedelta(days=1)).isoformat()},
        format="json",
    )

    assert response.status_code == 404
    assert Campaign.objects.get(pk=foreign.pk).scheduled_at is None
