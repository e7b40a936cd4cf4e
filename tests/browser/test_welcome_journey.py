"""Issue 22 in a real Chromium: the sender writes a list's welcome message from the list's page,
submits it, sees it approved and sent (with its figures) when a person confirms, and edits it
into a new draft while the approved one keeps going; a recipient leaves one list, then every
list of the sender, from the unsubscribe page, each change a consent record."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, Delivery, DeliveryStatus, WelcomeMessage
from campaigns.tokens import MessageTokens
from lists.models import ConsentEvent, ConsentRecord, Subscriber, SubscriberStatus
from lists.services.optin import subscription_confirm_token
from moderation import services as moderation
from tests.browser.conftest import log_in
from tests.campaigns.factories import CampaignFactory, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_sender_writes_submits_and_follows_a_welcome(page, site, screenshot):
    moderator = UserFactory(is_staff=True, account=None)
    user = UserFactory(email="lea@bistro.example", account__company_name="Bistro Lea")
    account = user.account
    SenderDomainFactory(account=account, domain="news.bistro.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account, name="Bistro news")

    log_in(page, site, user)
    page.goto(f"{site.url}/lists/{mailing_list.pk}/")
    page.get_by_role("link", name="Welcome message").first.click()
    expect(page.get_by_role("heading", name="Welcome message", exact=True)).to_be_visible()
    expect(page.locator("#no-live-version")).to_be_visible()
    page.get_by_label("Subject").fill("Welcome to Bistro news, {{ subscriber.name }}")
    page.get_by_label("From address").fill("news@news.bistro.example")
    page.get_by_label("HTML body").fill(
        '<p>Hello {{ subscriber.name }}! Our <a href="https://bistro.example/menu">menu</a>.</p>'
    )
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#welcome-status")).to_have_text("Draft")
    page.get_by_role("button", name="Submit for moderation").click()
    expect(page.locator("#welcome-status")).to_have_text("Submitted for moderation")
    screenshot(page, "welcome-submitted")

    welcome = WelcomeMessage.objects.get(mailing_list=mailing_list)
    campaign = Campaign.objects.get(pk=welcome.campaign_id)
    moderation.decision_approve(
        campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
    )
    page.reload()
    expect(page.locator("#welcome-status")).to_have_text("Approved")
    expect(page.locator("#live-version")).to_contain_text("Version 1")
    expect(page.locator("#welcome-sending")).to_be_visible()

    # A person confirms their subscription in the browser: the welcome reaches the sink.
    nia = SubscriberFactory(
        mailing_list=mailing_list,
        email="nia@example.org",
        name="Nia",
        status=SubscriberStatus.UNCONFIRMED,
    )
    page.goto(f"{site.url}/confirm/{subscription_confirm_token(nia)}/")
    page.get_by_role("button", name="Yes, subscribe me").click()
    message = site.mail.wait_for(to="nia@example.org", subject="Welcome to Bistro news, Nia")
    assert "/u/" in message.text  # our footer's unsubscribe link
    assert Delivery.objects.get(subscriber=nia).status == DeliveryStatus.SENT

    page.goto(f"{site.url}/lists/{mailing_list.pk}/welcome/")
    expect(page.locator("#stat-sent")).to_have_text("1")
    expect(page.locator("#stat-unsubscribed")).to_have_text("0")
    screenshot(page, "welcome-approved")

    # Changed after approval: a new draft, while version 1 keeps being sent.
    page.get_by_label("Subject").fill("A new welcome")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#welcome-status")).to_have_text("Draft")
    expect(page.locator("#new-draft-note")).to_be_visible()
    expect(page.locator("#live-version")).to_contain_text("Version 1")
    page.goto(f"{site.url}/lists/{mailing_list.pk}/")
    expect(page.locator("#list-welcome")).to_contain_text("1 sent")


def test_a_recipient_leaves_one_list_then_every_list(page, site, screenshot):
    account = UserFactory(account__company_name="Violet Harbour Ltd").account
    harbour = MailingListFactory(account=account, name="Harbour news")
    ferries = MailingListFactory(account=account, name="Ferry times")
    events = MailingListFactory(account=account, name="Harbour events")
    stranger = MailingListFactory(account=UserFactory().account, name="Somebody else's list")
    rows = [
        SubscriberFactory(mailing_list=mailing_list, email="ann.lee@example.org")
        for mailing_list in (harbour, ferries, events, stranger)
    ]
    campaign = CampaignFactory(account=account, lists=[harbour], status="sent")
    Delivery.objects.create(
        campaign=campaign, subscriber=rows[0], provider="other", status=DeliveryStatus.SENT
    )
    token = MessageTokens(campaign_id=campaign.pk, subscriber_id=rows[0].pk).unsubscribe()

    page.goto(f"{site.url}/u/{token}/")
    other_lists = page.locator("#other-lists")
    expect(other_lists).to_contain_text("Ferry times")
    expect(other_lists).to_contain_text("Harbour events")
    expect(page.locator("main")).not_to_contain_text("Somebody else")
    screenshot(page, "recipient-preferences")
    page.get_by_role("button", name="Leave “Harbour news”").click()
    expect(page.locator("#unsubscribed")).to_have_text("You are unsubscribed")
    expect(page.locator("#other-lists")).to_contain_text("You are still on these lists")
    assert Subscriber.objects.get(pk=rows[1].pk).status == "subscribed"
    assert ConsentRecord.objects.filter(event=ConsentEvent.WITHDRAWN).count() == 1

    page.get_by_role("button", name="Leave every list of Violet Harbour Ltd").click()
    expect(page.locator("#unsubscribed")).to_have_text("You left every list")
    expect(page.locator("#other-lists")).to_have_count(0)
    screenshot(page, "recipient-left-every-list")
    statuses = [Subscriber.objects.get(pk=row.pk).status for row in rows]
    assert statuses == ["unsubscribed", "unsubscribed", "unsubscribed", "subscribed"]
    withdrawn = ConsentRecord.objects.filter(event=ConsentEvent.WITHDRAWN)
    assert sorted(withdrawn.values_list("subscriber_id", flat=True)) == [r.pk for r in rows[:3]]

    page.get_by_role("link", name="Subscribe to “Harbour news” again").click()
    expect(page).to_have_url(re.compile(rf"/subscribe/{harbour.public_id}/$"))
