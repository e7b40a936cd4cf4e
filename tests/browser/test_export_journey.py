"""A sender exports a list as XLSX in a real Chromium (issue 22): the button starts a background
export and lands on its page, whose progress bar moves without a reload when a real Celery
worker writes the file; then the download opens in openpyxl with every row and the consent
columns, the e-mail's signed link leads back to the page, and "Exports" lists it."""

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from lists.exports import SUBSCRIBER_EXPORT_HEADER
from lists.models import ExportJob
from tests.browser.conftest import log_in
from tests.factories import UserFactory
from tests.integration.conftest import (  # noqa: F401 - fixtures
    celery_worker_process,
    redis_broker,
    wait_for,
)
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_export_a_list_as_xlsx_in_the_background(
    celery_worker_process,  # noqa: F811 - first: it reads Celery's settings before `site` changes any
    page,
    site,
    screenshot,
    settings,
    tmp_path,
):
    exports = tmp_path / "exports"
    settings.EXPORTS_ROOT = str(exports)
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 0  # every XLSX goes to the worker here
    user = UserFactory()
    mailing_list = MailingListFactory(account=user.account, name="Harbour news")
    for number in range(1, 26):
        SubscriberFactory(mailing_list=mailing_list, email=f"reader{number}@example.org")
    SubscriberFactory(mailing_list=mailing_list, email="eve@example.org", name="=1+1")
    log_in(page, site, user)

    # The button starts the export and lands on its page, queued: no worker runs yet.
    page.goto(f"{site.url}/lists/{mailing_list.pk}/")
    page.get_by_role("button", name="Export XLSX").click()
    expect(page).to_have_url(re.compile(r"/exports/\d+/$"))
    job = ExportJob.objects.get()
    expect(page.locator("#export-status")).to_have_text("Queued")
    expect(page.locator("#export-percent")).to_have_text("0%")
    expect(page.locator("#export-ready")).to_be_hidden()
    screenshot(page, "export-queued")

    # A real worker writes it; the page follows without a reload.
    celery_worker_process(
        {
            "EXPORTS_ROOT": str(exports),
            "EXPORT_XLSX_INLINE_MAX_ROWS": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(site.mail.port),
            "SITE_URL": site.url,
        }
    )
    expect(page.locator("#export-status")).to_have_text("Done", timeout=60_000)
    expect(page.locator("#export-percent")).to_have_text("100%")
    expect(page.locator("#count-done")).to_have_text("26")
    expect(page.locator("#export-ready")).to_be_visible()
    screenshot(page, "export-done")

    with page.expect_download() as download:
        page.locator("#export-download").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    content = io.BytesIO(download.value.path().read_bytes())  # a temporary name, no extension
    sheet = load_workbook(content, read_only=True).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == SUBSCRIBER_EXPORT_HEADER
    by_email = {row[0]: dict(zip(SUBSCRIBER_EXPORT_HEADER, row, strict=True)) for row in rows[1:]}
    assert len(by_email) == 26
    assert by_email["reader7@example.org"]["consent_source"] == "web_form"
    assert by_email["reader7@example.org"]["consent_ip"] == "203.0.113.9"
    assert by_email["reader7@example.org"]["consent_purpose"] == mailing_list.purpose
    assert by_email["eve@example.org"]["name"] == "'=1+1"  # never a formula

    # The e-mail's signed link leads back to the page (signed in as its requester).
    message = wait_for(site.mail.messages, timeout=30, what="the export e-mail")[0]
    assert message.to == user.email and "Harbour news" in message.subject
    link = re.search(r"(http://\S+/exports/link/\S+/)", message.text).group(1)
    page.goto(link)
    expect(page).to_have_url(f"{site.url}/exports/{job.pk}/")

    # "Exports" lists it with its download.
    page.goto(f"{site.url}/exports/")
    expect(page.locator("#exports")).to_contain_text("Harbour news")
    expect(page.locator("#exports").get_by_role("link", name="Download")).to_be_visible()
    screenshot(page, "exports-list")
