"""The sender's dashboard in a real Chromium, at desktop and phone widths, in English and Russian:
every panel is there, nothing scrolls sideways on a 390 px phone, the charts' figures open
without JavaScript, and the period and status links lead where they say."""

import pytest
from playwright.sync_api import expect

from tests.accounts.test_dashboard import build_dashboard
from tests.browser.conftest import DESKTOP, MOBILE, log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sender(settings):
    settings.HEALTH_MIN_SENT = 20
    user = UserFactory()
    build_dashboard(user.account)
    return user


def _overflow(page) -> int:
    """How far the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_the_dashboard_at_desktop_and_phone_widths(page, site, sender, screenshot):
    log_in(page, site, sender)

    expect(page.locator("#dashboard-lists .growth-row")).to_have_count(4)
    expect(
        page.locator("#list-growth-" + str(sender.account.lists.get(name="Harbour news").pk))
    ).to_contain_text("+10")
    expect(page.locator("#campaign-statuses tbody tr")).to_have_count(9)
    expect(page.locator("#gauge-bounces")).to_contain_text("over the warning level (2%)")
    expect(page.locator("#recent-feedback-table tbody tr")).to_have_count(10)
    # Three columns on a desktop: the lists panel spans two.
    lists_box = page.locator("#dashboard-lists").bounding_box()
    health_box = page.locator("#account-health").bounding_box()
    assert lists_box["width"] > 1.8 * health_box["width"]
    assert _overflow(page) <= 0

    # The figures behind a sparkline open without script.
    page.locator("#dashboard-lists details summary").first.click()
    expect(page.locator("#dashboard-lists details table").first).to_be_visible()
    screenshot(page, "dashboard")

    page.set_viewport_size(MOBILE)
    assert _overflow(page) <= 0
    # One column on a phone: the panels stack at the full width.
    lists_box = page.locator("#dashboard-lists").bounding_box()
    health_box = page.locator("#account-health").bounding_box()
    assert abs(lists_box["width"] - health_box["width"]) < 2
    assert lists_box["width"] <= MOBILE["width"]
    page.set_viewport_size(DESKTOP)

    # 90 days, per week; then a status opens the filtered campaign list.
    page.get_by_role("link", name="90 days").click()
    expect(page.locator("#growth-explained")).to_contain_text("New subscribers per week")
    page.locator("#campaign-statuses").get_by_role("link", name="Draft").click()
    expect(page).to_have_url(site.url + "/campaigns/?status=draft")


def test_the_dashboard_in_russian(page, site, sender, screenshot):
    sender.language = "ru"
    sender.save(update_fields=["language"])
    log_in(page, site, sender)

    expect(page.get_by_role("heading", name="Последние отписки и жалобы")).to_be_visible()
    expect(page.locator("#gauge-bounces")).to_contain_text("выше уровня предупреждения (2%)")
    page.set_viewport_size(MOBILE)
    assert _overflow(page) <= 0
    page.set_viewport_size(DESKTOP)
    screenshot(page, "dashboard-ru")
