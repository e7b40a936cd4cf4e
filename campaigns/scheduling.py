"""A campaign's schedule: when the sender asked its probe to start, in the time zone they chose.

The schedule is kept as an aware UTC time (`Campaign.scheduled_at`) plus the IANA zone it was
chosen in (`Campaign.schedule_timezone`), which the page and the API show it in. A time given
without an offset is a wall-clock time in that zone: zoneinfo turns it into UTC with the zone's
daylight-saving rules of that date. Moderation happens before; the probe starts at this time or
at approval, whichever is later (campaigns.sending.campaign_start_probe waits for it, and beat's
campaigns.start_due_campaigns starts it). The time is no part of what a moderator approves:
the sender may set, move or clear it until the probe starts, and each change is recorded as a
CampaignScheduleChange.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Account, User
from campaigns import tasks
from campaigns.models import Campaign, CampaignKind, CampaignScheduleChange
from campaigns.selectors import campaign_locked_for
from campaigns.states import CampaignStatus, schedule_can_change
from config.errors import ApplicationError, InvalidTransition, NotFound

DEFAULT_TIMEZONE = "UTC"
# How far ahead a campaign may be scheduled: its content and audience are checked at approval
# and should not wait for months.
MAX_AHEAD = timedelta(days=366)


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """Every IANA zone name this system's tz database knows, sorted (the browser's choices)."""
    return tuple(sorted(available_timezones()))


def zone_checked(name: str) -> ZoneInfo:
    """The zone named `name`; an ApplicationError on `schedule_timezone` for anything that is not
    an IANA zone name (only names from the tz database are opened, never a path)."""
    if name not in timezone_names():
        raise ApplicationError(
            gettext("%(name)s is not a time zone we know: use an IANA name such as Europe/Berlin.")
            % {"name": name[:64]},
            field="schedule_timezone",
        )
    return ZoneInfo(name)


def wall_time_to_utc(value: datetime, zone: ZoneInfo) -> datetime:
    """`value` (a wall-clock time without an offset) in `zone`, as an aware UTC time. A time the
    clocks skip when daylight saving starts does not exist there and is refused; a time they
    pass twice when it ends is the first of the two (fold 0, before the change)."""
    local = value.replace(tzinfo=zone, fold=0)
    back = local.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != value.replace(tzinfo=None):
        raise ApplicationError(
            gettext(
                "%(time)s does not exist in %(zone)s: the clocks skip it when daylight saving "
                "time starts. Choose another time."
            )
            % {"time": value.strftime("%Y-%m-%d %H:%M"), "zone": zone.key},
            field="scheduled_at",
        )
    return local.astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    """A checked schedule: the UTC time (None: as soon as approved) and the zone chosen."""

    at: datetime | None
    timezone_name: str


def schedule_checked(
    *,
    scheduled_at: datetime | None,
    timezone_name: str | None,
    current: Schedule | None = None,
    now: datetime | None = None,
) -> Schedule:
    """The schedule asked for, checked: the zone an IANA name (the current one, else UTC, when
        not given), a time without an offset read in that zone, an aware one converted to UTC, and
        the time after `now` and at most MAX_AHEAD away (unless it is the current time unchanged: a
    passed time then means "at approval"). `scheduled_at` None clears the schedule."""
    now = now or timezone.now()
    name = timezone_name or (current.timezone_name if current else "") or DEFAULT_TIMEZONE
    zone = zone_checked(name)
    if scheduled_at is None:
        return Schedule(at=None, timezone_name="")
    if timezone.is_naive(scheduled_at):
        at = wall_time_to_utc(scheduled_at, zone)
    else:
        at = scheduled_at.astimezone(UTC)
    unchanged = current is not None and at == current.at
    if at <= now and not unchanged:
        raise ApplicationError(
            gettext(
                "%(time)s (%(zone)s) has passed: choose a time in the future, or clear the "
                "schedule to send as soon as the campaign is approved."
            )
            % {"time": at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), "zone": name},
            field="scheduled_at",
        )
    if at > now + MAX_AHEAD and not unchanged:
        raise ApplicationError(
            gettext("A campaign can be scheduled at most a year ahead."), field="scheduled_at"
        )
    return Schedule(at=at, timezone_name=name)


def schedule_of(campaign: Campaign) -> Schedule:
    return Schedule(at=campaign.scheduled_at, timezone_name=campaign.schedule_timezone)


def schedule_local(campaign: Campaign) -> datetime | None:
    """The campaign's scheduled time in the zone it was chosen in (None when unscheduled)."""
    if campaign.scheduled_at is None:
        return None
    return campaign.scheduled_at.astimezone(
        ZoneInfo(campaign.schedule_timezone or DEFAULT_TIMEZONE)
    )


def schedule_apply(campaign: Campaign, schedule: Schedule, *, actor: User | None) -> bool:
    """Set `schedule` on `campaign` (row locked by the caller, saved here) and record the
    change; False, and nothing written, when it is the schedule the campaign has. Refused
    (InvalidTransition, a 409) once the probe has started."""
    if schedule == schedule_of(campaign):
        return False
    if campaign.kind == CampaignKind.WELCOME:
        # A welcome goes to each new subscriber when they confirm; it has no start to schedule
        # (and, approved for good, would be "due" to beat's start of campaigns on every run).
        raise ApplicationError(
            gettext("A welcome message goes out when each subscription is confirmed."),
            field="scheduled_at",
        )
    if not schedule_can_change(campaign.status, campaign.resume_status):
        raise InvalidTransition(
            gettext("The probe of this campaign has started: its schedule can no longer change."),
            extra={"status": campaign.status},
        )
    CampaignScheduleChange.objects.create(
        campaign=campaign,
        status=campaign.status,
        old_scheduled_at=campaign.scheduled_at,
        old_timezone=campaign.schedule_timezone,
        new_scheduled_at=schedule.at,
        new_timezone=schedule.timezone_name,
        actor=actor,
    )
    campaign.scheduled_at = schedule.at
    campaign.schedule_timezone = schedule.timezone_name
    campaign.save(update_fields=["scheduled_at", "schedule_timezone", "updated_at"])
    if campaign.status == CampaignStatus.APPROVED and schedule.at is None:
        # Approved and waiting for a time the sender has just cleared: it may start now (the
        # task waits again if it is not due; beat would also find it).
        transaction.on_commit(lambda: tasks.start_probe.delay(campaign.pk))
    return True


def campaign_schedule(
    *,
    account: Account,
    campaign_id: int,
    actor: User | None,
    scheduled_at: datetime | None,
    timezone_name: str | None = None,
) -> Campaign:
    """Set, move or clear when the campaign's probe starts (in any status before the probe,
    approved included: the time needs no new moderation). Checked as schedule_checked does;
    InvalidTransition (409) once the probe has started. Idempotent; locks the row; records
    each change."""
    current = Campaign.objects.filter(account=account, pk=campaign_id).first()
    if current is None:
        raise NotFound("No such campaign.")
    schedule = schedule_checked(
        scheduled_at=scheduled_at, timezone_name=timezone_name, current=schedule_of(current)
    )
    with transaction.atomic():
        campaign = campaign_locked_for(account, campaign_id)
        schedule_apply(campaign, schedule, actor=actor)
    return campaign


def schedule_is_due(campaign: Campaign, *, now: datetime | None = None) -> bool:
    """Whether the campaign's time has come (always, for a campaign without a schedule)."""
    return campaign.scheduled_at is None or campaign.scheduled_at <= (now or timezone.now())
