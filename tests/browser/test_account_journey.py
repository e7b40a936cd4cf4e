"""A sender's first visit in a real Chromium: sign up, verify by e-mail, domains, tokens, reset.

Mail goes over real SMTP to the project's sink; links in it are opened in the browser.
"""

import hashlib
import json
import re
import urllib.request

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Account, ApiToken, SenderDomain, TermsAcceptance, User
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EMAIL = "pat@violet-harbour.example"
PASSWORD = "amber-signal-orchard-64"
COMPANY = "Violet Harbour Ltd"


def link_in(text: str, path_prefix: str) -> str:
    """The one link in a mail body whose path starts with `path_prefix`."""
    links = [
        link
        for link in re.findall(r"https?://[^\s<>\"]+", text)
        if re.match(rf"https?://[^/]+{re.escape(path_prefix)}", link)
    ]
    assert len(links) == 1, f"expected one {path_prefix} link in:\n{text}"
    return links[0]


def fill_signup(page, *, accept: bool) -> None:
    page.get_by_label("Company or brand name").fill(COMPANY)
    page.get_by_label("Contact person").fill("Pat Sender")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Phone").fill("+44 20 7946 0000")
    page.get_by_label("Postal address").fill("1 Quay Street\nBristol BS1 4AA\nUnited Kingdom")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    if accept:
        page.get_by_label("I accept the terms of service").check()
        page.get_by_label("I accept the privacy policy").check()


def step_badge(page, label: str):
    return page.locator(".steps li", has_text=label).locator(".badge")


def log_in(page, email: str, password: str) -> None:
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def test_sign_up_verify_log_in_add_domain_and_create_token(page, site, screenshot):
    # The home page leads to the sign-up form.
    page.goto(site.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Newsletters only to people who asked for them."
    )
    screenshot(page, "account-home")
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(site.url + "/signup/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your account")
    screenshot(page, "account-signup")

    # Without ticking the boxes: refused, nothing written, nothing mailed.
    fill_signup(page, accept=False)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#id_accept_terms_errors")).to_have_text(
        "You must accept the terms of service."
    )
    expect(page.get_by_label("Company or brand name")).to_have_value(COMPANY)
    assert not User.objects.exists()
    assert not Account.objects.exists()
    assert site.mail.messages() == []
    screenshot(page, "account-signup-error")

    # Filled in properly: the account exists and the dashboard asks to verify the address.
    fill_signup(page, accept=True)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(site.url + "/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text(COMPANY)
    expect(page.get_by_role("status")).to_contain_text(f"We sent a verification link to {EMAIL}")
    expect(step_badge(page, "Verify your e-mail address")).to_have_text("To do")
    expect(step_badge(page, "Complete your company identity")).to_have_text("Done")
    expect(step_badge(page, "Publish your sender domain's records")).to_have_text("To do")
    screenshot(page, "account-dashboard-unverified")

    user = User.objects.get(email=EMAIL)
    assert user.email_verified_at is None
    assert user.account.company_name == COMPANY
    assert user.account.postal_address.startswith("1 Quay Street")
    acceptance = TermsAcceptance.objects.get(user=user)
    assert acceptance.terms_version == settings.TERMS_VERSION
    assert acceptance.privacy_version == settings.PRIVACY_VERSION
    assert acceptance.ip == "127.0.0.1"
    assert "Chrome" in acceptance.user_agent

    # The verification mail went through SMTP; its link, opened in the browser, verifies.
    mail = site.mail.wait_for(to=EMAIL, subject="Confirm your e-mail address")
    assert mail.message["From"] == settings.DEFAULT_FROM_EMAIL
    link = link_in(mail.text, "/verify/")
    assert link.startswith(site.url + "/verify/")
    assert link in mail.html
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Address verified")
    expect(page.locator("main")).to_contain_text(f"{EMAIL} is verified")
    screenshot(page, "account-verified")
    user.refresh_from_db()
    assert user.email_verified_at is not None
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(step_badge(page, "Verify your e-mail address")).to_have_text("Done")
    expect(page.get_by_role("button", name="Send the verification link again")).to_have_count(0)

    # Log out; the dashboard then needs a login, which leads back to it.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(site.url + "/login/")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    page.goto(site.url + "/dashboard/")
    expect(page).to_have_url(site.url + "/login/?next=/dashboard/")
    screenshot(page, "account-login")
    log_in(page, EMAIL, PASSWORD)
    expect(page).to_have_url(site.url + "/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text(COMPANY)

    # Add a sender domain: its page shows the TXT record to publish.
    page.get_by_role("navigation").get_by_role("link", name="Sender domains").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sender domains")
    expect(page.locator("main")).to_contain_text("No domains yet.")
    page.get_by_label("Domain", exact=True).fill("news.example.com")
    page.get_by_role("button", name="Add domain").click()
    expect(page).to_have_url(re.compile(re.escape(site.url) + r"/account/domains/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("news.example.com")
    expect(page.locator("#domain-status")).to_have_text("Not verified")
    expect(page.locator("ul.messages")).to_contain_text("news.example.com added.")
    txt_value = page.locator("#record-ownership-value").inner_text().strip()
    assert re.fullmatch(r"consentmail-verification=[0-9a-f]{32}", txt_value), txt_value
    domain = SenderDomain.objects.get(account=user.account)
    assert domain.domain == "news.example.com"
    assert domain.txt_record_value == txt_value
    assert domain.verified_at is None
    assert page.url.endswith(f"/account/domains/{domain.pk}/")
    screenshot(page, "account-sender-domain")

    # Create an API token: the key is shown once, only its digest is stored, and it works.
    page.get_by_role("navigation").get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API tokens")
    page.get_by_label("Token name").fill("CRM sync")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("alert")).to_contain_text("Your new token")
    key = page.locator("#new-token").inner_text().strip()
    assert len(key) >= 40
    token = ApiToken.objects.get(account=user.account)
    assert (token.name, token.user_id, token.read_only) == ("CRM sync", user.pk, False)
    assert token.prefix == key[:8]
    assert token.key_digest == hashlib.sha256(key.encode()).hexdigest()
    row = page.locator("table tr", has_text="CRM sync")
    expect(row).to_contain_text(f"{key[:8]}…")
    expect(row).to_contain_text("read-write")
    screenshot(page, "account-api-token-created")

    page.goto(site.url + "/account/tokens/")
    expect(page.locator("table tr", has_text="CRM sync")).to_be_visible()
    expect(page.locator("#new-token")).to_have_count(0)
    assert key not in page.content()

    # Outside the browser, without its cookies: only the token can authenticate this request.
    url, headers = site.url + "/api/v1/account/", {"Authorization": f"Token {key}"}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert COMPANY in json.dumps(json.load(response))


def test_password_reset_by_mail_then_log_in_with_the_new_password(page, site, screenshot):
    user = UserFactory(email="reset-me@example.com")
    old_password, new_password = "correct-horse-battery", "quiet-orchard-lamp-58"

    page.goto(site.url + "/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    page.get_by_label("Email").fill(user.email)
    page.get_by_role("button", name="Send me a reset link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")

    mail = site.mail.wait_for(to=user.email, subject="Reset your ConsentMail password")
    link = link_in(mail.text, "/password-reset/")
    assert link.startswith(site.url + "/password-reset/")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    screenshot(page, "account-password-reset-confirm")
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password confirmation").fill(new_password)
    page.get_by_role("button", name="Save password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password changed")
    user.refresh_from_db()
    assert user.check_password(new_password)

    # The link works once only.
    page.goto(link)
    expect(page.locator("main")).to_contain_text("This reset link is invalid or has been used.")

    page.goto(site.url + "/login/")
    log_in(page, user.email, old_password)
    expect(page.locator(".errorlist")).to_contain_text("Please enter a correct e-mail address")
    log_in(page, user.email, new_password)
    expect(page).to_have_url(site.url + "/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text(user.account.company_name)
