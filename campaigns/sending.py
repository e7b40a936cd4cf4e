"""Every status change of a campaign, one function per transition (DESIGN.md rule 7 and "The
send pipeline"):

    draft -> submitted -> approved -> probing -> holding -> releasing -> sent
             (withdrawn, rejected)              (review)   (declined, paused, cancelled)

This is the only module that writes `Campaign.status`. Each function locks the campaign row,
returns quietly when the campaign is already where it would take it (safe to call twice: a
retried task or a double click changes nothing), checks the table in campaigns.states
(InvalidTransition, a 409, otherwise) and records the change with its actor and reason. Work
for the workers is queued only through campaigns.tasks, after commit. Who decided and why goes
to the moderation audit log, written by moderation.services, which calls these.

Approval binds: submitting freezes a version (campaigns.versions); a moderator approves that
version and no other; approving fixes the audience, a Delivery row per recipient with the
address and merge data of that moment, waiting for the probe or the release. Sending renders
from the version and those rows only.
"""

from __future__ import annotations

import secrets
from array import array
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Account, SenderDomain, User, WebhookEvent
from accounts.webhooks import emit_event
from campaigns import consent_requests, segments, selectors, tasks, tracking_queue, welcome
from campaigns.merge import attribute_keys
from campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignStatusChange,
    Delivery,
    DeliveryStatus,
)
from campaigns.sampling import allocation, probe_size, stratified_sample_grouped
from campaigns.scheduling import schedule_is_due
from campaigns.segment_selectors import first_of_each_address
from campaigns.services import (
    account_ensure_can_send,
    content_check,
    sender_address_checked,
)
from campaigns.states import (
    AFTER_APPROVAL,
    SENDING_STATUSES,
    CampaignStatus,
    ensure_transition,
)
from campaigns.verdict import Tier, Verdict, judge, with_blocklisted_domain
from campaigns.versions import approved_version, version_freeze, version_merge_tags
from config.bulk import insert_select
from config.coded_text import CodedText, coded, in_english, render
from config.errors import ApplicationError, InvalidTransition, NotFound

S = CampaignStatus
# Rows written per COPY when the audience is fixed.
AUDIENCE_CHUNK = 20_000


class VersionMismatch(InvalidTransition):
    """The moderator decided on a version that is not the one waiting (a 409)."""


def _locked(campaign_id: int) -> Campaign:
    campaign = (
        Campaign.objects.select_for_update()
        .select_related("account")
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        raise NotFound(gettext("No such campaign."))
    return campaign


def record_status_change(
    campaign: Campaign, new_status: str, *, actor: User | None, reason: str | CodedText = ""
) -> None:
    """Write the CampaignStatusChange (and its webhook event) and set `status`; the caller has
    locked the row, checked the transition and saves the campaign. A reason the system writes
    may be a coded text: kept as its code (read in the reader's language) and in English."""
    reason_code = None if isinstance(reason, str) else reason
    reason_text = reason if isinstance(reason, str) else in_english(reason)
    CampaignStatusChange.objects.create(
        campaign=campaign,
        old_status=campaign.status,
        new_status=new_status,
        actor=actor,
        reason=reason_text,
        reason_code=reason_code,
    )
    emit_event(
        campaign.account_id,
        WebhookEvent.CAMPAIGN_STATUS_CHANGED,
        {
            "campaign_id": campaign.pk,
            "name": campaign.name,
            "old_status": campaign.status,
            "new_status": str(new_status),
            "reason": reason_text,
        },
    )
    campaign.status = new_status


def skip_unsent(campaign: Campaign, *, reason: str) -> int:
    """Mark the deliveries not yet handed over (waiting for the release or pending) as
    skipped: the campaign was stopped for good (workers also check the status before each
    batch and between messages)."""
    return Delivery.objects.filter(
        campaign=campaign, status__in=(DeliveryStatus.WAITING, DeliveryStatus.PENDING)
    ).update(status=DeliveryStatus.SKIPPED, error=reason[:300])


def _enqueue_sending(campaign_id: int) -> None:
    transaction.on_commit(lambda: tasks.dispatch_campaign.delay(campaign_id))


# --- the sender's side: submit, withdraw, cancel -------------------------------------------------


def campaign_submit(*, account: Account, campaign_id: int, actor: User | None) -> Campaign:
    """Send a draft or rejected campaign to the moderation queue, freezing its content as a
    version (the one moderators see and approve). Refused (nothing changes) for a frozen
    account, an unverified sender, an empty audience or blocking findings. Idempotent; locks
    the row."""
    account_ensure_can_send(account)
    with transaction.atomic():
        campaign = selectors.campaign_locked_for(account, campaign_id)
        if campaign.status == S.SUBMITTED:
            return campaign
        ensure_transition(campaign.status, S.SUBMITTED)
        sender_address_checked(account, campaign.from_email)
        if consent_requests.is_consent_request(campaign):
            # Only the fixed template is ever frozen, whatever the editor changed.
            consent_requests.consent_request_refresh_content(campaign)
            has_recipients = consent_requests.candidate_audience(campaign).exists()
        elif welcome.is_welcome(campaign):
            # Its recipients are the people who confirm later, one at a time.
            has_recipients = True
        else:
            has_recipients = selectors.campaign_has_recipients(campaign=campaign)
        content_check(campaign)
        if not has_recipients:
            raise ApplicationError(
                gettext(
                    "The campaign's lists have no subscribed addresses: there is no one to send to."
                ),
                field="lists",
            )
        findings = selectors.campaign_findings(campaign)
        blocking = selectors.blocking_findings(findings)
        if blocking:
            raise ApplicationError(
                gettext("The campaign cannot be submitted:")
                + " "
                + " ".join(render(finding["reason"]) for finding in blocking),
                extra={"findings": [selectors.finding_shown(finding) for finding in findings]},
            )
        version = version_freeze(campaign=campaign, actor=actor)
        record_status_change(
            campaign,
            S.SUBMITTED,
            actor=actor,
            reason=coded("campaigns.status.submitted", number=version.number),
        )
        campaign.findings = findings
        campaign.submitted_at = timezone.now()
        campaign.submitted_version = version
        campaign.save(
            update_fields=[
                "status",
                "findings",
                "submitted_at",
                "submitted_version",
                "updated_at",
            ]
        )
    return campaign


def campaign_withdraw(*, account: Account, campaign_id: int, actor: User | None) -> Campaign:
    """Take a submitted campaign back to draft to edit it; the version it waited with can no
    longer be approved. Idempotent; locks the row."""
    with transaction.atomic():
        campaign = selectors.campaign_locked_for(account, campaign_id)
        if campaign.status == S.DRAFT:
            return campaign
        if campaign.status != S.SUBMITTED:
            raise InvalidTransition(
                gettext("Only a campaign waiting for moderation can be withdrawn."),
                extra={"status": campaign.status},
            )
        record_status_change(
            campaign, S.DRAFT, actor=actor, reason=coded("campaigns.status.withdrawn")
        )
        campaign.submitted_version = None
        campaign.save(update_fields=["status", "submitted_version", "updated_at"])
    return campaign


def campaign_cancel(
    *, account: Account, campaign_id: int, actor: User | None, reason: str = ""
) -> Campaign:
    """Stop a campaign before or during sending; messages already handed over stay sent.
    Idempotent; locks the row."""
    with transaction.atomic():
        campaign = selectors.campaign_locked_for(account, campaign_id)
        if campaign.status == S.CANCELLED:
            return campaign
        ensure_transition(campaign.status, S.CANCELLED)
        record_status_change(campaign, S.CANCELLED, actor=actor, reason=reason)
        campaign.save(update_fields=["status", "updated_at"])
        skip_unsent(campaign, reason="cancelled")
    return campaign


# --- moderation and the staged send --------------------------------------------------------------


def _ensure_version(campaign: Campaign, version_id: int | None) -> None:
    """VersionMismatch unless `version_id` is the version waiting for moderation."""
    if version_id is not None and version_id == campaign.submitted_version_id:
        return
    waiting = campaign.submitted_version
    raise VersionMismatch(
        gettext(
            "This campaign changed after you opened it: the version waiting for review is "
            "now %(number)s. Reload the page and review it again."
        )
        % {"number": waiting.number if waiting else "–"},
        extra={
            "status": campaign.status,
            "version": campaign.submitted_version_id,
        },
    )


def campaign_approve(
    *, campaign_id: int, actor: User | None, version_id: int | None, reason: str = ""
) -> Campaign:
    """A moderator accepts the submitted version `version_id` (VersionMismatch, a 409, for any
    other: the sender withdrew and resubmitted meanwhile). Fixing the audience and sending the
    probe start in a worker (a large audience does not belong in a web request)."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.approved_version_id is not None and campaign.status in AFTER_APPROVAL:
            if campaign.approved_version_id != version_id:
                _ensure_version(campaign, version_id)
            return campaign  # approved before (a second click): already on its way
        ensure_transition(campaign.status, S.APPROVED)
        _ensure_version(campaign, version_id)
        record_status_change(campaign, S.APPROVED, actor=actor, reason=reason)
        campaign.approved_at = timezone.now()
        campaign.approved_version_id = version_id
        campaign.moderation_note = ""
        campaign.save(
            update_fields=[
                "status",
                "approved_at",
                "approved_version",
                "moderation_note",
                "updated_at",
            ]
        )
        if welcome.is_welcome(campaign):
            # No audience, no probe: new subscribers get it from now on, one at a time.
            welcome.welcome_approved(campaign)
        elif schedule_is_due(campaign):
            transaction.on_commit(lambda: tasks.start_probe.delay(campaign_id))
        # Otherwise it waits, approved, for its time: beat's start_due_campaigns starts it.
    return campaign


def campaign_reject(
    *, campaign_id: int, actor: User | None, reason: str, version_id: int | None = None
) -> Campaign:
    """A moderator sends a submitted campaign back to its author with a reason they see; the
    author may edit and submit it again. With `version_id`, only that version is rejected."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status == S.REJECTED:
            return campaign
        ensure_transition(campaign.status, S.REJECTED)
        if version_id is not None:
            _ensure_version(campaign, version_id)
        record_status_change(campaign, S.REJECTED, actor=actor, reason=reason)
        campaign.moderation_note = reason
        campaign.submitted_version = None
        campaign.save(
            update_fields=["status", "moderation_note", "submitted_version", "updated_at"]
        )
    return campaign


def _fix_audience(campaign: Campaign) -> dict[str, array]:
    """Write a waiting Delivery for every recipient of the approved version: the subscribed
    addresses of its lists, each address once, none the account or the platform suppressed,
    each row holding the address and the merge data the content uses as they are now. The
    database copies the rows in one statement (matching suppressions on their keyed hashes on
    PostgreSQL); one read then checks in Python what SQL could not, and returns every
    recipient's subscriber id by mailbox provider (compact arrays), for choosing the probe."""
    version = approved_version(campaign)
    list_ids = [item["id"] for item in version.lists]
    if consent_requests.is_consent_request(campaign):
        everyone = consent_requests.candidate_audience(campaign)
        addresses = everyone
    elif version.segments:
        # Evaluated from the version's copy of the segments, not the segments as they are now.
        addresses = segments.audience_subscribers(
            account_id=campaign.account_id, list_ids=list_ids, segments=version.segments
        )
        everyone = first_of_each_address(
            addresses,
            list_count=len(
                segments.audience_list_ids(list_ids=list_ids, segments=version.segments)
            ),
        )
    else:
        everyone = selectors.audience_first_of_each_address(list_ids=list_ids)
        addresses = selectors.audience_subscribed(list_ids=list_ids)
    audience, checked_in_sql = selectors.without_suppressed_in_sql(
        everyone, account_id=campaign.account_id
    )
    insert_select(
        Delivery,
        {
            "campaign_id": Value(campaign.pk),
            "subscriber_id": F("pk"),
            "provider": selectors.provider_expression(addresses),
            "email": F("email"),
            "merge_data": selectors.merge_data_expression(
                attribute_keys(version_merge_tags(version))
            ),
            "status": Value(DeliveryStatus.WAITING),
        },
        audience,
    )
    members: dict[str, array] = {}
    suppressed_rows: list[int] = []
    rows = Delivery.objects.filter(campaign=campaign).values_list(
        "id", "subscriber_id", "email", "provider"
    )
    for chunk in selectors.chunks(rows.iterator(chunk_size=AUDIENCE_CHUNK), AUDIENCE_CHUNK):
        unchecked = [row[2].lower() for row in chunk if not (checked_in_sql and row[2].isascii())]
        suppressed = selectors.suppressed_addresses(
            account_id=campaign.account_id, emails=unchecked
        )
        for delivery_id, subscriber_id, email, provider in chunk:
            if suppressed and email.lower() in suppressed:
                suppressed_rows.append(delivery_id)
            else:
                members.setdefault(provider, array("q")).append(subscriber_id)
    for start in range(0, len(suppressed_rows), AUDIENCE_CHUNK):
        Delivery.objects.filter(pk__in=suppressed_rows[start : start + AUDIENCE_CHUNK]).delete()
    return members


def campaign_start_probe(
    *, campaign_id: int, seed: int | None = None, now: datetime | None = None
) -> Campaign:
    """Fix the audience of the approved version (a waiting delivery per recipient), choose
    the probe among it (min(ceil(PROBE_SHARE x recipients), PROBE_CAP), at least one,
    stratified by mailbox provider with a recorded seed) and start sending it. A no-op before
    the campaign's scheduled time (it waits, approved); an account that may not send (frozen)
    has the campaign paused instead. Idempotent; locks the row."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != S.APPROVED or welcome.is_welcome(campaign):
            # Already started (a retried task), or stopped meanwhile; a welcome has no probe.
            return campaign
        if not schedule_is_due(campaign, now=now):
            return campaign
        if not campaign.account.can_send:
            _pause(campaign, reason=coded("campaigns.status.account_may_not_send"))
            return campaign
        ensure_transition(campaign.status, S.PROBING)
        if campaign.approved_version_id is None:
            raise InvalidTransition("An approved campaign without an approved version.")
        if not Delivery.objects.filter(campaign=campaign).exists():
            members = _fix_audience(campaign)
        else:  # fixed before a pause; the rows are the audience
            members = {}
            for subscriber_id, provider in Delivery.objects.filter(campaign=campaign).values_list(
                "subscriber_id", "provider"
            ):
                members.setdefault(provider, array("q")).append(subscriber_id)
        providers = Counter({provider: len(ids) for provider, ids in members.items()})
        recipients = providers.total()
        size = probe_size(recipients, share=settings.PROBE_SHARE, cap=settings.PROBE_CAP)
        seed = secrets.randbits(48) if seed is None else seed
        chosen = stratified_sample_grouped(members, size=size, seed=seed)
        for start in range(0, len(chosen), 1000):
            Delivery.objects.filter(
                campaign=campaign, subscriber_id__in=chosen[start : start + 1000]
            ).update(status=DeliveryStatus.PENDING, is_probe=True)
        record_status_change(
            campaign, S.PROBING, actor=None, reason=coded("campaigns.status.probe", size=size)
        )
        campaign.recipients_at_approval = recipients
        campaign.probe_size = size
        campaign.probe_seed = seed
        campaign.probe_plan = {
            "recipients": recipients,
            "size": size,
            "seed": seed,
            "providers": dict(sorted(providers.items())),
            "allocation": allocation(providers, size),
        }
        campaign.save(
            update_fields=[
                "status",
                "recipients_at_approval",
                "probe_size",
                "probe_seed",
                "probe_plan",
                "updated_at",
            ]
        )
        _enqueue_sending(campaign.pk)
    return campaign


def campaigns_start_due(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Beat: start the probe of every approved campaign whose scheduled time has come (at most
    `limit` a run; the next run takes the rest). Each is claimed with SELECT ... FOR UPDATE
    SKIP LOCKED and started in that transaction, so overlapping runs, or a start_probe task on
    the same campaign, never start it twice and never wait on each other. Returns the ids
    whose status changed (started, or paused for an account that may not send)."""
    now = now or timezone.now()
    changed: list[int] = []
    seen: set[int] = set()
    for _ in range(limit):
        with transaction.atomic():
            due = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(status=S.APPROVED, scheduled_at__lte=now)
                .exclude(kind=CampaignKind.WELCOME)
                .exclude(pk__in=seen)
                .order_by("scheduled_at", "pk")
                .values_list("pk", flat=True)
                .first()
            )
            if due is None:
                break
            seen.add(due)
            if campaign_start_probe(campaign_id=due, now=now).status != S.APPROVED:
                changed.append(due)
    return changed


def campaign_begin_hold(*, campaign_id: int) -> Campaign:
    """The whole probe is with the backend: hold for HOLD_SECONDS while its feedback comes in.
    The hold's end is a time in the database that a beat-driven check reads, never a delayed
    task (a 6-hour countdown outlives Redis's visibility timeout and is delivered twice)."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != S.PROBING:
            return campaign
        now = timezone.now()
        record_status_change(
            campaign, S.HOLDING, actor=None, reason=coded("campaigns.status.probe_handed_over")
        )
        campaign.probe_sent_at = now
        campaign.hold_until = now + timedelta(seconds=settings.HOLD_SECONDS)
        campaign.save(update_fields=["status", "probe_sent_at", "hold_until", "updated_at"])
    return campaign


def campaign_judge_probe(*, campaign_id: int) -> tuple[Campaign, Verdict | None]:
    """At the end of the hold: judge the probe's figures and release (green, amber) or send to
    review. Returns the verdict, or None when there was nothing to judge (not holding, the hold
    not over yet, opens and clicks of the campaign still in the tracking queue, or the account
    may not send: the campaign pauses instead)."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != S.HOLDING or (
            campaign.hold_until and campaign.hold_until > timezone.now()
        ):
            return campaign, None
        if tracking_queue.pending_for(campaign.pk, before=campaign.hold_until):
            # The figures would miss hits of the hold already answered; the next check judges
            # them all. Only those: hits that keep coming after the hold never postpone it.
            return campaign, None
        if not campaign.account.can_send:
            _pause(campaign, reason=coded("campaigns.status.account_may_not_send"))
            return campaign, None
        figures = selectors.delivery_figures(campaign=campaign, probe_only=True)
        verdict = judge(figures, consent_requests.verdict_thresholds(campaign))
        verdict = with_blocklisted_domain(verdict, **_from_domain_blocklisting(campaign))
        campaign.verdict = verdict.as_dict()
        campaign.judged_at = timezone.now()
        campaign.save(update_fields=["verdict", "judged_at", "updated_at"])
        summary = coded(
            "campaigns.verdict.status_change",
            tier=coded(f"campaigns.verdict.tier.{verdict.tier}"),
            rule=coded(f"campaigns.verdict.rule.{verdict.rule}"),
        )
        if verdict.tier == Tier.REVIEW:
            record_status_change(campaign, S.REVIEW, actor=None, reason=summary)
            campaign.save(update_fields=["status", "updated_at"])
        else:
            if verdict.tier == Tier.AMBER:
                # In English, as the note field holds text; the page shows the reasons instead.
                campaign.moderation_note = in_english(verdict.texts)
                campaign.save(update_fields=["moderation_note", "updated_at"])
            _release(campaign, actor=None, reason=summary)
    return campaign, verdict


def _from_domain_blocklisting(campaign: Campaign) -> dict:
    """The From domain of what is sent (the approved version's) and the blocklist zones that
    list it, as the blocklist watch left them on the account's SenderDomain."""
    version = campaign.approved_version
    from_email = version.from_email if version is not None else campaign.from_email
    domain = from_email.rpartition("@")[2].lower()
    sender_domain = (
        SenderDomain.objects.filter(account_id=campaign.account_id, domain=domain)
        .exclude(blocklisted_at=None)
        .first()
    )
    return {"domain": domain, "zones": list(sender_domain.blocklist_zones) if sender_domain else []}


def campaign_release(*, campaign_id: int, actor: User | None, reason: str = "") -> Campaign:
    """Send the rest: a moderator's release from review (or the verdict's, through
    campaign_judge_probe). The rest is the audience fixed at approval; whoever unsubscribed,
    bounced, complained or was suppressed since is skipped when their turn comes."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status in (S.RELEASING, S.SENT):
            return campaign
        _release(campaign, actor=actor, reason=reason)
    return campaign


def _release(campaign: Campaign, *, actor: User | None, reason: str | CodedText) -> None:
    ensure_transition(campaign.status, S.RELEASING)
    Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.WAITING).update(
        status=DeliveryStatus.PENDING
    )
    record_status_change(campaign, S.RELEASING, actor=actor, reason=reason)
    campaign.released_at = timezone.now()
    campaign.save(update_fields=["status", "released_at", "updated_at"])
    _enqueue_sending(campaign.pk)


def campaign_finish(*, campaign_id: int) -> Campaign:
    """Every released message has been handed over (or has failed for good)."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != S.RELEASING:
            return campaign
        record_status_change(campaign, S.SENT, actor=None)
        campaign.finished_at = timezone.now()
        campaign.save(update_fields=["status", "finished_at", "updated_at"])
    return campaign


def campaign_decline(*, campaign_id: int, actor: User | None, reason: str) -> Campaign:
    """A moderator stops the campaign for good, at any point before it is sent: nothing more
    goes out (workers see it before their next message)."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status == S.DECLINED:
            return campaign
        ensure_transition(campaign.status, S.DECLINED)
        record_status_change(campaign, S.DECLINED, actor=actor, reason=reason)
        campaign.moderation_note = reason
        campaign.finished_at = timezone.now()
        campaign.save(update_fields=["status", "moderation_note", "finished_at", "updated_at"])
        skip_unsent(campaign, reason="declined")
    return campaign


def _pause(campaign: Campaign, *, reason: str | CodedText) -> None:
    campaign.resume_status = campaign.status
    record_status_change(campaign, S.PAUSED, actor=None, reason=reason)
    campaign.save(update_fields=["status", "resume_status", "updated_at"])


def campaign_pause(*, campaign_id: int, reason: str | CodedText) -> Campaign:
    """Stop sending while the account may not send (frozen); remembers where to pick up."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status == S.PAUSED or welcome.is_welcome(campaign):
            # A welcome stays approved: while the account may not send, workers skip its
            # messages instead (campaigns.welcome).
            return campaign
        ensure_transition(campaign.status, S.PAUSED)
        _pause(campaign, reason=reason)
    return campaign


def campaign_resume(*, campaign_id: int, actor: User | None = None) -> Campaign:
    """Pick a paused campaign up where it stopped, once its account may send again. A no-op
    for a campaign that is not paused, or whose account is still frozen."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != S.PAUSED or not campaign.account.can_send:
            return campaign
        target = campaign.resume_status or S.APPROVED
        ensure_transition(campaign.status, target)
        record_status_change(
            campaign, target, actor=actor, reason=coded("campaigns.status.resumed")
        )
        campaign.resume_status = ""
        campaign.save(update_fields=["status", "resume_status", "updated_at"])
        if target in SENDING_STATUSES:
            _enqueue_sending(campaign.pk)
        elif target == S.APPROVED:
            transaction.on_commit(lambda: tasks.start_probe.delay(campaign.pk))
    return campaign


def campaigns_resume_for_account(*, account_id: int) -> list[int]:
    """Resume every paused campaign of an account that may send again (unfreezing calls this;
    the sweeper does too, so none is forgotten)."""
    resumed = []
    for campaign_id in Campaign.objects.filter(account_id=account_id, status=S.PAUSED).values_list(
        "pk", flat=True
    ):
        if campaign_resume(campaign_id=campaign_id).status != S.PAUSED:
            resumed.append(campaign_id)
    return resumed
