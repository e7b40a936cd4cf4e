"""A sender watches a staged send in a real Chromium, without reloading: the campaign page's
timeline moves from waiting for a moderator to the probe going out and the hold counting down;
polling pauses while the tab is hidden; when the hold ends the verdict appears, then the release
with its progress, then the end, where polling stops. A recipient's click is counted, and a
reload shows the figures, the chart and the clicks per link.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import delivery
from campaigns import views as campaign_views
from campaigns.models import Campaign, Delivery
from moderation import services as moderation
from tests.browser.conftest import log_in
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROGRESS = re.compile(r"/campaigns/\d+/progress/$")


def _current_step(page, key: str) -> None:
    expect(page.locator(f"#step-{key}")).to_have_attribute("aria-current", "step")
    expect(page.locator('#progress-steps [aria-current="step"]')).to_have_count(1)


def _polls_during(page, milliseconds: int) -> int:
    seen = []

    def record(request):
        if PROGRESS.search(request.url):
            seen.append(request.url)

    page.on("request", record)
    page.wait_for_timeout(milliseconds)
    page.remove_listener("request", record)
    return len(seen)


def test_the_sender_watches_the_staged_send_advance_without_reloading(
    page, site, settings, screenshot, monkeypatch
):
    settings.HOLD_SECONDS = 3600
    # The page asks for the timeline every second here (every 5 in production).
    monkeypatch.setattr(campaign_views, "PROGRESS_POLL_SECONDS", 1)
    user = UserFactory(email="kim@harbour.example")
    account = user.account
    SenderDomainFactory(account=account, domain="news.harbour.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account, name="Harbour news")
    subscribe_many(mailing_list, 120)
    campaign = submitted_campaign(
        mailing_list,
        from_email="news@news.harbour.example",
        subject="Ferry times",
        html_body='<p>Hello</p><p><a href="https://harbour.example/times">Times</a>'
        ' <a href="https://harbour.example/fares">Fares</a></p>',
    )

    log_in(page, site, user)
    page.goto(f"{site.url}/campaigns/{campaign.pk}/")
    # Anything that reloads the page would lose this.
    page.evaluate("window.stillTheSamePage = true")
    _current_step(page, "approved")
    expect(page.locator("#progress-live")).to_have_attribute("aria-live", "polite")

    # A moderator approves; tasks run eagerly in this process, so the probe goes to the SMTP
    # sink at once and the hold begins.
    moderation.decision_approve(
        campaign_id=campaign.pk,
        moderator=UserFactory(is_staff=True),
        version_id=waiting_version(campaign),
    )
    _current_step(page, "hold")
    expect(page.locator("#step-probe")).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator("#step-probe")).to_contain_text("To 12 of 120 recipients")
    expect(page.locator("#campaign-status .badge")).to_have_text("Holding")
    expect(page.locator("#progress-stale")).to_be_visible()
    countdown = page.locator("#hold-countdown")
    expect(countdown).to_contain_text("left")
    # The countdown ticks: it changes within 1.5 s (it is polled, not slept through).
    expect(countdown).not_to_have_text(countdown.text_content(), timeout=1500)
    screenshot(page, "staged-send-hold")

    # A hidden tab does not poll; shown again, it asks at once.
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    assert _polls_during(page, 2500) == 0
    with page.expect_request(PROGRESS, timeout=2000):
        page.evaluate(
            "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )

    # A recipient clicks the first link in their message (a person: not seconds after delivery).
    probe_mail = [m for m in site.mail.messages() if m.subject == "Ferry times"]
    assert len(probe_mail) == 12
    Delivery.objects.filter(campaign=campaign).update(sent_at=timezone.now() - timedelta(minutes=5))
    click_path = re.search(r'href="[^"]*(/c/[A-Za-z0-9_-]+/)"', probe_mail[0].html).group(1)
    # Headless Chromium's own user agent is a scanner's: the recipient's mail app is not.
    person = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    answer = page.request.get(
        site.url + click_path, max_redirects=0, headers={"User-Agent": person}
    )
    assert answer.status == 302 and answer.headers["location"] == "https://harbour.example/times"

    # The hold ends: the countdown runs out and the page asks again at once.
    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now())
    _current_step(page, "verdict")
    expect(page.locator("#judging")).to_have_text("The hold is over: the probe is being judged.")

    # Beat's check judges the probe and releases the rest; the release waits for its workers.
    with monkeypatch.context() as patch:
        patch.setattr(delivery, "dispatch", lambda *, campaign_id: 0)
        assert moderation.holds_evaluate() == {campaign.pk: "green"}
    _current_step(page, "release")
    expect(page.locator("#progress-tier")).to_have_text("Green")
    expect(page.locator("#step-verdict")).to_contain_text("the rest was released")
    expect(page.locator("#releasing")).to_contain_text("108 still to go. 12 of 120 sent.")
    expect(page.locator("#campaign-status .badge")).to_have_text("Releasing")

    # The workers send the rest: the timeline ends and stops asking.
    delivery.dispatch(campaign_id=campaign.pk)
    _current_step(page, "done")
    expect(page.locator("#finished")).to_contain_text("Sent to every recipient; finished")
    expect(page.locator("#campaign-status .badge")).to_have_text("Sent")
    expect(page.locator("#send-progress")).to_have_attribute("data-final", "true")
    assert _polls_during(page, 2500) == 0
    assert page.evaluate("window.stillTheSamePage") is True
    assert len([m for m in site.mail.messages() if m.subject == "Ferry times"]) == 120

    # A reload brings the rest of the page up to date.
    page.reload()
    expect(page.locator("#progress-stale")).to_be_hidden()
    expect(page.locator("#verdict-tier")).to_have_text("Green")
    expect(page.locator("#verdict-reasons li").first).to_be_visible()
    expect(page.locator("#figure-clicked")).to_contain_text("1")
    expect(page.locator("#link-0 td")).to_have_text(
        ["https://harbour.example/times", "1", "1", "0.83%", "0"]
    )
    expect(page.locator("#link-1 td").nth(1)).to_have_text("0")
    expect(page.get_by_role("img", name=re.compile("^Messages sent"))).to_be_visible()
    screenshot(page, "staged-send-sent")
