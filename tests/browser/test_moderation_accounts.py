"""Account enforcement in a real Chromium: a moderator freezes an account from its page with a
reason; the sender sees the frozen banner with the appeal deadline and files an appeal (the
freeze notice also arrives by e-mail, through a real SMTP sink); the moderator sees the appeal
on the account's page and in the accounts list, first."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Account
from moderation.models import Appeal, AuditEntry
from tests.browser.conftest import log_in
from tests.campaigns.factories import CampaignFactory, subscribe_many
from tests.factories import AccountFactory, UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REASON = "Three upheld abuse reports in a week: the list was bought."
APPEAL = "The addresses came from our shop's checkout, with a separate consent box. Proof attached."


def test_a_moderator_freezes_an_account_and_the_sender_appeals(
    page, chromium, site, screenshot, settings
):
    settings.APPEAL_HOURS = 24
    sender = UserFactory(email="pat@violet-harbour.example", account__company_name="Violet Ltd")
    account = sender.account
    mailing_list = MailingListFactory(account=account, name="Harbour news")
    subscribe_many(mailing_list, 5)
    CampaignFactory(account=account, lists=[mailing_list], name="Spring course")
    AccountFactory(company_name="Quiet Ltd")
    moderator = UserFactory(email="mo@consentmail.example", is_staff=True, account=None)
    main_nav = page.get_by_role("navigation", name="Main")

    # The moderator finds the account from the queue's header and freezes it with a reason.
    log_in(page, site, moderator, landing="/moderation/")
    main_nav.get_by_role("link", name="Moderation").click()
    page.get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounts")
    row = page.locator(f"#account-{account.pk}")
    expect(row).to_contain_text("Active")
    row.get_by_role("link", name="Violet Ltd").click()
    expect(page).to_have_url(f"{site.url}/moderation/accounts/{account.pk}/")
    expect(page.locator("#account-state")).to_have_text("Active")
    expect(page.locator("#account-health")).to_contain_text("Not enough data")
    expect(page.locator("#account-campaigns")).to_contain_text("Spring course")
    screenshot(page, "moderation-account")

    freeze = page.locator("#action-freeze")
    # No reason: the browser does not send the form.
    freeze.get_by_role("button", name="Freeze the account").click()
    assert Account.objects.get(pk=account.pk).state == "active"
    freeze.get_by_label("Reason").fill(REASON)
    freeze.get_by_role("button", name="Freeze the account").click()
    expect(page.get_by_role("status")).to_contain_text("Froze Violet Ltd")
    expect(page.locator("#account-state")).to_have_text("Frozen")
    expect(page.locator("#state-reason")).to_have_text(REASON)
    expect(page.locator("#appeal-deadline")).to_contain_text("It may appeal until")
    expect(page.locator("#action-unfreeze")).to_be_visible()
    expect(page.locator("#account-audit")).to_contain_text("Froze an account")
    account.refresh_from_db()
    assert (account.state, account.state_reason) == ("frozen", REASON)
    entry = AuditEntry.objects.get(account=account)
    assert (entry.action, entry.actor_id) == ("frozen", moderator.pk)

    # The sender is e-mailed, then logs in (in a browser of their own) and sees the banner.
    message = site.mail.wait_for(to="pat@violet-harbour.example", subject="frozen")
    assert REASON in message.text
    deadline = timezone.localtime(account.state_changed_at + timedelta(hours=24))
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        own = context.new_page()
        log_in(own, site, sender)
        own.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
        banner = own.locator("#account-frozen")
        expect(banner).to_contain_text("Your account is frozen.")
        expect(banner).to_contain_text(REASON)
        expect(own.locator("#appeal-deadline")).to_contain_text(f"until {deadline:%Y-%m-%d %H:%M}")
        screenshot(own, "sender-frozen-banner")

        banner.get_by_role("link", name="Appeal the freeze").click()
        expect(own).to_have_url(f"{site.url}/account/appeal/")
        expect(own.get_by_role("heading", level=1)).to_have_text("Appeal the freeze")
        own.get_by_label("Your appeal").fill(APPEAL)
        own.get_by_role("button", name="Send the appeal").click()
        expect(own.get_by_role("status")).to_contain_text("Your appeal was sent")
        expect(own.locator("#appeal-pending")).to_contain_text("Your appeal is pending")
        expect(own.locator("#appeal-text")).to_have_text(APPEAL)
        expect(own.locator("#appeal-form")).to_have_count(0)
        screenshot(own, "sender-appeal-pending")
    finally:
        context.close()
    appeal = Appeal.objects.get(account=account)
    assert (appeal.status, appeal.text, appeal.filed_by_id) == ("pending", APPEAL, sender.pk)

    # The moderator sees the account first in the list, and the appeal on its page.
    page.goto(f"{site.url}/moderation/accounts/")
    rows = page.locator("#accounts tbody tr")
    expect(rows.first).to_contain_text("Violet Ltd")
    expect(rows.first).to_contain_text("Appeal pending")
    rows.first.get_by_role("link", name="Violet Ltd").click()
    expect(page.locator("#pending-appeal-banner")).to_be_visible()
    expect(page.locator(f"#appeal-{appeal.pk} .appeal-text")).to_have_text(APPEAL)
    expect(page.locator("#appeal-grant")).to_be_visible()
    expect(page.locator("#appeal-reject")).to_be_visible()
    screenshot(page, "moderation-account-appeal")
