"""A moderator's decisions about an account: warn it, freeze it (its campaigns under way pause)
and unfreeze it (they resume where they stopped)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, User
from accounts.services import account_state_change, notify
from accounts.states import ENFORCEABLE, AccountState, ensure_transition
from campaigns import sending
from campaigns.models import Campaign
from campaigns.states import UNDER_WAY, CampaignStatus, can_transition
from config.coded_text import CodedText, coded
from config.errors import InvalidTransition, NotFound
from moderation.enforcement.shared import appeal_link, locked_account, when_shown
from moderation.models import AccountFlag, Appeal, AppealStatus, AuditAction
from moderation.selectors import appeal_deadline
from moderation.services import audit, clean_reason, ensure_moderator

State = AccountState


def _resolve_open_flags(account: Account, *, moderator: User | None, now: datetime) -> int:
    """A moderator who decided about the account has answered its flags."""
    return AccountFlag.objects.filter(account=account, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=moderator
    )


def _change(account: Account, target: str, *, moderator: User, reason: str) -> datetime:
    """Move the locked account to `target` (InvalidTransition unless accounts.states allows
    it); the moderator who decided has answered its open flags. Returns the moment."""
    ensure_transition(account.state, target)
    now = timezone.now()
    account_state_change(account=account, state=target, reason=reason, now=now)
    _resolve_open_flags(account, moderator=moderator, now=now)
    return now


def account_warn(*, account_id: int, moderator: User, reason: str) -> Account:
    """Warn an active account (state warned; it may still send) with a reason its users see.
    Idempotent (an account already warned changes nothing: no second entry or notification);
    InvalidTransition for a frozen, closing or deleted account. Locks the account row."""
    ensure_moderator(moderator)
    reason = clean_reason(reason, required=True)
    with transaction.atomic():
        account = locked_account(account_id)
        if account.state == State.WARNED:
            return account
        _change(account, State.WARNED, moderator=moderator, reason=reason)
        audit(actor=moderator, action=AuditAction.WARNED, account=account, reason=reason)
        notify(
            account,
            "accounts.notice.warned",
            link=reverse("dashboard"),
            level="warning",
            reason=reason,
        )
    return account


def account_freeze(*, account_id: int, moderator: User, reason: str) -> Account:
    """Freeze an active or warned account: it can no longer create, test or submit campaigns,
    and every campaign of it under way is paused (a batch already running stops at its next
    heartbeat, when it sees the account may not send). Its users are told the reason and until
    when they may appeal (APPEAL_HOURS). Idempotent: an account already frozen changes nothing.
    InvalidTransition for an account closing or deleted. Locks the account row, then (after the
    freeze is committed) each campaign's row in turn, never both at once, so that the freeze
    cannot deadlock with a worker that locks a campaign and then its account."""
    ensure_moderator(moderator)
    reason = clean_reason(reason, required=True)
    with transaction.atomic():
        account = locked_account(account_id)
        if account.state == State.FROZEN:
            return account
        _change(account, State.FROZEN, moderator=moderator, reason=reason)
        deadline = appeal_deadline(account)
        assert deadline is not None  # frozen just now
        under_way = campaigns_to_pause(account_id=account.pk)
        audit(
            actor=moderator,
            action=AuditAction.FROZEN,
            account=account,
            reason=reason,
            details={"campaigns_under_way": under_way, "appeal_deadline": deadline.isoformat()},
        )
        notify(
            account,
            "accounts.notice.frozen",
            link=appeal_link(),
            level="error",
            reason=reason,
            deadline=when_shown(deadline),
            days=settings.DELETION_GRACE_DAYS,
        )
    pause_campaigns(account_id=account.pk, reason=coded("campaigns.status.account_frozen"))
    return account


def campaigns_to_pause(*, account_id: int) -> list[int]:
    """Ids of the account's campaigns under way that may be paused (submitted ones may not:
    they wait for a moderator, who will not approve them while the account is frozen)."""
    pausable = [status for status in UNDER_WAY if can_transition(status, CampaignStatus.PAUSED)]
    return list(
        Campaign.objects.filter(account_id=account_id, status__in=pausable)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def pause_campaigns(*, account_id: int, reason: str | CodedText) -> list[int]:
    """Pause every campaign of the account under way that may be paused, each in its own
    transaction (campaigns.sending.campaign_pause locks the row). Safe to repeat: a campaign
    paused, finished or stopped meanwhile is left as it is. Returns the ids now paused."""
    paused = []
    for campaign_id in campaigns_to_pause(account_id=account_id):
        try:
            campaign = sending.campaign_pause(campaign_id=campaign_id, reason=reason)
        except (InvalidTransition, NotFound):
            continue  # sent, stopped or deleted since the read: nothing to pause
        if campaign.status == CampaignStatus.PAUSED:
            paused.append(campaign_id)
    return paused


def account_unfreeze(*, account_id: int, moderator: User, reason: str) -> Account:
    """Give a frozen (or scheduled-for-deletion) account back its sending: state active, no
    deletion due, a pending appeal granted, and its paused campaigns resumed where they
    stopped (after commit, through campaigns.sending.campaigns_resume_for_account). Idempotent:
    an account that may send changes nothing; InvalidTransition for a deleted one. Locks the
    account row."""
    ensure_moderator(moderator)
    reason = clean_reason(reason, required=True)
    with transaction.atomic():
        account = locked_account(account_id)
        if account.state in ENFORCEABLE:
            return account
        before = account.state
        now = _change(account, State.ACTIVE, moderator=moderator, reason=reason)
        granted = Appeal.objects.filter(account=account, status=AppealStatus.PENDING).update(
            status=AppealStatus.GRANTED, decided_by=moderator, decided_at=now, decision_note=reason
        )
        audit(
            actor=moderator,
            action=AuditAction.UNFROZEN,
            account=account,
            reason=reason,
            details={"from_state": before, "appeal_granted": bool(granted)},
        )
        notify(
            account,
            "accounts.notice.unfrozen",
            link=reverse("campaigns"),
            level="info",
            note=reason,
        )
    sending.campaigns_resume_for_account(account_id=account.pk)
    return account
