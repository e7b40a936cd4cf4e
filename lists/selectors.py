"""Reads about lists and subscribers, always scoped to the account asking."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, DateField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Lower, Trunc
from django.utils.translation import gettext_lazy

from accounts.models import Account
from lists.addresses import address_hash
from lists.models import (
    ConsentRecord,
    ConsentSource,
    ExportJob,
    ImportJob,
    MailingList,
    Subscriber,
    SubscriberChange,
    SubscriberCount,
    SubscriberStatus,
    Suppression,
    Tag,
)


def lists_for(*, account: Account) -> QuerySet[MailingList]:
    """The account's lists, each with `subscriber_count` (subscribed only), from the counters."""
    subscribed = (
        SubscriberCount.objects.filter(
            mailing_list=OuterRef("pk"), status=SubscriberStatus.SUBSCRIBED
        )
        .values("mailing_list")
        .annotate(total=Sum("n"))
        .values("total")
    )
    return (
        MailingList.objects.filter(account=account)
        .annotate(subscriber_count=Coalesce(Subquery(subscribed), 0))
        .order_by("name")
    )


def list_growth(
    *, account: Account, list_ids: list[int], since: datetime, per: str = "day"
) -> dict[int, dict[date, int]]:
    """New subscribers of the account's lists `list_ids` since `since`, counted by when each
    subscription took effect (`subscribed_at`: the double opt-in confirmation, the import or the
    API call; UTC), per "day" or per "week" (from Monday): {list id: {first day: count}}, only
    the days or weeks with any. Whoever left since still counts: it is the list's intake. One
    grouped query."""
    if per not in ("day", "week"):
        raise ValueError(f"per must be 'day' or 'week', not {per!r}")
    rows = (
        Subscriber.objects.filter(
            mailing_list__account=account, mailing_list_id__in=list_ids, subscribed_at__gte=since
        )
        .annotate(bucket=Trunc("subscribed_at", per, output_field=DateField()))
        .values_list("mailing_list_id", "bucket")
        # count(*), not count(id): an index on (mailing_list, subscribed_at) then answers alone.
        .annotate(n=Count("*"))
        .order_by()
    )
    growth: dict[int, dict[date, int]] = {list_id: {} for list_id in list_ids}
    for list_id, bucket, count in rows:
        growth[list_id][bucket] = count
    return growth


def list_get(*, account: Account, list_id: int) -> MailingList | None:
    return MailingList.objects.filter(account=account, pk=list_id).first()


def list_with_count(*, account: Account, list_id: int) -> MailingList | None:
    """One list with `subscriber_count`, as the API shows it."""
    return lists_for(account=account).filter(pk=list_id).first()


def list_by_public_id(*, public_id: str) -> MailingList | None:
    """The list behind a hosted form (public: no account to scope by)."""
    return MailingList.objects.select_related("account").filter(public_id=public_id).first()


# A search this long or longer finds any part of an address or a name (the trigram indexes of
# migration 0014 serve it on PostgreSQL; a trigram needs three characters). A shorter one
# finds what starts with it (the prefix indexes).
SEARCH_SUBSTRING_MIN = 3
_WHOLE_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[a-z0-9-]{2,}")


def subscribers_for(
    *, account: Account, mailing_list: MailingList, status: str = "", search: str = ""
) -> QuerySet[Subscriber]:
    """A list's subscribers, newest first, filtered by status and by a search: any part of the
    address or the name (case-insensitive) from three characters, a prefix below."""
    if mailing_list.account_id != account.pk:
        return Subscriber.objects.none()
    # The list is the account's (checked above): no join to the lists table, which on a million
    # rows would cost a loop per row a deep page skips.
    queryset = Subscriber.objects.filter(mailing_list=mailing_list).order_by("-id")
    if status:
        queryset = queryset.filter(status=status)
    search = search.strip().lower()
    if search:
        # Addresses are stored lower-case; names are matched by lower(name), which is what the
        # indexes hold (LIKE, not ILIKE: a trigram index on lower(name) serves it).
        queryset = queryset.annotate(name_lower=Lower("name"))
        if _WHOLE_ADDRESS.fullmatch(search) and queryset.filter(email=search).exists():
            # An address on the list is that address (the unique index), not every address
            # that contains it: its trigrams ("exa", "com"…) are in most addresses of a list,
            # and matching them all costs seconds on a million.
            queryset = queryset.filter(Q(email=search) | Q(name_lower__contains=search))
        elif len(search) >= SEARCH_SUBSTRING_MIN:
            queryset = queryset.filter(Q(email__contains=search) | Q(name_lower__contains=search))
        else:
            queryset = queryset.filter(
                Q(email__startswith=search) | Q(name_lower__startswith=search)
            )
    return queryset


def subscriber_changes(*, account: Account, subscriber: Subscriber) -> QuerySet[SubscriberChange]:
    """Who changed the subscriber's details and how, newest first."""
    return SubscriberChange.objects.filter(
        subscriber__mailing_list__account=account, subscriber=subscriber
    ).select_related("changed_by")


def subscriber_get(
    *, account: Account, subscriber_id: int, list_id: int | None = None
) -> Subscriber | None:
    queryset = Subscriber.objects.filter(mailing_list__account=account, pk=subscriber_id)
    if list_id is not None:
        queryset = queryset.filter(mailing_list_id=list_id)
    return queryset.select_related("mailing_list").first()


def consent_record_get(*, account: Account, record_id: int) -> ConsentRecord | None:
    return ConsentRecord.objects.filter(
        subscriber__mailing_list__account=account, pk=record_id
    ).first()


def status_counts(*, mailing_list: MailingList) -> dict[str, int]:
    """Subscribers per status (every status present, zero when none), from the counters the
    database keeps: no counting of a million rows per page view."""
    counts = dict.fromkeys(SubscriberStatus.values, 0)
    rows = (
        SubscriberCount.objects.filter(mailing_list=mailing_list)
        .values_list("status")
        .annotate(total=Sum("n"))
        .order_by()
    )
    counts.update(dict(rows))
    return counts


def role_address_share(*, mailing_list: MailingList) -> float:
    """The share of role addresses among the list's current (subscribed or unconfirmed) members."""
    totals = SubscriberCount.objects.filter(
        mailing_list=mailing_list,
        status__in=[SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED],
    ).aggregate(total=Sum("n"), roles=Sum("n", filter=Q(is_role_address=True)))
    return (totals["roles"] or 0) / totals["total"] if totals["total"] else 0.0


def list_is_role_dominated(*, mailing_list: MailingList) -> bool:
    """Rule 6: lists made mostly of role addresses are flagged for moderators."""
    return role_address_share(mailing_list=mailing_list) > settings.ROLE_ADDRESS_FLAG_SHARE


def imports_for(*, account: Account) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(account=account).select_related("mailing_list")


def import_get(*, account: Account, import_id: int) -> ImportJob | None:
    return imports_for(account=account).filter(pk=import_id).first()


def exports_for(*, account: Account, user) -> QuerySet[ExportJob]:
    """The exports `user` asked for in `account`, newest first: an export's file is its
    requester's (an account's ZIP is its owner's), not every member's."""
    return ExportJob.objects.filter(account=account, requested_by=user).order_by(
        "-created_at", "-pk"
    )


def export_get(*, account: Account, user, export_id: int) -> ExportJob | None:
    return exports_for(account=account, user=user).filter(pk=export_id).first()


def suppressions_for(*, account: Account) -> QuerySet[Suppression]:
    return Suppression.objects.filter(account=account).order_by("-created_at")


def suppression_of_address(*, account: Account, email: str) -> QuerySet[Suppression]:
    """The account's suppression of `email` (normalised), matched by its keyed hash: it works
    after the address itself is erased."""
    return Suppression.objects.filter(account=account, email_hash=address_hash(account.pk, email))


def subscriber_export(*, account: Account, email: str) -> dict:
    """Everything this account holds about an address (rule 9): subscriptions with their consent
    history, the suppression entry and import rows that mention it."""
    subscribers = (
        Subscriber.objects.filter(mailing_list__account=account, email=email)
        .select_related("mailing_list")
        .prefetch_related("consent_records", "changes")
        .order_by("pk")
    )
    suppression = suppression_of_address(account=account, email=email).first()
    import_rows = (
        ImportJob.objects.filter(account=account, issues__email=email)
        .values("pk", "original_filename", "issues__row", "issues__reason")
        .order_by("pk", "issues__row")
    )
    return {
        "email": email,
        "account": account.company_name,
        "subscriptions": [
            {
                "list_id": s.mailing_list_id,
                "list": s.mailing_list.name,
                "purpose": s.mailing_list.purpose,
                "name": s.name,
                "phone": s.phone,
                "attributes": s.attributes,
                "language": s.language,
                "status": s.status,
                "created_at": s.created_at.isoformat(),
                "subscribed_at": s.subscribed_at.isoformat() if s.subscribed_at else None,
                "unsubscribed_at": s.unsubscribed_at.isoformat() if s.unsubscribed_at else None,
                "consent": [
                    {
                        "event": c.event,
                        "source": c.source,
                        "obtained_at": c.obtained_at.isoformat(),
                        "ip": c.ip,
                        "user_agent": c.user_agent,
                        "purpose_text": c.purpose_text,
                        "form_url": c.form_url,
                        "proof": c.proof,
                        "proof_file": c.proof_file.name or None,
                        "import_id": c.import_job_id,
                    }
                    for c in s.consent_records.all()
                ],
                # Earlier names, phones and attributes are personal data too.
                "changes": [
                    {
                        "changed_at": change.changed_at.isoformat(),
                        "channel": change.channel,
                        "changes": change.changes,
                    }
                    for change in s.changes.all()
                ],
            }
            for s in subscribers
        ],
        "suppression": (
            {"reason": suppression.reason, "since": suppression.created_at.isoformat()}
            if suppression
            else None
        ),
        "import_reports": [
            {
                "import_id": row["pk"],
                "file": row["original_filename"],
                "row": row["issues__row"],
                "reason": row["issues__reason"],
            }
            for row in import_rows
        ],
    }


def attributes_present(*, mailing_lists: list[MailingList], keys: Iterable[str]) -> frozenset[str]:
    """Which of the attribute `keys` at least one subscriber of `mailing_lists` has (one EXISTS
    query per key: a campaign's merge tags read a handful)."""
    return frozenset(
        key
        for key in keys
        if Subscriber.objects.filter(
            mailing_list__in=mailing_lists, attributes__has_key=key
        ).exists()
    )


# Where a withdrawal came from (ConsentRecord.source of events other than "granted"), in words.
_WITHDRAWAL_CHANNELS = {
    "confirmation_link": gettext_lazy("Confirmation link"),
    "import": gettext_lazy("An import"),
    "api": gettext_lazy("The API"),
    "sender": gettext_lazy("The sender, by hand"),
    "removed_by_sender": gettext_lazy("Removed from this list by the sender"),
    "consent_request": gettext_lazy("A consent request"),
    "smtp_refusal": gettext_lazy("Refused by the mail server"),
    "abuse_form": gettext_lazy("An abuse report"),
}


# Channels the apps above lists name (complaints registers its feedback sources at start-up:
# lists sits below complaints in the layers and does not import it).
_REGISTERED_CHANNELS: dict[str, Any] = {}


def consent_channels_register(labels: Mapping[str, Any]) -> None:
    """Add `labels` (source code -> lazily translated name) to what consent_source_label knows."""
    _REGISTERED_CHANNELS.update(labels)


def consent_source_label(source: str) -> str:
    """A consent record's source as a reader names it (a consent source, a feedback channel, a
    status), in the active language; an unknown one as stored, "—" for none. Never the code."""
    if not source:
        return "—"
    labels = {
        **dict(ConsentSource.choices),
        **_REGISTERED_CHANNELS,
        **dict(SubscriberStatus.choices),
        **_WITHDRAWAL_CHANNELS,
    }
    return str(labels.get(source, source))


def tags_for(*, account: Account) -> QuerySet:
    """The account's tags by name, each with `subscriber_count` (links on any list)."""
    return (
        Tag.objects.filter(account=account)
        .annotate(subscriber_count=Count("subscriber_links"))
        .order_by(Lower("name"), "pk")
    )


def subscriber_tag_names(*, subscriber: Subscriber) -> list[str]:
    """The subscriber's tags' names, alphabetically."""
    return list(
        Tag.objects.filter(subscriber_links__subscriber=subscriber)
        .order_by(Lower("name"))
        .values_list("name", flat=True)
    )
