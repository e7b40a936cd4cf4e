"""Writes about campaigns: authoring, submission to moderation, cancelling, test sends.

Status changes follow one shape: lock the campaign row, return quietly if it is already in the
target status (every transition is safe to call twice), check the table in campaigns.states,
write the change and its CampaignStatusChange row.
"""

from __future__ import annotations

import smtplib
from datetime import timedelta

from anymail.exceptions import AnymailError
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import selectors as account_selectors
from accounts.addresses import InvalidAddress, normalise_address
from accounts.models import Account, User
from campaigns import selectors
from campaigns.mail import email_message
from campaigns.models import (
    MESSAGE_FIELDS,
    Campaign,
    CampaignKind,
    CampaignScheduleChange,
    CampaignStatusChange,
    CampaignTestSend,
    CampaignVersion,
    ConsentCandidate,
    Delivery,
    EmailTemplate,
    Segment,
    SendBatch,
    TrackingEvent,
    WelcomeMessage,
)
from campaigns.rendering import TEST_SUBJECT_PREFIX
from campaigns.scheduling import Schedule, schedule_apply, schedule_checked, schedule_of
from config.account_data import AccountDataStep, deleted, rows_delete
from config.errors import ApplicationError, InvalidTransition, NotFound, PermissionDenied
from config.text import clean_header_text
from lists.models import MailingList

CONTENT_FIELDS = ("name", *MESSAGE_FIELDS)
FIELD_LIMITS = {"name": 200, "subject": 300, "from_name": 100, "from_email": 254, "reply_to": 254}


class TooManyRequests(ApplicationError):
    status_code = 429


def account_ensure_can_send(account: Account) -> None:
    """PermissionDenied (403) for a frozen or closing account: it may not start anything that
    sends."""
    if not account.can_send:
        message = _("Your account is frozen: it cannot create, test or submit campaigns.")
        if account.state_reason_shown:
            message = _("%(message)s Reason: %(reason)s") % {
                "message": message,
                "reason": account.state_reason_shown,
            }
        raise PermissionDenied(message)


def _clean_text(data: dict, name: str, *, required: bool) -> None:
    if name not in data:
        return
    value = (data[name] or "").strip() if name not in ("html_body", "text_body") else data[name]
    value = value or ""
    if required and not value.strip():
        raise ApplicationError("This field is required.", field=name)
    limit = FIELD_LIMITS.get(name)
    if limit and len(value) > limit:
        raise ApplicationError(f"At most {limit} characters.", field=name)
    if name in FIELD_LIMITS:
        # Each of these may reach a header (the name does not, but is shown as one line).
        value = clean_header_text(value, field=name)
    data[name] = value


def sender_address_checked(account: Account, value: str, *, verified: bool = True) -> str:
    """The From address, normalised; it must be on one of the account's verified domains (to
    submit), or with `verified` False on one of its domains at all (a test send, signed with
    that domain's key)."""
    address = draft_sender_address(value)
    domain = address.rpartition("@")[2]
    found = account_selectors.sender_domain_for_address(
        account=account, email=address, verified=False
    )
    if found is None:
        raise ApplicationError(
            f"{address} is not on a sender domain of your account. Add {domain} under Sender "
            "domains and publish the records it lists.",
            field="from_email",
        )
    if verified and not found.is_verified:
        raise ApplicationError(
            f"{domain} is not verified yet: publish its TXT record (see Sender domains), then "
            "verify it. Drafts, previews and test sends work meanwhile.",
            field="from_email",
        )
    return address


def draft_sender_address(value: str) -> str:
    """The From address of a draft, normalised: any valid address (the domain is checked when
    the campaign is tested or submitted, so a new user can write before DNS is done)."""
    try:
        return normalise_address(value)
    except InvalidAddress as exc:
        raise ApplicationError(
            f"Not a valid e-mail address: {exc.message}", field="from_email"
        ) from exc


def sender_domain_missing(account: Account, campaign: Campaign) -> str:
    """What keeps the campaign's From address from being submitted, or "" (the page says it)."""
    try:
        sender_address_checked(account, campaign.from_email)
    except ApplicationError as exc:
        return exc.message
    return ""


def _validated(account: Account, data: dict, *, creating: bool) -> dict:
    """The fields of `data`, cleaned: required ones present, the sender verified, the reply-to
    valid. (The HTML's size and content are checked by compiling it.)"""
    data = dict(data)
    for name in CONTENT_FIELDS:
        required = name in ("name", "subject", "from_name", "from_email", "html_body")
        if creating and required and name not in data:
            raise ApplicationError("This field is required.", field=name)
        _clean_text(data, name, required=required)
    if "from_email" in data:
        data["from_email"] = draft_sender_address(data["from_email"])
    if data.get("reply_to"):
        try:
            data["reply_to"] = normalise_address(data["reply_to"])
        except InvalidAddress as exc:
            raise ApplicationError(
                f"Not a valid e-mail address: {exc.message}", field="reply_to"
            ) from exc
    return data


def _lists_of(account: Account, list_ids, *, required: bool = True) -> list[MailingList]:
    ids = sorted({int(list_id) for list_id in list_ids})
    if not ids and not required:
        return []
    if not ids:
        raise ApplicationError("Choose at least one list.", field="lists")
    found = list(MailingList.objects.filter(account=account, pk__in=ids))
    missing = sorted(set(ids) - {mailing_list.pk for mailing_list in found})
    if missing:
        raise ApplicationError(f"No such list: {', '.join(map(str, missing))}.", field="lists")
    return found


def _segments_of(account: Account, segment_ids) -> list[Segment]:
    ids = sorted({int(segment_id) for segment_id in segment_ids or []})
    found = list(Segment.objects.filter(account=account, pk__in=ids))
    missing = sorted(set(ids) - {segment.pk for segment in found})
    if missing:
        raise ApplicationError(
            _("No such segment: %(ids)s.") % {"ids": ", ".join(map(str, missing))},
            field="segments",
        )
    return found


def _audience_of(
    account: Account, lists, segments
) -> tuple[list[MailingList] | None, list[Segment] | None]:
    """The lists and segments asked for (None: not given, left as they are); at least one of
    the two when both are given (an audience of whole lists, segments or both)."""
    chosen_segments = _segments_of(account, segments) if segments is not None else None
    if lists is None:
        return None, chosen_segments
    chosen_lists = _lists_of(account, lists, required=not chosen_segments)
    return chosen_lists, chosen_segments


def content_check(campaign: Campaign) -> None:
    """Compile the content now, so oversized HTML, a bad merge tag or unreadable CSS is an
    error on save."""
    selectors.compiled_campaign(campaign)


SCHEDULE_FIELDS = ("scheduled_at", "schedule_timezone")


def _schedule_asked(fields: dict, current: Schedule | None) -> Schedule | None:
    """The schedule `fields` ask for (popped from them), checked; None when they name none. A
    zone alone keeps the time and changes the zone it is shown in."""
    if not any(name in fields for name in SCHEDULE_FIELDS):
        return None
    scheduled_at = fields.pop("scheduled_at", current.at if current else None)
    timezone_name = fields.pop("schedule_timezone", None) or None
    return schedule_checked(scheduled_at=scheduled_at, timezone_name=timezone_name, current=current)


def campaign_create(
    *, account: Account, created_by: User | None, lists=(), segments=None, **fields
) -> Campaign:
    """A new draft to whole lists, segments (campaigns.segments) or both, scheduled when
    `scheduled_at` (and `schedule_timezone`) are given. Refused for a frozen account, an invalid
    From address, another account's list or segment, content that does not compile (the sender
    domain is checked at submission) or a past time."""
    account_ensure_can_send(account)
    schedule = _schedule_asked(fields, None)
    data = _validated(account, fields, creating=True)
    mailing_lists, chosen_segments = _audience_of(account, lists, segments)
    with transaction.atomic():
        campaign = Campaign(account=account, created_by=created_by, **data)
        content_check(campaign)
        campaign.save()
        if mailing_lists is not None:  # (always on creation: _audience_of is given lists)
            campaign.lists.set(mailing_lists)
        if schedule is not None:
            schedule_apply(campaign, schedule, actor=created_by)
        if chosen_segments:
            campaign.segments.set(chosen_segments)
    return campaign


def campaign_update(
    *,
    account: Account,
    campaign_id: int,
    lists=None,
    segments=None,
    actor: User | None = None,
    **fields,
) -> Campaign:
    """Change a draft or rejected campaign (InvalidTransition otherwise), its audience and its
    schedule too (`scheduled_at`, `schedule_timezone`); locks the row."""
    schedule_fields = {name: fields.pop(name) for name in SCHEDULE_FIELDS if name in fields}
    data = _validated(account, fields, creating=False)
    if lists is not None and segments is None and not list(lists):
        # Taking every list away leaves the segments alone: they must carry the audience.
        existing = Segment.objects.filter(account=account, campaigns__pk=campaign_id)
        segments = list(existing.values_list("pk", flat=True))
    mailing_lists, chosen_segments = _audience_of(account, lists, segments)
    with transaction.atomic():
        campaign = selectors.campaign_locked_for(account, campaign_id)
        if not campaign.is_editable:
            raise InvalidTransition(
                f"Only draft or rejected campaigns can be edited; this one is "
                f"{campaign.get_status_display().lower()}.",
                extra={"status": campaign.status},
            )
        if (
            mailing_lists is not None
            and campaign.kind == CampaignKind.WELCOME
            and {item.pk for item in mailing_lists}
            != set(campaign.lists.values_list("pk", flat=True))
        ):
            raise ApplicationError(
                "A welcome message belongs to its list: its lists cannot change.",
                field="lists",
            )
        schedule = _schedule_asked(schedule_fields, schedule_of(campaign))
        for name, value in data.items():
            setattr(campaign, name, value)
        content_check(campaign)
        campaign.save()
        if mailing_lists is not None:
            campaign.lists.set(mailing_lists)
        if schedule is not None:
            schedule_apply(campaign, schedule, actor=actor)
        if chosen_segments is not None:
            campaign.segments.set(chosen_segments)
    return campaign


def campaign_delete(*, account: Account, campaign_id: int) -> None:
    """Delete a draft, rejected or cancelled campaign; anything that has been approved stays
    (its messages and their audit trail)."""
    with transaction.atomic():
        campaign = selectors.campaign_locked_for(account, campaign_id)
        if campaign.kind == CampaignKind.WELCOME:
            raise InvalidTransition(
                "A welcome message is kept with its list (its figures and what was sent).",
                extra={"status": campaign.status},
            )
        if not campaign.is_deletable:
            raise InvalidTransition(
                "Only draft, rejected or cancelled campaigns can be deleted.",
                extra={"status": campaign.status},
            )
        campaign.delete()


def campaign_send_test(
    *, account: Account, campaign_id: int, user: User, subscriber_id: int | None = None
) -> CampaignTestSend:
    """Send the campaign, as `subscriber_id` (or a sample) would get it, to the user's own
    verified address through the configured backend. Its links are test links (they change
    nothing). At most TEST_SENDS_PER_HOUR per account; the claim is given back if the send
    fails."""
    account_ensure_can_send(account)
    if not user.is_email_verified:
        raise ApplicationError("Verify your own e-mail address first: tests are sent to it.")
    campaign = selectors.campaign_get(account=account, campaign_id=campaign_id)
    if campaign is None:
        raise NotFound("No such campaign.")
    sender_address_checked(account, campaign.from_email, verified=False)
    chosen = selectors.preview_recipient(
        account=account, lists=list(campaign.lists.all()), subscriber_id=subscriber_id
    )
    if chosen is None:
        raise ApplicationError("No such subscriber on the campaign's lists.", field="subscriber_id")
    recipient, _ = chosen
    rendered = selectors.compiled_campaign(campaign).render(
        recipient, to=user.email, is_test=True, subject_prefix=TEST_SUBJECT_PREFIX
    )
    with transaction.atomic():
        # The account row's lock makes "count, then claim" one step per account.
        Account.objects.select_for_update().filter(pk=account.pk).first()
        since = timezone.now() - timedelta(hours=1)
        if (
            CampaignTestSend.objects.filter(account=account, sent_at__gte=since).count()
            >= settings.TEST_SENDS_PER_HOUR
        ):
            raise TooManyRequests(
                f"At most {settings.TEST_SENDS_PER_HOUR} test sends an hour; try again later."
            )
        claim = CampaignTestSend.objects.create(
            campaign=campaign,
            account=account,
            sent_by=user,
            to_email=user.email,
            message_id=rendered.headers["Message-ID"],
        )
    try:
        _send_test_message(rendered, account=account)
    except (smtplib.SMTPException, OSError, AnymailError) as exc:
        claim.delete()
        raise ApplicationError(
            f"The mail server did not take the test message ({exc.__class__.__name__}). "
            "Try again in a moment."
        ) from exc
    return claim


def _send_test_message(rendered, *, account: Account) -> None:
    """Through our SMTP path a test is the very bytes a recipient gets, DKIM-signed with the
    account's own key for the From domain (verified or not: it goes to the user's own
    address); through an ESP, the ESP's message."""
    from campaigns import delivery  # delivery -> sending -> services: imported when used

    if settings.EMAIL_BACKEND != delivery.SMTP_BACKEND:
        email_message(rendered).send()
        return
    transport = delivery.SmtpTransport(signing_account_id=account.pk)
    try:
        transport.send(rendered)
    except (delivery.PermanentError, delivery.TransientError) as exc:
        raise smtplib.SMTPException(str(exc)) from exc
    finally:
        transport.close()


# --- deleting an account's data (config.account_data) ------------------------------------------


def account_data_delete(*, account: Account) -> dict[str, int]:
    """The campaigns app's step of deleting an account's data: its campaigns with their
    versions, deliveries, tracking events, batches, status history, test sends and consent
    requests. Set-based DELETEs inside the caller's transaction; runs after the complaints'
    step (feedback points at deliveries) and before the lists' (campaigns point at lists)."""
    campaigns = Campaign.objects.filter(account=account)
    campaign_ids = campaigns.values("pk")
    deliveries = Delivery.objects.filter(campaign_id__in=campaign_ids)
    counts = {
        "tracking_events": deleted(
            TrackingEvent.objects.filter(delivery_id__in=deliveries.values("pk"))
        ),
        # Nothing else points at them now: one statement each, not Django's row-by-row cascade.
        "deliveries": rows_delete(Delivery, field="campaign", keys=campaign_ids),
        "send_batches": rows_delete(SendBatch, field="campaign", keys=campaign_ids),
        "status_changes": deleted(
            CampaignStatusChange.objects.filter(campaign_id__in=campaign_ids)
        ),
        "test_sends": deleted(CampaignTestSend.objects.filter(account=account)),
    }
    deleted(Campaign.lists.through.objects.filter(campaign_id__in=campaign_ids))
    deleted(ConsentCandidate.objects.filter(campaign_id__in=campaign_ids))
    deleted(CampaignScheduleChange.objects.filter(campaign_id__in=campaign_ids))
    deleted(Campaign.segments.through.objects.filter(campaign_id__in=campaign_ids))
    # Welcome messages point at their campaigns and lists: before both.
    counts["welcome_messages"] = deleted(WelcomeMessage.objects.filter(account=account))
    # What is left of a campaign is one row each (and its versions); Django's collector applies
    # the SET_NULLs of the audit log, flags and abuse reports (their labels keep the name).
    counts["campaigns"] = deleted(campaigns)
    counts["email_templates"] = deleted(EmailTemplate.objects.filter(account=account))
    # Segments (their conditions may name people's attributes): the submitted versions keep
    # their own copies and went with their campaigns.
    segments = Segment.objects.filter(account=account)
    deleted(Segment.lists.through.objects.filter(segment_id__in=segments.values("pk")))
    counts["segments"] = deleted(segments)
    return counts


ACCOUNT_DATA = AccountDataStep(
    app="campaigns",
    run=account_data_delete,
    deletes=(
        Campaign,
        Campaign.lists.through,
        CampaignVersion,
        CampaignStatusChange,
        CampaignScheduleChange,
        CampaignTestSend,
        SendBatch,
        Delivery,
        TrackingEvent,
        ConsentCandidate,
        EmailTemplate,
        Campaign.segments.through,
        Segment,
        Segment.lists.through,
        WelcomeMessage,
    ),
)
