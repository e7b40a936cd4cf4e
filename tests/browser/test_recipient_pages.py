"""A recipient, in a real Chromium, follows the links of a message: the unsubscribe page names
the list and the sender and unsubscribes on the button (not on opening the page); the report
page records a complaint with a comment; the public abuse form files a report."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import MessageTokens
from complaints.models import AbuseReport, FeedbackEvent
from lists.models import Subscriber
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
