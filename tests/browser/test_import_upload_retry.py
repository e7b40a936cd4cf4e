"""A refused import upload keeps the chosen file (issue 23, item 8): the first try lacks the
proof of consent and a future date; both errors show at once, the file is kept on the server and
offered back, and the second try goes through without choosing it again."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from playwright.sync_api import expect

from lists.models import ImportJob
from lists.services.held_uploads import HELD_DIR
from tests.browser.conftest import log_in
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = b"email,name\nann@example.org,Ann\nbob@example.org,Bob\n"


def held_files() -> list[str]:
    found = []

    def walk(path: str) -> None:
        directories, names = default_storage.listdir(path)
        found.extend(f"{path}/{name}" for name in names)
        for directory in directories:
            walk(f"{path}/{directory}")

    if default_storage.exists(HELD_DIR):
        walk(HELD_DIR)
    return found


def test_a_refused_upload_keeps_the_file_for_the_next_try(
    page, site, settings, tmp_path, screenshot
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    user = UserFactory(email="lee@bakery.example")
    mailing_list = MailingListFactory(account=user.account, name="Bakery news")
    log_in(page, site, user)
    page.goto(f"{site.url}/lists/{mailing_list.pk}/import/")

    page.get_by_label("File", exact=True).set_input_files(
        {"name": "customers.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    page.get_by_label("How did these people consent?").select_option("paper_form")
    tomorrow = timezone.localdate() + timedelta(days=1)
    page.get_by_label("Consent obtained on").fill(tomorrow.isoformat())
    page.get_by_role("button", name="Upload and match columns").click()

    # Both refusals at once, and the file kept.
    expect(page.locator("#id_proof_errors")).to_contain_text("Describe the proof of consent")
    expect(page.locator("#id_consent_obtained_at_errors")).to_contain_text("in the future")
    expect(page.locator("#held-file")).to_contain_text("customers.csv")
    expect(page.locator("#held-file")).to_contain_text("you need not choose it again")
    assert len(held_files()) == 1
    assert not ImportJob.objects.exists()
    screenshot(page, "lists-import-upload-kept-file")

    # The second try: no file chosen again.
    page.get_by_label("Consent obtained on").fill("")
    page.get_by_label("Proof of consent").fill("Signed cards, kept in the shop")
    page.get_by_role("button", name="Upload and match columns").click()

    job = ImportJob.objects.get()
    expect(page).to_have_url(f"{site.url}/imports/{job.pk}/map/")
    assert job.original_filename == "customers.csv"
    with job.file.open("rb") as stored:
        assert stored.read() == CSV
    assert held_files() == []  # used, then deleted
