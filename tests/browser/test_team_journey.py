"""A team in a real Chromium: the owner invites a colleague as a viewer, the invitation arrives by
real SMTP, the colleague joins through its link, reads but cannot change (the styled 403), and
the owner's team page says who did what. A moderator lands in the queue, sees no Admin link
without admin permissions, and an admin page refused to them is styled like the site."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-team-password-7"


def test_an_invited_viewer_joins_reads_and_is_refused_a_change(site, page, chromium):
    owner = UserFactory(email="pat@acme.example", account__company_name="Acme Ltd")
    MailingListFactory(account=owner.account, name="Monthly news")
    log_in(page, site, owner)
    page.get_by_role("link", name="Team", exact=True).click()
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    form = page.locator("#invite-form")
    form.get_by_label("Colleague's e-mail address").fill("vic@acme.example")
    form.get_by_label("Role").select_option("viewer")
    form.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".messages")).to_contain_text(
        "We e-mailed an invitation to vic@acme.example"
    )
    expect(page.locator("#invitations")).to_contain_text("vic@acme.example")

    message = site.mail.wait_for(to="vic@acme.example", subject="Acme Ltd invites you")
    link = re.search(r"http://\S+/join/\S+/", message.text)[0]

    colleague = chromium.new_context(locale="en-GB").new_page()
    colleague.goto(link)
    expect(colleague.get_by_role("heading", name="Join Acme Ltd")).to_be_visible()
    colleague.get_by_label("First name").fill("Vic")
    colleague.get_by_label("Password", exact=True).fill(PASSWORD)
    colleague.get_by_label("I accept the terms of service, including the anti-spam policy").check()
    colleague.get_by_label("I accept the privacy policy").check()
    colleague.get_by_role("button", name="Join the team").click()
    expect(colleague).to_have_url(site.url + "/dashboard/")

    # A viewer reads the lists ...
    colleague.get_by_role("link", name="Lists", exact=True).click()
    expect(colleague.get_by_text("Monthly news")).to_be_visible()
    # ... and the company profile without its form.
    colleague.get_by_role("link", name="Company", exact=True).click()
    expect(colleague.locator("#company-identity")).to_contain_text("Acme Ltd")
    expect(colleague.locator("textarea[name=postal_address]")).to_have_count(0)
    # A change is the site's 403 page, styled.
    colleague.goto(site.url + "/lists/new/")
    colleague.locator("main form[method=post] button[type=submit]").first.click()
    expect(colleague.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(colleague.locator("main")).to_contain_text("Your role (Viewer)")
    radius = colleague.locator("main .card").first.evaluate(
        "e => getComputedStyle(e).borderTopLeftRadius"
    )
    assert radius not in ("", "0px")
    colleague.context.close()

    page.reload()
    expect(page.locator("#members")).to_contain_text("vic@acme.example")
    expect(page.locator("#events")).to_contain_text("Joined the team")
    expect(page.locator("#events")).to_contain_text("pat@acme.example")


def test_a_moderator_lands_in_the_queue_and_a_refused_admin_page_is_styled(site, page):
    moderator = UserFactory(email="mo@consentmail.example", account=None, is_staff=True)
    log_in(page, site, moderator, landing="/moderation/")
    expect(page.locator("#nav-moderation")).to_be_visible()
    expect(page.locator("#nav-admin")).to_have_count(0)
    response = page.goto(site.url + "/admin/accounts/senderdomain/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the moderation queue")).to_be_visible()
    radius = page.locator("main .card").first.evaluate(
        "e => getComputedStyle(e).borderTopLeftRadius"
    )
    assert radius not in ("", "0px")
