"""Sign-up shows every error at once (issue 23, item 8): an address in use, a weak password,
a missing phone and neither acceptance ticked come back together on the first attempt, with
what was typed kept."""

import pytest
from playwright.sync_api import expect

from accounts.models import Account
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_one_attempt_shows_every_error(page, site, screenshot):
    UserFactory(email="taken@harbour.example")
    accounts_before = Account.objects.count()
    page.goto(site.url + "/signup/")
    page.get_by_label("Company or brand name").fill("Harbour Bakery")
    page.get_by_label("Contact person").fill("Pat Baker")
    page.get_by_label("E-mail address").fill("taken@harbour.example")
    page.get_by_label("Postal address").fill("1 Quay Street\nBristol")
    page.get_by_label("Password", exact=True).fill("password")

    page.get_by_role("button", name="Create account").click()

    expect(page.locator("#id_email_errors")).to_contain_text("already exists")
    expect(page.locator("#id_password_errors")).to_be_visible()
    expect(page.locator("#id_phone_errors")).to_contain_text("required")
    expect(page.locator("#id_accept_terms_errors")).to_contain_text("terms of service")
    expect(page.locator("#id_accept_privacy_errors")).to_contain_text("privacy policy")
    expect(page.get_by_label("Company or brand name")).to_have_value("Harbour Bakery")
    screenshot(page, "account-signup-all-errors")
    assert Account.objects.count() == accounts_before
