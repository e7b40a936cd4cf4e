"""A sender writes a campaign in a real Chromium: the live preview follows the typing (the HTML in a
sandboxed frame, the text, the subject, footer included), the draft is saved, a test goes to their
own address through a real SMTP sink, and the campaign is submitted for moderation.
"""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, CampaignTestSend
from campaigns.states import CampaignStatus
from tests.browser.conftest import log_in
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_write_preview_test_and_submit_a_campaign(page, site, screenshot):
    user = UserFactory(
        email="pat@violet-harbour.example", account__company_name="Violet Harbour Ltd"
    )
    account = user.account
    SenderDomainFactory(account=account, domain="news.violet.example", verified_at=timezone.now())
    harbour = MailingListFactory(account=account, name="Harbour news")
    SubscriberFactory(mailing_list=harbour, email="ann.lee@example.org", name="Ann Lee")
    log_in(page, site, user)

    # The campaigns page starts empty and leads to the editor.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    expect(page.locator("#no-campaigns")).to_contain_text("No campaigns yet")
    screenshot(page, "campaigns-empty")
    page.get_by_role("link", name="New campaign").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New campaign")
    expect(page.get_by_label("From name")).to_have_value("Violet Harbour Ltd")
    page.evaluate("window.notReloaded = true")

    # The form; the preview follows what is typed, without a reload.
    page.get_by_label("Campaign name").fill("Spring timetable")
    page.get_by_label("Harbour news (1 subscribed)").check()
    page.get_by_label("Subject").fill("Sailings for {{ subscriber.first_name }}")
    page.get_by_label("From address").fill("news@news.violet.example")
    body = page.get_by_label("HTML body")
    body.click()
    body.press_sequentially(
        "<h1>Spring timetable</h1><p>Hello {{ subscriber.name }}, the ferries run hourly.</p>"
    )
    frame = page.locator("#preview-html")
    expect(frame).to_have_attribute("srcdoc", re.compile("Hello Ann Lee, the ferries run hourly"))
    srcdoc = frame.get_attribute("srcdoc")
    assert 'id="compliance-footer"' in srcdoc
    assert ">Unsubscribe</a>" in srcdoc
    assert "Harbour news" in srcdoc  # why Ann gets it
    assert frame.get_attribute("sandbox") == ""
    expect(page.locator("#preview-subject")).to_have_text("Sailings for Ann")
    expect(page.locator("#preview-from")).to_have_text(
        "Violet Harbour Ltd <news@news.violet.example>"
    )
    expect(page.locator("#preview-to")).to_have_text("Ann Lee <ann.lee@example.org>")
    # The message shows in the frame, and can run nothing in it.
    inner = page.frame_locator("#preview-html")
    expect(inner.get_by_role("heading", name="Spring timetable")).to_be_visible()
    expect(inner.get_by_role("link", name="Unsubscribe")).to_be_visible()

    # The text version, on its tab.
    page.get_by_role("tab", name="Text").click()
    text = page.locator("#preview-text")
    expect(text).to_be_visible()
    expect(frame).to_be_hidden()
    expect(text).to_contain_text("Hello Ann Lee, the ferries run hourly.")
    expect(text).to_contain_text("Unsubscribe: http")
    page.get_by_role("tab", name="HTML").click()
    expect(frame).to_be_visible()

    # A merge tag outside the sandbox is explained live, on the field and in the preview.
    subject = page.get_by_label("Subject")
    subject.fill("Sailings for {{ settings.SECRET_KEY }}")
    errors = page.locator("#preview-errors")
    expect(errors).to_contain_text("Subject: The merge tag {{settings.SECRET_KEY}} is not allowed")
    expect(page.locator("#id_subject_live_errors")).to_contain_text("is not allowed")
    expect(subject).to_have_attribute("aria-invalid", "true")
    subject.fill("Sailings for {{ subscriber.first_name }}")
    expect(errors).to_be_empty()
    expect(subject).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#preview-subject")).to_have_text("Sailings for Ann")
    assert page.evaluate("window.notReloaded") is True
    assert not Campaign.objects.exists()
    screenshot(page, "campaigns-editor")

    # Saved, it is a draft with its own page.
    page.get_by_role("button", name="Save draft").click()
    campaign = Campaign.objects.get()
    expect(page).to_have_url(f"{site.url}/campaigns/{campaign.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Spring timetable")
    expect(page.locator("#campaign-status")).to_have_text("Draft")
    expect(page.get_by_role("status")).to_contain_text("Draft “Spring timetable” saved.")
    expect(page.locator("#recipient-count")).to_have_text("1")
    expect(page.frame_locator("#preview-html").get_by_text("Hello Ann Lee")).to_be_visible()

    # A test goes to the sender's own address, through the real SMTP sink.
    page.get_by_role("button", name="Send a test to pat@violet-harbour.example").click()
    expect(page.get_by_role("status")).to_contain_text("Test sent to pat@violet-harbour.example.")
    message = site.mail.wait_for(to="pat@violet-harbour.example", subject="[Test]")
    assert message.subject == "[Test] Sailings for Ann"
    assert "Hello Ann Lee, the ferries run hourly." in message.text
    assert "Unsubscribe: " in message.text
    assert "ann.lee@example.org" not in message.to
    assert CampaignTestSend.objects.filter(campaign=campaign).count() == 1
    expect(page.locator("#test-sends")).to_contain_text("to pat@violet-harbour.example")
    screenshot(page, "campaigns-detail")

    # Submitted, it waits for a moderator.
    page.get_by_role("button", name="Submit for moderation").click()
    expect(page.get_by_role("status")).to_contain_text("Submitted for moderation.")
    expect(page.locator("#campaign-status")).to_have_text("Submitted for moderation")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SUBMITTED
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Withdraw to edit")).to_be_visible()
    screenshot(page, "campaigns-submitted")

    # The list shows it with its badge.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    row = page.locator("#campaigns tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Spring timetable")
    expect(row.locator(".badge")).to_have_text("Submitted for moderation")
    screenshot(page, "campaigns-list")


def test_the_editor_works_without_javascript(chromium, site, screenshot):
    user = UserFactory(email="lou@violet-harbour.example")
    SenderDomainFactory(
        account=user.account, domain="news.violet.example", verified_at=timezone.now()
    )
    harbour = MailingListFactory(account=user.account, name="Harbour news")
    SubscriberFactory(mailing_list=harbour, email="ann.lee@example.org", name="Ann Lee")
    context = chromium.new_context(java_script_enabled=False, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, site, user)
        page.goto(site.url + "/campaigns/new/")
        page.get_by_label("Campaign name").fill("Plain")
        page.get_by_label("Harbour news (1 subscribed)").check()
        page.get_by_label("Subject").fill("Hi {{ subscriber.first_name }}")
        page.get_by_label("From address").fill("news@news.violet.example")
        page.get_by_label("HTML body").fill("<p>Works without scripts.</p>")

        # "Update preview" draws the preview on the server and saves nothing.
        page.get_by_role("button", name="Update preview").click()
        expect(page.locator("#preview-subject")).to_have_text("Hi Ann")
        expect(page.locator("#preview-html")).to_have_attribute(
            "srcdoc", re.compile("Works without scripts.")
        )
        expect(page.locator("#preview-text")).to_be_visible()  # both versions, no tabs
        expect(page.locator("#tab-text")).to_be_hidden()
        expect(page.get_by_label("HTML body")).to_have_value("<p>Works without scripts.</p>")
        assert not Campaign.objects.exists()
        screenshot(page, "campaigns-editor-nojs")

        page.get_by_role("button", name="Save draft").click()
        expect(page.locator("#campaign-status")).to_have_text("Draft")
        assert Campaign.objects.get().name == "Plain"
    finally:
        context.close()
