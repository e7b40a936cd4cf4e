"""Issue 22's everyday tools together, as a sender uses them in one session of a real Chromium:
tag subscribers, build a segment, start a campaign from a starter template, change its text in the
visual editor, send it to the segment only, see the audience counted on the draft, schedule it in
a time zone and submit; a moderator approves it, and it waits for its time with the segment it
was approved with recorded."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, Delivery, Segment
from campaigns.states import CampaignStatus
from lists.models import SubscriberTag
from tests.browser.conftest import SCREENSHOT_DIR, log_in, save_screenshot
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_tag_segment_starter_schedule_submit_and_approve(page, site, chromium):
    shots = iter(range(1, 100))

    def shot(target, name: str) -> None:
        save_screenshot(target, SCREENSHOT_DIR / f"everyday-{next(shots):02d}-{name}.png")

    user = UserFactory(email="rua@marram-bay.example", account__company_name="Marram Bay Ltd")
    account = user.account
    SenderDomainFactory(account=account, domain="news.marram.example", verified_at=timezone.now())
    bay = MailingListFactory(account=account, name="Bay news")
    ann = SubscriberFactory(mailing_list=bay, email="ann@example.org", name="Ann Lee")
    bob = SubscriberFactory(mailing_list=bay, email="bob@example.org", name="Bob Roe")
    SubscriberFactory(mailing_list=bay, email="cat@example.org", name="Cat Fox")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, site, user)

    # Two of the three readers get the "walkers" tag, each from their page.
    for person in (ann, bob):
        page.goto(f"{site.url}/lists/{bay.pk}/subscribers/{person.pk}/")
        page.get_by_label("Add tags").fill("walkers")
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Tags added: walkers.")
    shot(page, "tagged")
    assert SubscriberTag.objects.filter(subscriber__mailing_list=bay).count() == 2

    # A segment of the list: tagged walkers.
    page.goto(f"{site.url}/campaigns/")
    page.get_by_role("link", name="Segments").first.click()
    page.get_by_role("link", name="Make your first segment").click()
    page.get_by_label("Segment name").fill("Walkers")
    page.get_by_label("Bay news").check()
    page.get_by_label("Condition 1").select_option("tag:has")
    page.locator("#id_c-0-value").fill("walkers")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("status")).to_contain_text("Segment saved.")
    expect(page.locator("#segment-count")).to_contain_text("2 subscribed addresses")
    shot(page, "segment")
    segment = Segment.objects.get(account=account)

    # A new campaign from the newsletter starter; the text changed in the visual editor.
    page.goto(site.url + "/campaigns/")
    page.locator("#templates-link").click()
    page.locator("#starter-newsletter").get_by_role("link", name=re.compile("New campaign")).click()
    expect(page.locator("main h1").first).to_have_text("New campaign")
    surface = page.get_by_role("textbox", name="Message content")
    expect(surface).to_contain_text("What is new")
    surface.locator("p").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("The coast path reopens on Saturday.")
    expect(page.locator("#id_html_body")).to_have_value(re.compile("The coast path reopens"))
    page.get_by_label("Campaign name").fill("Coast path")
    # The segment is the audience; the whole list is not ticked.
    page.get_by_label("Walkers").check()
    expect(page.get_by_role("checkbox", name="Bay news (3 subscribed)")).not_to_be_checked()
    page.get_by_label("From address").fill("news@news.marram.example")
    shot(page, "editor")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Coast path")
    campaign = Campaign.objects.get(account=account)
    assert "The coast path reopens on Saturday." in campaign.html_body
    assert list(campaign.lists.all()) == []
    assert list(campaign.segments.all()) == [segment]

    # The draft counts its audience: the two walkers.
    expect(page.locator("#campaign-segments")).to_have_text("Walkers")
    expect(page.locator("#recipient-count")).to_have_text("2")
    shot(page, "draft")

    # Scheduled for 08:00 in Auckland, three days on.
    wall = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%d") + " 08:00"
    page.get_by_role("link", name="Schedule it").click()
    # Until the page's load event its deferred schedule-zone.js may still pick the browser's zone
    # (UTC) over the one chosen below: it did once at load ~20.
    page.wait_for_url(f"{site.url}/campaigns/{campaign.pk}/schedule/", wait_until="load")
    page.get_by_label("Date and time").fill(wall.replace(" ", "T"))
    page.get_by_label("Time zone").select_option("Pacific/Auckland")
    page.get_by_role("button", name="Save the schedule").click()
    expect(page.locator("ul.messages")).to_contain_text("Schedule saved.")
    expect(page.locator("#schedule")).to_contain_text(f"{wall} (Pacific/Auckland)")
    # The schedule kept the audience.
    expect(page.locator("#campaign-segments")).to_have_text("Walkers")
    expect(page.locator("#recipient-count")).to_have_text("2")
    shot(page, "scheduled")

    page.get_by_role("button", name="Submit for moderation").click()
    expect(page.locator("#campaign-status")).to_have_text("Submitted for moderation")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SUBMITTED
    submitted = campaign.submitted_version
    assert [s["name"] for s in submitted.segments] == ["Walkers"]

    # A moderator approves it in their own session.
    moderator = UserFactory(email="mo@consentmail.example", is_staff=True, account=None)
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        review = context.new_page()
        log_in(review, site, moderator, landing="/moderation/")
        review.goto(f"{site.url}/moderation/campaigns/{campaign.pk}/")
        expect(review.get_by_role("heading", level=1)).to_have_text("Coast path")
        shot(review, "review")
        approve = review.locator("#decision-approve")
        expect(approve).to_contain_text("goes out at the scheduled start")
        approve.get_by_role("button").click()
        expect(review.get_by_role("status")).to_contain_text(
            f"Approved “Coast path”: its probe waits for its start, {wall} (Pacific/Auckland)."
        )
        shot(review, "approved")
    finally:
        context.close()

    # Approved, it waits for its time: no probe yet; what was approved keeps the segment.
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    assert campaign.approved_version_id == submitted.pk
    assert [s["name"] for s in campaign.approved_version.segments] == ["Walkers"]
    assert not Delivery.objects.filter(campaign=campaign).exists()
    assert (
        campaign.scheduled_at.astimezone(ZoneInfo("Pacific/Auckland")).strftime("%Y-%m-%d %H:%M")
        == wall
    )
    page.goto(f"{site.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#schedule-note")).to_contain_text("Approved. The probe starts at")
    expect(page.locator("#waiting-for-schedule")).to_contain_text("(Pacific/Auckland)")
    shot(page, "waiting")
    assert not [e for e in errors if "Content Security Policy" in e or "SyntaxError" in e], errors
