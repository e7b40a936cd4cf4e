"""The Content-Security-Policy in a real Chromium: the pages work under it with no violation (the
sender's pages, the editor and the campaign with the mail preview, the moderator's review, the
recipient's pages, the API docs), the mail preview still shows the message's inline styles and a
remote image, the policy really refuses an inline style elsewhere, and another site cannot frame
our pages.

A second HTTP server on 127.0.0.1 (another origin) serves the remote image and the framing page.
"""

from __future__ import annotations

import re
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.tokens import MessageTokens
from tests.browser.conftest import log_in
from tests.campaigns.factories import CampaignFactory, submitted_campaign
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _png(width: int, height: int) -> bytes:
    """A red PNG of the given size, made here (no binary fixture)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png(2, 1)


class _OtherSite(BaseHTTPRequestHandler):
    frame_target = ""

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/logo.png":
            body, kind = PNG, "image/png"
        else:
            body = f'<!doctype html><iframe id="ours" src="{self.frame_target}"></iframe>'.encode()
            kind = "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def other_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtherSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Violations:
    """Console messages about the policy, from the page and its frames."""

    def __init__(self, page):
        self.messages: list[str] = []
        page.on("console", self._console)

    def _console(self, message):
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.messages.append(message.text)

    def take(self) -> list[str]:
        taken, self.messages = self.messages, []
        return taken


def test_the_pages_work_under_the_policy(page, chromium, site, other_site):
    sender = UserFactory(email="kai@amber-quay.example", account__company_name="Amber Quay Ltd")
    account = sender.account
    SenderDomainFactory(account=account, domain="news.amber.example", verified_at=timezone.now())
    quay = MailingListFactory(account=account, name="Quay news")
    reader = SubscriberFactory(mailing_list=quay, email="ann@example.org", name="Ann Lee")
    campaign = CampaignFactory(
        account=account,
        lists=[quay],
        name="Harbour lights",
        from_email="news@news.amber.example",
        html_body=(
            '<p style="color: #ff0000">Red notice for {{ subscriber.name }}</p>'
            f'<p><img src="{other_site}/logo.png" alt="Logo" width="20"></p>'
        ),
    )
    violations = Violations(page)

    log_in(page, site, sender)
    for path in ("/dashboard/", "/lists/", f"/lists/{quay.pk}/form/", "/account/domains/"):
        page.goto(site.url + path)
        expect(page.locator("h1")).to_be_visible()
    # The form builder's copy button is shown by its script (hidden without one).
    page.goto(f"{site.url}/lists/{quay.pk}/form/")
    expect(page.locator("#copy-snippet")).to_be_visible()
    assert violations.take() == []

    # The campaign's page: the preview frame shows the mail's inline style and remote image.
    page.goto(f"{site.url}/campaigns/{campaign.pk}/")
    inner = page.frame_locator("#preview-html")
    # (The sanitiser drops ids: the elements are found by their text and alt.)
    red = inner.get_by_text("Red notice for Ann Lee")
    expect(red).to_be_visible()
    assert red.evaluate("e => getComputedStyle(e).color") == "rgb(255, 0, 0)"
    logo = inner.get_by_alt_text("Logo")
    expect(logo).to_be_visible()
    # decode() settles once the image has loaded (or rejects if it was refused).
    assert logo.evaluate("e => e.decode().then(() => e.naturalWidth)") == 2
    # The editor's live preview too (its script fetches the preview and fills the frame).
    page.goto(f"{site.url}/campaigns/{campaign.pk}/edit/")
    page.get_by_label("Subject").fill("Lights for {{ subscriber.first_name }}")
    expect(page.locator("#preview-subject")).to_have_text("Lights for Ann")
    expect(page.frame_locator("#preview-html").get_by_text("Red notice")).to_be_visible()
    assert violations.take() == []
    # The visual editor (issue 22): its module and django-prose-editor's bundle load and edit
    # with no violation (Tiptap injects no <style>: injectCSS is off).
    page.goto(f"{site.url}/campaigns/new/?starter=digest")
    surface = page.get_by_role("textbox", name="Message content")
    expect(surface).to_contain_text("First story")
    surface.locator("p").first.click()
    page.keyboard.type(" More.")
    expect(page.locator("#id_html_body")).to_have_value(re.compile("More."))
    for path in ("/templates/", "/templates/starters/promotion/", "/templates/new/"):
        page.goto(site.url + path)
        expect(page.locator("h1")).to_be_visible()
    assert violations.take() == []

    # Elsewhere the policy does refuse an inline style (the widening is only for the preview).
    page.goto(site.url + "/dashboard/")
    with page.expect_console_message(lambda m: "style-src" in m.text):
        color = page.evaluate(
            """() => {
                const probe = document.createElement("div");
                probe.innerHTML = '<span style="color: #ff0000">probe</span>';
                document.body.appendChild(probe);
                return getComputedStyle(probe.firstChild).color;
            }"""
        )
    assert color != "rgb(255, 0, 0)"
    assert len(violations.take()) == 1

    # The moderator's review, in a browser of their own.
    submitted = submitted_campaign(
        quay, name="Night sailings", html_body=campaign.html_body, from_email=campaign.from_email
    )
    moderator = UserFactory(email="mod@example.com", account=None, is_staff=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        staff_page = context.new_page()
        staff_violations = Violations(staff_page)
        log_in(staff_page, site, moderator, landing=None)
        staff_page.wait_for_url(lambda url: "/login/" not in url)
        staff_page.goto(f"{site.url}/moderation/campaigns/{submitted.pk}/")
        expect(staff_page.frame_locator("#preview-html").get_by_text("Red notice")).to_be_visible()
        staff_page.goto(f"{site.url}/moderation/")
        expect(staff_page.locator("h1")).to_be_visible()
        assert staff_violations.take() == []
    finally:
        context.close()

    # The recipient's pages and the API docs, signed out.
    page.context.clear_cookies()
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=reader.pk)
    for path in (f"/subscribe/{quay.public_id}/", f"/u/{tokens.unsubscribe()}/", "/abuse/"):
        page.goto(site.url + path)
        expect(page.locator("h1")).to_be_visible()
    page.goto(site.url + "/api/v1/docs/")
    # Generating the schema takes a while on a busy machine.
    expect(page.get_by_role("heading", name="GET /api/v1/account/", exact=True)).to_be_visible(
        timeout=60_000
    )
    assert violations.take() == []


def test_another_site_cannot_frame_our_pages(page, site, other_site):
    quay = MailingListFactory(name="Quay news")
    _OtherSite.frame_target = f"{site.url}/subscribe/{quay.public_id}/"
    # Chromium refuses to render our page inside another origin's, and says why.
    with page.expect_console_message(lambda m: "frame-ancestors 'none'" in m.text):
        page.goto(other_site + "/frame.html")
    expect(page.frame_locator("#ours").get_by_text("Quay news")).to_have_count(0)
