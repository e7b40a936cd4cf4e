"""Exports written in the background: a list, a segment or every list of the account, to a file
a worker writes with the writers of lists.exports, its progress on the job as it goes, the file
kept (outside MEDIA_ROOT) until it expires, and an e-mail to the requester when it is ready.

Which exports go to a worker (bench/export_bench.py, 1,000,000 rows on PostgreSQL): CSV is
written at ~80,000 rows a second, so a CSV of up to EXPORT_STREAM_MAX_ROWS (100,000: about 1.3 s)
still streams in the request; XLSX is written at ~7,000 rows a second and can only be sent once
finished (400,000 rows take longer than a proxy's usual 60 s timeout), so only a small one (up to
EXPORT_XLSX_INLINE_MAX_ROWS, 10,000: about 1.5 s) is answered in the request. Larger files and
the account's ZIP (every list at once, of any size) are written by a worker: nothing a person
can ask for runs longer in a request than a couple of seconds plus their own download."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Account, User
from config.coded_text import CodedText, coded
from config.errors import ApplicationError, NotFound
from lists import export_sources
from lists.exports import account_lists_zip, subscribers_csv_file, subscribers_xlsx
from lists.models import ExportFormat, ExportJob, ExportSource, ExportStatus

logger = logging.getLogger(__name__)

_LINK_SALT = "lists.export-link"
_FORMATS_OF: dict[str, tuple[str, ...]] = {
    ExportSource.LIST: (ExportFormat.CSV, ExportFormat.XLSX),
    ExportSource.SEGMENT: (ExportFormat.CSV, ExportFormat.XLSX),
    ExportSource.ACCOUNT: (ExportFormat.ZIP,),
}


def export_streams(*, file_format: str, rows: int) -> bool:
    """Whether an export of `rows` rows in `file_format` is answered in the request (a small
    CSV or XLSX, settings.EXPORT_STREAM_MAX_ROWS / EXPORT_XLSX_INLINE_MAX_ROWS) rather than
    by a background job (see the module's notes)."""
    if file_format == ExportFormat.CSV:
        return rows <= settings.EXPORT_STREAM_MAX_ROWS
    if file_format == ExportFormat.XLSX:
        return rows <= settings.EXPORT_XLSX_INLINE_MAX_ROWS
    return False


def export_job_start(
    *, account: Account, user: User, source: str, object_id: int | None, file_format: str
) -> ExportJob:
    """Queue an export of the account's list, segment or lists (ZIP) for `user`, enqueued after
    commit. Asking again while the same export of the same person is queued or running returns
    that job (a double click or a retried request starts no second one). Raises NotFound for
    another account's or an unknown object, ApplicationError for a format the source has not."""
    if source not in _FORMATS_OF:
        raise ApplicationError(_("No such export."))
    if file_format not in _FORMATS_OF[source]:
        raise ApplicationError(
            _("This export is available as %(formats)s.")
            % {"formats": ", ".join(str(f) for f in _FORMATS_OF[source])}
        )
    if source == ExportSource.ACCOUNT:
        object_id = None
    found = export_sources.find(source, account=account, object_id=object_id)
    if found is None:
        raise NotFound(_("No such list or segment."))
    with transaction.atomic():
        # One at a time per account (a row lock on the account): two clicks cannot both miss
        # the other's job.
        list(Account.objects.select_for_update().filter(pk=account.pk).values_list("pk"))
        running = ExportJob.objects.filter(
            account=account,
            requested_by=user,
            source=source,
            object_id=object_id,
            file_format=file_format,
            status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING],
        ).first()
        if running is not None:
            return running
        job = ExportJob.objects.create(
            account=account,
            requested_by=user,
            source=source,
            object_id=object_id,
            label=found.label[:200],
            file_format=file_format,
            filename=f"{found.filename}.{file_format}",
            rows_total=found.subscribers.count() if found.subscribers is not None else None,
        )
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(export_id: int) -> None:
    from lists.tasks import run_export

    run_export.delay(export_id)


class _ClaimLost(Exception):
    """The job is no longer this run's (deleted, or queued again after a stall)."""


def export_run(*, export_id: int) -> str:
    """Write a queued export's file and return its final status. Only one run writes a job
    (claimed by a conditional update); a second delivery of the task, or a run on a job gone or
    finished, does nothing. Progress is saved after every chunk of rows (lists.exports). A
    failure is recorded with its reason and leaves no file; success keeps the file until
    `expires_at` and e-mails the requester."""
    started = timezone.now()
    claimed = ExportJob.objects.filter(pk=export_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, started_at=started, progress_at=started, rows_done=0
    )
    job = ExportJob.objects.select_related("account", "requested_by").filter(pk=export_id).first()
    if not claimed or job is None:
        return job.status if job else "gone"
    found = export_sources.find(job.source, account=job.account, object_id=job.object_id)
    if found is None:
        _fail(job, coded("lists.export.source_gone"))
        return ExportStatus.FAILED
    if found.subscribers is not None:
        job.rows_total = found.subscribers.count()
        ExportJob.objects.filter(pk=job.pk).update(rows_total=job.rows_total)

    seen = {"rows": 0}

    def progress(done: int) -> None:
        seen["rows"] = done
        # `started_at` names this run: a stalled run queued again and claimed anew stops here.
        if not ExportJob.objects.filter(
            pk=job.pk, status=ExportStatus.RUNNING, started_at=started
        ).update(rows_done=done, progress_at=timezone.now()):
            raise _ClaimLost

    partial = Path(settings.EXPORTS_ROOT) / "partial"
    partial.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=partial, suffix=f".{job.file_format}", delete=False)  # noqa: SIM115 - moved or deleted below
    try:
        with handle:
            rows = _write(job, found, handle, progress)
            if rows is None:  # the ZIP counts lists: its rows are what progress saw
                rows = seen["rows"]
    except _ClaimLost:
        os.unlink(handle.name)
        return "lost"
    except Exception:
        # Whatever broke (the database, the disk), the person is told, and nothing half
        # written stays behind. Not retried: they can ask again.
        os.unlink(handle.name)
        logger.exception("export %s failed", job.pk)
        _fail(job, coded("lists.export.write_failed"), started=started)
        return ExportStatus.FAILED
    return _finish(job, Path(handle.name), rows=rows, started=started)


def _write(job: ExportJob, found, target, progress) -> int | None:
    if job.source == ExportSource.ACCOUNT:
        account_lists_zip(account=job.account, target=target, progress=progress)
        return None
    if job.file_format == ExportFormat.XLSX:
        return subscribers_xlsx(found.subscribers, target=target, progress=progress)
    return subscribers_csv_file(found.subscribers, target=target, progress=progress)


class _Written(File):
    """A finished file on the storage's disk: FileSystemStorage moves it in place (a rename),
    rather than copying a file of a million rows."""

    def __init__(self, path: Path):
        super().__init__(open(path, "rb"), name=path.name)  # noqa: SIM115 - closed after saving
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def _finish(job: ExportJob, path: Path, *, rows: int, started) -> str:
    storage = ExportJob._meta.get_field("file").storage
    now = timezone.now()
    name = f"{now:%Y/%m}/{job.pk}-{secrets.token_hex(8)}.{job.file_format}"
    size = path.stat().st_size
    written = _Written(path)
    try:
        saved = storage.save(name, written)
    finally:
        written.close()
        if path.exists():
            path.unlink()
    done = ExportJob.objects.filter(
        pk=job.pk, status=ExportStatus.RUNNING, started_at=started
    ).update(
        status=ExportStatus.DONE,
        file=saved,
        file_size=size,
        rows_done=rows,
        rows_total=rows,
        finished_at=now,
        progress_at=now,
        expires_at=now + timedelta(seconds=settings.EXPORT_KEEP_SECONDS),
    )
    if not done:
        storage.delete(saved)
        return "lost"
    export_notify(export_id=job.pk)
    return ExportStatus.DONE


def _fail(job: ExportJob, reason: CodedText, *, started=None) -> None:
    now = timezone.now()
    running = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING)
    if started is not None:
        running = running.filter(started_at=started)
    if running.update(
        status=ExportStatus.FAILED,
        failure_reason=reason,
        finished_at=now,
        expires_at=now + timedelta(seconds=settings.EXPORT_KEEP_SECONDS),
    ):
        export_notify(export_id=job.pk)


def export_link_token(job: ExportJob) -> str:
    """The signed token of the job's page in its e-mail: valid as long as the file is kept."""
    return signing.dumps({"export": job.pk}, salt=_LINK_SALT)


def export_id_from_link(token: str) -> int | None:
    """The export a link's token names, or None when it is tampered with or expired. The page
    it leads to still asks for the signed-in requester (the token alone shows nothing)."""
    try:
        data = signing.loads(token, salt=_LINK_SALT, max_age=settings.EXPORT_KEEP_SECONDS)
    except signing.BadSignature:
        return None
    value = data.get("export") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def export_notify(*, export_id: int) -> bool:
    """E-mail the requester that their export is ready (or failed), in their language, with a
    signed link to its page; once per job (claimed by `emailed_at`)."""
    from accounts.services import user_language
    from config.coded_text import render

    if not ExportJob.objects.filter(
        pk=export_id, emailed_at__isnull=True, status__in=[ExportStatus.DONE, ExportStatus.FAILED]
    ).update(emailed_at=timezone.now()):
        return False
    job = ExportJob.objects.select_related("requested_by").get(pk=export_id)
    user = job.requested_by
    if user is None or not user.is_active:
        return False
    link = settings.SITE_URL + reverse(
        "export_link", kwargs={"export_token": export_link_token(job)}
    )
    with translation.override(user_language(user)):
        what = export_title(job)
        context = {
            "job": job,
            "what": what,
            "link": link,
            "failure": render(job.failure_reason) if job.status == ExportStatus.FAILED else "",
            "keep_days": max(1, settings.EXPORT_KEEP_SECONDS // 86400),
            "service_name": settings.SERVICE_NAME,
        }
        if job.status == ExportStatus.DONE:
            subject = _("Your export is ready: %(what)s") % {"what": what}
        else:
            subject = _("Your export failed: %(what)s") % {"what": what}
        body = render_to_string("lists/email/export_ready.txt", context)
    send_mail(
        subject=f"[{settings.SERVICE_NAME}] {' '.join(subject.split())}",
        message=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    return True


def export_title(job: ExportJob) -> str:
    """What the export is, in the active language: "List “News” (XLSX)"."""
    if job.source == ExportSource.ACCOUNT:
        return _("All lists (ZIP)")
    if job.source == ExportSource.SEGMENT:
        return _("Segment “%(name)s” (%(format)s)") % {
            "name": job.label,
            "format": job.get_file_format_display(),
        }
    return _("List “%(name)s” (%(format)s)") % {
        "name": job.label,
        "format": job.get_file_format_display(),
    }


def exports_tend(*, now=None) -> dict[str, int]:
    """Beat: delete expired exports with their files, and queue again the running ones whose
    worker stopped showing progress (EXPORT_STALL_SECONDS), deleting the half-written files
    such workers left. Safe to run twice."""
    now = now or timezone.now()
    _partial_files_purge(older_than=now - timedelta(seconds=settings.EXPORT_STALL_SECONDS))
    expired = ExportJob.objects.filter(expires_at__lte=now)
    files = [name for name in expired.exclude(file="").values_list("file", flat=True)]
    deleted = expired.delete()[0]
    storage = ExportJob._meta.get_field("file").storage
    for name in files:
        storage.delete(name)
    stalled_before = now - timedelta(seconds=settings.EXPORT_STALL_SECONDS)
    stalled = list(
        ExportJob.objects.filter(
            status=ExportStatus.RUNNING, progress_at__lt=stalled_before
        ).values_list("pk", flat=True)
    )
    requeued = 0
    for pk in stalled:
        if ExportJob.objects.filter(
            pk=pk, status=ExportStatus.RUNNING, progress_at__lt=stalled_before
        ).update(status=ExportStatus.QUEUED, rows_done=0):
            requeued += 1
            transaction.on_commit(partial(_enqueue, pk))
    return {"expired": deleted, "requeued": requeued}


def _partial_files_purge(*, older_than) -> int:
    """Delete the files being written that nobody wrote to since `older_than` (a dead worker's:
    a live one writes its file continually)."""
    partial = Path(settings.EXPORTS_ROOT) / "partial"
    if not partial.is_dir():
        return 0
    cutoff = older_than.timestamp()
    gone = 0
    for path in partial.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            gone += 1
    return gone


def exports_delete(*, jobs) -> int:
    """Delete these export jobs and, after commit, their files (a list deleted, an account's
    data deleted: the subscribers' data goes from the exports too)."""
    storage = ExportJob._meta.get_field("file").storage
    files = list(jobs.exclude(file="").values_list("file", flat=True))
    count = jobs.delete()[0]

    def delete_files() -> None:
        for name in files:
            storage.delete(name)

    transaction.on_commit(delete_files)
    return count
