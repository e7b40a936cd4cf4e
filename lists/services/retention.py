"""Retention purges of the lists app (privacy rule 9): uploaded import files, sign-ups that never
confirmed, import proof files nobody's consent rests on any more, and the stored preferences of
dormant accounts.

Each purge takes the cut-off (`before`: what is older goes) and `dry_run` (count, change
nothing), returns how many rows it purged (or would), and is safe to run twice: a second run
finds nothing. Call inside a transaction; files are deleted from storage after commit, so a
rolled-back purge never leaves a row pointing at a deleted file. Consent records of existing
subscribers and suppressions are never touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Account
from config.coded_text import coded
from lists.models import (
    ConsentRecord,
    ImportJob,
    ImportStatus,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from lists.services.imports import imports_purge_stale
from lists.services.subscribers import subscribers_delete

# As the hourly `lists.purge_stale_imports` task: an upload left unmapped for a day is abandoned.
STALE_PENDING_IMPORT_AGE = timedelta(hours=24)
_FINISHED = (ImportStatus.DONE, ImportStatus.FAILED)
_IN_PROGRESS = (ImportStatus.QUEUED, ImportStatus.RUNNING)


def _delete_files_after_commit(field, names: list[str]) -> None:
    storage = field.storage
    transaction.on_commit(lambda: [storage.delete(name) for name in names])


def stale_pending_imports_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete imports uploaded but never started before `before`, with their files: the hourly
    `lists.purge_stale_imports` task's service (`imports_purge_stale`), reused as is."""
    if dry_run:
        return ImportJob.objects.filter(status=ImportStatus.PENDING, created_at__lt=before).count()
    return imports_purge_stale(older_than=timezone.now() - before)


def import_files_purge(*, before: datetime, days: int, dry_run: bool = False) -> int:
    """Delete the uploaded file of every import created before `before`; the job row and its
    report (counts, row issues) stay.

    A finished import normally lost its file when it ended; this catches what a crash left.
    An import still queued or running with no progress since `before` is stuck: without its
    file it can never finish, so it is marked failed in the same conditional UPDATE (a worker
    that claims it first, bumping `progress_at`, wins and keeps it). Pending imports are the
    stale-import purge's. The import's proof file is not an uploaded import file: it stays.
    """
    old = ImportJob.objects.filter(created_at__lt=before).exclude(file="")
    finished = old.filter(status__in=_FINISHED)
    stuck = old.filter(status__in=_IN_PROGRESS).filter(
        Q(progress_at__isnull=True) | Q(progress_at__lt=before)
    )
    if dry_run:
        return finished.count() + stuck.count()
    files = dict(finished.values_list("pk", "file")) | dict(stuck.values_list("pk", "file"))
    # The UPDATEs repeat the conditions: a worker that claimed a stuck import since the read
    # (bumping progress_at) keeps it and its file.
    count = finished.filter(pk__in=files).update(file="")
    count += stuck.filter(pk__in=files).update(
        file="",
        status=ImportStatus.FAILED,
        failure_reason=coded("lists.import.never_finished", days=days),
        finished_at=timezone.now(),
    )
    kept = set(ImportJob.objects.filter(pk__in=files).exclude(file="").values_list("pk", flat=True))
    _delete_files_after_commit(
        ImportJob._meta.get_field("file"), [name for pk, name in files.items() if pk not in kept]
    )
    return count


def orphaned_import_proofs_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete the proof file of finished imports created before `before` once no consent record
    rests on it any more (every subscriber it brought in has been deleted or erased). While one
    such subscriber exists, the file is its consent proof and stays."""
    orphaned = (
        ImportJob.objects.filter(created_at__lt=before, status__in=_FINISHED)
        .exclude(proof_file="")
        .exclude(Exists(ConsentRecord.objects.filter(import_job=OuterRef("pk"))))
    )
    if dry_run:
        return orphaned.count()
    jobs = list(orphaned.values_list("pk", "proof_file"))
    # Re-checked in the UPDATE itself: a record added since the read keeps its file.
    count = orphaned.filter(pk__in=[pk for pk, _ in jobs]).update(proof_file="")
    kept = set(
        ImportJob.objects.filter(pk__in=[pk for pk, _ in jobs])
        .exclude(proof_file="")
        .values_list("pk", flat=True)
    )
    _delete_files_after_commit(
        ImportJob._meta.get_field("proof_file"), [name for pk, name in jobs if pk not in kept]
    )
    return count


def never_confirmed_purge(*, before: datetime, dry_run: bool = False) -> int:
    """Delete sign-ups that never confirmed double opt-in, with their consent records and
    proof files (after commit), through `subscribers_delete`.

    "Never confirmed": unconfirmed, never subscribed (`subscribed_at` is kept after an
    unsubscribe, so a former subscriber who signed up again and did not confirm keeps their
    history), created, last changed and last sent a confirmation before `before`. Suppressions
    are account-wide rows of their own and stay.
    """
    never_confirmed = Subscriber.objects.filter(
        status=SubscriberStatus.UNCONFIRMED,
        subscribed_at__isnull=True,
        created_at__lt=before,
        updated_at__lt=before,
    ).filter(Q(confirmation_sent_at__isnull=True) | Q(confirmation_sent_at__lt=before))
    if dry_run:
        return never_confirmed.count()
    return subscribers_delete(never_confirmed)


def _lists_of(accounts: QuerySet[Account]) -> QuerySet[MailingList, Any]:
    return MailingList.objects.filter(account__in=accounts.values("pk")).values("pk")


def dormant_subscriber_attributes_purge(
    *, accounts: QuerySet[Account], dry_run: bool = False
) -> int:
    """Blank the custom attributes (the per-recipient preference and profile fields: interests,
    segments, anything beyond address, name and phone) of every subscriber of `accounts`, the
    dormant accounts. The address, status, consent history and suppressions stay, so the lists
    still work if the account comes back. One set-based UPDATE; returns the subscribers changed."""
    with_attributes = Subscriber.objects.filter(mailing_list__in=_lists_of(accounts)).exclude(
        attributes={}
    )
    if dry_run:
        return with_attributes.count()
    return with_attributes.update(attributes={})


def dormant_import_column_maps_purge(*, accounts: QuerySet[Account], dry_run: bool = False) -> int:
    """Blank the saved column mappings of the finished imports of `accounts` (the sender's
    remembered import preferences, which also name their custom fields). The import report
    stays."""
    with_maps = ImportJob.objects.filter(
        account__in=accounts.values("pk"), status__in=_FINISHED
    ).exclude(column_map={})
    if dry_run:
        return with_maps.count()
    return with_maps.update(column_map={})
