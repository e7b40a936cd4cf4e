"""A sender who does not write HTML builds a campaign from a starter template in a real Chromium:
the visual editor changes the text, the HTML source shows the whole layout and back, the draft is
saved, and the preview shows the new text above our footer (issue 22)."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, EmailTemplate
from campaigns.starters import CONTENT_END, CONTENT_START
from tests.browser.conftest import log_in
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_campaign_from_a_starter_in_the_visual_editor(page, site):
    user = UserFactory(email="pat@violet-harbour.example", account__company_name="Violet Ltd")
    account = user.account
    SenderDomainFactory(account=account, domain="news.violet.example", verified_at=timezone.now())
    harbour = MailingListFactory(account=account, name="Harbour news")
    SubscriberFactory(mailing_list=harbour, email="ann.lee@example.org", name="Ann Lee")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, site, user)

    # From the campaigns page to the templates, and a starter into the editor.
    page.goto(site.url + "/campaigns/")
    page.locator("#templates-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Templates")
    page.locator("#starter-newsletter").get_by_role("link", name=re.compile("New campaign")).click()
    # (The page's own heading: the editor's content has a heading of its own.)
    expect(page.locator("main h1").first).to_have_text("New campaign")
    expect(page.get_by_label("Subject")).to_have_value("Our news this month")

    # The visual editor is open on the starter's content; the source textarea is hidden.
    visual = page.get_by_role("button", name="Visual", exact=True)
    source = page.get_by_role("button", name="HTML source")
    expect(visual).to_have_attribute("aria-pressed", "true")
    surface = page.get_by_role("textbox", name="Message content")
    expect(surface).to_contain_text("What is new")
    expect(page.locator("#id_html_body")).to_be_hidden()

    # Change the first paragraph's text visually.
    paragraph = surface.locator("p").first
    paragraph.click()
    page.keyboard.press("Control+A")  # the whole region
    page.keyboard.type("Ferries run hourly from Monday.")
    page.get_by_role("button", name="Bold").click()
    page.keyboard.type(" Book early.")
    html_body = page.locator("#id_html_body")
    expect(html_body).to_have_value(re.compile("Ferries run hourly from Monday"))
    value = html_body.input_value()
    assert value.count(CONTENT_START) == 1 and value.count(CONTENT_END) == 1
    assert "<strong>" in value and "Book early." in value
    assert '<table class="container"' in value  # the layout outside the region is kept

    # The source shows the whole document; an edit there shows in the visual view.
    source.click()
    expect(source).to_have_attribute("aria-pressed", "true")
    expect(html_body).to_be_visible()
    expect(surface).to_be_hidden()
    html_body.fill(value.replace("Ferries run hourly", "Ferries sail hourly"))
    visual.click()
    expect(surface).to_contain_text("Ferries sail hourly from Monday.")
    expect(html_body).to_be_hidden()

    # The live preview follows, footer included; then the draft is saved.
    frame = page.locator("#preview-html")
    expect(frame).to_have_attribute("srcdoc", re.compile("Ferries sail hourly from Monday"))
    page.get_by_label("Campaign name").fill("Spring timetable")
    page.get_by_label("Harbour news (1 subscribed)").check()
    page.get_by_label("From address").fill("news@news.violet.example")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Spring timetable")

    campaign = Campaign.objects.get(account=account)
    assert "Ferries sail hourly from Monday." in campaign.html_body
    assert CONTENT_START in campaign.html_body
    srcdoc = page.locator("#preview-html").get_attribute("srcdoc")
    assert "Ferries sail hourly from Monday." in srcdoc
    assert 'id="compliance-footer"' in srcdoc and ">Unsubscribe</a>" in srcdoc
    assert srcdoc.index("Ferries sail hourly") < srcdoc.index('id="compliance-footer"')

    # Save it as a template, and duplicate it.
    page.locator("#campaign-save-as-template").click()
    page.get_by_label("Template name").fill("Timetable layout")
    page.get_by_role("button", name="Save as template").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Timetable layout")
    assert EmailTemplate.objects.get(account=account).html_body == campaign.html_body
    page.goto(site.url + f"/campaigns/{campaign.pk}/")
    page.locator("#campaign-duplicate").click()
    expect(page.locator("main h1").first).to_have_text("Edit campaign")
    expect(page.get_by_label("Campaign name")).to_have_value("Spring timetable (copy)")
    assert Campaign.objects.filter(account=account).count() == 2
    assert not [e for e in errors if "Content Security Policy" in e or "SyntaxError" in e], errors


def test_a_region_with_markup_the_editor_cannot_hold_stays_in_the_source(page, site):
    """An image in the marked region would be dropped by the visual editor on the first
    keystroke: such a template opens in the source, and asking for the visual view says why."""
    user = UserFactory(email="sam@violet-harbour.example")
    region = '<p>Hello</p><img src="https://violet.example/cake.png" alt="A cake">'
    body = f"<table><tr><td>{CONTENT_START}{region}{CONTENT_END}</td></tr></table>"
    template = EmailTemplate.objects.create(account=user.account, name="Cakes", html_body=body)
    log_in(page, site, user)

    page.goto(f"{site.url}/templates/{template.pk}/edit/")
    expect(page.locator("#id_html_body")).to_be_visible()
    page.get_by_role("button", name="Visual", exact=True).click()
    expect(page.locator("#visual-editor-note")).to_contain_text("no region")
    expect(page.locator("#id_html_body")).to_be_visible()
    assert 'alt="A cake"' in page.locator("#id_html_body").input_value()
