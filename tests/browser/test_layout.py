"""Issue 23, item 10: the layout, measured in a real Chromium (element boxes, not pixels).

The nav fits one line at 1280 px in both languages; every page's main column is centred under the
nav, the campaign pages too; the dashboard's recent unsubscribes fit their card; on a phone the
lists table still shows the counts; a long unbroken list name wraps instead of overflowing; the
favicon answers and every page links it.
"""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from accounts.models import Notification
from tests.accounts.test_dashboard import build_dashboard
from tests.browser.conftest import DESKTOP, MOBILE
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Sixty characters without a place to break: a name pasted from a URL or a product code.
LONG_NAME = "Harbour" + "x" * 46 + "-news" + "2"


@pytest.fixture
def sender(settings):
    settings.HEALTH_MIN_SENT = 20
    user = UserFactory(account__company_name="Amber Quay Ltd")
    build_dashboard(user.account)
    Notification.objects.create(account=user.account, subject="Unread notice")
    long_list = MailingListFactory(account=user.account, name=LONG_NAME)
    SubscriberFactory(mailing_list=long_list, email="ann@example.org")
    return user


def _signed_in(chromium, site, user, *, language="en", viewport=DESKTOP):
    context = chromium.new_context(
        viewport=viewport, locale="ru-RU" if language == "ru" else "en-GB"
    )
    context.set_default_timeout(10_000)
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": site.url}]
    )
    return context


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box, f"{selector} is not on the page"
    return box


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_nav_fits_one_line_at_1280(chromium, site, sender, language):
    context = _signed_in(chromium, site, sender, language=language)
    page = context.new_page()
    page.goto(site.url + "/dashboard/")
    tops = page.eval_on_selector_all(
        "header.top .inner > *", "items => items.map(i => i.getBoundingClientRect().top)"
    )
    assert len(tops) >= 10  # the brand, nine links and the log-out button
    # Every item on one line: their tops differ by less than a line's height.
    assert max(tops) - min(tops) < 12, f"the nav wraps at 1280 px ({language}): tops {tops}"
    nav = _box(page, "header.top")
    assert nav["height"] < 64, f"the nav is {nav['height']} px high at 1280 px ({language})"
    context.close()


def test_every_main_column_is_centred_under_the_nav(chromium, site, sender):
    campaign = CampaignFactory(account=sender.account, name="Harbour lights")
    context = _signed_in(chromium, site, sender)
    page = context.new_page()
    lefts = {}
    for path in (
        "/dashboard/",
        "/lists/",
        "/campaigns/",
        f"/campaigns/{campaign.pk}/",
        f"/campaigns/{campaign.pk}/edit/",
        "/campaigns/new/",
    ):
        page.goto(site.url + path)
        main = _box(page, "main")
        nav = _box(page, "header.top .inner")
        right = DESKTOP["width"] - (main["x"] + main["width"])
        assert abs(main["x"] - right) <= 1, f"{path}: main is not centred ({main})"
        assert abs(main["x"] - nav["x"]) <= 1, f"{path}: main {main} is not under the nav {nav}"
        lefts[path] = main["x"]
    # Flush left is gone: every page's column starts where the others' do.
    assert len(set(lefts.values())) == 1, lefts
    assert min(lefts.values()) >= 32, lefts
    context.close()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_recent_unsubscribes_fit_their_card(chromium, site, sender, language):
    context = _signed_in(chromium, site, sender, language=language)
    page = context.new_page()
    for viewport in (DESKTOP, {"width": 1024, "height": 800}, {"width": 800, "height": 800}):
        page.set_viewport_size(viewport)
        page.goto(site.url + "/dashboard/")
        expect(page.locator("#recent-feedback-table tbody tr")).to_have_count(10)
        clipped = page.evaluate(
            """() => {
              const wrap = document.querySelector('#recent-feedback .table-wrap');
              const table = document.querySelector('#recent-feedback-table');
              const card = document.querySelector('#recent-feedback').getBoundingClientRect();
              return {scroll: wrap.scrollWidth - wrap.clientWidth,
                      right: table.getBoundingClientRect().right - card.right};
            }"""
        )
        assert clipped["scroll"] <= 0 and clipped["right"] <= 0, (
            f"the recent unsubscribes table is clipped at {viewport['width']} px "
            f"({language}): {clipped}"
        )
    context.close()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_lists_table_shows_the_counts_on_a_phone(chromium, site, sender, language):
    context = _signed_in(chromium, site, sender, language=language, viewport=MOBILE)
    page = context.new_page()
    page.goto(site.url + "/lists/")
    count = page.locator("main table tbody tr").first.locator("td.num")
    expect(count).to_be_visible()
    box = count.bounding_box()
    wrap = _box(page, "main .table-wrap")
    assert box["x"] + box["width"] <= wrap["x"] + wrap["width"] + 0.5, (
        f"the count is outside the visible table on a phone ({language}): {box} vs {wrap}"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["desktop", "phone"])
def test_a_long_unbroken_list_name_does_not_overflow(chromium, site, sender, viewport):
    long_list = sender.account.lists.get(name=LONG_NAME)
    context = _signed_in(chromium, site, sender, viewport=viewport)
    page = context.new_page()
    for path in ("/lists/", f"/lists/{long_list.pk}/", "/dashboard/", "/campaigns/new/"):
        page.goto(site.url + path)
        overflowing = page.evaluate(
            """(name) => {
              const main = document.querySelector('main');
              const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
              let found = 0;
              const beyond = [];
              for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                if (!node.textContent.includes(name)) continue;
                found += 1;
                // Every line the text takes stays inside its card (or the page's column).
                const holder = node.parentElement.closest('.card') || main;
                const right = Math.min(holder.getBoundingClientRect().right, window.innerWidth);
                const range = document.createRange();
                range.selectNodeContents(node);
                for (const line of range.getClientRects()) {
                  if (line.right > right + 0.5) beyond.push([holder.className, line.right, right]);
                }
              }
              return [found, beyond];
            }""",
            LONG_NAME,
        )
        found, beyond = overflowing
        assert found, f"{path}: the name is not on the page"
        assert not beyond, (
            f"{path} at {viewport['width']} px: the 60-character name reaches {beyond}"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], path
    context.close()


def test_the_favicon_answers_and_every_page_links_it(page, site):
    response = page.request.get(site.url + "/favicon.ico")
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/")
    for path in ("/", "/login/"):
        page.goto(site.url + path)
        href = page.locator("link[rel=icon]").first.get_attribute("href")
        assert href, f"{path} links no favicon"
        assert page.request.get(site.url + href if href.startswith("/") else href).ok
