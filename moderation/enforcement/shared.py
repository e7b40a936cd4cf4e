"""What the enforcement modules share: the account's row lock, and how a notice shows a moment
and links to the appeal."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from config.errors import NotFound


def locked_account(account_id: int) -> Account:
    """The account, its row locked (NotFound for an unknown id)."""
    # No select_related: only the account's row is locked.
    account = Account.objects.select_for_update().filter(pk=account_id).first()
    if account is None:
        raise NotFound(_("No such account."))
    return account


def appeal_link() -> str:
    return reverse("account_appeal")


def when_shown(moment: datetime) -> str:
    """A moment as a notice shows it (the server's time zone, named)."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
