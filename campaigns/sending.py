"""The staged send (DESIGN.md rule 7 and "The send pipeline"), one function per transition:

    submitted -> approved -> probing -> holding -> releasing -> sent
                 (rejected)            (review)   (declined, paused, cancelled)

Each function locks the campaign row, returns quietly when the campaign is already where it
would take it (safe to call twice: a retried task or a double click changes nothing), checks
the table in campaigns.states (InvalidTransition, a 409, otherwise) and records the change with
its actor and reason. Who decided and why goes to the moderation audit log, written by
moderation.services, which calls these. Sending itself is campaigns.delivery's.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from campaigns import selectors
from campaigns.models import Campaign, Delivery
from campaigns.sampling import allocation, probe_size, stratified_sample
from campaigns.services import record_status_change, skip_unsent
from campaigns.states import CampaignStatus, ensure_transition
from campaigns.verdict import Thresholds, Tier, Verdict, judge
from config.errors import NotFound
from lists.bulk import insert_rows

S = CampaignStatus
# Statuses in which workers hand messages over.
SENDING_STATUSES = frozenset({S.PROBING, S.RELEASING})
AFTER_APPROVAL = frozenset(
    {S.APPROVED, S.PROBING, S.HOLDING, S.REVIEW, S.RELEASING, S.SENT, S.PAUSED}
)
# Statuses a moderator can still stop.
UNDER_WAY = frozenset({S.SUBMITTED, S.APPROVED, S.PROBING, S.HOLDING, S.REVIEW, S.RELEASING})


def _locked(campaign_id: int) -> Campaign:
    campaign = (
        Campaign.objects.select_for_update()
        .select_related("account")
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def _enqueue_sending(campaign_id: int) -> None:
    from campaigns import delivery

    transaction.on_commit(lambda: delivery.dispatch(campaign_id=campaign_id))


def _create_deliveries(campaign: Campaign, members: list, *, probe: bool) -> None:
    # COPY on PostgreSQL: Django's bulk_create spends ~10 s preparing 100,000 rows of 23 fields.
    # The campaign's row lock and status check make this run once; the audience leaves out
    # whoever already has a delivery, so no row can collide with one already there.
    insert_rows(
        Delivery,
        ["subscriber_id", "provider"],
        [(member.subscriber_id, member.provider) for member in members],
        shared={"campaign_id": campaign.pk, "is_probe": probe},
        return_ids=False,
    )


def campaign_approve(*, campaign_id: int, actor: User | None, reason: str = "") -> Campaign:
    """A moderator accepts a submitted campaign; choosing and sending the probe starts in a
    worker (resolving a large audience does not belong in a web request)."""
    from campaigns import tasks

    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.approved_at is not None and campaign.status in AFTER_APPROVAL:
            return campaign  # approved before (a second click): already on its way
        ensure_transition(campaign.status, S.APPROVED)
        record_status_change(campaign, S.APPROVED, actor=actor, reason=reason)
        campaign.approved_at = timezone.now()
        campaign.moderation_note = ""
        campaign.save(update_fields=["status", "approved_at", "moderation_note", "updated_at"])
        transaction.on_commit(lambda: tasks.start_probe.delay(campaign_id))
    return campaign


def campaign_reject(*, campaign_id: int, actor: User | None, reason: str) -> Campaign:
    """A moderator sends a submitted campaign back to its author with a reason they see; the
    author may edit and submit it again."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status == S.REJECTED:
            return campaign
        ensure_transition(campaign.status, S.REJECTED)
        record_status_change(campaign, S.REJECTED, actor=actor, reason=reason)
        campaign.moderation_note = reason
        campaign.save(update_fields=["status", "moderation_note", "updated_at"])
    return campaign


def campaign_start_probe(*, campaign_id: int, seed: int | None = None) -> Campaign:
    """Resolve the recipients now (subscribed, not suppressed, each address once), choose the
    probe (min(ceil(PROBE_SHARE x recipients), PROBE_CAP), at least one, stratified by mailbox
    provider with a recorded seed), create its deliveries and start sending them."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != S.APPROVED:
            # Already started (a retried task), or stopped meanwhile.
            return campaign
        ensure_transition(campaign.status, S.PROBING)
        audience = selectors.campaign_audience(campaign=campaign)
        size = probe_size(len(audience), share=settings.PROBE_SHARE, cap=settings.PROBE_CAP)
        seed = secrets.randbits(48) if seed is None else seed
        candidates = [(member.subscriber_id, member.provider) for member in audience]
        chosen = set(stratified_sample(candidates, size=size, seed=seed))
        providers = Counter(member.provider for member in audience)
        _create_deliveries(
            campaign, [member for member in audience if member.subscriber_id in chosen], probe=True
        )
        record_status_change(campaign, S.PROBING, actor=None, reason=f"probe of {size}")
        campaign.recipients_at_approval = len(audience)
        campaign.probe_size = size
        campaign.probe_seed = seed
        campaign.probe_plan = {
            "recipients": len(audience),
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


def campaign_begin_hold(*, campaign_id: int) -> Campaign:
    """The whole probe is with the backend: hold for HOLD_SECONDS while its feedback comes in.
    The hold's end is a time in the database that a beat-driven check reads, never a delayed
    task (a 6-hour countdown outlives Redis's visibility timeout and is delivered twice)."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != S.PROBING:
            return campaign
        now = timezone.now()
        record_status_change(campaign, S.HOLDING, actor=None, reason="probe handed over")
        campaign.probe_sent_at = now
        campaign.hold_until = now + timedelta(seconds=settings.HOLD_SECONDS)
        campaign.save(update_fields=["status", "probe_sent_at", "hold_until", "updated_at"])
    return campaign


def campaign_judge_probe(*, campaign_id: int) -> tuple[Campaign, Verdict | None]:
    """At the end of the hold: judge the probe's figures and release (green, amber) or send to
    review. Returns the verdict, or None when there was nothing to judge (not holding, the hold
    not over yet, or the account may not send: the campaign pauses instead)."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != S.HOLDING or (
            campaign.hold_until and campaign.hold_until > timezone.now()
        ):
            return campaign, None
        if not campaign.account.can_send:
            _pause(campaign, reason="the account may not send")
            return campaign, None
        figures = selectors.delivery_figures(campaign=campaign, probe_only=True)
        verdict = judge(figures, Thresholds.from_settings())
        campaign.verdict = verdict.as_dict()
        campaign.judged_at = timezone.now()
        campaign.save(update_fields=["verdict", "judged_at", "updated_at"])
        summary = f"probe verdict: {verdict.tier} ({verdict.rule})"
        if verdict.tier == Tier.REVIEW:
            record_status_change(campaign, S.REVIEW, actor=None, reason=summary)
            campaign.save(update_fields=["status", "updated_at"])
        else:
            if verdict.tier == Tier.AMBER:
                campaign.moderation_note = " ".join(verdict.reasons)
                campaign.save(update_fields=["moderation_note", "updated_at"])
            _release(campaign, actor=None, reason=summary)
    return campaign, verdict


def campaign_release(*, campaign_id: int, actor: User | None, reason: str = "") -> Campaign:
    """Send the rest: a moderator's release from review (or the verdict's, through
    campaign_judge_probe). The remaining recipients are resolved again, so anyone who
    unsubscribed, bounced or complained during the hold is left out."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status in (S.RELEASING, S.SENT):
            return campaign
        _release(campaign, actor=actor, reason=reason)
    return campaign


def _release(campaign: Campaign, *, actor: User | None, reason: str) -> None:
    ensure_transition(campaign.status, S.RELEASING)
    _create_deliveries(campaign, selectors.campaign_audience(campaign=campaign), probe=False)
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


def _pause(campaign: Campaign, *, reason: str) -> None:
    campaign.resume_status = campaign.status
    record_status_change(campaign, S.PAUSED, actor=None, reason=reason)
    campaign.save(update_fields=["status", "resume_status", "updated_at"])


def campaign_pause(*, campaign_id: int, reason: str) -> Campaign:
    """Stop sending while the account may not send (frozen); remembers where to pick up."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status == S.PAUSED:
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
        record_status_change(campaign, target, actor=actor, reason="resumed")
        campaign.resume_status = ""
        campaign.save(update_fields=["status", "resume_status", "updated_at"])
        if target in SENDING_STATUSES:
            _enqueue_sending(campaign.pk)
        elif target == S.APPROVED:
            from campaigns import tasks

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
