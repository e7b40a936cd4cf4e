"""A sender watches a staged send in a real Chromium: after approval the campaign page shows the
probe going out and the hold counting down; a recipient's click is counted; when the hold ends
the verdict and its reasons appear and the rest is sent, and the figures and chart follow.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, Delivery
from moderation import services as moderation
from tests.browser.conftest import SCREENSHOT_DIR, log_in
from tests.campaigns.factories import submitted_campaign, subscribe_many
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_sender_watches_probe_hold_verdict_and_release(page, site, settings):
    settings.HOLD_SECONDS = 3600
    user = UserFactory(email="kim@harbour.example")
    account = user.account
    SenderDomainFactory(account=account, domain="news.harbour.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account, name="Harbour news")
    subscribe_many(mailing_list, 120)
    campaign = submitted_campaign(
        mailing_list,
        from_email="news@news.harbour.example",
        subject="Ferry times",
        html_body='<p>Hello</p><p><a href="https://harbour.example/times">Times</a></p>',
    )
    # Tasks run eagerly in this process: the probe goes to the SMTP sink at once.
    moderation.campaign_approve(campaign_id=campaign.pk, moderator=UserFactory(is_staff=True))
    campaign.refresh_from_db()
    assert campaign.status == "holding"

    log_in(page, site, user)
    page.goto(f"{site.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#hold")).to_be_visible()
    countdown = page.locator("#hold-countdown")
    expect(countdown).to_contain_text("left")
    first = countdown.text_content()
    page.wait_for_timeout(1500)
    assert countdown.text_content() != first, "the countdown ticks"
    expect(page.locator("#figure-sent td").first).to_contain_text("12")
    expect(page.locator("#verdict-pending")).to_be_visible()

    # A recipient clicks the link in their message (a person: not seconds after delivery).
    probe_mail = [m for m in site.mail.messages() if m.subject == "Ferry times"]
    assert len(probe_mail) == 12
    Delivery.objects.filter(campaign=campaign).update(sent_at=timezone.now() - timedelta(minutes=5))
    click_path = re.search(r'href="[^"]*(/c/[A-Za-z0-9_-]+/)"', probe_mail[0].html).group(1)
    click_url = site.url + click_path
    # Headless Chromium's own user agent is a scanner's: the recipient's mail app is not.
    person = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    answer = page.request.get(click_url, max_redirects=0, headers={"User-Agent": person})
    assert answer.status == 302 and answer.headers["location"] == "https://harbour.example/times"

    # The hold ends: beat's check judges the probe and releases the rest.
    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now())
    assert moderation.holds_evaluate() == {campaign.pk: "green"}
    page.reload()
    expect(page.locator("#finished")).to_be_visible()
    expect(page.locator("#verdict-tier")).to_have_text("Green")
    expect(page.locator("#verdict-reasons li").first).to_be_visible()
    expect(page.locator("#figure-clicked")).to_contain_text("1")
    expect(page.get_by_role("img", name=re.compile("^Messages sent"))).to_be_visible()
    assert len([m for m in site.mail.messages() if m.subject == "Ferry times"]) == 120
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "staged-send-sent.png"), full_page=True)
