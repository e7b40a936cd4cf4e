"""A sender schedules a draft in a real Chromium: the form offers the browser's own time zone,
the sender picks another, the campaign page, its history and the index show the time in the
zone chosen; after approval the page says the probe waits for it, and the sender moves it."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from tests.browser.conftest import DESKTOP, log_in
from tests.campaigns.factories import CampaignFactory, approve_now, submitted_campaign
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sao_paulo_page(chromium):
    """A page whose browser lives in São Paulo (its Intl time zone)."""
    context = chromium.new_context(
        viewport=DESKTOP, locale="en-GB", timezone_id="America/Sao_Paulo"
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _wall(days: int) -> str:
    day = timezone.now() + timedelta(days=days)
    return day.strftime("%Y-%m-%d") + " 09:30"


def test_schedule_a_draft_in_a_chosen_zone_see_it_and_change_it(
    sao_paulo_page, site, screenshot, django_capture_on_commit_callbacks
):
    page = sao_paulo_page
    user = UserFactory(email="pat@violet-harbour.example")
    account = user.account
    SenderDomainFactory(account=account, domain="news.violet.example", verified_at=timezone.now())
    harbour = MailingListFactory(account=account, name="Harbour news")
    SubscriberFactory(mailing_list=harbour, email="ann.lee@example.org", name="Ann Lee")
    campaign = CampaignFactory(
        account=account,
        name="Spring timetable",
        lists=[harbour],
        from_email="news@news.violet.example",
    )
    log_in(page, site, user)

    # The draft's page: no schedule yet; the link leads to the schedule's page.
    page.goto(f"{site.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#schedule")).to_contain_text("As soon as a moderator approves it")
    page.get_by_role("link", name="Schedule it").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("When “Spring timetable” goes")
    # The browser's own zone is offered first.
    expect(page.get_by_label("Time zone")).to_have_value("America/Sao_Paulo")

    # 09:30 in Berlin, chosen explicitly.
    first = _wall(3)
    page.get_by_label("Date and time").fill(first.replace(" ", "T"))
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    screenshot(page, "campaign-schedule")
    page.get_by_role("button", name="Save the schedule").click()

    expect(page.locator("ul.messages")).to_contain_text("Schedule saved.")
    expect(page.locator("#schedule")).to_contain_text(f"{first} (Europe/Berlin)")
    expect(page.locator("#history")).to_contain_text(f"Scheduled for {first} (Europe/Berlin)")
    stored = Campaign.objects.get(pk=campaign.pk)
    assert (
        stored.scheduled_at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M")
        == first
    )
    screenshot(page, "campaign-scheduled")

    # The index shows it too.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page.locator("#campaigns")).to_contain_text(f"Starts {first} (Europe/Berlin)")

    # A time in the past is refused on its field, and nothing changes.
    page.goto(f"{site.url}/campaigns/{campaign.pk}/schedule/")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    page.get_by_label("Date and time").fill("2021-01-01T10:00")
    page.get_by_role("button", name="Save the schedule").click()
    expect(page.locator("#id_scheduled_at_errors")).to_contain_text("has passed")

    # Changed: another day, in Tokyo.
    second = _wall(4)
    page.get_by_label("Date and time").fill(second.replace(" ", "T"))
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save the schedule").click()
    expect(page.locator("#schedule")).to_contain_text(f"{second} (Asia/Tokyo)")
    expect(page.locator("#history")).to_contain_text(f"Scheduled for {second} (Asia/Tokyo)")

    # Submitted and approved, the campaign waits for its time and can still be moved.
    Campaign.objects.filter(pk=campaign.pk).delete()
    approved = submitted_campaign(harbour, name="Summer timetable")
    Campaign.objects.filter(pk=approved.pk).update(
        scheduled_at=timezone.now() + timedelta(days=2), schedule_timezone="Asia/Tokyo"
    )
    approved = approve_now(approved, UserFactory(is_staff=True), django_capture_on_commit_callbacks)
    assert approved.status == "approved"
    page.goto(f"{site.url}/campaigns/{approved.pk}/")
    expect(page.locator("#schedule-note")).to_contain_text("Approved. The probe starts at")
    expect(page.locator("#waiting-for-schedule")).to_contain_text("(Asia/Tokyo)")
    screenshot(page, "campaign-approved-waiting")
    page.get_by_role("link", name="Change the schedule").click()
    third = _wall(5)
    page.get_by_label("Date and time").fill(third.replace(" ", "T"))
    page.get_by_role("button", name="Save the schedule").click()
    expect(page.locator("#schedule")).to_contain_text(f"{third} (Asia/Tokyo)")
    approved.refresh_from_db()
    assert approved.status == "approved"
