"""Importing subscribers from TXT, CSV, XLS and XLSX files, in batches, by a worker."""

from __future__ import annotations

import dataclasses
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
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.addresses import InvalidAddress, normalise_address
from accounts.models import Account, User, WebhookEvent
from accounts.webhooks import emit_event
from config.bulk import (
    copy_text,
    insert_rows,
    insert_select_sql,
    lookup_in,
    run_ahead,
    stage_rows,
)
from config.coded_text import CodedText, coded, render
from config.errors import ApplicationError, PermissionDenied
from lists import export_layouts, parsers
from lists.addresses import address_hasher
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ImportJob,
    ImportRowIssue,
    ImportStatus,
    MailingList,
    PlatformSuppression,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
    is_role_address,
)
from lists.services.consent import (
    AgeConfirmedBy,
    consent_proof_check,
    consent_proof_file_check,
    consent_source_check,
    proof_file_name,
    proof_with_age_confirmation,
    upload_name,
)
from lists.services.subscribers import subscriber_unsubscribe
from lists.services.suppression import (
    PLATFORM_HARD_BOUNCE,
    PLATFORM_HASH_ID,
    SuppressionView,
    suppression_message,
)
from lists.services.tags import subscriber_tag_links_add, tag_names_split

logger = logging.getLogger(__name__)

# Row reasons are coded text (lists/texts.py), rendered in the reader's language when read.
ROLE_NOTE: CodedText = {"code": "lists.import.role_address", "params": {}}
# A row of an adult-content list whose age_confirmed column does not say yes (or is not mapped).
AGE_NOT_CONFIRMED: CodedText = {"code": "lists.import.age_not_confirmed", "params": {}}
_LIVE = (SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED)


# Targets of a column map besides "email" and "attributes": one column each, optional.
# "last_name" is joined to "name"; "status" and "opt_out" say which rows opted out in the service
# the file came from (see lists.export_layouts) and may share their column with an attribute.
# "age_confirmed" (yes/no) is required on an adult-content list: rows without a yes are refused.
_FIELD_TARGETS = ("name", "last_name", "phone", "age_confirmed", "tags")
# Header titles of a tags column the guess maps by itself.
_TAGS_TITLES = frozenset({"tags", "tag", "labels", "теги", "метки"})
_STANDING_TARGETS = ("status", "opt_out")


def column_map_check(column_map: dict, *, header: list[str]) -> dict:
    """Validate a mapping of {"email": i, "name": i, "last_name": i, "phone": i,
    "age_confirmed": i, "status": i, "opt_out": i, "attributes": {name: i}} against the file's
    columns; return it normalised. The e-mail column is required."""
    if not isinstance(column_map, dict):
        raise ApplicationError("The column map must be an object.", field="column_map")
    width = len(header)
    used: dict[int, str] = {}

    def index(value, target: str, *, shared: bool = False) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < width:
            raise ApplicationError(
                f"Column for {target!r} must be a column number from 0 to {width - 1}.",
                field="column_map",
            )
        if shared:
            return value
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
    for target in _FIELD_TARGETS:
        if column_map.get(target) not in (None, ""):
            result[target] = index(column_map[target], target)
    for target in _STANDING_TARGETS:
        if column_map.get(target) not in (None, ""):
            result[target] = index(column_map[target], target, shared=True)
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
    unknown = set(column_map) - {"email", "attributes", *_FIELD_TARGETS, *_STANDING_TARGETS}
    if unknown:
        raise ApplicationError(
            f"Unknown targets: {', '.join(sorted(unknown))}.", field="column_map"
        )
    return result


def guessed_column_map(header: list[str], sample: list[list[str]] | None = None) -> dict:
    """The columns guessed from the header (and, for the e-mail address, the first rows)."""
    guess = parsers.guess_column_map(header, sample)
    guess = {key: value for key, value in guess.items() if key in ("email", *_FIELD_TARGETS)}
    if "tags" not in guess:
        taken = set(guess.values())
        for index, title in enumerate(header):
            if title.strip().lower() in _TAGS_TITLES and index not in taken:
                guess["tags"] = index
                break
    return guess


def with_standing_columns(column_map: dict, *, header: list[str]) -> dict:
    """The map plus the columns that say which rows opted out in the service the file came
    from (a status column, a yes/no opt-out column), unless the map names its own. They are
    always read: an opt-out is never imported as a subscription, whatever the mapping."""
    layout = export_layouts.source_status_for(header)
    found = {"status": layout.status_at, "opt_out": layout.opt_out_at}
    return {
        **column_map,
        **{
            target: at
            for target, at in found.items()
            if at is not None and column_map.get(target) in (None, "")
        },
    }


def source_status(job: ImportJob, header: list[str]) -> export_layouts.SourceStatus:
    """How `job`'s file says which rows opted out: the export layout recognised from its header
    and name, with the status and opt-out columns of its column map."""
    layout = export_layouts.source_status_for(header, filename=job.original_filename)
    column_map = job.column_map
    changes = {}
    for target in _STANDING_TARGETS:
        if target in column_map:
            at = column_map[target]
            changes[f"{target}_at"] = at
            changes[f"{target}_header"] = (
                (header[at] or f"column {at + 1}") if at < len(header) else ""
            )
    return dataclasses.replace(layout, **changes)


def import_ensure_allowed(account: Account) -> None:
    """PermissionDenied (403) for an account that may not send (frozen, closing): it may not
    start an import either, as a freeze stops growing the lists it was frozen over."""
    if not account.can_send:
        raise PermissionDenied(
            _("Your account is frozen: it cannot start imports until the freeze is lifted.")
        )


def import_request_problems(
    *,
    consent_source: str,
    proof: str,
    consent_obtained_at: datetime | None,
    proof_file: UploadedFile | None = None,
) -> dict[str, str]:
    """Every refusal import_create would make of the consent it is given (source, proof, its
    file, the date), by field, so the upload page shows them together. Writes nothing."""
    problems: dict[str, str] = {}
    try:
        source = consent_source_check(consent_source, field="consent_source")
    except ApplicationError as exc:
        problems["consent_source"] = exc.message
        source = None
    try:
        consent_proof_file_check(proof_file)
    except ApplicationError as exc:
        problems["proof_file"] = exc.message
        proof_file = None
    if source is not None:
        try:
            consent_proof_check(source=source, proof=proof, ip=None, proof_file=proof_file)
        except ApplicationError as exc:
            problems.setdefault(exc.field or "proof", exc.message)
    if consent_obtained_at and consent_obtained_at > timezone.now():
        problems["consent_obtained_at"] = _("Consent cannot be obtained in the future.")
    return problems


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
    commit; otherwise it waits (`pending`) for the column mapping (the browser wizard). A
    frozen account is refused first (import_ensure_allowed).
    """
    import_ensure_allowed(mailing_list.account)
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
            sample = [cells for _, cells in islice(table.rows, SAMPLE_ROWS)]
        if column_map is None:
            column_map = guessed_column_map(header, sample)
            if "email" not in column_map and start:
                columns = ", ".join(title or f"column {i + 1}" for i, title in enumerate(header))
                raise ApplicationError(
                    "Could not tell which column holds the e-mail address; "
                    f"send a column_map (columns: {columns}).",
                    field="column_map",
                )
        if start or column_map.get("email") is not None:
            column_map = column_map_check(column_map, header=header)
        job.column_map = with_standing_columns(column_map, header=header)
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


# How many of the first rows guess the e-mail column from their content.
SAMPLE_ROWS = 20
# How many rows the mapping step shows.
PREVIEW_ROWS = 5


@dataclass
class ImportPreview:
    """What the mapping step shows of a file: its columns (as many as the widest of its first
    rows), those rows, where the header was found and what says who opted out."""

    header: list[str]
    rows: list[list[str]]
    header_row: int | None
    source_status: export_layouts.SourceStatus


def import_header(*, job: ImportJob) -> ImportPreview:
    """The file's columns and its first rows, for the mapping step."""
    with parsers.open_table(path=Path(job.file.path), fmt=job.file_format) as table:
        rows = [cells for _, cells in islice(table.rows, PREVIEW_ROWS)]
        return ImportPreview(
            header=table.header,
            rows=rows,
            header_row=table.header_row,
            source_status=source_status(job, table.header),
        )


def import_start(*, job: ImportJob, column_map: dict) -> ImportJob:
    """Map the columns of a pending import and queue it. Idempotent for a queued import; refused
    for an account frozen since the upload."""
    import_ensure_allowed(job.account)
    header = import_header(job=job).header
    column_map = with_standing_columns(column_map_check(column_map, header=header), header=header)
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
    suppressed: int = 0
    issues: list[ImportRowIssue] = field(default_factory=list)


def import_run(*, import_id: int) -> str:
    """Run a queued import to the end and return its final status.

    Safe to run twice and after a crash: each batch commits with the job's progress in one
    transaction, so a redelivered task resumes after the last committed batch and never writes
    half a batch; of two runs at once, only the one that committed the last batch finishes the
    import (one status, one `import.finished` event). The file is read once, as it is
    imported: `total_rows` starts as an estimate (`total_rows_estimated`) and becomes the exact
    count, committed on its own, when the last row is read. A file found damaged part-way
    fails the import at that row, with the rows before it imported (the failure reason says
    so). The uploaded file is deleted when the import ends; if it is gone before that, the
    import fails saying so.
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
        every_row_in = job.total_rows is not None and not job.total_rows_estimated
        if not every_row_in or job.processed < (job.total_rows or 0):
            if not (job.file and job.file.storage.exists(job.file.name or "")):
                raise _FileGone(_file_gone_reason(job))
            if job.total_rows is None:
                job.total_rows, exact = parsers.estimate_rows(
                    path=Path(job.file.path), fmt=job.file_format
                )
                job.total_rows_estimated = not exact
                job.progress_at = timezone.now()
                job.save(update_fields=["total_rows", "total_rows_estimated", "progress_at"])
            _import_rows(job)
    except _ClaimLost:
        job.refresh_from_db()
        return job.status
    except ApplicationError as exc:
        _finish(job, ImportStatus.FAILED, reason=getattr(exc, "coded", None) or exc.message)
    except Exception:
        logger.exception("Import %s failed", import_id)
        reason = coded("lists.import.unexpected_error")
        if not _finish(job, ImportStatus.FAILED, reason=reason):
            return job.status  # another run ended it meanwhile: this one's error is moot
        raise
    else:
        if _finish(job, ImportStatus.DONE) and job.imported >= ANALYZE_AFTER_ROWS:
            _refresh_planner_statistics()
    return job.status


class _FileGone(ApplicationError):
    """The uploaded file went missing before the import ended; `coded` is the failure reason."""

    def __init__(self, reason: CodedText):
        super().__init__(render(reason))
        self.coded = reason


def _file_gone_reason(job: ImportJob) -> CodedText:
    if job.processed:
        return coded("lists.import.file_gone_part", count=job.processed)
    return coded("lists.import.file_gone")


# After this many new rows the planner's idea of a list's size is too stale to wait for
# autovacuum: a fresh million-row list would otherwise be read with the plan for a tiny one.
ANALYZE_AFTER_ROWS = 10_000


def _refresh_planner_statistics() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE lists_subscriber, lists_consentrecord")


def _in_default_language(reason: CodedText | str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return render(reason)


def _finish(job: ImportJob, status: ImportStatus, *, reason: CodedText | str = "") -> bool:
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
                    "suppressed": job.suppressed,
                    # The event goes to the sender's own system: in the default language.
                    "failure_reason": _in_default_language(reason),
                },
            )
    if not owned:
        job.refresh_from_db()
    return owned


def _import_rows(job: ImportJob) -> None:
    with parsers.open_table(path=Path(job.file.path), fmt=job.file_format) as table:
        rows = islice(table.rows, job.processed, None)  # resume after the committed batches
        layout = source_status(job, table.header)
        # Reading and checking the next batch (pure Python) runs ahead in a thread while this
        # one waits for the database to write the current batch: on two cores that overlap is
        # most of an import's speed.
        suppressions = SuppressionView(account_id=job.account_id)
        for prepared in run_ahead(_prepared_batches(job, rows, layout), depth=2):
            _commit_batch(job, prepared, suppressions)
    _rows_counted(job)


def _rows_counted(job: ImportJob) -> None:
    """Every row is read: make the row count exact, if this run still owns the import (raises
    _ClaimLost otherwise). Committed before the import ends, so that a run dying while
    ending it leaves an import a rerun knows to have every row in."""
    if job.total_rows == job.processed and not job.total_rows_estimated:
        return
    counted = ImportJob.objects.filter(
        pk=job.pk, status=ImportStatus.RUNNING, processed=job.processed
    ).update(total_rows=job.processed, total_rows_estimated=False)
    if not counted:
        raise _ClaimLost
    job.total_rows, job.total_rows_estimated = job.processed, False


def _commit_batch(job: ImportJob, prepared: _PreparedBatch, suppressions: SuppressionView) -> None:
    """Write one batch and the job's progress in one transaction, if this run still owns the
    import (raises _ClaimLost otherwise). A unique violation means a form sign-up added one of
    these addresses meanwhile (on PostgreSQL the set-based write takes such a row as already on
    the list instead): the batch is written again, reading the list afresh."""
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
    job.suppressed += result.suppressed
    job.progress_at = timezone.now()
    if job.total_rows_estimated and job.total_rows is not None and job.processed >= job.total_rows:
        # The estimate was low: the file goes on for at least another batch.
        job.total_rows = job.processed + rows
    job.save(
        update_fields=[
            "processed",
            "imported",
            "updated",
            "skipped",
            "suppressed",
            "progress_at",
            "total_rows",
        ]
    )


@dataclass
class Candidate:
    """One checked row or item to upsert: `row` is where it came from (file row, item index)."""

    row: int
    name: str
    phone: str
    attributes: dict
    digest: str
    # Tag names from the file's tags column (lists.services.tags.tag_names_split).
    tags: list[str] = field(default_factory=list)


@dataclass
class _OptedOut:
    """A row the file marks as opted out in its source: suppressed, never subscribed."""

    row: int
    reason: SuppressionReason
    text: CodedText
    digest: str


@dataclass
class _PreparedBatch:
    """A batch of rows checked without the database: valid candidates, the rows opted out in
    the file's source and the rows refused."""

    rows: int
    candidates: dict[str, Candidate]
    # (row, email, reason): invalid, empty, repeated within the batch or not confirmed in the
    # source; all skipped.
    refused: list[tuple[int, str, CodedText]]
    opted_out: dict[str, _OptedOut] = field(default_factory=dict)
    # The candidates as lines of the stage table (PostgreSQL), rendered ahead with the rest.
    stage_lines: list[str] | None = None


def import_batch_size(total_rows: int | None) -> int:
    """Rows per batch for a file of about `total_rows` rows: IMPORT_BATCH_SIZE, but small
    enough for the progress bar to move IMPORT_PROGRESS_STEPS times (each batch commits its
    progress), and never under IMPORT_MIN_BATCH_SIZE (each batch costs a transaction)."""
    steps = max(1, settings.IMPORT_PROGRESS_STEPS)
    wanted = -(-(total_rows or 0) // steps)  # rounded up
    return max(1, min(settings.IMPORT_BATCH_SIZE, max(settings.IMPORT_MIN_BATCH_SIZE, wanted)))


def _prepared_batches(
    job: ImportJob, rows, layout: export_layouts.SourceStatus
) -> Iterator[_PreparedBatch]:
    """Cut the rows into batches and check each: no database access, so it can run ahead."""
    column_map = job.column_map
    email_at = column_map["email"]
    name_at = column_map.get("name")
    last_name_at = column_map.get("last_name")
    phone_at = column_map.get("phone")
    age_at = column_map.get("age_confirmed")
    tags_at = column_map.get("tags")
    adult_list = job.mailing_list.adult_content
    attributes_at = list(column_map.get("attributes", {}).items())
    digest_of = address_hasher(job.account_id)
    batch_size = import_batch_size(job.total_rows)
    staged = connection.vendor == "postgresql"
    while batch := list(islice(rows, batch_size)):
        candidates: dict[str, Candidate] = {}
        refused: list[tuple[int, str, CodedText]] = []
        opted_out: dict[str, _OptedOut] = {}
        for row, cells in batch:
            width = len(cells)
            raw = cells[email_at].strip() if email_at < width else ""
            if not raw:
                refused.append((row, "", coded("lists.import.no_email")))
                continue
            try:
                email = normalise_address(raw)
            except InvalidAddress as exc:
                refused.append((row, raw, coded("lists.import.invalid_address", why=exc.message)))
                continue
            if email in opted_out:
                refused.append(
                    (row, email, coded("lists.import.duplicate_row", row=opted_out[email].row))
                )
                continue
            standing = layout.standing(cells)
            if standing is not None and standing.suppress is not None:
                # The opt-out wins over an earlier row of the same address in the batch.
                if (earlier := candidates.pop(email, None)) is not None:
                    refused.append(
                        (earlier.row, email, coded("lists.import.opted_out_later", row=row))
                    )
                opted_out[email] = _OptedOut(
                    row=row, reason=standing.suppress, text=standing.reason, digest=digest_of(email)
                )
                continue
            if email in candidates:
                refused.append(
                    (row, email, coded("lists.import.duplicate_row", row=candidates[email].row))
                )
                continue
            if standing is not None:
                refused.append((row, email, standing.reason))
                continue
            if adult_list and not parsers.cell_says_yes(_cell(cells, age_at, width)):
                refused.append((row, email, AGE_NOT_CONFIRMED))
                continue
            attributes = {}
            for attribute, index in attributes_at:
                if index < width and (value := cells[index].strip()):
                    attributes[attribute] = value
            name = " ".join(
                part
                for part in (_cell(cells, name_at, width), _cell(cells, last_name_at, width))
                if part
            )
            candidates[email] = Candidate(
                row=row,
                name=name[:200],
                phone=_cell(cells, phone_at, width)[:40],
                attributes=attributes,
                digest=digest_of(email),
                tags=tag_names_split(_cell(cells, tags_at, width)) if tags_at is not None else [],
            )
        yield _PreparedBatch(
            rows=len(batch),
            candidates=candidates,
            refused=refused,
            opted_out=opted_out,
            stage_lines=_stage_lines(candidates) if staged else None,
        )


def _cell(cells: list[str], index: int | None, width: int) -> str:
    return cells[index].strip() if index is not None and index < width else ""


def _write_batch(
    job: ImportJob, prepared: _PreparedBatch, suppressions: SuppressionView
) -> _BatchResult:
    """Write one prepared batch: skip suppressed addresses, refresh the ones already on the
    list, insert the new ones with their consent records, and record every row's issue."""
    result = _BatchResult()
    mailing_list = job.mailing_list

    skipped_emails: set[str] = set()

    def issue(row: int, email: str, reason: CodedText, *, skipped: bool = True) -> None:
        result.issues.append(
            ImportRowIssue(
                import_job=job, row=row, email=email[:254], reason=reason, skipped=skipped
            )
        )
        if skipped:
            result.skipped += 1
            skipped_emails.add(email)

    for row, email, reason in prepared.refused:
        issue(row, email, reason)
    if prepared.opted_out:
        result.suppressed = len(prepared.opted_out)
        result.issues.extend(_suppress_opted_out(job, prepared.opted_out))

    consent = {
        "event": ConsentEvent.GRANTED,
        "source": job.consent_source,
        "obtained_at": job.consent_obtained_at or job.created_at,
        "purpose_text": mailing_list.purpose,
        # Every row written into an adult list said yes in its age_confirmed column.
        "proof": proof_with_age_confirmation(
            mailing_list=mailing_list, proof=job.proof, how=AgeConfirmedBy.IMPORT
        ),
        "proof_file": job.proof_file.name or "",
        "import_job_id": job.pk,
        "recorded_by_id": job.created_by_id,
    }
    if connection.vendor == "postgresql":
        # The new subscribers' consent records are written with them; these are the rest.
        result.imported, updated_ids = _staged_write(job, prepared, consent, issue)
        consent_for = updated_ids
    else:
        written = candidates_write(
            mailing_list=mailing_list,
            candidates=prepared.candidates,
            suppressions=suppressions,
            issue=issue,
            written_before=lambda ids: _imported_before(job, ids),
            repeat_reason=REPEAT_REASON,
        )
        created_ids = [pk for _, pk in written.created]
        updated_ids = [pk for _, pk in written.updated]
        result.imported = len(created_ids)
        consent_for = created_ids + updated_ids
    result.updated = len(updated_ids)
    insert_rows(
        ConsentRecord,
        ["subscriber_id"],
        [(pk,) for pk in consent_for],
        shared=consent,
        return_ids=False,
    )
    ImportRowIssue.objects.bulk_create(result.issues, batch_size=1000)
    _tag_written(job, prepared.candidates, skipped=skipped_emails)
    return result


def _tag_written(job: ImportJob, candidates: dict[str, Candidate], *, skipped: set[str]) -> None:
    """Give the rows written (created or refreshed, not skipped) the tags of their tags cell:
    one indexed lookup of their ids and one bulk insert of the links. Nothing to do, and no
    query, for a file without a tags column."""
    tagged = {
        email: candidate.tags
        for email, candidate in candidates.items()
        if candidate.tags and email not in skipped
    }
    if not tagged:
        return
    ids = lookup_in(
        Subscriber, key="email", values=list(tagged), result="id", mailing_list=job.mailing_list
    )
    subscriber_tag_links_add(
        account_id=job.account_id,
        pairs=[
            (ids[email], name) for email, names in tagged.items() if email in ids for name in names
        ],
    )


REPEAT_REASON: CodedText = {"code": "lists.import.repeated", "params": {}}
_STAGE = "lists_import_stage"
_STAGE_COLUMNS = (
    ("row", "integer"),
    ("email", "text"),
    ("digest", "text"),
    ("platform_digest", "text"),
    ("name", "text"),
    ("phone", "text"),
    ("attributes", "jsonb"),
    ("is_role_address", "boolean"),
)


def _imported_before(job: ImportJob, subscriber_ids: list[int]) -> set[int]:
    """The subscribers an earlier batch of `job` wrote (they hold its consent record)."""
    return set(
        lookup_in(
            ConsentRecord,
            key="subscriber",
            values=subscriber_ids,
            result="subscriber",
            import_job=job,
        )
    )


def _stage_lines(candidates: dict[str, Candidate]) -> list[str]:
    """The candidates as COPY text lines of the stage table (`_STAGE_COLUMNS`)."""
    platform_digest = address_hasher(PLATFORM_HASH_ID)
    return [
        copy_text(
            (
                candidate.row,
                email,
                candidate.digest,
                platform_digest(email),
                candidate.name,
                candidate.phone,
                candidate.attributes,
                is_role_address(email),
            )
        )
        for email, candidate in candidates.items()
    ]


def _staged_write(
    job: ImportJob, prepared: _PreparedBatch, consent: dict, issue: Callable[..., None]
) -> tuple[int, list[int]]:
    """PostgreSQL: write a batch's checked candidates set-based; return (subscribers created,
    ids of those refreshed). The rule is `candidates_write`'s (`_candidates_sorted`), in
    fewer round trips and with the list's unique index doing the list lookup.

    The candidates are COPYed into a temporary stage table and one query finds the suppressed
    ones (for the account or platform-wide). The rest are inserted with their consent records
    in one statement (`INSERT ... ON CONFLICT DO NOTHING RETURNING` feeding the consent
    INSERT): the insert probes the list's unique index for every row anyway, so the rows it
    skips are exactly those already on the list, usually none; only those are then read (a
    fresh statement, which also sees a form sign-up committed meanwhile) and decided by the
    rule: refreshed, or skipped when an earlier batch of this import wrote them.
    """
    candidates = prepared.candidates
    if not candidates:
        return 0, []
    lines = prepared.stage_lines if prepared.stage_lines is not None else _stage_lines(candidates)
    stage_rows(_STAGE, _STAGE_COLUMNS, lines)
    quote = connection.ops.quote_name
    # Only the models' own table names are interpolated; values are parameters.
    suppressed_sql = f"""
        SELECT st.email, coalesce(sup.reason, %s)
        FROM pg_temp.{_STAGE} st
        LEFT JOIN {quote(Suppression._meta.db_table)} sup
            ON sup.account_id = %s AND sup.email_hash = st.digest
        LEFT JOIN {quote(PlatformSuppression._meta.db_table)} ps
            ON ps.email_hash = st.platform_digest
        WHERE sup.id IS NOT NULL OR ps.id IS NOT NULL
    """  # noqa: S608
    with connection.cursor() as cursor:
        # An index lookup per stage row, whatever the planner believes of the suppression
        # tables' sizes (statistics may be missing or stale): a hash join would read a whole
        # platform-wide table on every batch.
        cursor.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        cursor.execute(suppressed_sql, [PLATFORM_HARD_BOUNCE, job.account_id])
        suppressed = dict(cursor.fetchall())
        cursor.execute("RESET enable_hashjoin; RESET enable_mergejoin")
    now = timezone.now()
    subscribers_sql, subscriber_params = insert_select_sql(
        Subscriber,
        selected={
            "email": "st.email",
            "name": "st.name",
            "phone": "st.phone",
            "attributes": "st.attributes",
            "is_role_address": "st.is_role_address",
        },
        shared={
            "mailing_list_id": job.mailing_list_id,
            "status": SubscriberStatus.SUBSCRIBED,
            "subscribed_at": now,
        },
        source=f"pg_temp.{_STAGE} st WHERE NOT (st.email = ANY(%s)) ORDER BY st.row",
    )
    consent_sql, consent_params = insert_select_sql(
        ConsentRecord, selected={"subscriber_id": "new.id"}, shared=consent, source="new"
    )
    # The statement answers with the stage rows it did not insert (already on the list).
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH new AS ({subscribers_sql} ON CONFLICT DO NOTHING RETURNING id, email), "  # noqa: S608
            f"consent AS ({consent_sql}) "
            f"SELECT st.email FROM pg_temp.{_STAGE} st "
            "WHERE NOT (st.email = ANY(%s)) "
            "AND NOT EXISTS (SELECT 1 FROM new WHERE new.email = st.email)",
            [*subscriber_params, list(suppressed), *consent_params, list(suppressed)],
        )
        on_list = [email for (email,) in cursor.fetchall()]
    existing: dict[str, int] = {}
    repeated: set[int] = set()
    if on_list:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT sub.email, sub.id, EXISTS (
                        SELECT 1 FROM {quote(ConsentRecord._meta.db_table)} c
                        WHERE c.subscriber_id = sub.id AND c.import_job_id = %s)
                    FROM {quote(Subscriber._meta.db_table)} sub
                    WHERE sub.mailing_list_id = %s AND sub.email = ANY(%s)""",  # noqa: S608
                [job.pk, job.mailing_list_id, on_list],
            )
            for email, subscriber_id, written_before in cursor.fetchall():
                existing[email] = subscriber_id
                if written_before:
                    repeated.add(subscriber_id)
    new, to_update = _candidates_sorted(
        candidates,
        suppressed=suppressed,
        existing=existing,
        repeated=repeated,
        issue=issue,
        repeat_reason=REPEAT_REASON,
    )
    if len(existing) < len(on_list):
        # Skipped by the insert but not found: the row was deleted meanwhile (a list member
        # erased while the batch ran). Rare enough to let the caller write the batch again.
        raise IntegrityError("A list member changed while the batch was written.")
    updated_ids = _update_existing(to_update, now=now, skip=issue)
    return len(new), updated_ids


# The subscriber status of a list member whose address the file says opted out.
_STATUS_FOR = {
    SuppressionReason.UNSUBSCRIBED: SubscriberStatus.UNSUBSCRIBED,
    SuppressionReason.HARD_BOUNCE: SubscriberStatus.BOUNCED,
    SuppressionReason.COMPLAINED: SubscriberStatus.COMPLAINED,
}


def _suppress_opted_out(job: ImportJob, opted_out: dict[str, _OptedOut]) -> list[ImportRowIssue]:
    """Add the addresses the file marks as opted out to the account's suppressions (a reason
    already recorded stays), take those still on the list off it, and report every row."""
    Suppression.objects.bulk_create(
        [
            Suppression(
                account_id=job.account_id, email_hash=out.digest, email=email, reason=out.reason
            )
            for email, out in opted_out.items()
        ],
        ignore_conflicts=True,
    )
    on_list = lookup_in(
        Subscriber,
        key="email",
        values=list(opted_out),
        result="id",
        mailing_list=job.mailing_list_id,
    )
    live = Subscriber.objects.filter(pk__in=list(on_list.values()), status__in=_LIVE)
    for subscriber in live.select_related("mailing_list__account"):
        subscriber_unsubscribe(
            subscriber=subscriber,
            status=_STATUS_FOR[opted_out[subscriber.email].reason],
            channel="import",
            recorded_by=job.created_by,
        )
    return [
        ImportRowIssue(
            import_job=job,
            row=out.row,
            email=email[:254],
            reason=out.text,
            skipped=True,
            suppressed=True,
        )
        for email, out in opted_out.items()
    ]


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
    repeat_reason: CodedText | str = "",
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
    by_digest = {candidate.digest: email for email, candidate in candidates.items()}
    suppressed = {
        by_digest[digest]: reason for digest, reason in suppressions.reasons(by_digest).items()
    }
    existing = lookup_in(
        Subscriber,
        key="email",
        values=[email for email in candidates if email not in suppressed],
        result="id",
        mailing_list=mailing_list,
    )
    repeated = written_before(list(existing.values())) if written_before and existing else set()
    now = now or timezone.now()
    new_emails, to_update = _candidates_sorted(
        candidates,
        suppressed=suppressed,
        existing=existing,
        repeated=repeated,
        issue=issue,
        repeat_reason=repeat_reason,
    )
    new_subscribers = [
        (email, c.name, c.phone, c.attributes, is_role_address(email))
        for email, c in ((email, candidates[email]) for email in new_emails)
    ]
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


def _candidates_sorted(
    candidates: dict[str, Candidate],
    *,
    suppressed: dict[str, str],
    existing: dict[str, int],
    repeated: set[int],
    issue: Callable[..., None],
    repeat_reason: CodedText | str,
) -> tuple[list[str], dict[int, tuple[str, Candidate]]]:
    """The one rule of both writers (`candidates_write`, and the import's set-based
    `_staged_write`), whichever way they looked the facts up: return (the addresses to insert,
    in candidate order; {subscriber id: (address, candidate)} to refresh).

    `suppressed` maps addresses to their suppression reason (the account's or the platform's):
    skipped, whatever else is true of them. A role address is noted (not skipped). An address
    already on the list is refreshed, unless its subscriber is in `repeated` (written by an
    earlier batch of the same import): skipped with `repeat_reason`. The rest are new.
    """
    new: list[str] = []
    to_update: dict[int, tuple[str, Candidate]] = {}
    for email, candidate in candidates.items():
        if email in suppressed:
            issue(candidate.row, email, suppression_message(suppressed[email]))
            continue
        if is_role_address(email):
            issue(candidate.row, email, ROLE_NOTE, skipped=False)
        subscriber_id = existing.get(email)
        if subscriber_id is None:
            new.append(email)
        elif subscriber_id in repeated:
            issue(candidate.row, email, repeat_reason)
        else:
            to_update[subscriber_id] = (email, candidate)
    return new, to_update


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
            skip(candidate.row, email, coded("lists.import.left_list"))
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
