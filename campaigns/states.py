"""The campaign state machine as data: the statuses and which changes are allowed. Pure."""

from django.db import models
from django.utils.translation import gettext, pgettext_lazy

from config.errors import InvalidTransition


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("campaign status", "Draft")
    SUBMITTED = "submitted", pgettext_lazy("campaign status", "Submitted for moderation")
    REJECTED = "rejected", pgettext_lazy("campaign status", "Rejected")
    APPROVED = "approved", pgettext_lazy("campaign status", "Approved")
    PROBING = "probing", pgettext_lazy("campaign status", "Probe sending")
    HOLDING = "holding", pgettext_lazy("campaign status", "Holding")
    REVIEW = "review", pgettext_lazy("campaign status", "In review")
    RELEASING = "releasing", pgettext_lazy("campaign status", "Releasing")
    SENT = "sent", pgettext_lazy("campaign status", "Sent")
    DECLINED = "declined", pgettext_lazy("campaign status", "Declined")
    PAUSED = "paused", pgettext_lazy("campaign status", "Paused")
    CANCELLED = "cancelled", pgettext_lazy("campaign status", "Cancelled")


S = CampaignStatus

# A moderator may decline, the sender cancel and enforcement pause anything still under way.
_STOPPABLE = {S.DECLINED, S.CANCELLED, S.PAUSED}

TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    # The sender may withdraw a submission to edit it again.
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED, S.DRAFT, S.DECLINED, S.CANCELLED}),
    S.REJECTED: frozenset({S.SUBMITTED, S.DRAFT, S.CANCELLED}),
    S.APPROVED: frozenset({S.PROBING} | _STOPPABLE),
    S.PROBING: frozenset({S.HOLDING} | _STOPPABLE),
    S.HOLDING: frozenset({S.RELEASING, S.REVIEW} | _STOPPABLE),
    S.REVIEW: frozenset({S.RELEASING} | _STOPPABLE),
    S.RELEASING: frozenset({S.SENT} | _STOPPABLE),
    # Unfrozen, a campaign resumes where it paused.
    S.PAUSED: frozenset(
        {S.APPROVED, S.PROBING, S.HOLDING, S.REVIEW, S.RELEASING} | {S.DECLINED, S.CANCELLED}
    ),
    S.SENT: frozenset(),
    S.DECLINED: frozenset(),
    S.CANCELLED: frozenset(),
}

EDITABLE = frozenset({S.DRAFT, S.REJECTED})
# Statuses in which workers hand messages over.
SENDING_STATUSES = frozenset({S.PROBING, S.RELEASING})
# Statuses of a campaign a moderator approved (its version and audience are fixed).
AFTER_APPROVAL = frozenset(
    {S.APPROVED, S.PROBING, S.HOLDING, S.REVIEW, S.RELEASING, S.SENT, S.PAUSED}
)
# Statuses of a campaign whose messages have started and more may still come (its timeline
# runs to now).
MORE_TO_COME = frozenset({S.PROBING, S.HOLDING, S.REVIEW, S.RELEASING})
# Statuses of a campaign stopped for good before it was all sent.
STOPPED = frozenset({S.DECLINED, S.CANCELLED})
# Statuses a moderator can still stop.
UNDER_WAY = frozenset({S.SUBMITTED, S.APPROVED, S.PROBING, S.HOLDING, S.REVIEW, S.RELEASING})
DELETABLE = frozenset({S.DRAFT, S.REJECTED, S.CANCELLED})
# Statuses in which the sender may still set, move or clear the campaign's schedule: until the
# probe starts. An approved campaign whose time has not come waits in `approved` (a paused one
# that was waiting, in `paused` with `approved` to resume to); the time is no part of what a
# moderator approves, so changing it asks for no new moderation.
SCHEDULE_CHANGEABLE = frozenset({S.DRAFT, S.SUBMITTED, S.REJECTED, S.APPROVED})
FINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def schedule_can_change(status: str, resume_status: str = "") -> bool:
    """Whether the schedule may still change: the probe has not started (a paused campaign
    counts by where it would resume)."""
    if status == S.PAUSED:
        return (resume_status or S.APPROVED) == S.APPROVED
    return status in SCHEDULE_CHANGEABLE


def ensure_transition(current: str, target: str) -> None:
    """Raise InvalidTransition (a 409 in the API) unless `current -> target` is in the table."""
    if not can_transition(current, target):
        raise InvalidTransition(
            gettext("A campaign that is %(current)s cannot become %(target)s.")
            % {
                "current": CampaignStatus(current).label.lower(),
                "target": CampaignStatus(target).label.lower(),
            },
            extra={"status": current},
        )
