"""A sender builds a list in a real Chromium: create it, import a file through the wizard and watch
the import's progress live, take the sign-up form's snippet, and a visitor subscribes with it.

The import's task is held back while the progress page is open, then run from the test: the page
must follow it to 100% by polling the JSON API, without reloading.
"""

import re

import pytest
from playwright.sync_api import expect

from lists.models import ImportJob, ImportStatus, MailingList, Subscriber, SubscriberStatus
from lists.services.imports import import_run
from tests.browser.conftest import DESKTOP, log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CSV = (
    b"Email,Full name,City\n"
    b"ann@example.org,Ann Archer,Paris\n"
    b"bob@example.org,Bob Baker,Berlin\n"
    b"not-an-address,Carl,Rome\n"
    b"ann@example.org,Ann again,Paris\n"
    b"info@example.org,Info desk,Oslo\n"
)


def test_create_a_list_import_a_file_and_collect_a_sign_up(
    page, chromium, site, screenshot, monkeypatch
):
    user = UserFactory(account__company_name="Violet Harbour Ltd")
    log_in(page, site, user)

    # The lists page starts empty and leads to a new list.
    page.get_by_role("navigation").get_by_role("link", name="Lists").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lists")
    expect(page.locator("main")).to_contain_text("No lists yet")
    screenshot(page, "lists-empty")
    page.get_by_role("link", name="New list").click()
    expect(page.get_by_label("Double opt-in")).to_be_checked()
    page.get_by_label("List name").fill("Harbour news")
    page.get_by_role("button", name="Create list").click()
    expect(page.locator("#id_purpose_errors")).to_have_text(
        "Say what subscribers will receive: it is shown on the subscription form."
    )
    assert not MailingList.objects.exists()
    page.get_by_label("Purpose").fill("A monthly letter about sailings, events and offers.")
    page.get_by_label("Privacy policy address").fill("https://violet-harbour.example.org/privacy")
    screenshot(page, "lists-new")
    page.get_by_role("button", name="Create list").click()
    mailing_list = MailingList.objects.get(account=user.account)
    expect(page).to_have_url(f"{site.url}/lists/{mailing_list.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbour news")
    expect(page.get_by_role("status")).to_contain_text("List “Harbour news” created.")
    expect(page.locator("#no-subscribers")).to_contain_text("No subscribers yet")

    # Step 1 of the import: the file and how these people consented.
    page.get_by_role("link", name="Import a file", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import subscribers")
    page.get_by_label("File", exact=True).set_input_files(
        {"name": "harbour-customers.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    page.get_by_label("How did these people consent?").select_option("paper_form")
    page.get_by_label("Proof of consent").fill("Signed sign-up cards, kept in the harbour office")
    screenshot(page, "lists-import-upload")
    page.get_by_role("button", name="Upload and match columns").click()

    # Step 2: the columns, with the guess preselected; the city becomes an attribute.
    job = ImportJob.objects.get()
    expect(page).to_have_url(f"{site.url}/imports/{job.pk}/map/")
    table = page.locator("#column-map")
    expect(table).to_contain_text("Full name")
    expect(table).to_contain_text("not-an-address")
    expect(page.get_by_label("Column 1 (Email)")).to_have_value("email")
    expect(page.get_by_label("Column 2 (Full name)")).to_have_value("name")
    expect(page.get_by_label("Column 3 (City)")).to_have_value("")
    page.get_by_label("Column 3 (City)").select_option("attribute")
    page.get_by_label("Attribute name for column 3").fill("city")
    screenshot(page, "lists-import-map")

    # Hold the task back, so that the page is seen before the import runs.
    monkeypatch.setattr("lists.services.imports._enqueue", lambda job: None)
    page.get_by_role("button", name="Start the import").click()

    # Step 3: the progress page polls while the import waits.
    expect(page).to_have_url(f"{site.url}/imports/{job.pk}/")
    expect(page.locator("#import-status")).to_have_text("Queued")
    progress = page.locator("#import-progress")
    expect(progress).to_have_js_property("value", 0)
    expect(page.locator("#import-result")).to_be_hidden()
    page.evaluate("window.notReloaded = true")

    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED
    assert import_run(import_id=job.pk) == ImportStatus.DONE

    # The page follows it to the end without reloading.
    expect(page.locator("#import-status")).to_have_text("Done")
    expect(progress).to_have_js_property("value", 1)
    assert progress.get_attribute("value") == progress.get_attribute("max") == "1"
    expect(page.locator("#import-percent")).to_have_text("100%")
    for count_id, value in (
        ("total", "5"),
        ("processed", "5"),
        ("imported", "3"),
        ("updated", "0"),
        ("skipped", "2"),
    ):
        expect(page.locator(f"#count-{count_id}")).to_have_text(value)
    issues = page.locator("#import-issues tbody tr")
    expect(issues).to_have_count(3)
    expect(issues.nth(0)).to_contain_text("not-an-address")
    expect(issues.nth(1)).to_contain_text("Duplicate of row 2.")
    expect(issues.nth(2)).to_contain_text("info@example.org")
    expect(page.locator("#error-report")).to_have_attribute(
        "href", f"/api/v1/imports/{job.pk}/errors.csv"
    )
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "lists-import-done")

    # The error report downloads with the session.
    with page.expect_download() as download:
        page.locator("#error-report").click()
    report = download.value.path().read_text(encoding="utf-8-sig")
    assert report.splitlines()[0] == "row,email,reason,outcome"
    assert "not-an-address" in report

    # Reloaded, the finished page is drawn by the server the same way.
    page.reload()
    expect(progress).to_have_js_property("value", 1)
    expect(issues).to_have_count(3)
    assert dict(mailing_list.subscribers.values_list("email", "attributes").order_by("email")) == {
        "ann@example.org": {"city": "Paris"},
        "bob@example.org": {"city": "Berlin"},
        "info@example.org": {"city": "Oslo"},
    }

    # The list shows the subscribers, the role-address warning and the import.
    page.get_by_role("link", name="Back to Harbour news").click()
    expect(page.locator("#count-subscribed")).to_have_text("3")
    expect(page.locator("#subscribers tbody tr")).to_have_count(3)
    expect(page.locator("main")).to_contain_text("harbour-customers.csv")
    page.get_by_label("Search").fill("bob")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#subscribers tbody tr")).to_have_count(1)
    expect(page.locator("#subscribers")).to_contain_text("bob@example.org")
    screenshot(page, "lists-detail")

    # The form builder: the snippet holds the list's public id and is copied to the clipboard.
    page.goto(f"{site.url}/lists/{mailing_list.pk}/")
    page.get_by_role("link", name="Sign-up form").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-up form")
    hosted = f"{site.url}/subscribe/{mailing_list.public_id}/"
    expect(page.locator("#hosted-url")).to_have_text(hosted)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page.get_by_role("button", name="Copy the HTML").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    snippet = page.evaluate("navigator.clipboard.readText()")
    assert snippet == page.get_by_label("HTML to paste into your page").input_value()
    assert f'action="{hosted}"' in snippet
    assert mailing_list.public_id in snippet
    screenshot(page, "lists-form-builder")

    # A visitor, with no session, on the hosted form: consent must be ticked.
    visitor = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    try:
        form_page = visitor.new_page()
        form_page.goto(hosted)
        expect(form_page.get_by_role("heading", level=1)).to_have_text("Subscribe to Harbour news")
        expect(form_page.locator("main")).to_contain_text("A monthly letter about sailings")
        form_page.get_by_label("E-mail address").fill("dora@example.org")
        form_page.get_by_role("button", name="Subscribe").click()
        expect(form_page.locator(".errorlist")).to_contain_text(
            "Tick the box to agree to receive these e-mails."
        )
        assert not Subscriber.objects.filter(email="dora@example.org").exists()
        screenshot(form_page, "lists-hosted-form-error")
        consent = form_page.get_by_label("I agree to receive “Harbour news” from Violet Harbour")
        expect(consent).not_to_be_checked()
        consent.check()
        form_page.get_by_role("button", name="Subscribe").click()
        expect(form_page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
        screenshot(form_page, "lists-hosted-form-thanks")
        dora = Subscriber.objects.get(mailing_list=mailing_list, email="dora@example.org")
        assert dora.status == SubscriberStatus.UNCONFIRMED

        # The confirmation link, opened from the mail, subscribes.
        mail = site.mail.wait_for(to="dora@example.org", subject="Please confirm")
        link = re.search(r"https?://\S+/confirm/\S+", mail.text).group(0)
        form_page.goto(link)
        form_page.get_by_role("button", name="Yes, subscribe me").click()
        expect(form_page.get_by_role("heading", level=1)).to_have_text("Subscription confirmed")
        dora.refresh_from_db()
        assert dora.status == SubscriberStatus.SUBSCRIBED

        # The pasted snippet works from another site too (no CSRF token, another origin).
        other_site = visitor.new_page()
        other_site.set_content(f"<!doctype html><title>Harbour</title>{snippet}")
        other_site.get_by_label("E-mail address").fill("eli@example.org")
        other_site.get_by_label("Name").fill("Eli")
        other_site.get_by_label("I agree to receive").check()
        other_site.get_by_role("button", name="Subscribe").click()
        expect(other_site.get_by_role("heading", level=1)).to_have_text("Check your inbox")
        eli = Subscriber.objects.get(mailing_list=mailing_list, email="eli@example.org")
        assert (eli.name, eli.status) == ("Eli", SubscriberStatus.UNCONFIRMED)
    finally:
        visitor.close()
