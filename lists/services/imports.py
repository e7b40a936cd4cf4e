"""Importing subscribers from TXT, CSV, XLS and XLSX files, in batches, by a worker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts.addresses import InvalidAddress, normalise_address
from accounts.models import User, WebhookEvent
from accounts.webhooks import emit_event
from config.errors import ApplicationError
from lists import parsers
from lists.addresses import address_hasher
from lists.bulk import insert_rows, lookup_in, run_ahead
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ImportJob,
    ImportRowIssue,
    ImportStatus,
    MailingList,
    Subscriber,
    SubscriberStatus,
    is_role_address,
)
from lists.services.consent import (
    consent_proof_check,
    consent_source_check,
    proof_file_name,
    upload_name,
)
from lists.services.suppression import SuppressionView, suppression_message

logger = logging.getLogger(__name__)

ROLE_NOTE = "Role address (info@, sales@…): imported, but lists made mostly of them are flagged."
_LIVE = (SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED)


def column_map_check(column_map: dict, *, header: list[str]) -> dict:
    """Validate a mapping of {"email": i, "name": i, "phone": i, "attributes": {name: i}} against
    the file's columns; return it normalised. The e-mail column is required."""
    if not isinstance(column_map, dict):
        raise ApplicationError("The column map must be an object.", field="column_map")
    width = len(header)
    used: dict[int, str] = {}

    def index(value, target: str) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < width:
            raise ApplicationError(
                f"Column for {target!r} must be a column number from 0 to {width - 1}.",
                field="column_map",
            )
        if value in used:
            raise ApplicationError(
                f"Column {value} is mapped twice ({used[value]} and {target}).", field="column_map"
            )
        used[value] = target
        return value

    if column_map.get("email") in (None, ""):
        raise ApplicationError(
            "Choose the column that holds the e-mail address.", field="column_map"
        )
    result: dict = {"email": index(column_map["email"], "email"), "attributes": {}}
    for target in ("name", "phone"):
        if column_map.get(target) not in (None, ""):
            result[target] = index(column_map[target], target)
    attributes = column_map.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise ApplicationError("Attributes must map names to columns.", field="column_map")
    for name, value in attributes.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ApplicationError(
                f"Attribute name {name!r} must be letters, digits and underscores "
                "(it is used as a merge tag).",
                field="column_map",
            )
        result["attributes"][name] = index(value, name)
    unknown = set(column_map) - {"email", "name", "phone", "attributes"}
    if unknown:
        raise ApplicationError(
            f"Unknown targets: {', '.join(sorted(unknown))}.", field="column_map"
        )
    return result


def guessed_column_map(header: list[str]) -> dict:
    guess = parsers.guess_column_map(header)
    return {key: value for key, value in guess.items() if key in ("email", "name", "phone")}


def import_create(
    *,
    mailing_list: MailingList,
    user: User | None,
    upload: UploadedFile,
    consent_source: str,
    proof: str,
    consent_obtained_at: datetime | None = None,
    column_map: dict | None = None,
    start: bool = True,
    proof_file: UploadedFile | None = None,
) -> ImportJob:
    """Check and store an uploaded file as an import of `mailing_list`.

    Refuses (and stores nothing) a forbidden consent source, a missing proof, a file over
    IMPORT_MAX_BYTES, an empty, unknown or damaged file and, when starting, a file whose e-mail
    column cannot be found. With `start` the import is queued and its task enqueued after
    commit; otherwise it waits (`pending`) for the column mapping (the browser wizard).
    """
    source = consent_source_check(consent_source, field="consent_source")
    consent_proof_check(source=source, proof=proof, ip=None, proof_file=proof_file)
    if consent_obtained_at and consent_obtained_at > timezone.now():
        raise ApplicationError(
            "Consent cannot be obtained in the future.", field="consent_obtained_at"
        )
    limit = settings.IMPORT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ApplicationError(
            f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}.",
            field="file",
        )
    filename = upload_name(upload.name)
    job = ImportJob(
        account=mailing_list.account,
        mailing_list=mailing_list,
        created_by=user,
        original_filename=filename,
        file_size=upload.size or 0,
        consent_source=source,
        consent_obtained_at=consent_obtained_at,
        proof=proof.strip(),
        status=ImportStatus.QUEUED if start else ImportStatus.PENDING,
    )
    job.file.save(filename, upload, save=False)
    if proof_file is not None:
        job.proof_file.save(proof_file_name(proof_file), proof_file, save=False)
    try:
        path = Path(job.file.path)
        job.file_format = parsers.detect_format(filename=filename, path=path)
        parsers.check_file(path=path, fmt=job.file_format, max_bytes=limit)
        with parsers.open_table(path=path, fmt=job.file_format) as table:
            header, job.header_in_file = table.header, table.header_in_file
        if column_map is None:
            column_map = guessed_column_map(header)
            if "email" not in column_map and start:
                raise ApplicationError(
                    "Could not tell which column holds the e-mail address; "
                    f"send a column_map (columns: {', '.join(header)}).",
                    field="column_map",
                )
        if start or column_map.get("email") is not None:
            column_map = column_map_check(column_map, header=header)
        job.column_map = column_map
        with transaction.atomic():
            job.save()
            if start:
                _enqueue(job)
    except BaseException:
        job.file.delete(save=False)
        if job.proof_file:
            job.proof_file.delete(save=False)
        raise
    return job


def import_header(*, job: ImportJob) -> tuple[list[str], list[list[str]]]:
    """The file's columns and its first rows, for the mapping step."""
    with parsers.open_table(path=Path(job.file.path), fmt=job.file_format) as table:
        sample = [cells for _, cells in islice(table.rows, 5)]
        return table.header, sample


def import_start(*, job: ImportJob, column_map: dict) -> ImportJob:
    """Map the columns of a pending import and queue it. Idempotent for a queued import."""
    header, _ = import_header(job=job)
    column_map = column_map_check(column_map, header=header)
    with transaction.atomic():
        updated = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PENDING).update(
            column_map=column_map, status=ImportStatus.QUEUED
        )
        if updated:
            _enqueue(job)
    job.refresh_from_db()
    return job


def import_cancel_pending(*, job: ImportJob) -> None:
    """Drop an import that was uploaded but never started, with its file."""
    if job.status == ImportStatus.PENDING:
        job.file.delete(save=False)
        if job.proof_file:
            job.proof_file.delete(save=False)
        job.delete()


def _enqueue(job: ImportJob) -> None:
    from lists.tasks import run_import

    job_id = job.pk
    transaction.on_commit(lambda: run_import.delay(job_id))


# --- the worker's side ---------------------------------------------------------------------------


class _ClaimLost(Exception):
    """Another run of the same import committed a batch first: this run stops quietly."""


@dataclass
class _BatchResult:
    imported: int = 0
    updated: int = 0
    skipped: int = 0
    issues: list[ImportRowIssue] = field(default_factory=list)


def import_run(*, import_id: int) -> str:
    """Run a queued import to the end and return its final status.

    Safe to run twice and after a crash: each batch commits with the job's progress in one
    transaction, so a redelivered task resumes after the last committed batch and never writes
    half a batch; of two runs at once, only the one that committed the last batch finishes the
    import (one status, one `import.finished` event). The whole file is read once first
    (counting rows), so a damaged file fails before anything is imported. The uploaded file is
    deleted when the import ends; if it is gone before that, the import fails saying so.
    """
    claimed = ImportJob.objects.filter(
        pk=import_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
    ).update(status=ImportStatus.RUNNING, progress_at=timezone.now())
    job = ImportJob.objects.select_related("mailing_list__account").filter(pk=import_id).first()
    if not claimed or job is None:
        return job.status if job else "gone"
    if job.started_at is None:
        job.started_at = timezone.now()
        job.save(update_fields=["started_at"])
    try:
        # Every row in already: a run died while ending the import, and only the ending is left.
        if job.total_rows is None or job.processed < job.total_rows:
            if not (job.file and job.file.storage.exists(job.file.name)):
                raise ApplicationError(_file_gone_reason(job))
            if job.total_rows is None:
                job.total_rows = parsers.count_rows(path=Path(job.file.path), fmt=job.file_format)
                job.progress_at = timezone.now()
                job.save(update_fields=["total_rows", "progress_at"])
            _import_rows(job)
    except _ClaimLost:
        job.refresh_from_db()
        return job.status
    except ApplicationError as exc:
        _finish(job, ImportStatus.FAILED, reason=exc.message)
    except Exception:
        logger.exception("Import %s failed", import_id)
        reason = "The import stopped on an unexpected error."
        if not _finish(job, ImportStatus.FAILED, reason=reason):
            return job.status  # another run ended it meanwhile: this one's error is moot
        raise
    else:
        if _finish(job, ImportStatus.DONE) and job.imported >= ANALYZE_AFTER_ROWS:
            _refresh_planner_statistics()
    return job.status


def _file_gone_reason(job: ImportJob) -> str:
    done = (
        f"The first {job.processed} rows were imported; the rest were not."
        if job.processed
        else "Nothing was imported."
    )
    return (
        f"The uploaded file is no longer available, so the import could not go on. {done} "
        "Upload the file again to import the rest: rows already imported are not added twice."
    )


# After this many new rows the planner's idea of a list's size is too stale to wait for
# autovacuum: a fresh million-row list would otherwise be read with the plan for a tiny one.
ANALYZE_AFTER_ROWS = 10_000


def _refresh_planner_statistics() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE lists_subscriber, lists_consentrecord")


def _finish(job: ImportJob, status: ImportStatus, *, reason: str = "") -> bool:
    """End the import as `status`, if this run still owns it: it is running and its committed
    progress is this run's. Otherwise (another run got further, or already ended it) change
    nothing, reload `job` and return False. Only the owner deletes the uploaded file and
    announces the end; the file goes first, so an import seen ended has no file left (a crash
    right after deleting it leaves a running import with every row in, which a rerun ends)."""
    with transaction.atomic():
        owned = bool(
            ImportJob.objects.select_for_update()
            .filter(pk=job.pk, status=ImportStatus.RUNNING, processed=job.processed)
            .values_list("pk", flat=True)
        )
        if owned:
            if job.file:
                job.file.delete(save=False)
            job.status, job.failure_reason, job.finished_at = status, reason, timezone.now()
            job.save(update_fields=["status", "failure_reason", "finished_at", "file"])
            emit_event(
                job.account_id,
                WebhookEvent.IMPORT_FINISHED,
                {
                    "import_id": job.pk,
                    "list_id": job.mailing_list_id,
                    "status": str(status),
                    "total_rows": job.total_rows,
                    "imported": job.imported,
                    "updated": job.updated,
                    "skipped": job.skipped,
                    "failure_reason": reason,
                },
            )
    if not owned:
        job.refresh_from_db()
    return owned


def _import_rows(job: ImportJob) -> None:
    with parsers.open_table(path=Path(job.file.path), fmt=job.file_format) as table:
        rows = islice(table.rows, job.processed, None)  # resume after the committed batches
        # Reading and checking the next batch (pure Python) runs ahead in a thread while this
        # one waits for the database to write the current batch: on two cores that overlap is
        # most of an import's speed.
        suppressions = SuppressionView(account_id=job.account_id)
        for prepared in run_ahead(_prepared_batches(job, rows), depth=2):
            _commit_batch(job, prepared, suppressions)


def _commit_batch(job: ImportJob, prepared: _PreparedBatch, suppressions: SuppressionView) -> None:
    """Write one batch and the job's progress in one transaction, if this run still owns the
    import (raises _ClaimLost otherwise). A unique violation means a form sign-up added one of
    these addresses meanwhile: the batch is written again, reading the list afresh."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                _relax_commit_durability()
                locked = ImportJob.objects.select_for_update().get(pk=job.pk)
                if locked.processed != job.processed or locked.status != ImportStatus.RUNNING:
                    raise _ClaimLost
                result = _write_batch(job, prepared, suppressions)
                _save_progress(job, prepared.rows, result)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def _relax_commit_durability() -> None:
    # A batch commits together with the job's progress, so if PostgreSQL crashed and lost the
    # last few hundred milliseconds of commits, batch and progress would vanish together and the
    # resumed import would redo them. Not waiting for the WAL flush on each of the hundreds of
    # commits of a big import is therefore safe, and much faster.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _save_progress(job: ImportJob, rows: int, result: _BatchResult) -> None:
    job.processed += rows
    job.imported += result.imported
    job.updated += result.updated
    job.skipped += result.skipped
    job.progress_at = timezone.now()
    job.save(update_fields=["processed", "imported", "updated", "skipped", "progress_at"])


@dataclass
class Candidate:
    """One checked row or item to upsert: `row` is where it came from (file row, item index)."""

    row: int
    name: str
    phone: str
    attributes: dict
    digest: str


@dataclass
class _PreparedBatch:
    """A batch of rows checked without the database: valid candidates and the rows refused."""

    rows: int
    candidates: dict[str, Candidate]
    # (row, email, reason): invalid, empty or repeated within the batch; all skipped.
    refused: list[tuple[int, str, str]]


def _prepared_batches(job: ImportJob, rows) -> Iterator[_PreparedBatch]:
    """Cut the rows into batches and check each: no database access, so it can run ahead."""
    column_map = job.column_map
    email_at = column_map["email"]
    name_at = column_map.get("name")
    phone_at = column_map.get("phone")
    attributes_at = list(column_map.get("attributes", {}).items())
    digest_of = address_hasher(job.account_id)
    batch_size = settings.IMPORT_BATCH_SIZE
    while batch := list(islice(rows, batch_size)):
        candidates: dict[str, Candidate] = {}
        refused: list[tuple[int, str, str]] = []
        for row, cells in batch:
            width = len(cells)
            raw = cells[email_at].strip() if email_at < width else ""
            if not raw:
                refused.append((row, "", "No e-mail address in this row."))
                continue
            try:
                email = normalise_address(raw)
            except InvalidAddress as exc:
                refused.append((row, raw, f"Invalid address: {exc.message}"))
                continue
            if email in candidates:
                refused.append((row, email, f"Duplicate of row {candidates[email].row}."))
                continue
            attributes = {}
            for attribute, index in attributes_at:
                if index < width and (value := cells[index].strip()):
                    attributes[attribute] = value
            candidates[email] = Candidate(
                row=row,
                name=cells[name_at].strip()[:200]
                if name_at is not None and name_at < width
                else "",
                phone=(
                    cells[phone_at].strip()[:40]
                    if phone_at is not None and phone_at < width
                    else ""
                ),
                attributes=attributes,
                digest=digest_of(email),
            )
        yield _PreparedBatch(rows=len(batch), candidates=candidates, refused=refused)


def _cell(cells: list[str], index: int | None, width: int) -> str:
    return cells[index].strip() if index is not None and index < width else ""


def _write_batch(
    job: ImportJob, prepared: _PreparedBatch, suppressions: SuppressionView
) -> _BatchResult:
    """Write one prepared batch: skip suppressed addresses, refresh the ones already on the
    list, insert the new ones with their consent records, and record every row's issue."""
    result = _BatchResult()
    mailing_list = job.mailing_list

    def issue(row: int, email: str, reason: str, *, skipped: bool = True) -> None:
        result.issues.append(
            ImportRowIssue(
                import_job=job, row=row, email=email[:254], reason=reason[:500], skipped=skipped
            )
        )
        if skipped:
            result.skipped += 1

    for row, email, reason in prepared.refused:
        issue(row, email, reason)

    def imported_before(subscriber_ids: list[int]) -> set[int]:
        return set(
            lookup_in(
                ConsentRecord,
                key="subscriber",
                values=subscriber_ids,
                result="subscriber",
                import_job=job,
            )
        )

    written = candidates_write(
        mailing_list=mailing_list,
        candidates=prepared.candidates,
        suppressions=suppressions,
        issue=issue,
        written_before=imported_before,
        repeat_reason="Duplicate of an earlier row of this file.",
    )
    created_ids = [pk for _, pk in written.created]
    updated_ids = [pk for _, pk in written.updated]
    result.updated = len(updated_ids)
    result.imported = len(created_ids)
    insert_rows(
        ConsentRecord,
        ["subscriber_id"],
        [(pk,) for pk in created_ids + updated_ids],
        shared={
            "event": ConsentEvent.GRANTED,
            "source": job.consent_source,
            "obtained_at": job.consent_obtained_at or job.created_at,
            "purpose_text": mailing_list.purpose,
            "proof": job.proof,
            "proof_file": job.proof_file.name or "",
            "import_job_id": job.pk,
            "recorded_by_id": job.created_by_id,
        },
        return_ids=False,
    )
    ImportRowIssue.objects.bulk_create(result.issues, batch_size=1000)
    return result


@dataclass
class CandidatesWritten:
    """What `candidates_write` did: (email, subscriber id) pairs, created in candidate order."""

    created: list[tuple[str, int]]
    updated: list[tuple[str, int]]


def candidates_write(
    *,
    mailing_list: MailingList,
    candidates: dict[str, Candidate],
    suppressions: SuppressionView,
    issue: Callable[..., None],
    written_before: Callable[[list[int]], set[int]] | None = None,
    repeat_reason: str = "",
    now: datetime | None = None,
) -> CandidatesWritten:
    """Upsert checked, distinct candidates (normalised address -> Candidate) into the list, in
    bulk, inside the caller's transaction; consent records are the caller's.

    Suppressed addresses and those that left the list are skipped (never resubscribed), the
    subscribers still on it are refreshed (`_update_existing`), the rest are inserted
    `subscribed`. Each skip and each role address is reported through
    `issue(row, email, reason, skipped=True|False)`; subscriber ids `written_before` returns
    (an earlier batch of the same import) are skipped with `repeat_reason`.
    """
    candidates = dict(candidates)
    by_digest = {candidate.digest: email for email, candidate in candidates.items()}
    suppressed = suppressions.reasons(by_digest)
    for digest, reason in suppressed.items():
        email = by_digest[digest]
        issue(candidates.pop(email).row, email, suppression_message(reason))

    existing = lookup_in(
        Subscriber, key="email", values=list(candidates), result="id", mailing_list=mailing_list
    )
    repeated = written_before(list(existing.values())) if written_before and existing else set()
    now = now or timezone.now()
    new_subscribers: list[tuple] = []
    new_emails: list[str] = []
    to_update: dict[int, tuple[str, Candidate]] = {}
    for email, candidate in candidates.items():
        role = is_role_address(email)
        if role:
            issue(candidate.row, email, ROLE_NOTE, skipped=False)
        subscriber_id = existing.get(email)
        if subscriber_id in repeated:
            issue(candidate.row, email, repeat_reason)
        elif subscriber_id is None:
            new_subscribers.append(
                (email, candidate.name, candidate.phone, candidate.attributes, role)
            )
            new_emails.append(email)
        else:
            to_update[subscriber_id] = (email, candidate)

    updated_ids = _update_existing(to_update, now=now, skip=issue)
    created_ids = insert_rows(
        Subscriber,
        ["email", "name", "phone", "attributes", "is_role_address"],
        new_subscribers,
        shared={
            "mailing_list_id": mailing_list.pk,
            "status": SubscriberStatus.SUBSCRIBED,
            "subscribed_at": now,
        },
    )
    return CandidatesWritten(
        created=list(zip(new_emails, created_ids, strict=True)),
        updated=[(to_update[pk][0], pk) for pk in updated_ids],
    )


def _update_existing(to_update: dict[int, tuple[str, Candidate]], *, now, skip) -> list[int]:
    """Refresh subscribers already on the list from the file; return the ids matched.

    Addresses that left the list are skipped: only the person's own confirmation brings them
    back. Empty cells do not wipe what the list already holds; attributes are merged. Only rows
    that really change are written, in bulk: re-uploading the same list costs no UPDATEs.
    """
    if not to_update:
        return []
    current = Subscriber.objects.filter(pk__in=list(to_update)).only(
        "pk", "status", "name", "phone", "attributes", "subscribed_at"
    )
    matched, changed = [], []
    for subscriber in current:
        email, candidate = to_update[subscriber.pk]
        if subscriber.status not in _LIVE:
            skip(candidate.row, email, "Unsubscribed from this list.")
            continue
        matched.append(subscriber.pk)
        before = (subscriber.name, subscriber.phone, subscriber.attributes, subscriber.status)
        subscriber.name = candidate.name or subscriber.name
        subscriber.phone = candidate.phone or subscriber.phone
        subscriber.attributes = {**subscriber.attributes, **candidate.attributes}
        if subscriber.status != SubscriberStatus.SUBSCRIBED:
            subscriber.status = SubscriberStatus.SUBSCRIBED
            subscriber.subscribed_at = now
        if before != (subscriber.name, subscriber.phone, subscriber.attributes, subscriber.status):
            subscriber.updated_at = now
            changed.append(subscriber)
    Subscriber.objects.bulk_update(
        changed,
        ["name", "phone", "attributes", "status", "subscribed_at", "updated_at"],
        batch_size=500,
    )
    return matched


def imports_resume_stalled(*, quiet_for: timedelta) -> list[int]:
    """Enqueue again the imports queued or running with no sign of life for `quiet_for`: their
    worker died or their message was lost. Safe with a live runner too: batches are claimed
    against the committed progress, so a second runner stops at its first batch."""
    cutoff = timezone.now() - quiet_for
    stalled = list(
        ImportJob.objects.filter(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING])
        .filter(Q(progress_at__lt=cutoff) | Q(progress_at__isnull=True, created_at__lt=cutoff))
        .values_list("pk", flat=True)
    )
    from lists.tasks import run_import

    for import_id in stalled:
        logger.warning("Import %s shows no progress since %s: enqueued again", import_id, cutoff)
        run_import.delay(import_id)
    return stalled


def imports_purge_stale(*, older_than: timedelta) -> int:
    """Delete imports uploaded but never started, with their files, once older than
    `older_than` (privacy: uploaded files are not kept). Returns how many went."""
    stale = ImportJob.objects.filter(
        status=ImportStatus.PENDING, created_at__lt=timezone.now() - older_than
    )
    count = 0
    for job in stale.iterator():
        import_cancel_pending(job=job)
        count += 1
    return count
