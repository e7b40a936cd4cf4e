"""Reads about segments and tags, always scoped to the account asking."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Count, Exists, Min, OuterRef, QuerySet
from django.db.models.functions import Lower

from accounts.models import Account
from campaigns import segments as compiler
from campaigns.models import Campaign, CampaignVersion, Segment
from lists.models import Subscriber, Suppression


def segments_for(*, account: Account) -> QuerySet[Segment]:
    """The account's segments by name, with their lists."""
    return Segment.objects.filter(account=account).prefetch_related("lists").order_by("name", "pk")


def segment_get(*, account: Account, segment_id: int) -> Segment | None:
    return segments_for(account=account).filter(pk=segment_id).first()


def first_of_each_address(
    subscribers: QuerySet[Subscriber], *, list_count: int
) -> QuerySet[Subscriber]:
    """`subscribers`, each address once (its oldest subscriber). Addresses are stored lower-cased
    and unique within a list, so one list needs no de-duplication."""
    if list_count <= 1:
        return subscribers
    first = subscribers.values(address=Lower("email")).annotate(first=Min("pk")).values("first")
    return Subscriber.objects.filter(pk__in=first)


def without_account_suppressions(
    subscribers: QuerySet[Subscriber], *, account_id: int
) -> QuerySet[Subscriber]:
    """`subscribers` without the addresses the account suppressed, matched on the address the
    suppression keeps: one hash anti-join over the account's suppressions. (Matching every
    subscriber's keyed hash, as fixing the audience does, costs two SHA-256 per row: some 18 s
    on a million; suppressions kept as a hash only, and the platform's hard bounces, are left
    out when the audience is fixed.)"""
    own = (
        Suppression.objects.filter(account_id=account_id)
        .exclude(email="")
        .annotate(address=Lower("email"))
        .filter(address=OuterRef("email"))
    )
    return subscribers.exclude(Exists(own))


def _count(subscribers: QuerySet[Subscriber], *, account_id: int, list_count: int) -> int:
    checked = without_account_suppressions(subscribers, account_id=account_id)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Room to hash a segment's subqueries (a tag's or a consent source's subscriber
            # ids) once: past work_mem PostgreSQL runs them again for every subscriber.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '64MB'")
        if list_count <= 1:
            return checked.count()
        return checked.aggregate(n=Count(Lower("email"), distinct=True))["n"]


def audience_count(*, account_id: int, list_ids: list[int], segments: list[dict]) -> int:
    """Distinct subscribed addresses of whole lists plus segments (as data) that the account
    has not suppressed, counted by the database in one query."""
    subscribers = compiler.audience_subscribers(
        account_id=account_id, list_ids=list_ids, segments=segments
    )
    list_count = len(compiler.audience_list_ids(list_ids=list_ids, segments=segments))
    return _count(subscribers, account_id=account_id, list_count=list_count)


def segment_count(*, segment: Segment) -> int:
    """How many addresses the segment selects now."""
    return audience_count(
        account_id=segment.account_id, list_ids=[], segments=[compiler.segment_as_data(segment)]
    )


def segment_subscribers(*, segment: Segment) -> QuerySet[Subscriber]:
    """The subscribers the segment selects now, as `segment_count` counts them: subscribed,
    meeting its conditions, in the account's lists, not suppressed, each address once. An
    address on two of its lists is its oldest subscriber row (the lowest id, as
    `first_of_each_address` keeps: the list it joined first). For the export, which reads it
    in chunks by id: the duplicates are left out by an anti-join (an earlier row of the same
    address, found through the (list, email) index), not a GROUP BY each chunk would redo."""
    data = compiler.segment_as_data(segment)
    selected = compiler.audience_subscribers(
        account_id=segment.account_id, list_ids=[], segments=[data]
    )
    checked = without_account_suppressions(selected, account_id=segment.account_id)
    if len(data["lists"]) <= 1:
        return checked
    # Addresses are stored lower-cased, so equal text is the same address (the count's
    # lower(email)); a suppressed address is suppressed on every list, so `selected` will do.
    earlier = selected.filter(email=OuterRef("email"), pk__lt=OuterRef("pk"))
    return checked.exclude(Exists(earlier))


def campaign_audience_count(*, campaign: Campaign) -> int:
    """How many addresses the draft's lists and segments reach now (before the send's final
    checks), for the page and the API before submitting."""
    return audience_count(
        account_id=campaign.account_id,
        list_ids=[mailing_list.pk for mailing_list in campaign.lists.all()],
        segments=compiler.segments_snapshot(campaign.segments.all()),
    )


def version_segments(version: CampaignVersion) -> list[dict]:
    return list(version.segments or [])
