"""In a real Chromium: a visitor walks the public pages and logs in, and the only cookie the
browser ever holds is the session's; a sender with a new privacy version to accept sees the
banner, is taken to the page that says what changed on submitting, accepts, and submits."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import TermsAcceptance
from tests.browser.conftest import log_in
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PUBLIC = ("/", "/login/", "/signup/", "/password-reset/", "/terms/", "/privacy/", "/abuse/")


def cookie_names(page) -> set[str]:
    return {cookie["name"] for cookie in page.context.cookies()}


def test_only_the_session_cookie_is_ever_set(page, site):
    user = UserFactory()
    mailing_list = MailingListFactory(account=user.account)
    seen: set[str] = set()

    for path in PUBLIC:
        page.goto(site.url + path)
        seen |= cookie_names(page)
    page.goto(f"{site.url}/subscribe/{mailing_list.public_id}/")
    seen |= cookie_names(page)
    log_in(page, site, user)
    seen |= cookie_names(page)
    page.goto(site.url + "/account/tokens/")
    page.get_by_label("Token name").fill("CRM")
    page.get_by_role("button", name="Create token").click()
    seen |= cookie_names(page)

    assert seen == {"sessionid"}


def test_a_new_privacy_version_is_accepted_before_the_submit(page, site, settings):
    settings.CONTENT_ANALYSER = "tests.campaigns.test_services.review_analyser"
    user = UserFactory()
    mailing_list = MailingListFactory(account=user.account)
    SubscriberFactory(mailing_list=mailing_list, email="ann.lee@example.org")
    campaign = CampaignFactory(account=user.account, lists=[mailing_list])
    settings.PRIVACY_VERSION = "2027-01-15"

    log_in(page, site, user)
    expect(page.locator("#terms-due")).to_contain_text("Read what changed and accept it")
    page.goto(f"{site.url}/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Submit for moderation").click()

    expect(page.locator("h1")).to_have_text("New terms to accept")
    expect(page.locator("#due-privacy")).to_contain_text("Version 2027-01-15")
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    page.get_by_role("button", name="I accept").click()

    expect(page).to_have_url(f"{site.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#terms-due")).to_have_count(0)
    latest = TermsAcceptance.objects.filter(user=user).latest("accepted_at")
    assert (latest.privacy_version, latest.ip) == ("2027-01-15", "127.0.0.1")
    page.get_by_role("button", name="Submit for moderation").click()
    expect(page.locator(".messages")).to_contain_text("Submitted for moderation")
    campaign.refresh_from_db()
    assert campaign.status == "submitted"
