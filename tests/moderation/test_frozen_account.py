"""A frozen account (issue 23, item 7): the banner with the appeal link and deadline on every
page a sender starts from, and no import can start, through the API or the browser."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.services import api_token_create
from lists.models import ImportJob, ImportStatus
from lists.services import imports
from moderation.enforcement import decisions
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db

REASON = "Signed paper forms were asked for and not sent."
CSV = b"email\nann@example.org\nbob@example.org\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.APPEAL_HOURS = 24


@pytest.fixture
def mailing_list(sender):
    return MailingListFactory(account=sender.account, name="Fair visitors")


def freeze(account, moderator):
    decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)
    account.refresh_from_db()
    return account


def words(response) -> str:
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", unescape(text)).strip()


@pytest.mark.parametrize("page", ["dashboard", "lists", "list_detail", "import_upload"])
def test_the_frozen_banner_links_the_appeal_and_gives_its_deadline(
    client, sender, moderator, mailing_list, page
):
    account = freeze(sender.account, moderator)
    deadline = timezone.localtime(account.state_changed_at + timedelta(hours=24))
    client.force_login(sender)
    args = [mailing_list.pk] if page in ("list_detail", "import_upload") else []

    response = client.get(reverse(page, args=args))

    html = response.content.decode()
    banner = html[html.index('id="account-frozen"') :]
    banner = banner[: banner.index("</div>")]
    assert f'href="{reverse("account_appeal")}"' in banner
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", banner)).split())
    assert f"until {deadline:%Y-%m-%d %H:%M}" in text
    assert "imports cannot start" in words(response)
    assert REASON in words(response)


def test_a_frozen_account_cannot_start_an_import_through_the_api(sender, moderator, mailing_list):
    from rest_framework.test import APIClient

    freeze(sender.account, moderator)
    _, key = api_token_create(user=sender, name="import")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = api.post(
        f"/api/v1/lists/{mailing_list.pk}/imports/",
        {
            "file": SimpleUploadedFile("people.csv", CSV),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4",
        },
        format="multipart",
    )

    assert response.status_code == 403
    assert "cannot start imports" in response.json()["detail"]
    assert not ImportJob.objects.exists()


def test_a_frozen_account_cannot_upload_an_import_in_the_browser(
    client, sender, moderator, mailing_list
):
    freeze(sender.account, moderator)
    client.force_login(sender)

    response = client.post(
        reverse("import_upload", args=[mailing_list.pk]),
        {
            "file": SimpleUploadedFile("people.csv", CSV),
            "consent_source": "paper_form",
            "proof": "Signed forms, box 4",
        },
    )

    assert response.status_code == 200
    assert "cannot start imports until the freeze is lifted" in words(response)
    assert not ImportJob.objects.exists()


def test_an_import_uploaded_before_the_freeze_cannot_be_started_after_it(
    sender, moderator, mailing_list
):
    job = imports.import_create(
        mailing_list=mailing_list,
        user=sender,
        upload=SimpleUploadedFile("people.csv", CSV),
        consent_source="paper_form",
        proof="Signed forms, box 4",
        start=False,
    )
    freeze(sender.account, moderator)
    job.refresh_from_db()

    with pytest.raises(Exception, match="cannot start imports"):
        imports.import_start(job=job, column_map={"email": 0})

    job.refresh_from_db()
    assert job.status == ImportStatus.PENDING


# --- the appeal's documents -------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_the_appeal_takes_the_signed_forms_and_only_moderators_download_them(
    client, sender, moderator
):
    from moderation.models import Appeal

    freeze(sender.account, moderator)
    client.force_login(sender)
    page = client.get(reverse("account_appeal")).content.decode()
    assert 'enctype="multipart/form-data"' in page

    response = client.post(
        reverse("account_appeal"),
        {
            "text": "Here are the signed forms of the fair.",
            "files": [
                SimpleUploadedFile("forms page 1.pdf", PDF, "application/pdf"),
                SimpleUploadedFile("../photo.png", PNG, "image/png"),
            ],
        },
    )

    assert response.status_code == 302
    appeal = Appeal.objects.get(account=sender.account)
    documents = list(appeal.files.all())
    assert [(d.original_name, d.size) for d in documents] == [
        ("forms page 1.pdf", len(PDF)),
        ("photo.png", len(PNG)),
    ]
    assert documents[0].file.name.startswith("appeals/")
    # The sender sees what was sent; the file route does not exist for them.
    assert "forms page 1.pdf" in words(client.get(reverse("account_appeal")))
    url = reverse("moderation_appeal_file", args=[documents[0].pk])
    assert client.get(url).status_code == 404

    client.force_login(moderator)
    account_page = client.get(reverse("moderation_account", args=[sender.account.pk]))
    assert f'href="{url}" download' in account_page.content.decode()
    download = client.get(url)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert b"".join(download.streaming_content) == PDF


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("forms.pdf", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "is not a PDF"),
        ("forms.html", b"<html><script>alert(1)</script></html>", "is not a PDF"),
        ("huge.pdf", PDF + b"x" * 200, "is too big"),
    ],
)
def test_an_appeal_with_a_document_that_is_not_a_scan_is_refused_whole(
    client, sender, moderator, settings, name, content, error
):
    from moderation.models import Appeal, AppealFile

    settings.APPEAL_FILE_MAX_BYTES = 100
    freeze(sender.account, moderator)
    client.force_login(sender)

    response = client.post(
        reverse("account_appeal"),
        {"text": "Forms attached.", "files": [SimpleUploadedFile(name, content)]},
    )

    assert response.status_code == 400
    assert error in words(response)
    assert not Appeal.objects.exists() and not AppealFile.objects.exists()


def test_at_most_appeal_files_max_documents(client, sender, moderator, settings):
    from moderation.models import Appeal

    settings.APPEAL_FILES_MAX = 2
    freeze(sender.account, moderator)
    client.force_login(sender)

    response = client.post(
        reverse("account_appeal"),
        {
            "text": "Forms attached.",
            "files": [SimpleUploadedFile(f"p{n}.pdf", PDF) for n in range(3)],
        },
    )

    assert "At most 2 files." in words(response)
    assert not Appeal.objects.exists()
