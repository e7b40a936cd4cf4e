"""What an export job can export, by `ExportJob.source`: each source finds, for an account, the
thing's name and its subscribers (a queryset scoped to that account), or None when it is not the
account's (or is gone). Lists and the account's ZIP are this app's; segments belong to the
campaigns app, above this one, which registers its source when it loads (campaigns.apps): the
job, the worker and the pages stay here without importing upwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.models import Account


@dataclass(frozen=True)
class Found:
    label: str
    # None for the account's ZIP: its writer reads every list itself.
    subscribers: QuerySet | None
    # The download's name without its extension.
    filename: str


Finder = Callable[[Account, "int | None"], "Found | None"]
_SOURCES: dict[str, Finder] = {}


def register(source: str, finder: Finder) -> None:
    """Declare how `source` jobs find their subscribers (one finder per source)."""
    _SOURCES[source] = finder


def find(source: str, *, account: Account, object_id: int | None) -> Found | None:
    """The account's thing named by (`source`, `object_id`), or None (unknown, not theirs,
    gone)."""
    finder = _SOURCES.get(source)
    return None if finder is None else finder(account, object_id)


def _list(account: Account, object_id: int | None) -> Found | None:
    from lists import selectors
    from lists.exports import export_filename

    mailing_list = selectors.list_get(account=account, list_id=object_id or 0)
    if mailing_list is None:
        return None
    return Found(
        label=mailing_list.name,
        subscribers=selectors.subscribers_for(account=account, mailing_list=mailing_list),
        filename=export_filename(mailing_list),
    )


def _account(account: Account, object_id: int | None) -> Found | None:
    from django.utils import timezone

    from lists.models import Subscriber

    return Found(
        label="",
        subscribers=Subscriber.objects.filter(mailing_list__account=account),
        filename=f"consentmail-lists-{timezone.now():%Y-%m-%d}",
    )


register("list", _list)
register("account", _account)
