"""The local outbox shows a message's HTML part as well as its text, with a switch between them
(issue 23, item 11): a message goes over real SMTP to the sink and is read on /dev/outbox/."""

import pytest
from django.core.mail import EmailMultiAlternatives
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.outbox.urls"),
]

HTML = (
    '<h1 style="color: #7a3fd6">Winter menu</h1><p>Hot <b>chocolate</b> is back.</p>'
    '<script>parent.document.title = "owned"</script>'
)


def test_the_outbox_switches_between_the_html_and_the_text_part(site, page, settings, screenshot):
    settings.OUTBOX_DIR = str(site.mail.directory)
    message = EmailMultiAlternatives(
        "Winter menu",
        "Hot chocolate is back (text part).",
        "shop@shop.example",
        ["dora@example.org"],
    )
    message.attach_alternative(HTML, "text/html")
    message.send()
    site.mail.wait_for(to="dora@example.org", subject="Winter menu")

    page.goto(site.url + "/dev/outbox/")
    page.get_by_role("link", name="Winter menu").click()

    # The HTML part first, drawn in its sandboxed frame; its script never runs.
    html_tab = page.get_by_role("tab", name="HTML")
    expect(html_tab).to_have_attribute("aria-selected", "true")
    frame = page.frame_locator("#preview-html")
    expect(frame.get_by_role("heading", name="Winter menu")).to_be_visible()
    expect(frame.locator("b")).to_have_text("chocolate")
    expect(page).to_have_title("Winter menu · ConsentMail")
    expect(page.locator("#preview-text")).to_be_hidden()
    screenshot(page, "outbox-html")

    page.get_by_role("tab", name="Text").click()
    expect(page.locator("#preview-text")).to_contain_text("Hot chocolate is back (text part).")
    expect(page.locator("#preview-html")).to_be_hidden()
