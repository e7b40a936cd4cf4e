"""An import's row reasons and failure reason are stored as codes and read in the reader's
language: on the import page, in the API and in errors.csv (issue 23)."""

import csv
import io
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from lists.models import ImportJob, ImportRowIssue, ImportStatus
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db(transaction=True)

FILE = (
    b"email,name\n"
    b"ann@example.org,Ann\n"
    b"ann@example.org,Ann again\n"
    b"not-an-address,Bob\n"
    b",Nobody\n"
    b"info@example.org,Info\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def job(token_client, user):
    mailing_list = MailingListFactory(account=user.account)
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("people.csv", FILE),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4",
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    return ImportJob.objects.get(pk=response.json()["id"])


def test_the_reasons_are_stored_as_codes(job):
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    stored = {issue.row: issue.reason for issue in job.issues.all()}
    assert stored[3] == {"code": "lists.import.duplicate_row", "params": {"row": 2}}
    assert stored[5] == {"code": "lists.import.no_email", "params": {}}
    assert stored[6] == {"code": "lists.import.role_address", "params": {}}
    assert stored[4]["code"] == "lists.import.invalid_address"


def test_the_api_gives_the_reasons_in_the_requests_language(token_client, job):
    url = f"/api/v1/imports/{job.pk}/"
    english = token_client.get(url, headers={"accept-language": "en"}).json()
    russian = token_client.get(url, headers={"accept-language": "ru"}).json()

    reasons_en = {e["row"]: e["reason"] for e in english["errors"]}
    reasons_ru = {e["row"]: e["reason"] for e in russian["errors"]}
    assert reasons_en[3] == "Duplicate of row 2."
    assert reasons_ru[3] == "Повтор строки 2."
    assert reasons_ru[5] == "В этой строке нет адреса e-mail."
    assert reasons_ru[4].startswith("Неверный адрес: ")
    assert reasons_ru[6].startswith("Ролевой адрес (info@, sales@…)")


def test_errors_csv_is_in_the_requests_language(token_client, job):
    report = token_client.get(
        f"/api/v1/imports/{job.pk}/errors.csv", headers={"accept-language": "ru"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))

    assert rows[0] == ["row", "email", "reason", "outcome"]
    by_row = {row[0]: row[2] for row in rows[1:]}
    assert by_row["3"] == "Повтор строки 2."
    assert by_row["5"] == "В этой строке нет адреса e-mail."


def test_the_import_page_speaks_the_readers_language(client, user, job):
    user.language = "ru"
    user.save(update_fields=["language"])
    client.force_login(user)

    page = unescape(client.get(reverse("import_progress", args=[job.pk])).content.decode())

    assert "Повтор строки 2." in page
    assert "Duplicate of row 2." not in page
    assert "'code'" not in page  # no raw stored dict


def test_a_reason_stored_before_codes_still_reads(client, user, job):
    ImportRowIssue.objects.filter(import_job=job, row=3).update(reason="Old English reason.")
    client.force_login(user)

    page = unescape(client.get(reverse("import_progress", args=[job.pk])).content.decode())

    assert "Old English reason." in page


def test_a_failure_reason_reads_in_the_readers_language(token_client, job):
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED,
        failure_reason={"code": "lists.import.never_finished", "params": {"days": 7}},
    )

    russian = token_client.get(f"/api/v1/imports/{job.pk}/", headers={"accept-language": "ru"})
    english = token_client.get(f"/api/v1/imports/{job.pk}/", headers={"accept-language": "en"})

    assert russian.json()["failure_reason"] == (
        "Импорт так и не завершился; его загруженный файл удалён через 7 дн."
    )
    assert english.json()["failure_reason"] == (
        "The import never finished; its uploaded file was deleted after 7 days."
    )
