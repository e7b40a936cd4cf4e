"""The automatic health check across an account's campaigns: over the limits, an active account
is warned and flagged for moderators (never frozen: that is a moderator's decision)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_state_change, notify
from accounts.states import ENFORCEABLE, AccountState
from complaints.selectors import (
    AccountHealth,
    HealthStatus,
    account_health,
    accounts_with_recent_feedback,
)
from config.coded_text import in_english
from moderation.models import AccountFlag, AuditAction
from moderation.services import audit

State = AccountState


def account_health_check(*, account_id: int, now: datetime | None = None) -> AccountHealth | None:
    """Judge one account's health (complaints.selectors.account_health). Over the limits, an
    active account is warned (its users told why, audit entry by the system) and flagged for
    moderators; an account already warned is only flagged. One open health flag at most (never
    duplicated); never a freeze, which is a moderator's decision. Accounts that cannot send are
    left alone. Idempotent; locks the account row. None for an unknown account."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        return None
    # The figures are read before the lock: two aggregates over the window, not worth holding
    # the account's row for.
    health = account_health(account=account, now=now)
    if health.status != HealthStatus.OVER_LIMIT:
        return health
    # The flag, the audit entry, the account's state reason and the notice keep the reasons as
    # codes, read in the reader's language; the English copy is for logs and webhooks.
    texts = [reason.text for reason in health.reasons]
    reasons = in_english(texts)
    with transaction.atomic():
        account = Account.objects.select_for_update().filter(pk=account_id).first()
        if account is None or account.state not in ENFORCEABLE:
            return health
        has_flag = AccountFlag.objects.filter(
            account=account, campaign__isnull=True, resolved_at__isnull=True
        ).exists()
        if not has_flag:
            AccountFlag.objects.create(account=account, reason=reasons, reason_code=texts)
        details = {
            "sent": health.sent,
            "hard_bounces": health.hard_bounces,
            "complaints": health.complaints,
            "upheld_abuse_reports": health.upheld_abuse_reports,
            "window_days": health.window_days,
        }
        if account.state == State.ACTIVE:
            account_state_change(
                account=account,
                state=State.WARNED,
                reason=reasons,
                reason_code=texts,
                now=timezone.now(),
            )
            audit(
                actor=None,
                action=AuditAction.HEALTH_WARNING,
                account=account,
                reason=texts,
                details=details,
            )
            notify(
                account,
                "accounts.notice.health_warned",
                link=reverse("dashboard"),
                level="warning",
                reasons=texts,
            )
        elif not has_flag:
            audit(
                actor=None,
                action=AuditAction.ACCOUNT_FLAGGED,
                account=account,
                reason=texts,
                details=details,
            )
    return health


def accounts_health_check(*, since: datetime) -> list[int]:
    """Check the health of every account that received a hard bounce or complaint, or had an
    abuse report resolved, since `since` (beat, every few minutes). Returns the ids checked
    that are over the limits."""
    over = []
    for account_id in accounts_with_recent_feedback(since=since):
        health = account_health_check(account_id=account_id)
        if health is not None and health.status == HealthStatus.OVER_LIMIT:
            over.append(account_id)
    return over
