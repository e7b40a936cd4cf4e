"""A sender manages subscribers in a real Chromium (issue 22): finds one by part of the name,
edits the name, phone and attributes, removes another from the list after the confirmation page,
and exports the list as CSV."""

import csv
import io

import pytest
from playwright.sync_api import expect

from lists.models import ConsentRecord, Subscriber, SubscriberChange, SubscriberStatus, Suppression
from tests.browser.conftest import log_in
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_edit_remove_and_export_subscribers(page, site, screenshot):
    user = UserFactory()
    mailing_list = MailingListFactory(account=user.account, name="Harbour news")
    jane = SubscriberFactory(
        mailing_list=mailing_list,
        email="jane.doe@example.org",
        name="Jane Doe",
        attributes={"city": "Leeds"},
    )
    bob = SubscriberFactory(mailing_list=mailing_list, email="bob@example.org", name="Bob")
    log_in(page, site, user)

    # Search by a part of the name, not its start.
    page.goto(f"{site.url}/lists/{mailing_list.pk}/")
    page.get_by_label("Search").fill("doe")
    page.get_by_role("button", name="Filter").click()
    table = page.locator("#subscribers")
    expect(table).to_contain_text("jane.doe@example.org")
    expect(table).not_to_contain_text("bob@example.org")
    table.get_by_role("link", name="jane.doe@example.org").click()

    # Edit the details: the address is not editable.
    page.get_by_role("link", name="Edit details").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit jane.doe@example.org")
    page.get_by_label("Name", exact=True).fill("Jane Smith")
    page.get_by_label("Phone").fill("not a phone")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#subscriber-edit")).to_contain_text("Enter a phone number")
    page.get_by_label("Phone").fill("+44 113 496 0000")
    page.get_by_label("Attribute 1 value").fill("York")
    page.get_by_label("Attribute 2 name").fill("plan")
    page.get_by_label("Attribute 2 value").fill("pro")
    screenshot(page, "subscriber-edit")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Details of jane.doe@example.org saved.")
    expect(page.locator("#subscriber-changes")).to_contain_text(user.email)
    expect(page.locator("#subscriber-changes")).to_contain_text("Leeds → York")
    jane.refresh_from_db()
    assert (jane.name, jane.phone) == ("Jane Smith", "+44 113 496 0000")
    assert jane.attributes == {"city": "York", "plan": "pro"}
    assert SubscriberChange.objects.get(subscriber=jane).changed_by == user

    # Remove Bob from this list: asked first, then done, and not suppressed.
    page.goto(f"{site.url}/lists/{mailing_list.pk}/subscribers/{bob.pk}/")
    page.get_by_role("link", name="Remove from this list…").click()
    expect(page.locator("#remove-confirm")).to_contain_text("the address is not suppressed")
    screenshot(page, "subscriber-remove")
    assert Subscriber.objects.get(pk=bob.pk).status == SubscriberStatus.SUBSCRIBED
    page.get_by_role("button", name="Remove from this list").click()
    expect(page.get_by_role("status")).to_contain_text("bob@example.org is removed from")
    expect(page.locator("#subscriber-status")).to_have_text("Unsubscribed")
    expect(page.locator("#consent-history")).to_contain_text("Removed from this list by the sender")
    assert ConsentRecord.objects.filter(subscriber=bob, source="removed_by_sender").count() == 1
    assert not Suppression.objects.exists()

    # Export the list as CSV, with the consent columns.
    page.goto(f"{site.url}/lists/{mailing_list.pk}/")
    expect(page.locator("#count-unsubscribed")).to_have_text("1")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text("utf-8-sig"))))
    by_email = {row["email"]: row for row in rows}
    assert set(by_email) == {"jane.doe@example.org", "bob@example.org"}
    assert by_email["jane.doe@example.org"]["name"] == "Jane Smith"
    assert by_email["jane.doe@example.org"]["consent_source"] == "web_form"
    assert by_email["bob@example.org"]["status"] == "unsubscribed"
