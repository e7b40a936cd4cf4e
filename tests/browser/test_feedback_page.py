"""A sender reads what recipients reported in a real Chromium: the health panel on the dashboard,
then the "Unsubscribes and complaints" page with its latency figure, its tabs and a complaint's
comment, filtered by campaign; the abuse tab never names the reporter."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import MessageTokens
from complaints.models import AbuseReport, FeedbackKind
from complaints.services import Feedback, feedback_apply
from tests.browser.conftest import log_in
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _report(campaign, email: str, kind: str, *, source: str, event_id: str, **fields) -> None:
    subscriber = SubscriberFactory(mailing_list=campaign.lists.first(), email=email)
    Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        status=DeliveryStatus.SENT,
        sent_at=timezone.now() - timedelta(hours=3),
    )
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=subscriber.pk)
    feedback_apply(
        Feedback(
            source=source,
            event_id=event_id,
            kind=kind,
            message_ref=tokens.message_ref(),
            **fields,
        )
    )


def test_the_sender_reads_unsubscribes_complaints_and_abuse_reports(page, site, screenshot):
    user = UserFactory(account__company_name="Violet Harbour Ltd")
    account = user.account
    harbour = MailingListFactory(account=account, name="Harbour news")
    spring = CampaignFactory(
        account=account, lists=[harbour], status="sent", name="Spring timetable"
    )
    summer = CampaignFactory(
        account=account, lists=[harbour], status="sent", name="Summer timetable"
    )
    _report(spring, "ann.lee@example.org", "unsubscribed", source="one_click", event_id="u1")
    _report(summer, "bob.ray@example.org", "unsubscribed", source="unsubscribe_page", event_id="u2")
    _report(
        spring,
        "carl.dee@example.org",
        FeedbackKind.COMPLAINED,
        source="report_page",
        event_id="c1",
        comment="I only bought a ticket once, I never asked for newsletters.",
    )
    AbuseReport.objects.create(
        reporter_email="whistle.blower@example.net",
        ip="198.51.100.23",
        comment="Wendy here",
        account=account,
        campaign=spring,
        status="dismissed",
        resolution_note="The consent records for this list are in order.",
        resolved_at=timezone.now(),
    )
    log_in(page, site, user)

    # The dashboard's compact panel: too few messages to judge yet.
    panel = page.locator("#account-health")
    expect(panel).to_contain_text("Not enough data")
    expect(panel).to_contain_text("3 messages sent in the last 30 days")
    screenshot(page, "feedback-dashboard-health")
    panel.get_by_role("link", name="Unsubscribes & complaints").click()

    expect(page).to_have_url(site.url + "/feedback/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribes and complaints")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Complaints", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator("#unsubscribe-latency")).to_contain_text(
        "Unsubscribes take effect immediately: median"
    )
    expect(page.locator("#unsubscribe-latency")).to_contain_text(
        "over 2 unsubscribes; mailbox providers require under 2 days."
    )
    table = page.locator("#feedback-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("ann.lee@example.org")
    expect(table).to_contain_text("One-click unsubscribe (RFC 8058)")
    expect(table).to_contain_text("Harbour news")
    screenshot(page, "feedback-unsubscribes")

    # The complaints tab, with the recipient's own words.
    tabs = page.get_by_role("navigation", name="Kinds of feedback")
    tabs.get_by_role("link", name="Complaints").click()
    expect(page).to_have_url(site.url + "/feedback/?tab=complaints")
    expect(tabs.get_by_role("link", name="Complaints")).to_have_attribute("aria-current", "page")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("carl.dee@example.org")
    expect(table).to_contain_text("I only bought a ticket once, I never asked for newsletters.")
    screenshot(page, "feedback-complaints")

    # Bounces: none yet, and the page says what would appear.
    tabs.get_by_role("link", name="Bounces").click()
    expect(page.locator("#feedback-empty")).to_contain_text("No bounces.")

    # The abuse report: the moderator's decision, never who reported it.
    tabs.get_by_role("link", name="Abuse reports").click()
    expect(table).to_contain_text("Dismissed")
    expect(table).to_contain_text("The consent records for this list are in order.")
    expect(page.locator("main")).not_to_contain_text("whistle.blower")
    expect(page.locator("main")).not_to_contain_text("Wendy")
    screenshot(page, "feedback-abuse")

    # Back to the unsubscribes, of one campaign only.
    tabs.get_by_role("link", name="Unsubscribes").click()
    page.get_by_label("Campaign").select_option(label="Summer timetable")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{site.url}/feedback/?tab=unsubscribes&campaign={summer.pk}")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("bob.ray@example.org")
    expect(table).not_to_contain_text("ann.lee@example.org")
