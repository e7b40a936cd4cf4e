"""A recipient, in a real Chromium, follows the links of a message: the unsubscribe page names
the list and the sender and unsubscribes on the button (not on opening the page); the report
page records a complaint with a comment; the public abuse form files a report."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import MessageTokens
from complaints.models import AbuseReport, FeedbackEvent
from lists.models import Subscriber
from tests.browser.conftest import SCREENSHOT_DIR, save_screenshot
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _message():
    account = UserFactory(account__company_name="Violet Harbour Ltd").account
    harbour = MailingListFactory(account=account, name="Harbour news")
    campaign = CampaignFactory(account=account, lists=[harbour], status="sent", subject="Ferries")
    ann = SubscriberFactory(mailing_list=harbour, email="ann.lee@example.org")
    bob = SubscriberFactory(mailing_list=harbour, email="bob.ray@example.org")
    for subscriber in (ann, bob):
        Delivery.objects.create(
            campaign=campaign, subscriber=subscriber, provider="other", status=DeliveryStatus.SENT
        )
    return campaign, ann, bob


def test_a_recipient_unsubscribes_and_another_reports_spam(page, site, screenshot):
    campaign, ann, bob = _message()
    ann_tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=ann.pk)
    bob_tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=bob.pk)

    page.goto(f"{site.url}/u/{ann_tokens.unsubscribe()}/")
    expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
    expect(page.locator("main")).to_contain_text("“Harbour news” from Violet Harbour Ltd")
    assert Subscriber.objects.get(pk=ann.pk).status == "subscribed"  # opening changed nothing
    screenshot(page, "recipient-unsubscribe")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("#unsubscribed")).to_have_text("You are unsubscribed")
    expect(page.locator("#processed")).to_contain_text("suppressed in under a second")
    screenshot(page, "recipient-unsubscribed")
    assert Subscriber.objects.get(pk=ann.pk).status == "unsubscribed"

    page.goto(f"{site.url}/r/{bob_tokens.report()}/")
    page.get_by_label("Anything you want to add").fill("I never signed up.")
    page.get_by_role("button", name="Report as spam").click()
    expect(page.locator("#reported")).to_be_visible()
    complaint = FeedbackEvent.objects.get(kind="complained")
    assert (complaint.recipient, complaint.comment) == ("bob.ray@example.org", "I never signed up.")
    assert Subscriber.objects.get(pk=bob.pk).status == "complained"

    page.goto(f"{site.url}/u/not-a-token/")
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()


def test_anyone_reports_abuse_through_the_public_form(page, site, screenshot):
    campaign, ann, _ = _message()
    ref = MessageTokens(campaign_id=campaign.pk, subscriber_id=ann.pk).message_ref()

    page.goto(f"{site.url}/abuse/")
    page.get_by_label("Your e-mail address").fill("angry@example.net")
    page.get_by_label("The message's headers or full text").fill(
        f"Message-ID: <{ref}@news.example>\nSubject: Ferries\n"
    )
    page.get_by_label("What happened").fill("Unsolicited.")
    screenshot(page, "abuse-form")
    page.get_by_role("button", name="Send the report").click()
    expect(page.locator("#abuse-received")).to_be_visible()

    report = AbuseReport.objects.get()
    assert (report.campaign_id, report.account_id, report.matched_by) == (
        campaign.pk,
        campaign.account_id,
        "message_ref",
    )


# Controls a recipient taps: each at least 44 px high (the honeypot is off-screen and skipped; a
# checkbox is tapped anywhere on its label).
_TAP_TARGETS = """() => Array.from(document.querySelectorAll(
    'button, select, textarea, input:not([type=hidden]), a.button'))
  .filter(el => !el.closest('.hp'))
  .map(el => el.type === 'checkbox' && el.closest('label') ? el.closest('label') : el)
  .map(el => ({what: el.outerHTML.slice(0, 60), height: el.getBoundingClientRect().height}))"""
_OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
# Text on every button against the button's own background (WCAG contrast ratio).
_BUTTON_CONTRAST = """() => {
  const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {
      v = v / 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  return Array.from(document.querySelectorAll('button, a.button')).map(el => {
    const s = getComputedStyle(el), a = lum(s.color), b = lum(s.backgroundColor);
    return {what: el.textContent.trim(),
            ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
  });
}"""
_FOCUSED = "() => document.activeElement.id || document.activeElement.textContent.trim()"


def _png(width: int, height: int) -> bytes:
    """A real, decodable PNG of one colour (no Pillow here)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x1f\x3a\x93" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _branded_message(settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path / "media")
    campaign, ann, bob = _message()
    account = campaign.account
    account.company_name = "Violet Harbour Ferries and Coastal Excursions International Ltd"
    # Wider than a phone: the page must scale it down, not scroll.
    account.logo.save("0123456789abcdef0123456789abcdef", SimpleUploadedFile("x", _png(800, 200)))
    account.logo_content_type = "image/png"
    account.brand_color = "#a86821"
    account.save()
    return campaign, ann, bob


def test_recipient_pages_fit_a_phone_in_russian_and_work_without_javascript(
    chromium, site, screenshot, settings, tmp_path
):
    from playwright.sync_api import expect

    campaign, ann, bob = _branded_message(settings, tmp_path)
    harbour = ann.mailing_list
    harbour.double_opt_in = True
    harbour.save()
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=ann.pk)
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, locale="ru-RU", java_script_enabled=False
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        pages = {
            "recipient-subscribe-ru": f"/subscribe/{harbour.public_id}/",
            "recipient-unsubscribe-ru": f"/u/{tokens.unsubscribe()}/",
            "recipient-report-ru": f"/r/{tokens.report()}/",
            "recipient-abuse-ru": "/abuse/",
        }
        for name, path in pages.items():
            page.goto(site.url + path)
            assert page.locator("html").get_attribute("lang") == "ru", path
            assert page.evaluate(_OVERFLOW) <= 0, f"{path} scrolls sideways"
            small = [t for t in page.evaluate(_TAP_TARGETS) if t["height"] < 44]
            assert small == [], f"{path}: tap targets under 44 px: {small}"
            faint = [b for b in page.evaluate(_BUTTON_CONTRAST) if b["ratio"] < 4.5]
            assert faint == [], f"{path}: buttons under 4.5:1 contrast: {faint}"
            if path != "/abuse/":
                logo = page.locator("#brand-logo")
                expect(logo).to_have_attribute("alt", campaign.account.company_name)
                assert logo.evaluate("img => img.naturalWidth") == 800  # served and decoded
                assert logo.bounding_box()["width"] <= 390
            save_screenshot(page, SCREENSHOT_DIR / f"{name}-mobile.png")

        # The main job needs no JavaScript: sign up on the hosted form, in Russian.
        page.goto(f"{site.url}/subscribe/{harbour.public_id}/")
        page.get_by_label("Адрес электронной почты").fill("cleo@example.org")
        page.get_by_label("Я соглашаюсь получать «Harbour news»").check()
        page.get_by_role("button", name="Подписаться").click()
        expect(page.get_by_role("heading", name="Проверьте почту")).to_be_visible()
        message = site.mail.wait_for(
            to="cleo@example.org", subject="Подтвердите подписку на «Harbour news»"
        )
        assert "Подтвердите подписку, открыв эту ссылку:" in message.text
    finally:
        context.close()


def test_recipient_pages_keep_a_visible_focus_in_a_sensible_order(page, site, settings, tmp_path):
    campaign, ann, _ = _branded_message(settings, tmp_path)
    page.goto(f"{site.url}/subscribe/{ann.mailing_list.public_id}/")

    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate(_FOCUSED))
    # The skip link, the sender's privacy policy (in the notice above the form), the form's
    # fields top to bottom, its button, then the language switcher.
    company = ann.mailing_list.account.company_name
    policy = ann.mailing_list.privacy_policy_url
    assert order == [
        "Skip to content",
        f"Privacy policy of {company}: {policy}",
        "id_email",
        "id_name",
        "id_consent",
        "Subscribe",
        "language-choice",
        "Change",
    ], order
    page.keyboard.press("Shift+Tab")
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert outline[0] != "none" and outline[1] >= 2
