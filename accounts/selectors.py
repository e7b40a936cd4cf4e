"""Reads about accounts, always scoped to the account asking."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.dns import normalise_domain
from accounts.models import Account, ApiToken, Notification, SenderDomain


def sender_domains_for(*, account: Account) -> QuerySet[SenderDomain]:
    """The account's sender domains; another account's never appear."""
    return SenderDomain.objects.filter(account=account).order_by("domain")


def sender_domain_get(*, account: Account, domain_id: int) -> SenderDomain | None:
    return sender_domains_for(account=account).filter(pk=domain_id).first()


def sender_domain_for_address(*, account: Account, email: str) -> SenderDomain | None:
    """The verified sender domain that covers `email`'s domain exactly, if any."""
    try:
        domain = normalise_domain(email.rpartition("@")[2])
    except ValueError:
        return None
    return (
        sender_domains_for(account=account).filter(domain=domain, verified_at__isnull=False).first()
    )


def api_tokens_for(*, account: Account) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(account=account).select_related("user").order_by("-created_at")


def notifications_for(*, account: Account) -> QuerySet[Notification]:
    """The account's notifications, newest first."""
    return Notification.objects.filter(account=account).order_by("-created_at", "-id")


def unread_notification_count(*, account_id: int) -> int:
    return Notification.objects.filter(account_id=account_id, read_at__isnull=True).count()


def account_by_logo(*, name: str) -> Account | None:
    """The account whose logo is stored under `name` (a random, unguessable key), if any.

    Not scoped to an account: the logo is public, shown on the account's recipient pages."""
    if not name:
        return None
    return Account.objects.filter(logo=name).first()
