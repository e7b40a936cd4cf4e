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
from moderation import enforcement
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
    enforcement.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)
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
