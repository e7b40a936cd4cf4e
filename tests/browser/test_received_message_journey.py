"""Recipients follow the links of a message that really reached them: a moderator approves a
campaign, its probe goes through the delivery code and real SMTP to the sink, and each recipient
opens their own message's footer links in Chromium. Ann unsubscribes on the page her
"Unsubscribe" link opens (the same URL as her List-Unsubscribe header); Bob, whose browser asks
for Russian, reports his as spam with a comment. The database shows each outcome on the
subscriber, the suppression list, the delivery and the probe's feedback.
"""

import struct
import zlib
from email.utils import parseaddr
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from accounts.services import account_brand_update
from campaigns.models import Delivery
from complaints.models import FeedbackEvent
from lists.models import Subscriber, Suppression
from lists.selectors import suppression_of_address
from moderation import services as moderation
from tests.campaigns.factories import submitted_campaign, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMPANY = "Violet Harbour Ltd"
ANN = "ann.lee@example.org"
BOB = "bob.ray@example.org"


class _Links(HTMLParser):
    """Every <a> of an HTML part: (visible text, href), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href", ""), []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((" ".join("".join(self._text).split()), self._href))
            self._href = None


def _link(html: str, text: str) -> str:
    parser = _Links()
    parser.feed(html)
    found = [href for label, href in parser.links if label == text]
    assert len(found) == 1, f"expected one “{text}” link, got {parser.links}"
    return found[0]


def _png(width: int, height: int) -> bytes:
    """A real, decodable PNG of one colour (no Pillow here)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x7c\x3a\x93" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_recipients_unsubscribe_and_report_spam_from_the_message_they_received(
    page, chromium, site, screenshot, settings, tmp_path
):
    # Given a branded sender whose campaign to Ann and Bob is approved: the whole list is the
    # probe here, so both messages go out through the delivery code to the SMTP sink at once.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PROBE_SHARE = 1.0
    account = UserFactory(account__company_name=COMPANY).account
    account_brand_update(
        account=account, logo=SimpleUploadedFile("logo.png", _png(240, 60)), brand_color="#7c3a93"
    )
    SenderDomainFactory(account=account, domain="news.harbour.example", verified_at=timezone.now())
    harbour = MailingListFactory(account=account, name="Harbour news")
    ann = SubscriberFactory(mailing_list=harbour, email=ANN)
    bob = SubscriberFactory(mailing_list=harbour, email=BOB)
    campaign = submitted_campaign(
        harbour,
        from_email="news@news.harbour.example",
        subject="Ferry times",
        html_body="<p>The summer timetable starts on Monday.</p>",
    )
    moderation.decision_approve(
        campaign_id=campaign.pk,
        moderator=UserFactory(is_staff=True),
        version_id=waiting_version(campaign),
    )
    ann_mail = site.mail.wait_for(to=ANN, subject="Ferry times")
    bob_mail = site.mail.wait_for(to=BOB, subject="Ferry times")
    assert parseaddr(ann_mail.message["From"])[1] == "news@news.harbour.example"
    assert Delivery.objects.filter(campaign=campaign, is_probe=True, status="sent").count() == 2

    # Ann's "Unsubscribe" link is hers, on this site, and the one her List-Unsubscribe names.
    unsubscribe_url = _link(ann_mail.html, "Unsubscribe")
    assert unsubscribe_url.startswith(site.url + "/u/")
    assert ann_mail.message["List-Unsubscribe"].startswith(f"<{unsubscribe_url}>, <mailto:")
    assert ann_mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe: {unsubscribe_url}" in ann_mail.text
    assert unsubscribe_url != _link(bob_mail.html, "Unsubscribe")

    # Opening it shows the list, the sender and their logo, and changes nothing yet.
    page.goto(unsubscribe_url)
    expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
    expect(page.locator("main")).to_contain_text(
        f"Stop receiving “Harbour news” from {COMPANY} at {ANN}?"
    )
    logo = page.locator("#brand-logo")
    expect(logo).to_have_attribute("alt", COMPANY)
    assert logo.evaluate("img => img.naturalWidth") == 240  # served and decoded
    expect(page.locator("#sender-name")).to_have_text(COMPANY)
    assert Subscriber.objects.get(pk=ann.pk).status == "subscribed"
    screenshot(page, "received-unsubscribe")

    # The button unsubscribes her and suppresses the address account-wide.
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("#unsubscribed")).to_have_text("You are unsubscribed")
    expect(page.locator("main")).to_contain_text(
        f"You will receive no more e-mail from “Harbour news” of {COMPANY}."
    )
    expect(page.locator("#processed")).to_contain_text("suppressed in under a second")
    screenshot(page, "received-unsubscribed")
    assert Subscriber.objects.get(pk=ann.pk).status == "unsubscribed"
    assert list(
        suppression_of_address(account=account, email=ANN).values_list("reason", flat=True)
    ) == ["unsubscribed"]
    ann_delivery = Delivery.objects.get(campaign=campaign, subscriber=ann)
    assert ann_delivery.unsubscribed_at is not None and ann_delivery.complained_at is None
    unsubscribed = FeedbackEvent.objects.get(kind="unsubscribed")
    assert (unsubscribed.source, unsubscribed.delivery_id, unsubscribed.recipient) == (
        "unsubscribe_page",
        ann_delivery.pk,
        ANN,
    )

    # Bob's browser asks for Russian: his "Report spam" link opens the report page in Russian.
    report_url = _link(bob_mail.html, "Report spam")
    assert report_url.startswith(site.url + "/r/")
    assert f"Report spam: {report_url}" in bob_mail.text
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    context.set_default_timeout(10_000)
    try:
        russian = context.new_page()
        russian.goto(report_url)
        assert russian.locator("html").get_attribute("lang") == "ru"
        expect(
            russian.get_by_role("heading", name="Пожаловаться на это письмо как на спам")
        ).to_be_visible()
        expect(russian.locator("main")).to_contain_text(
            f"Вы получили «Ferry times» от {COMPANY}, не прося об этом?"
        )
        expect(russian.locator("#brand-logo")).to_have_attribute("alt", COMPANY)
        assert Subscriber.objects.get(pk=bob.pk).status == "subscribed"
        screenshot(russian, "received-report")

        russian.get_by_label("Что вы хотите добавить").fill("Я не подписывался на эту рассылку.")
        russian.get_by_role("button", name="Пожаловаться на спам").click()
        expect(russian.locator("#reported")).to_have_text("Спасибо: ваша жалоба записана")
        screenshot(russian, "received-reported")
    finally:
        context.close()

    # The complaint is recorded against Bob's probe message, and he is off the list for good.
    bob_delivery = Delivery.objects.get(campaign=campaign, subscriber=bob)
    complaint = FeedbackEvent.objects.get(kind="complained")
    assert (
        complaint.source,
        complaint.outcome,
        complaint.campaign_id,
        complaint.delivery_id,
        complaint.is_probe,
        complaint.recipient,
        complaint.comment,
    ) == (
        "report_page",
        "applied",
        campaign.pk,
        bob_delivery.pk,
        True,
        BOB,
        "Я не подписывался на эту рассылку.",
    )
    assert bob_delivery.complained_at is not None
    assert Subscriber.objects.get(pk=bob.pk).status == "complained"
    assert list(
        suppression_of_address(account=account, email=BOB).values_list("reason", flat=True)
    ) == ["complained"]
    assert Suppression.objects.filter(account=account).count() == 2
