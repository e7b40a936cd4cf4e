"""Segments: validated conditions compiled to one SQL query (issue 22).

A segment selects the subscribed subscribers of some of the account's lists that meet all (or
any) of its conditions. Each condition is a small JSON object, checked here
(`conditions_clean`) and compiled to an ORM expression (`conditions_q`): plain column tests,
and EXISTS subqueries for tags, consent records and engagement. Nothing loops over
subscribers in Python; the database evaluates the whole selection in one statement.

A campaign's audience is its whole lists plus its segments' matches (`audience_q`), each
address once; the submitted version keeps a copy of the segments (`segments_snapshot`) and the
audience is evaluated from that copy at approval, never from the segments as edited since.

Conditions, by field:
- ``attribute`` (``key``): ``equals`` / ``contains`` a text (case-insensitive), ``is_set``
- ``tag``: ``has`` / ``has_not`` a tag of the account (by name, case-insensitive)
- ``consent_source``: ``is`` one of the allowed sources (a consent record of that source)
- ``subscribed``: ``before`` / ``on_or_after`` a date (YYYY-MM-DD, in the server's time zone)
- ``language``: ``is`` a language code (the subscriber's own, else their list's)
- ``opened`` / ``clicked``: ``within_days`` N (a message of this account, by people, not
  machines); ``opened``: ``never``
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import reduce
from operator import and_, or_
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Lower
from django.db.models.lookups import Exact, IContains, IExact
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import Delivery, Segment, SegmentMatch
from config.errors import ApplicationError
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ConsentSource,
    Subscriber,
    SubscriberStatus,
    SubscriberTag,
    Tag,
)

MAX_CONDITIONS = 20
MAX_DAYS = 3650
MAX_TEXT = 200
MAX_KEY = 64

# field -> the operators it takes; how each operator's value is read is in `_value_clean`.
OPERATORS: dict[str, tuple[str, ...]] = {
    "attribute": ("equals", "contains", "is_set"),
    "tag": ("has", "has_not"),
    "consent_source": ("is",),
    "subscribed": ("before", "on_or_after"),
    "language": ("is",),
    "opened": ("within_days", "never"),
    "clicked": ("within_days",),
}
# Operators that take no value.
NO_VALUE = frozenset({"is_set", "never"})


def _invalid(index: int, message: str) -> ApplicationError:
    return ApplicationError(
        gettext("Condition %(number)s: %(problem)s") % {"number": index + 1, "problem": message},
        field="conditions",
    )


def _value_clean(index: int, field: str, op: str, value: object) -> object:
    if op in NO_VALUE:
        return None
    if field in ("opened", "clicked"):
        try:
            days = int(str(value).strip())
        except (TypeError, ValueError):
            raise _invalid(index, gettext("give a number of days.")) from None
        if not 1 <= days <= MAX_DAYS:
            raise _invalid(index, gettext("the days must be between 1 and 3650."))
        return days
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _invalid(index, gettext("give a value."))
    text = str(value).strip()
    if not text:
        raise _invalid(index, gettext("give a value."))
    if len(text) > MAX_TEXT:
        raise _invalid(index, gettext("the value is too long."))
    if field == "consent_source" and text not in ConsentSource.values:
        raise _invalid(index, gettext("not a consent source we accept."))
    if field == "language" and text not in dict(settings.LANGUAGES):
        raise _invalid(index, gettext("not a language we have."))
    if field == "subscribed":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise _invalid(index, gettext("give a date as YYYY-MM-DD.")) from None
    return text


def conditions_clean(raw: object) -> list[dict]:
    """The conditions, checked and normalised (`{"field", "op", "value"}`, plus `key` for an
    attribute); ApplicationError on field `conditions` naming the first bad one."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ApplicationError(gettext("Send a list of conditions."), field="conditions")
    if len(raw) > MAX_CONDITIONS:
        raise ApplicationError(
            gettext("At most %(n)s conditions.") % {"n": MAX_CONDITIONS}, field="conditions"
        )
    out = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _invalid(index, gettext("not a condition."))
        field, op = item.get("field"), item.get("op")
        if field not in OPERATORS:
            raise _invalid(index, gettext("unknown field."))
        if op not in OPERATORS[field]:
            raise _invalid(index, gettext("this field does not take that operator."))
        condition = {
            "field": field,
            "op": op,
            "value": _value_clean(index, field, op, item.get("value")),
        }
        if field == "attribute":
            key = item.get("key")
            key = key.strip() if isinstance(key, str) else ""
            if not key or len(key) > MAX_KEY:
                raise _invalid(index, gettext("name the attribute (up to 64 characters)."))
            condition["key"] = key
        out.append(condition)
    return out


def match_clean(raw: object) -> str:
    if raw in (None, ""):
        return SegmentMatch.ALL
    if raw not in SegmentMatch.values:
        raise ApplicationError(gettext("Choose “all” or “any”."), field="match")
    return str(raw)


# --- compiling -----------------------------------------------------------------------------------


def _start_of(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(day), dt.time.min))


def _engaged(account_id: int, column: str, since: dt.datetime | None, *, joined: bool) -> Q:
    # By address, over the account's every campaign: a person on two lists who opened the
    # message sent through one of them opened it (served by the partial indexes on Delivery).
    lookup = {f"{column}__isnull": False} if since is None else {f"{column}__gte": since}
    engaged = Delivery.objects.filter(campaign__account_id=account_id, **lookup)
    if joined:
        return Q(Exists(engaged.filter(email=OuterRef("email"))))
    return Q(email__in=engaged.values("email"))


def _having(queryset, key: str, *, joined: bool) -> Q:
    """Subscribers with a row in `queryset` (its `key` column is the subscriber's id). Under
    "all" a correlated EXISTS, which PostgreSQL turns into a semi- or anti-join; under "any"
    an uncorrelated IN, which it hashes once: an EXISTS inside an OR is run again for every
    subscriber (4 s instead of under 1 on a million, bench/segment_bench.py)."""
    if joined:
        return Q(Exists(queryset.filter(**{key: OuterRef("pk")})))
    return Q(pk__in=queryset.values(key))


def _tag_ids(account_id: int, conditions: Iterable[dict]) -> dict[str, list[int]]:
    names = {c["value"].lower() for c in conditions if c["field"] == "tag"}
    if not names:
        return {}
    found: dict[str, list[int]] = {}
    rows = (
        Tag.objects.filter(account_id=account_id)
        .annotate(lower=Lower("name"))
        .filter(lower__in=names)
        .values_list("lower", "pk")
    )
    for lower, pk in rows:
        found.setdefault(lower, []).append(pk)
    return found


def condition_q(
    condition: dict, *, account_id: int, tag_ids: dict[str, list[int]], now, joined: bool = True
) -> Q:
    """One checked condition as a filter on Subscriber (`joined`: it is ANDed with the rest,
    see `_having`)."""
    field, op = condition["field"], condition["op"]
    value: Any = condition.get("value")  # text, a date or a number of days, as `field` takes
    if field == "attribute":
        text = KeyTextTransform(condition["key"], "attributes")
        if op == "equals":
            return Q(IExact(text, value))
        if op == "contains":
            return Q(IContains(text, value))
        return Q(attributes__has_key=condition["key"]) & ~Q(Exact(text, ""))
    if field == "tag":
        has = _having(
            SubscriberTag.objects.filter(tag_id__in=tag_ids.get(value.lower(), [])),
            "subscriber_id",
            joined=joined,
        )
        return has if op == "has" else ~has
    if field == "consent_source":
        return _having(
            ConsentRecord.objects.filter(event=ConsentEvent.GRANTED, source=value),
            "subscriber_id",
            joined=joined,
        )
    if field == "subscribed":
        start = _start_of(value)
        if op == "before":
            return Q(subscribed_at__lt=start)
        return Q(subscribed_at__gte=start)
    if field == "language":
        return Q(language=value) | Q(language="", mailing_list__language=value)
    column = "opened_at" if field == "opened" else "clicked_at"
    if op == "never":
        return ~_engaged(account_id, column, None, joined=joined)
    return _engaged(account_id, column, now - dt.timedelta(days=int(value)), joined=joined)


def conditions_q(*, account_id: int, match: str, conditions: list[dict], now=None) -> Q:
    """The conditions (checked by `conditions_clean`) as one filter on Subscriber: all of
    them, or any; no conditions selects everyone."""
    if not conditions:
        return Q()
    now = now or timezone.now()
    tag_ids = _tag_ids(account_id, conditions)
    joined = match == SegmentMatch.ALL or len(conditions) == 1
    parts = [
        condition_q(c, account_id=account_id, tag_ids=tag_ids, now=now, joined=joined)
        for c in conditions
    ]
    return reduce(and_ if match == SegmentMatch.ALL else or_, parts)


def segment_q(
    *, account_id: int, list_ids: list[int], match: str, conditions: list[dict], now=None
) -> Q:
    """The subscribed subscribers of `list_ids` meeting the conditions, as a filter."""
    return Q(mailing_list_id__in=list_ids, status=SubscriberStatus.SUBSCRIBED) & conditions_q(
        account_id=account_id, match=match, conditions=conditions, now=now
    )


# --- segments as data: live ones and a version's copy ---------------------------------------------


def segment_as_data(segment: Segment) -> dict:
    """What a version records of a segment (and what the audience is evaluated from)."""
    return {
        "id": segment.pk,
        "name": segment.name,
        "match": segment.match,
        "conditions": segment.conditions,
        "lists": [
            {"id": mailing_list.pk, "name": mailing_list.name}
            # sorted in Python so a prefetched `lists` (segments_snapshot) costs no query
            for mailing_list in sorted(segment.lists.all(), key=lambda item: item.pk)
        ],
    }


def segments_snapshot(segments: Iterable[Segment]) -> list[dict]:
    """The segments as data, by id; a queryset is read with its lists in one more query, not
    one per segment."""
    if isinstance(segments, QuerySet):
        segments = segments.prefetch_related("lists")
    return [segment_as_data(segment) for segment in sorted(segments, key=lambda s: s.pk)]


def audience_list_ids(*, list_ids: list[int], segments: list[dict]) -> list[int]:
    """Every list the audience draws from: the whole lists and the segments' lists."""
    ids = set(list_ids)
    for segment in segments:
        ids.update(int(item["id"]) for item in segment["lists"])
    return sorted(ids)


def audience_q(*, account_id: int, list_ids: list[int], segments: list[dict], now=None) -> Q:
    """The subscribed subscribers of the whole lists, or matching any of the segments (as
    data: `segment_as_data`), as one filter on Subscriber."""
    parts = []
    if list_ids:
        parts.append(Q(mailing_list_id__in=list_ids, status=SubscriberStatus.SUBSCRIBED))
    for segment in segments:
        parts.append(
            segment_q(
                account_id=account_id,
                list_ids=[int(item["id"]) for item in segment["lists"]],
                match=segment["match"],
                conditions=segment["conditions"],
                now=now,
            )
        )
    if not parts:
        return Q(pk__in=[])
    return reduce(or_, parts)


def audience_subscribers(
    *, account_id: int, list_ids: list[int], segments: list[dict], now=None
) -> QuerySet[Subscriber]:
    """The audience's subscribers, every list of it the account's own (a list another account
    owns, or one deleted since, contributes nothing)."""
    return Subscriber.objects.filter(
        audience_q(account_id=account_id, list_ids=list_ids, segments=segments, now=now),
        mailing_list__account_id=account_id,
    )
