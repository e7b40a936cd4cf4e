"""A moderator reviews a submitted campaign in a real Chromium: the queue, the campaign with its
findings, its message in a sandboxed frame and its lists' consent make-up (a list of role
addresses flagged), then rejects it with a reason. The sender logs in, finds the notification
with the reason (and the e-mail, through a real SMTP sink) and the reason on the campaign's page.
"""

import pytest
from playwright.sync_api import expect

from campaigns import sending
from campaigns.models import Campaign
from moderation.models import AuditEntry
from tests.browser.conftest import log_in
from tests.campaigns.factories import CampaignFactory, subscribe_many
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REASON = "Promises of passive income are not allowed here. Say what the course teaches."


def submitted_campaign(sender) -> Campaign:
    """A campaign to a list of people and a list of role addresses, submitted by its sender
    through the service: the real analyser's findings come with it."""
    account = sender.account
    harbour = MailingListFactory(account=account, name="Harbour news")
    subscribe_many(harbour, 12)
    trade = MailingListFactory(account=account, name="Trade desk")
    for local in ("info", "sales", "office"):
        SubscriberFactory(
            mailing_list=trade, email=f"{local}@ferries.example", is_role_address=True
        )
    campaign = CampaignFactory(
        account=account,
        lists=[harbour, trade],
        name="Spring course",
        subject="A course for {{ subscriber.first_name | default('you') }}",
        html_body="<h1>The spring course</h1><p>Earn a passive income from home.</p>",
    )
    sending.campaign_submit(account=account, campaign_id=campaign.pk, actor=sender)
    campaign.refresh_from_db()
    assert campaign.status == "submitted"
    return campaign


def test_a_moderator_rejects_a_campaign_and_the_sender_reads_why(page, site, screenshot):
    sender = UserFactory(
        email="pat@violet-harbour.example", account__company_name="Violet Harbour Ltd"
    )
    moderator = UserFactory(email="mo@consentmail.example", is_staff=True, account=None)
    campaign = submitted_campaign(sender)
    main_nav = page.get_by_role("navigation", name="Main")

    # The moderator logs in and opens the queue from the navigation.
    log_in(page, site, moderator, landing="/moderation/")
    main_nav.get_by_role("link", name="Moderation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Moderation queue")
    expect(page.locator("#count-submitted")).to_have_text("1")
    row = page.locator("#queue tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Spring course")
    expect(row).to_contain_text("Violet Harbour Ltd")
    expect(row).to_contain_text("to review")
    screenshot(page, "moderation-queue")

    # The keyboard walks the queue: "?" lists the shortcuts, "j" reaches the campaign, Enter
    # opens it.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    expect(row.get_by_role("link", name="Spring course")).to_be_focused()
    page.keyboard.press("Enter")

    # The campaign: findings, the message, the consent make-up, the account's history.
    expect(page).to_have_url(f"{site.url}/moderation/campaigns/{campaign.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Spring course")
    expect(page.locator("#campaign-status")).to_have_text("Submitted for moderation")
    expect(page.locator("#findings-review")).to_contain_text("passive income")
    frame = page.locator("#preview-html")
    expect(frame).to_have_attribute("sandbox", "")
    inner = page.frame_locator("#preview-html")
    expect(inner.get_by_role("heading", name="The spring course")).to_be_visible()
    expect(inner.get_by_role("link", name="Unsubscribe")).to_be_visible()
    consent = page.locator("#consent-table")
    harbour_row = consent.locator("tbody tr").filter(has_text="Harbour news")
    trade_row = consent.locator("tbody tr").filter(has_text="Trade desk")
    expect(harbour_row.locator(".subscribed-count")).to_contain_text("12")
    expect(harbour_row).to_contain_text("Web form (our hosted or embedded form)")
    expect(harbour_row).to_contain_text("100%")
    expect(harbour_row.locator(".role-share")).not_to_contain_text("⚑")
    expect(trade_row.locator(".role-share")).to_contain_text("⚑")
    expect(trade_row.locator(".role-share")).to_contain_text("100%")
    expect(page.locator("#no-previous-campaigns")).to_be_visible()
    expect(page.locator("#account-state")).to_have_text("Active")
    screenshot(page, "moderation-review")

    # "r" goes to the rejection's common reasons. A rejection needs a reason: without one the
    # page comes back with the error and nothing changed.
    page.keyboard.press("r")
    reject = page.locator("#decision-reject")
    expect(reject.get_by_role("radio").first).to_be_focused()
    reject.get_by_role("button", name="Reject").click()
    reject = page.locator("#decision-reject")
    expect(reject.locator(".errorlist")).to_contain_text("This field is required.")
    campaign.refresh_from_db()
    assert campaign.status == "submitted"

    reject.get_by_label("Reason for rejecting").fill(REASON)
    reject.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status")).to_contain_text("Rejected “Spring course”.")
    expect(page.locator("#count-submitted")).to_have_text("0")
    expect(page.locator("#queue-empty")).to_be_visible()
    campaign.refresh_from_db()
    assert campaign.status == "rejected"
    assert campaign.moderation_note == REASON
    entry = AuditEntry.objects.get(campaign=campaign)
    assert (entry.action, entry.actor_id, entry.reason) == ("rejected", moderator.pk, REASON)
    screenshot(page, "moderation-queue-after")

    # The audit log has the decision.
    page.get_by_role("link", name="Audit log").click()
    audit_row = page.locator("#audit tbody tr").first
    expect(audit_row).to_contain_text("mo@consentmail.example")
    expect(audit_row).to_contain_text("Rejected a campaign")
    expect(audit_row).to_contain_text(REASON)
    screenshot(page, "moderation-audit")
    main_nav.get_by_role("button", name="Log out").click()

    # The sender was e-mailed, through the real SMTP sink.
    message = site.mail.wait_for(to="pat@violet-harbour.example", subject="was rejected")
    assert REASON in message.text

    # The sender logs in: the badge, the notification with the reason, the campaign's page.
    log_in(page, site, sender)
    expect(page).to_have_url(site.url + "/dashboard/")
    expect(main_nav.get_by_role("link", name="Notifications (1 unread)")).to_be_visible()
    main_nav.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    notification = page.locator(".notification.unread")
    expect(notification).to_have_count(1)
    expect(notification).to_contain_text("“Spring course” was rejected")
    expect(notification).to_contain_text(REASON)
    screenshot(page, "moderation-notifications")

    notification.get_by_role("link", name="Open").click()
    expect(page).to_have_url(f"{site.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#campaign-status")).to_have_text("Rejected")
    expect(page.locator("#rejection")).to_contain_text(REASON)
    screenshot(page, "moderation-sender-campaign")

    # Read, the badge goes.
    main_nav.get_by_role("link", name="Notifications").click()
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("status")).to_contain_text("1 notification marked read.")
    expect(page.locator(".notification.unread")).to_have_count(0)
    expect(main_nav.locator("#unread-count")).to_have_count(0)
