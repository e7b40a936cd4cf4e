"""Writes of segments: create, change, delete. A campaign keeps the copy of its segments its
version froze, so changing or deleting a segment never changes an approved audience."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from accounts.models import Account
from campaigns import segments as compiler
from campaigns.models import Segment
from config.errors import ApplicationError, NotFound
from lists.models import MailingList


def _lists_of(account: Account, list_ids) -> list[MailingList]:
    if not isinstance(list_ids, list | tuple | set):
        raise ApplicationError(gettext("Choose at least one list."), field="lists")
    try:
        ids = sorted({int(list_id) for list_id in list_ids})
    except (TypeError, ValueError):
        raise ApplicationError(gettext("Choose at least one list."), field="lists") from None
    if not ids:
        raise ApplicationError(gettext("Choose at least one list."), field="lists")
    found = list(MailingList.objects.filter(account=account, pk__in=ids))
    if len(found) != len(ids):
        raise ApplicationError(gettext("No such list."), field="lists")
    return found


def _name_clean(raw: object) -> str:
    name = raw.strip() if isinstance(raw, str) else ""
    if not name:
        raise ApplicationError(gettext("Give the segment a name."), field="name")
    if len(name) > 200:
        raise ApplicationError(gettext("At most 200 characters."), field="name")
    return name


def _saved(segment: Segment, mailing_lists: list[MailingList] | None) -> Segment:
    try:
        with transaction.atomic():
            segment.save()
            if mailing_lists is not None:
                segment.lists.set(mailing_lists)
    except IntegrityError:
        raise ApplicationError(
            gettext("You already have a segment of that name."), field="name"
        ) from None
    return segment


def segment_create(
    *, account: Account, name: str, lists, match: str = "all", conditions=None
) -> Segment:
    """A new segment over some of the account's lists; the conditions are checked
    (ApplicationError naming the field, nothing written)."""
    segment = Segment(
        account=account,
        name=_name_clean(name),
        match=compiler.match_clean(match),
        conditions=compiler.conditions_clean(conditions),
    )
    return _saved(segment, _lists_of(account, lists))


def segment_update(*, account: Account, segment_id: int, **fields) -> Segment:
    """Change the account's segment (`name`, `lists`, `match`, `conditions`, each optional).
    Campaigns already submitted keep the copy they froze."""
    segment = Segment.objects.filter(account=account, pk=segment_id).first()
    if segment is None:
        raise NotFound(gettext("No such segment."))
    if "name" in fields:
        segment.name = _name_clean(fields["name"])
    if "match" in fields:
        segment.match = compiler.match_clean(fields["match"])
    if "conditions" in fields:
        segment.conditions = compiler.conditions_clean(fields["conditions"])
    mailing_lists = _lists_of(account, fields["lists"]) if "lists" in fields else None
    return _saved(segment, mailing_lists)


def segment_delete(*, account: Account, segment_id: int) -> None:
    """Delete the account's segment and its exports (their files after commit); drafts that
    used it lose it, submitted and approved campaigns keep their version's copy."""
    from lists.models import ExportJob, ExportSource
    from lists.services.export_jobs import exports_delete

    with transaction.atomic():
        deleted, _ = Segment.objects.filter(account=account, pk=segment_id).delete()
        if not deleted:
            raise NotFound(gettext("No such segment."))
        exports_delete(
            jobs=ExportJob.objects.filter(
                account=account, source=ExportSource.SEGMENT, object_id=segment_id
            )
        )
