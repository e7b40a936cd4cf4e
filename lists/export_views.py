"""Browser pages of exports: the answer to an export button (the file itself when it is small,
else a job and its page), the job's page with a live progress bar, the download, the signed
link the e-mail carries, and the person's recent exports."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.http import SenderRequest
from accounts.views import account_required
from config.browser_errors import show_errors
from lists import selectors
from lists.exports import subscribers_export_response
from lists.models import ExportFormat, ExportJob
from lists.services import export_jobs

RECENT_EXPORTS = 20


def export_answer(
    request: SenderRequest,
    *,
    source: str,
    object_id: int | None,
    file_format: str,
    subscribers: QuerySet,
    filename: str,
    title: str,
    back_url: str,
) -> HttpResponse:
    """The answer to an export button: a small export is the file itself (streamed CSV, or a
    small XLSX); a larger one is a background job: POST starts it and goes to its page, GET (a
    bookmarked or old link) shows the button that starts it, so a GET never queues work."""
    rows = subscribers.count()
    if export_jobs.export_streams(file_format=file_format, rows=rows):
        return subscribers_export_response(subscribers, file_format=file_format, filename=filename)
    error = ""
    if request.method == "POST":
        with show_errors() as shown:
            job = export_jobs.export_job_start(
                account=request.user.account,
                user=request.user,
                source=source,
                object_id=object_id,
                file_format=file_format,
            )
            return redirect("export_detail", export_id=job.pk)
        error = shown.message
    return render(
        request,
        "lists/export_start.html",
        {
            "title": title,
            "rows": rows,
            "file_format": file_format,
            "back_url": back_url,
            "error": error,
        },
        status=400 if error else 200,
    )


def _export_or_404(request: SenderRequest, export_id: int) -> ExportJob:
    job = selectors.export_get(account=request.user.account, user=request.user, export_id=export_id)
    if job is None:
        raise Http404(_("No such export."))
    return job


@account_required
def exports(request: SenderRequest) -> HttpResponse:
    """The person's recent exports, with their state and download buttons."""
    jobs = selectors.exports_for(account=request.user.account, user=request.user)[:RECENT_EXPORTS]
    return render(
        request,
        "lists/exports.html",
        {
            "jobs": [(job, export_jobs.export_title(job)) for job in jobs],
            "keep_days": max(1, settings.EXPORT_KEEP_SECONDS // 86400),
        },
    )


@account_required
def export_detail(request: SenderRequest, export_id: int) -> HttpResponse:
    """One export: a live progress bar while a worker writes it, then its download button."""
    job = _export_or_404(request, export_id)
    return render(
        request,
        "lists/export_detail.html",
        {
            "job": job,
            "title": export_jobs.export_title(job),
            "percent": round(job.progress * 100),
        },
    )


@account_required
def export_download(request: SenderRequest, export_id: int) -> FileResponse:
    """The export's file, to its requester only, while it is kept."""
    job = _export_or_404(request, export_id)
    if not job.is_downloadable:
        raise Http404(_("This export has no file (yet, or any more)."))
    return export_file_response(job)


def export_file_response(job: ExportJob) -> FileResponse:
    """The export's file as an attachment, never cached (the browser's download and the
    API's); the caller has checked it is the requester's and downloadable."""
    response = FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=job.filename,
        content_type=CONTENT_TYPES[job.file_format],
    )
    response["Cache-Control"] = "private, no-store"
    return response


CONTENT_TYPES: dict[str, str] = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.ZIP: "application/zip",
}


@account_required
def export_link(request: SenderRequest, export_token: str) -> HttpResponse:
    """The signed, expiring link of the "export ready" e-mail: to the export's page, which is
    the signed-in requester's only (a tampered or expired token is a 404)."""
    export_id = export_jobs.export_id_from_link(export_token)
    if export_id is None:
        raise Http404(_("This link has expired or is not valid."))
    return redirect("export_detail", export_id=_export_or_404(request, export_id).pk)
