"""A sender tags subscribers, builds a segment, targets it in a campaign draft, sees the count
and submits, in a real Chromium; the version the moderators get records the segment."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, Segment
from campaigns.states import CampaignStatus
from lists.models import SubscriberTag
from tests.browser.conftest import log_in
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_tag_build_a_segment_target_it_and_submit(page, site, screenshot):
    user = UserFactory(email="sam@teal-quay.example", account__company_name="Teal Quay Ltd")
    account = user.account
    SenderDomainFactory(account=account, domain="news.teal.example", verified_at=timezone.now())
    quay = MailingListFactory(account=account, name="Quay news")
    ann = SubscriberFactory(
        mailing_list=quay, email="ann@example.org", attributes={"city": "Leeds"}
    )
    SubscriberFactory(mailing_list=quay, email="bob@example.org", attributes={"city": "Leeds"})
    SubscriberFactory(mailing_list=quay, email="cat@example.org", attributes={"city": "York"})
    log_in(page, site, user)

    # A tag on Ann, from her page.
    page.goto(f"{site.url}/lists/{quay.pk}/subscribers/{ann.pk}/")
    expect(page.locator("#no-tags")).to_be_visible()
    page.get_by_label("Add tags").fill("vip, customer")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Tags added: vip, customer.")
    expect(page.locator("#tag-list")).to_contain_text("vip")
    screenshot(page, "segments-subscriber-tags")
    assert SubscriberTag.objects.filter(subscriber=ann).count() == 2

    # The segment: Leeds readers tagged vip, built row by row without scripts' help.
    page.goto(f"{site.url}/campaigns/")
    page.get_by_role("link", name="Segments").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Segments")
    page.get_by_role("link", name="Make your first segment").click()
    page.get_by_label("Segment name").fill("Leeds VIPs")
    page.get_by_label("Quay news").check()
    page.get_by_label("Condition 1").select_option("attribute:equals")
    page.locator("#id_c-0-key").fill("city")
    page.locator("#id_c-0-value").fill("leeds")
    page.get_by_role("button", name="Add a condition").click()
    expect(page.get_by_label("Condition 2")).to_be_visible()
    expect(page.locator("#id_c-0-value")).to_have_value("leeds")
    page.get_by_label("Condition 2").select_option("tag:has")
    page.locator("#id_c-1-value").fill("vip")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("status")).to_contain_text("Segment saved.")
    expect(page.locator("#segment-count")).to_contain_text("1 subscribed address")
    screenshot(page, "segments-builder")
    segment = Segment.objects.get()
    assert segment.conditions == [
        {"field": "attribute", "op": "equals", "value": "leeds", "key": "city"},
        {"field": "tag", "op": "has", "value": "vip"},
    ]

    # A draft to the segment only: its page counts the audience before submitting.
    page.goto(f"{site.url}/campaigns/new/")
    page.get_by_label("Campaign name").fill("VIP evening")
    page.get_by_label("Leeds VIPs").check()
    page.get_by_label("Subject").fill("An evening for you")
    page.get_by_label("From address").fill("news@news.teal.example")
    page.get_by_label("HTML body").fill("<p>Hello {{ subscriber.name }}, join us.</p>")
    page.get_by_role("button", name="Save draft").click()
    campaign = Campaign.objects.get()
    expect(page).to_have_url(f"{site.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#campaign-segments")).to_have_text("Leeds VIPs")
    expect(page.locator("#recipient-count")).to_have_text("1")
    screenshot(page, "segments-campaign-draft")

    page.get_by_role("button", name="Submit for moderation").click()
    expect(page.locator("#campaign-status")).to_have_text("Submitted for moderation")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SUBMITTED
    assert [s["name"] for s in campaign.submitted_version.segments] == ["Leeds VIPs"]
