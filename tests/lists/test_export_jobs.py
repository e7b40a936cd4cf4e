"""Exports written in the background (issue 22): which exports go to a worker, the job's run
(file, progress, e-mail, failure), its page, download and mailed link, expiry, the API."""

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from campaigns.models import Segment
from lists import exports as writers
from lists.exports import SUBSCRIBER_EXPORT_HEADER
from lists.models import ExportJob, SubscriberStatus
from lists.services import export_jobs
from lists.services.export_jobs import (
    export_id_from_link,
    export_job_start,
    export_link_token,
    export_run,
    export_streams,
    exports_tend,
)
from lists.services.lists import list_delete
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path):
    settings.EXPORTS_ROOT = str(tmp_path / "exports")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SITE_URL = "http://testserver"


@pytest.fixture
def news(user):
    mailing_list = MailingListFactory(account=user.account, name="Bakery news")
    SubscriberFactory(mailing_list=mailing_list, email="ann@example.org", name="Ann")
    SubscriberFactory(
        mailing_list=mailing_list,
        email="bob@example.org",
        name='=HYPERLINK("http://evil.example")',
        status=SubscriberStatus.UNSUBSCRIBED,
    )
    SubscriberFactory(email="stranger@example.org")  # another account's
    return mailing_list


def _files(settings) -> list[Path]:
    return sorted(p for p in Path(settings.EXPORTS_ROOT).rglob("*") if p.is_file())


def _start(user, news, file_format="xlsx", callbacks=None) -> ExportJob:
    return export_job_start(
        account=user.account,
        user=user,
        source="list",
        object_id=news.pk,
        file_format=file_format,
    )


# --- which exports go to a worker -------------------------------------------------------------


def test_small_csv_and_xlsx_are_answered_in_the_request_and_larger_ones_go_to_a_worker(settings):
    settings.EXPORT_STREAM_MAX_ROWS = 100
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 10
    assert export_streams(file_format="csv", rows=100) is True
    assert export_streams(file_format="csv", rows=101) is False
    assert export_streams(file_format="xlsx", rows=10) is True
    assert export_streams(file_format="xlsx", rows=11) is False
    assert export_streams(file_format="zip", rows=0) is False


# --- starting and running a job ----------------------------------------------------------------


def test_a_job_is_enqueued_after_commit_once_and_asking_again_returns_it(
    user, news, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = _start(user, news)
        again = _start(user, news)
    assert again.pk == job.pk and len(callbacks) == 1
    assert (job.status, job.rows_total, job.label, job.filename[-5:]) == (
        "queued",
        2,
        "Bakery news",
        ".xlsx",
    )


def test_the_worker_writes_the_xlsx_with_the_consent_columns_and_mails_its_requester(
    user, news, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(user, news)  # the eager task runs on commit
    job.refresh_from_db()
    assert (job.status, job.rows_total, job.rows_done, job.progress) == ("done", 2, 2, 1.0)
    assert job.expires_at - job.finished_at == timedelta(seconds=settings.EXPORT_KEEP_SECONDS)
    # The file is in the exports' own folder, not under MEDIA_ROOT.
    [path] = _files(settings)
    assert Path(job.file.path) == path and job.file_size == path.stat().st_size
    assert not Path(settings.MEDIA_ROOT).exists() or not any(Path(settings.MEDIA_ROOT).rglob("*"))
    sheet = load_workbook(path, read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == SUBSCRIBER_EXPORT_HEADER
    by_email = {r[0]: dict(zip(SUBSCRIBER_EXPORT_HEADER, r, strict=True)) for r in rows[1:]}
    assert set(by_email) == {"ann@example.org", "bob@example.org"}
    assert by_email["ann@example.org"]["consent_source"] == "web_form"
    assert by_email["ann@example.org"]["consent_ip"] == "203.0.113.9"
    assert by_email["bob@example.org"]["name"].startswith("'=HYPERLINK")  # no formula
    # One e-mail, to the requester, with the signed link to the job's page.
    [message] = mail.outbox
    assert message.to == [user.email]
    assert "Your export is ready" in message.subject and "Bakery news" in message.subject
    token = re.search(r"http://testserver/exports/link/([^/\s]+)/", message.body).group(1)
    assert export_id_from_link(token) == job.pk

    # A second delivery of the task does nothing: no second file, no second e-mail.
    assert export_run(export_id=job.pk) == "done"
    assert len(_files(settings)) == 1 and len(mail.outbox) == 1


def test_the_mail_is_in_the_requesters_language(user, news, django_capture_on_commit_callbacks):
    user.language = "ru"
    user.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        _start(user, news)
    [message] = mail.outbox
    assert "Bakery news" in message.subject
    assert "Your export" not in message.subject and "Ваш" in message.subject


def test_progress_is_saved_after_every_chunk(user, monkeypatch, django_capture_on_commit_callbacks):
    mailing_list = MailingListFactory(account=user.account)
    SubscriberFactory.create_batch(12, mailing_list=mailing_list)
    monkeypatch.setattr(writers, "EXPORT_CHUNK", 5)
    seen = []
    original = writers._safe_text_cells

    def spy(row):
        seen.append(ExportJob.objects.values_list("rows_done", flat=True).get())
        return original(row)

    monkeypatch.setattr(writers, "_safe_text_cells", spy)
    with django_capture_on_commit_callbacks():
        job = _start(user, mailing_list, file_format="csv")
    assert export_run(export_id=job.pk) == "done"
    # Rows 1-5 written with nothing saved yet, 6-10 after the first chunk, 11-12 after two.
    assert seen == [0] * 5 + [5] * 5 + [10] * 2
    job.refresh_from_db()
    assert job.rows_done == 12
    text = Path(job.file.path).read_text("utf-8-sig")
    assert len(text.strip().splitlines()) == 13


def test_a_write_that_fails_is_recorded_with_its_reason_and_leaves_no_file(
    user, news, settings, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, progress=None, **kwargs):
        progress(1)
        raise OSError("No space left on device")

    monkeypatch.setattr(export_jobs, "subscribers_xlsx", broken)
    with django_capture_on_commit_callbacks():
        job = _start(user, news)
    assert export_run(export_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and not job.file
    assert job.failure_reason == {"code": "lists.export.write_failed", "params": {}}
    assert _files(settings) == []  # the partial file is gone too
    [message] = mail.outbox
    assert "Your export failed" in message.subject
    assert "could not be written" in message.body


def test_a_segment_deleted_before_its_export_runs_fails_saying_so(
    user, news, django_capture_on_commit_callbacks
):
    segment = Segment.objects.create(account=user.account, name="Locals")
    segment.lists.add(news)
    with django_capture_on_commit_callbacks():
        job = export_job_start(
            account=user.account,
            user=user,
            source="segment",
            object_id=segment.pk,
            file_format="csv",
        )
    Segment.objects.filter(pk=segment.pk).delete()  # not through the service
    assert export_run(export_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.failure_reason["code"] == "lists.export.source_gone"


def test_a_segment_export_has_the_segments_subscribers(
    user, news, django_capture_on_commit_callbacks
):
    segment = Segment.objects.create(account=user.account, name="Locals")
    segment.lists.add(news)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_job_start(
            account=user.account,
            user=user,
            source="segment",
            object_id=segment.pk,
            file_format="csv",
        )
    job.refresh_from_db()
    assert job.status == "done" and job.label == "Locals"
    text = Path(job.file.path).read_text("utf-8-sig")
    assert "ann@example.org" in text and "bob@example.org" not in text  # unsubscribed
    assert job.filename.startswith(f"segment-{segment.pk}-locals")


def test_another_accounts_list_or_a_wrong_format_starts_nothing(user, news, other_user):
    from config.errors import ApplicationError, NotFound

    with pytest.raises(NotFound):
        export_job_start(
            account=other_user.account,
            user=other_user,
            source="list",
            object_id=news.pk,
            file_format="csv",
        )
    with pytest.raises(ApplicationError):
        _start(user, news, file_format="zip")
    assert not ExportJob.objects.exists()


# --- expiry, stalls, deletion -------------------------------------------------------------------


def test_expired_exports_are_deleted_with_their_files(
    user, news, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        done = _start(user, news)
    done.refresh_from_db()
    path = Path(done.file.path)
    assert exports_tend(now=done.expires_at - timedelta(seconds=1))["expired"] == 0
    assert path.exists()
    assert exports_tend(now=done.expires_at)["expired"] == 1
    assert not ExportJob.objects.filter(pk=done.pk).exists() and not path.exists()


def test_a_stalled_export_is_queued_again_once(
    user, news, settings, django_capture_on_commit_callbacks
):
    stalled = ExportJob.objects.create(
        account=user.account,
        requested_by=user,
        source="list",
        object_id=news.pk,
        label="x",
        file_format="csv",
        filename="x.csv",
        status="running",
        progress_at=timezone.now() - timedelta(seconds=settings.EXPORT_STALL_SECONDS + 1),
    )
    fresh = ExportJob.objects.create(
        account=user.account,
        requested_by=user,
        source="list",
        object_id=news.pk,
        label="y",
        file_format="xlsx",
        filename="y.xlsx",
        status="running",
        progress_at=timezone.now(),
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert exports_tend() == {"expired": 0, "requeued": 1}
        assert exports_tend() == {"expired": 0, "requeued": 0}
    assert len(callbacks) == 1
    stalled.refresh_from_db()
    fresh.refresh_from_db()
    assert (stalled.status, fresh.status) == ("queued", "running")


def test_deleting_the_list_deletes_its_exports_and_their_files(
    user, news, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(user, news)
    job.refresh_from_db()
    path = Path(job.file.path)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        list_delete(mailing_list=news)
    assert not ExportJob.objects.exists() and not path.exists()


def test_deleting_the_accounts_data_deletes_its_exports_and_files(
    user, news, django_capture_on_commit_callbacks
):
    from lists.services.deletion import account_data_delete

    with django_capture_on_commit_callbacks(execute=True):
        job = _start(user, news)
    job.refresh_from_db()
    path = Path(job.file.path)
    with django_capture_on_commit_callbacks(execute=True):
        counts = account_data_delete(account=user.account)
    assert counts["exports"] == 1
    assert not ExportJob.objects.exists() and not path.exists()


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


def test_a_large_export_button_starts_a_job_and_lands_on_its_page(
    browser, news, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_STREAM_MAX_ROWS = 1
    url = reverse("list_export", args=[news.pk])
    # A GET (an old link) only offers the button: no job.
    page = browser.get(url, {"format": "csv"})
    assert page.status_code == 200 and b"Prepare the export" in page.content
    assert not ExportJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(url, {"format": "csv"})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("export_detail", args=[job.pk])
    detail = browser.get(response.url).content.decode()
    assert 'id="export-progress"' in detail and reverse("api-export", args=[job.pk]) in detail
    assert reverse("export_download", args=[job.pk]) in detail
    download = browser.get(reverse("export_download", args=[job.pk]))
    assert download.status_code == 200 and download["Cache-Control"] == "private, no-store"
    assert b"ann@example.org" in b"".join(download.streaming_content)
    listing = browser.get(reverse("exports")).content.decode()
    assert "Bakery news" in listing and reverse("export_download", args=[job.pk]) in listing


def test_the_mailed_link_leads_its_requester_only_and_a_tampered_one_is_a_404(
    user, news, browser, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(user, news)
    link = reverse("export_link", args=[export_link_token(job)])
    assert browser.get(link).url == reverse("export_detail", args=[job.pk])
    assert browser.get(link[:-3] + "xx/").status_code == 404
    # Signed out: to the login page first.
    assert "/login/" in Client().get(link).url
    # A colleague in the same account: the export is not theirs.
    colleague = UserFactory(account=user.account, role="owner")
    other = Client()
    other.force_login(colleague)
    assert other.get(link).status_code == 404
    assert other.get(reverse("export_download", args=[job.pk])).status_code == 404


# --- the API ------------------------------------------------------------------------------------


def test_the_api_answers_202_for_a_large_export_and_the_job_leads_to_the_file(
    token_client, news, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 1
    with django_capture_on_commit_callbacks() as callbacks:
        response = token_client.get(f"/api/v1/lists/{news.pk}/export/?format=xlsx")
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/api/v1/exports/{body['id']}/"
    assert (body["status"], body["rows_total"], body["download_url"]) == ("queued", 2, None)
    # Not ready yet: no file.
    assert token_client.get(f"/api/v1/exports/{body['id']}/download/").status_code == 409
    for callback in callbacks:
        callback()
    status = token_client.get(response["Location"]).json()
    assert (status["status"], status["rows_done"], status["progress"]) == ("done", 2, 1.0)
    download = token_client.get(status["download_url"])
    assert download.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True)
    assert len(list(book.worksheets[0].iter_rows())) == 3
    listed = token_client.get("/api/v1/exports/").json()
    assert [j["id"] for j in listed["results"]] == [body["id"]]


def test_the_api_post_starts_any_export_and_the_zip_is_the_owners(
    token_client, news, django_capture_on_commit_callbacks
):
    response = token_client.post(
        "/api/v1/exports/", {"source": "list", "id": news.pk, "format": "csv"}, format="json"
    )
    assert response.status_code == 202 and response.json()["source"] == "list"
    bad = token_client.post(
        "/api/v1/exports/", {"source": "list", "id": news.pk, "format": "zip"}, format="json"
    )
    assert bad.status_code == 400
    gone = token_client.post(
        "/api/v1/exports/", {"source": "list", "id": 10**9, "format": "csv"}, format="json"
    )
    assert gone.status_code == 404
    token_client.user.role = "editor"
    token_client.user.save(update_fields=["role"])
    refused = token_client.post(
        "/api/v1/exports/", {"source": "account", "format": "zip"}, format="json"
    )
    assert refused.status_code == 403
    assert ExportJob.objects.filter(source="account").count() == 0


def test_the_api_small_export_is_still_the_file(token_client, news):
    response = token_client.get(f"/api/v1/lists/{news.pk}/export/?format=xlsx")
    assert response.status_code == 200 and not ExportJob.objects.exists()


def test_another_accounts_export_is_a_404_in_the_api(
    token_client, other_user, django_capture_on_commit_callbacks
):
    theirs = MailingListFactory(account=other_user.account)
    SubscriberFactory(mailing_list=theirs)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_job_start(
            account=other_user.account,
            user=other_user,
            source="list",
            object_id=theirs.pk,
            file_format="xlsx",
        )
    assert token_client.get(f"/api/v1/exports/{job.pk}/").status_code == 404
    assert token_client.get(f"/api/v1/exports/{job.pk}/download/").status_code == 404


def test_a_dead_workers_half_written_file_is_deleted_and_a_live_ones_kept(db, settings):
    import os

    partial = Path(settings.EXPORTS_ROOT) / "partial"
    partial.mkdir(parents=True)
    dead, live = partial / "dead.xlsx", partial / "live.xlsx"
    dead.write_bytes(b"PK")
    live.write_bytes(b"PK")
    old = timezone.now() - timedelta(seconds=settings.EXPORT_STALL_SECONDS + 60)
    os.utime(dead, (old.timestamp(), old.timestamp()))
    exports_tend()
    assert not dead.exists() and live.exists()
