"""Reads about segments and tags, always scoped to the account asking."""

from __future__ import annotations

from django.db.models import Count, Min, QuerySet
from django.db.models.functions import Lower

from accounts.models import Account
from campaigns import segments as compiler
from campaigns.models import Campaign, CampaignVersion, Segment
from campaigns.selectors import without_suppressed_in_sql
from lists.models import Subscriber


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


def _count(subscribers: QuerySet[Subscriber], *, account_id: int, list_count: int) -> int:
    checked, _ = without_suppressed_in_sql(subscribers, account_id=account_id)
    if list_count <= 1:
        return checked.count()
    return checked.aggregate(n=Count(Lower("email"), distinct=True))["n"]


def audience_count(*, account_id: int, list_ids: list[int], segments: list[dict]) -> int:
    """Distinct subscribed, non-suppressed addresses of whole lists plus segments (as data),
    counted by the database in one query. (On PostgreSQL; elsewhere suppressed addresses
    still on a list as subscribed are counted, and the send leaves them out.)"""
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
