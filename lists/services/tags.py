"""Tags on subscribers: account-scoped labels, added and removed one subscriber at a time or in
bulk (imports, the API). Names are compared case-insensitively; the first spelling stays."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext

from accounts.models import Account
from config.errors import ApplicationError, NotFound
from lists.models import TAG_NAME_MAX, Subscriber, SubscriberTag, Tag

# At most this many tags per request or import cell: tags are labels, not data.
MAX_TAGS_AT_ONCE = 50
_SEPARATORS = re.compile(r"[,;]")
_SPACES = re.compile(r"\s+")


def tag_names_split(cell: str) -> list[str]:
    """The tag names of an import cell or form field: comma- or semicolon-separated, blanks
    dropped, repeats (whatever their case) once. Too long a name is cut, never refused: an
    import row is not lost over a label. Mailchimp's exports quote each name in the cell
    (`"newsletter","vip"`); the quotes are not part of the name."""
    seen: dict[str, str] = {}
    for part in _SEPARATORS.split(cell or ""):
        name = _SPACES.sub(" ", part).strip().strip('"').strip()[:TAG_NAME_MAX].strip()
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return list(seen.values())[:MAX_TAGS_AT_ONCE]


def tag_names_clean(raw: object, *, field: str = "tags") -> list[str]:
    """Tag names from the API or a form: a list of strings, or one string separated by commas
    or semicolons; ApplicationError on `field` for anything else or a name too long."""
    if isinstance(raw, str):
        items: list = _SEPARATORS.split(raw)
    elif isinstance(raw, list):
        items = raw
    else:
        raise ApplicationError(gettext("Send a list of tag names."), field=field)
    seen: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str):
            raise ApplicationError(gettext("Send a list of tag names."), field=field)
        name = _SPACES.sub(" ", item).strip()
        if len(name) > TAG_NAME_MAX:
            raise ApplicationError(
                gettext("A tag has at most %(n)s characters.") % {"n": TAG_NAME_MAX}, field=field
            )
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    if len(seen) > MAX_TAGS_AT_ONCE:
        raise ApplicationError(
            gettext("At most %(n)s tags at once.") % {"n": MAX_TAGS_AT_ONCE}, field=field
        )
    return list(seen.values())


def tags_ensure(*, account_id: int, names: Iterable[str]) -> dict[str, Tag]:
    """{lower-case name: the account's tag}, creating the missing ones (safe under concurrent
    callers: the unique index decides, the loser reads the winner's row)."""
    wanted = {name.lower(): name for name in names}
    if not wanted:
        return {}

    def existing() -> dict[str, Tag]:
        rows = (
            Tag.objects.filter(account_id=account_id)
            .annotate(lower=Lower("name"))
            .filter(lower__in=list(wanted))
        )
        return {tag.lower: tag for tag in rows}

    found = existing()
    missing = [Tag(account_id=account_id, name=wanted[key]) for key in wanted if key not in found]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        found = existing()
    return found


def subscriber_tag_links_add(*, account_id: int, pairs: Iterable[tuple[int, str]]) -> int:
    """Tag subscribers in bulk: (subscriber id, tag name) pairs, the subscribers already known
    to be the account's (callers check). Returns the links written (on PostgreSQL, existing
    ones count 0)."""
    pairs = list(pairs)
    if not pairs:
        return 0
    tags = tags_ensure(account_id=account_id, names={name for _, name in pairs})
    subscriber_ids = [subscriber_id for subscriber_id, _ in pairs]
    tag_ids = [tags[name.lower()].pk for _, name in pairs]
    if connection.vendor == "postgresql":
        # One statement for a whole import batch: two arrays, not a row of parameters each
        # (bulk_create's VALUES took most of an import's time with a tags column).
        table = connection.ops.quote_name(SubscriberTag._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (subscriber_id, tag_id) "  # noqa: S608 - the model's table
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
                [subscriber_ids, tag_ids],
            )
            return cursor.rowcount
    links = [
        SubscriberTag(subscriber_id=subscriber_id, tag_id=tag_id)
        for subscriber_id, tag_id in zip(subscriber_ids, tag_ids, strict=True)
    ]
    SubscriberTag.objects.bulk_create(links, ignore_conflicts=True, batch_size=5000)
    return len(links)


def _subscribers_of(account: Account, subscriber_ids: Iterable[int]) -> QuerySet[Subscriber]:
    ids = sorted({int(pk) for pk in subscriber_ids})
    found = Subscriber.objects.filter(mailing_list__account=account, pk__in=ids)
    if found.count() != len(ids):
        raise NotFound(gettext("No such subscriber."))
    return found


def subscribers_tags_add(
    *, account: Account, subscriber_ids: Iterable[int], names: list[str]
) -> None:
    """Give every one of the account's subscribers `subscriber_ids` the tags `names` (creating
    the tags); NotFound, nothing written, if any subscriber is not the account's. Idempotent."""
    with transaction.atomic():
        ids = list(_subscribers_of(account, subscriber_ids).values_list("pk", flat=True))
        subscriber_tag_links_add(
            account_id=account.pk, pairs=[(pk, name) for pk in ids for name in names]
        )


def subscribers_tags_remove(
    *, account: Account, subscriber_ids: Iterable[int], names: list[str]
) -> int:
    """Take the tags `names` off the account's subscribers `subscriber_ids` (the tags stay in
    the account's list of tags). Idempotent; returns the links removed."""
    with transaction.atomic():
        ids = _subscribers_of(account, subscriber_ids).values("pk")
        lowered = [name.lower() for name in names]
        tag_ids = (
            Tag.objects.filter(account=account)
            .annotate(lower=Lower("name"))
            .filter(lower__in=lowered)
            .values("pk")
        )
        deleted, _ = SubscriberTag.objects.filter(
            subscriber_id__in=ids, tag_id__in=tag_ids
        ).delete()
    return deleted


def subscriber_tags_set(*, account: Account, subscriber: Subscriber, names: list[str]) -> None:
    """Make `names` exactly the subscriber's tags."""
    with transaction.atomic():
        _subscribers_of(account, [subscriber.pk])
        keep = tags_ensure(account_id=account.pk, names=names)
        SubscriberTag.objects.filter(subscriber=subscriber).exclude(
            tag_id__in=[tag.pk for tag in keep.values()]
        ).delete()
        subscriber_tag_links_add(
            account_id=account.pk, pairs=[(subscriber.pk, name) for name in names]
        )


def tag_delete(*, account: Account, tag_id: int) -> None:
    """Delete one of the account's tags and take it off every subscriber."""
    deleted, _ = Tag.objects.filter(account=account, pk=tag_id).delete()
    if not deleted:
        raise NotFound(gettext("No such tag."))
