"""Scheduling: a campaign asks to go at a time in a chosen zone; moderation happens before, the
probe starts at that time or at approval (whichever is later), and the sender may move or clear
the time until the probe starts (tasks run eagerly; mail goes to Django's locmem outbox)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import AccountState
from campaigns import delivery, scheduling, sending, tasks
from campaigns.models import Campaign, CampaignScheduleChange, Delivery
from campaigns.states import CampaignStatus, schedule_can_change
from config.errors import ApplicationError, InvalidTransition, NotFound
from moderation.enforcement import decisions
from tests.campaigns.factories import approve_now, submitted_campaign, subscribe_many
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BERLIN = "Europe/Berlin"
# Fixed "now" for the zone arithmetic, before every date below.
JAN_2027 = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def moderator(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def campaign(mailing_list):
    subscribe_many(mailing_list, 50)
    return submitted_campaign(mailing_list)


def _schedule(campaign, when, zone=BERLIN, actor=None):
    return scheduling.campaign_schedule(
        account=campaign.account,
        campaign_id=campaign.pk,
        actor=actor,
        scheduled_at=when,
        timezone_name=zone,
    )


def _in_an_hour():
    return timezone.now() + timedelta(hours=1)


def _time_passes(campaign) -> None:
    """The scheduled time is now a second ago (as a clock moving on would leave it)."""
    Campaign.objects.filter(pk=campaign.pk).update(
        scheduled_at=timezone.now() - timedelta(seconds=1)
    )


# --- checking the time asked for -------------------------------------------------------------


@pytest.mark.parametrize(
    ("wall_time", "utc"),
    [
        # Central European Time (UTC+1) the day before the clocks go forward...
        (datetime(2027, 3, 27, 9, 0), datetime(2027, 3, 27, 8, 0, tzinfo=UTC)),
        # ...and summer time (UTC+2) the day they do.
        (datetime(2027, 3, 28, 9, 0), datetime(2027, 3, 28, 7, 0, tzinfo=UTC)),
        # 02:30 happens twice when they go back: the first (still summer time) is meant.
        (datetime(2027, 10, 31, 2, 30), datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
    ],
)
def test_a_wall_time_is_read_in_the_zone_with_its_daylight_saving_rules(wall_time, utc):
    schedule = scheduling.schedule_checked(
        scheduled_at=wall_time, timezone_name=BERLIN, now=JAN_2027
    )

    assert schedule == scheduling.Schedule(at=utc, timezone_name=BERLIN)


def test_a_time_the_clocks_skip_is_refused():
    with pytest.raises(ApplicationError) as refused:
        scheduling.schedule_checked(
            scheduled_at=datetime(2027, 3, 28, 2, 30), timezone_name=BERLIN, now=JAN_2027
        )

    assert refused.value.field == "scheduled_at"
    assert "does not exist in Europe/Berlin" in refused.value.message


def test_a_time_with_an_offset_is_that_instant_whatever_the_zone():
    schedule = scheduling.schedule_checked(
        scheduled_at=datetime.fromisoformat("2027-06-01T09:00:00-04:00"),
        timezone_name="Asia/Tokyo",
        now=JAN_2027,
    )

    assert schedule.at == datetime(2027, 6, 1, 13, 0, tzinfo=UTC)
    assert schedule.timezone_name == "Asia/Tokyo"


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "europe/berlin"])
def test_a_zone_that_is_not_an_iana_name_is_refused(name):
    with pytest.raises(ApplicationError) as refused:
        scheduling.zone_checked(name)

    assert refused.value.field == "schedule_timezone"


def test_a_past_time_is_refused_and_nothing_changes(campaign):
    with pytest.raises(ApplicationError) as refused:
        _schedule(campaign, timezone.now() - timedelta(minutes=1))

    assert refused.value.field == "scheduled_at"
    assert "has passed" in refused.value.message
    campaign.refresh_from_db()
    assert campaign.scheduled_at is None
    assert not CampaignScheduleChange.objects.exists()


def test_more_than_a_year_ahead_is_refused(campaign):
    with pytest.raises(ApplicationError) as refused:
        _schedule(campaign, timezone.now() + timedelta(days=400))

    assert refused.value.field == "scheduled_at"


def test_each_change_is_recorded_once_and_the_same_schedule_twice_changes_nothing(campaign):
    user = campaign.account.users.first()
    when = _in_an_hour()

    _schedule(campaign, when, actor=user)
    _schedule(campaign, when, actor=user)
    _schedule(campaign, None, actor=user)

    changes = list(CampaignScheduleChange.objects.filter(campaign=campaign))
    assert [(c.old_scheduled_at, c.new_scheduled_at) for c in changes] == [
        (None, when.astimezone(UTC)),
        (when.astimezone(UTC), None),
    ]
    assert [(c.new_timezone, c.status, c.actor) for c in changes] == [
        (BERLIN, "submitted", user),
        ("", "submitted", user),
    ]


def test_another_accounts_campaign_is_not_found(campaign):
    other = UserFactory().account

    with pytest.raises(NotFound):
        scheduling.campaign_schedule(
            account=other, campaign_id=campaign.pk, actor=None, scheduled_at=_in_an_hour()
        )

    assert not CampaignScheduleChange.objects.exists()


BEFORE_THE_PROBE = {"draft", "submitted", "rejected", "approved", "paused"}


@pytest.mark.parametrize("status", CampaignStatus.values)
def test_the_schedule_changes_only_before_the_probe(status):
    assert schedule_can_change(status) is (status in BEFORE_THE_PROBE)


def test_a_paused_campaign_changes_its_schedule_only_if_it_paused_before_its_probe():
    assert schedule_can_change("paused", "approved")
    assert schedule_can_change("paused", "")
    assert not schedule_can_change("paused", "probing")
    assert not schedule_can_change("paused", "holding")


# --- the probe waits for its time ------------------------------------------------------------


def test_an_approved_campaign_waits_for_its_time_then_the_periodic_task_starts_it(
    campaign, moderator, django_capture_on_commit_callbacks
):
    _schedule(campaign, _in_an_hour())

    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)

    # Approved, and nothing fixed or sent yet: not the task, not beat's checks.
    assert campaign.status == "approved"
    assert tasks.start_probe(campaign.pk) == "approved"
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.start_due_campaigns() == []
    Campaign.objects.filter(pk=campaign.pk).update(approved_at=timezone.now() - timedelta(hours=1))
    assert campaign.pk not in delivery.sweep().dispatched
    assert not Delivery.objects.filter(campaign=campaign).exists()
    assert not [m for m in mail.outbox if "News for" in m.subject]

    _time_passes(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        started = tasks.start_due_campaigns()
    with django_capture_on_commit_callbacks(execute=True):
        again = tasks.start_due_campaigns()

    campaign.refresh_from_db()
    assert started == [campaign.pk]
    assert again == []
    assert campaign.status == "holding"
    assert Delivery.objects.filter(campaign=campaign, is_probe=True).count() == 5
    assert len([m for m in mail.outbox if "News for" in m.subject]) == 5
    assert list(campaign.changes.values_list("new_status", flat=True)) == [
        "approved",
        "probing",
        "holding",
    ]


def test_approved_after_its_time_the_probe_starts_at_approval(
    campaign, moderator, django_capture_on_commit_callbacks
):
    _schedule(campaign, _in_an_hour())
    _time_passes(campaign)

    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)

    assert campaign.status == "holding"
    assert campaign.probe_size == 5


def test_the_sender_moves_the_time_after_approval_without_new_moderation(
    campaign, moderator, django_capture_on_commit_callbacks
):
    _schedule(campaign, _in_an_hour())
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    version = campaign.approved_version_id
    later = timezone.now() + timedelta(days=2)

    moved = _schedule(campaign, later, zone="America/New_York")

    assert moved.status == "approved"
    assert moved.approved_version_id == version
    assert moved.scheduled_at == later.astimezone(UTC)
    assert moved.schedule_timezone == "America/New_York"
    assert CampaignScheduleChange.objects.filter(campaign=campaign, status="approved").count() == 1
    # The schedule is no status change: the history shows none.
    assert list(campaign.changes.values_list("new_status", flat=True)) == ["approved"]


def test_clearing_the_time_of_an_approved_campaign_starts_its_probe(
    campaign, moderator, django_capture_on_commit_callbacks
):
    _schedule(campaign, _in_an_hour())
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        _schedule(campaign, None)

    campaign.refresh_from_db()
    assert campaign.status == "holding"
    assert campaign.scheduled_at is None


def test_the_schedule_cannot_change_once_the_probe_has_started(
    campaign, moderator, django_capture_on_commit_callbacks
):
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    assert campaign.status == "holding"

    with pytest.raises(InvalidTransition):
        _schedule(campaign, _in_an_hour())

    campaign.refresh_from_db()
    assert campaign.scheduled_at is None
    assert not CampaignScheduleChange.objects.exists()


def test_a_frozen_accounts_scheduled_campaign_is_paused_not_started(
    campaign, moderator, django_capture_on_commit_callbacks
):
    _schedule(campaign, _in_an_hour())
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        decisions.account_freeze(
            account_id=campaign.account_id, moderator=moderator, reason="Complaints."
        )
    campaign.refresh_from_db()
    assert (campaign.status, campaign.resume_status) == ("paused", "approved")
    _time_passes(campaign)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.start_due_campaigns() == []
        tasks.start_probe(campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert not Delivery.objects.filter(campaign=campaign).exists()
    assert not [m for m in mail.outbox if "News for" in m.subject]


def test_a_due_campaign_of_an_account_frozen_without_its_pause_is_paused_at_its_time(
    campaign, moderator, django_capture_on_commit_callbacks
):
    # Were the freeze's pause missed (a race, a failure), the start still checks the account.
    _schedule(campaign, _in_an_hour())
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    campaign.account.state = AccountState.FROZEN
    campaign.account.save(update_fields=["state"])
    _time_passes(campaign)

    with django_capture_on_commit_callbacks(execute=True):
        changed = tasks.start_due_campaigns()

    campaign.refresh_from_db()
    assert changed == [campaign.pk]
    assert (campaign.status, campaign.resume_status) == ("paused", "approved")
    assert not Delivery.objects.filter(campaign=campaign).exists()
    assert not [m for m in mail.outbox if "News for" in m.subject]


def test_a_campaign_unfrozen_before_its_time_waits_for_it(
    campaign, moderator, django_capture_on_commit_callbacks
):
    _schedule(campaign, _in_an_hour())
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    sending.campaign_pause(campaign_id=campaign.pk, reason="frozen")

    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_resume(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == "approved"
    assert not Delivery.objects.filter(campaign=campaign).exists()


def test_a_draft_is_created_with_its_schedule_read_in_the_zone_chosen(
    mailing_list, campaign_fields
):
    from campaigns import services

    wall_time = (timezone.now() + timedelta(days=10)).replace(
        tzinfo=None, hour=9, minute=0, second=0, microsecond=0
    )

    created = services.campaign_create(
        account=mailing_list.account,
        created_by=None,
        scheduled_at=wall_time,
        schedule_timezone=BERLIN,
        **campaign_fields,
    )

    expected = wall_time.replace(tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)
    assert created.scheduled_at == expected
    assert scheduling.schedule_local(created).replace(tzinfo=None) == wall_time
    assert CampaignScheduleChange.objects.filter(campaign=created, status="draft").count() == 1


def test_a_draft_edit_may_change_only_the_zone_it_is_shown_in(campaign_fields, mailing_list):
    from campaigns import services

    when = _in_an_hour()
    created = services.campaign_create(
        account=mailing_list.account,
        created_by=None,
        scheduled_at=when,
        schedule_timezone=BERLIN,
        **campaign_fields,
    )

    updated = services.campaign_update(
        account=mailing_list.account, campaign_id=created.pk, schedule_timezone="Asia/Tokyo"
    )

    assert updated.scheduled_at == when.astimezone(UTC)
    assert updated.schedule_timezone == "Asia/Tokyo"


@pytest.mark.django_db(transaction=True)
def test_a_due_campaign_locked_elsewhere_is_skipped_not_waited_for(mailing_list):
    """Two beat runs (or a run and a start_probe task) never start one campaign twice, and
    never wait on each other: the run skips the row another transaction holds."""
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    subscribe_many(mailing_list, 10)
    campaign = submitted_campaign(mailing_list)
    _schedule(campaign, _in_an_hour())
    sending.campaign_approve(
        campaign_id=campaign.pk, actor=None, version_id=campaign.submitted_version_id
    )
    _time_passes(campaign)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Campaign.objects.select_for_update().get(pk=campaign.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert locked.wait(10)
    try:
        skipped = sending.campaigns_start_due()
    finally:
        release.set()
        holder.join()

    assert skipped == []
    assert Campaign.objects.get(pk=campaign.pk).status == "approved"
    assert sending.campaigns_start_due() == [campaign.pk]
    assert Campaign.objects.get(pk=campaign.pk).status in {"probing", "holding"}


def test_a_welcome_message_cannot_be_scheduled_and_beat_never_picks_one(campaign):
    from campaigns.models import CampaignKind

    # Made a welcome by hand: an approved welcome stays approved for good, so one with a past
    # time would be "due" to every beat run and crowd out real campaigns.
    Campaign.objects.filter(pk=campaign.pk).update(kind=CampaignKind.WELCOME)
    with pytest.raises(ApplicationError) as refused:
        _schedule(campaign, _in_an_hour())
    assert refused.value.field == "scheduled_at"
    assert not CampaignScheduleChange.objects.filter(campaign=campaign).exists()

    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.APPROVED, scheduled_at=timezone.now() - timedelta(minutes=1)
    )
    assert sending.campaigns_start_due() == []
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.APPROVED
