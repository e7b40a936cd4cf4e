"""Retention purges of the accounts app (privacy rule 9): the outgoing webhook log, read
notifications, expired sessions, and which accounts nobody uses any more.

Stored tokens with an expiry: only Django's sessions. API tokens have none (a revoked one stays
listed as a record of who had access; only its digest is stored), domain verification tokens
stay while the domain does, and the confirmation, unsubscribe and message links are signed and
stateless: nothing is stored to purge.

Each purge takes the cut-off (`before`: what is older goes) and `dry_run` (count, change
nothing), returns how many rows it purged (or would), and is safe to run twice. Call inside a
transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import (
    Account,
    AccountState,
    ApiToken,
    Notification,
    User,
    WebhookDelivery,
    WebhookDeliveryStatus,
)

_DATABASE_SESSIONS = "django.contrib.sessions.backends.db"


def webhook_deliveries_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete the log of webhook deliveries created before `before` that are over (succeeded or
    failed for good), with the payloads they carried. Pending ones are still being retried."""
    over = WebhookDelivery.objects.filter(
        created_at__lt=before,
        status__in=[WebhookDeliveryStatus.SUCCEEDED, WebhookDeliveryStatus.FAILED],
    )
    if dry_run:
        return over.count()
    return over.delete()[0]


def notifications_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete notifications created before `before` that have been read. Unread ones stay:
    they are shown until someone reads them."""
    read = Notification.objects.filter(created_at__lt=before, read_at__isnull=False)
    if dry_run:
        return read.count()
    return read.delete()[0]


def sessions_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete database sessions that expired before `before` (Django never deletes them by
    itself). With another session engine, its own `clear_expired` runs and 0 is returned."""
    if settings.SESSION_ENGINE != _DATABASE_SESSIONS:
        if not dry_run:
            from importlib import import_module

            import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
        return 0
    from django.contrib.sessions.models import Session

    expired = Session.objects.filter(expire_date__lt=before)
    if dry_run:
        return expired.count()
    return expired.delete()[0]


def accounts_without_use_since(*, since: datetime) -> QuerySet[Account]:
    """Accounts (not already deleted) created before `since` of which no user has logged in or
    joined since then and no API token has been used since then: an integration that only
    calls the API is in use although nobody logs in. Whether it sent anything is the campaigns
    app's to say (`campaigns.retention.dormant_accounts`)."""
    used_by_someone = User.objects.filter(account=OuterRef("pk")).filter(
        Q(last_login__gte=since) | Q(date_joined__gte=since)
    )
    token_used = ApiToken.objects.filter(account=OuterRef("pk"), last_used_at__gte=since)
    return (
        Account.objects.filter(created_at__lt=since)
        .exclude(state=AccountState.DELETED)
        .exclude(Exists(used_by_someone))
        .exclude(Exists(token_used))
    )
