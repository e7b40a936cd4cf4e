"""Proof of consent as a file: checked by content, downloadable by its owner only, erased with
the person it is about."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lists.models import ConsentRecord, ImportJob, Subscriber
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _add(client, mailing_list, proof_file, proof=""):
    return client.post(
        f"/lists/{mailing_list.pk}/subscribers/add/",
        {
            "email": "ann@example.org",
            "source": "paper_form",
            "proof": proof,
            "proof_file": proof_file,
        },
    )


def test_a_paper_form_scan_is_proof_enough_and_its_owner_can_download_it(client, user):
    client.force_login(user)
    mailing_list = MailingListFactory(account=user.account, double_opt_in=False)

    response = _add(client, mailing_list, SimpleUploadedFile("../scan 1.html", PDF))

    assert response.status_code == 302
    record = ConsentRecord.objects.get()
    assert record.proof == ""
    assert record.proof_file.name.startswith("consent-proof/")
    # Stored under the type it really is, whatever the upload was called.
    assert record.proof_file.name.endswith("/scan_1.pdf")
    page = client.get(f"/lists/{mailing_list.pk}/subscribers/{record.subscriber_id}/")
    assert f"/consent/{record.pk}/proof/" in page.text
    download = client.get(f"/consent/{record.pk}/proof/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert "attachment" in download["Content-Disposition"]


def test_another_account_cannot_download_it(client, user, other_user):
    client.force_login(user)
    mailing_list = MailingListFactory(account=user.account, double_opt_in=False)
    _add(client, mailing_list, SimpleUploadedFile("scan.pdf", PDF))
    record = ConsentRecord.objects.get()
    client.force_login(other_user)
    assert client.get(f"/consent/{record.pk}/proof/").status_code == 404


@pytest.mark.parametrize(
    ("name", "content"),
    [("scan.pdf", b"MZ\x90\x00 not a pdf"), ("form.html", b"<script>alert(1)</script>")],
)
def test_a_proof_file_that_is_not_a_document_or_image_is_refused(client, user, name, content):
    client.force_login(user)
    mailing_list = MailingListFactory(account=user.account, double_opt_in=False)
    response = _add(client, mailing_list, SimpleUploadedFile(name, content), proof="also text")
    assert response.status_code == 200
    assert "must be a PDF, PNG, JPEG or GIF" in response.text
    assert not Subscriber.objects.exists()


def test_a_too_big_proof_file_is_refused(client, user, settings):
    settings.CONSENT_PROOF_MAX_BYTES = 20
    client.force_login(user)
    mailing_list = MailingListFactory(account=user.account, double_opt_in=False)
    response = _add(client, mailing_list, SimpleUploadedFile("scan.pdf", PDF))
    assert "the limit is 20\xa0bytes" in response.text
    assert not Subscriber.objects.exists()


def test_erasure_deletes_the_persons_proof_file(client, user, token_client, _media):
    client.force_login(user)
    mailing_list = MailingListFactory(account=token_client.user.account, double_opt_in=False)
    client.force_login(token_client.user)
    _add(client, mailing_list, SimpleUploadedFile("scan.pdf", PDF))
    stored = Path(ConsentRecord.objects.get().proof_file.path)
    assert stored.exists()

    token_client.post("/api/v1/subscribers/erase/", {"email": "ann@example.org"}, format="json")

    assert not stored.exists()
    assert not ConsentRecord.objects.exists()


def test_an_import_can_prove_consent_with_a_file(token_client, _media):
    mailing_list = MailingListFactory(account=token_client.user.account)
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("a.csv", b"email\nann@example.org\nbob@example.org\n"),
            "consent_source": "paper_form",
            "proof_file": SimpleUploadedFile("sheets.pdf", PDF),
        },
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    job = ImportJob.objects.get()
    assert job.proof_file.name.startswith("consent-proof/")
    assert set(ConsentRecord.objects.values_list("proof_file", flat=True)) == {job.proof_file.name}
    assert Path(job.proof_file.path).exists()  # evidence: kept after the import ends


def test_an_import_without_any_proof_is_refused(token_client):
    mailing_list = MailingListFactory(account=token_client.user.account)
    response = token_client.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {"file": SimpleUploadedFile("a.csv", b"email\nann@example.org\n"), "consent_source": "api"},
        format="multipart",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["proof"]
