"""Keyboard only, in a real Chromium: Tab walks the sender's campaign page, the list page and the
moderator's review, reaches every action on them (each link, button, field and scrolling box a
mouse could use), shows where the focus is at each step, and lets the focus go on round the page
(no trap: it comes back to the first stop, the skip link).
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.browser.conftest import DESKTOP, MOBILE
from tests.browser.test_moderation_journey import submitted_campaign
from tests.campaigns.factories import CampaignFactory, subscribe_many
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Every stop a user can reach with Tab, numbered in the page (data-kb); a radio group is one stop.
STOPS = """() => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, ' +
    'iframe, [tabindex]';
  const stops = [...document.querySelectorAll(selector)].filter(e =>
    !e.disabled && e.tabIndex >= 0 && !e.closest('[inert]') &&
    e.checkVisibility({visibilityProperty: true}));
  return stops.map((e, i) => {
    e.dataset.kb = String(i);
    return {
      key: e.type === 'radio' ? 'radio:' + e.name : String(i),
      what: e.tagName.toLowerCase() + ' ' +
        (e.getAttribute('aria-label') || e.textContent || e.name || e.id || '').trim().slice(0, 50),
    };
  });
}"""

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return null;
  const style = getComputedStyle(e);
  const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) ||
    style.boxShadow !== 'none';
  return {
    key: e.type === 'radio' ? 'radio:' + e.name : (e.dataset.kb ?? null),
    tag: e.tagName.toLowerCase(),
    ring: ring,
    what: e.tagName.toLowerCase() + ' ' +
      (e.textContent || e.name || e.id || '').trim().slice(0, 50),
  };
}"""


def _signed_in(chromium, site, user, viewport):
    context = chromium.new_context(viewport=viewport, locale="en-GB")
    context.set_default_timeout(10_000)
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": site.url}]
    )
    return context


def _tab_round(page, url: str) -> None:
    page.goto(url)
    stops = page.evaluate(STOPS)
    wanted = {stop["key"]: stop["what"] for stop in stops}
    assert len(wanted) > 10, f"{url}: only {len(wanted)} stops found"
    reached: set[str] = set()
    no_ring: list[str] = []
    first = stops[0]["key"]
    page.locator("body").focus()
    back_at_start = False
    # Every stop once, a frame's own links, and the browser's own stops between two rounds.
    for _ in range(len(stops) + 40):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or focused["key"] is None:
            continue
        if focused["key"] == first and reached:
            back_at_start = True
            break
        reached.add(focused["key"])
        if focused["tag"] != "iframe" and not focused["ring"]:
            no_ring.append(focused["what"])
    missed = [what for key, what in wanted.items() if key not in reached]
    assert not missed, f"{url}: Tab never reaches {missed}"
    assert not no_ring, f"{url}: no visible focus on {no_ring}"
    assert back_at_start, f"{url}: the focus never came back round to the skip link (a trap?)"


@pytest.mark.parametrize("viewport", [DESKTOP, MOBILE], ids=["desktop", "phone"])
def test_tab_reaches_every_action_on_the_main_pages(chromium, site, viewport):
    sender = UserFactory(account__company_name="Amber Quay Ltd")
    moderator = UserFactory(email="mo@consentmail.example", is_staff=True, account=None)
    quay = MailingListFactory(account=sender.account, name="Quay news")
    subscribe_many(quay, 30)
    draft = CampaignFactory(account=sender.account, lists=[quay], name="Harbour lights")
    submitted = submitted_campaign(sender)

    context = _signed_in(chromium, site, sender, viewport)
    page = context.new_page()
    for path in (f"/campaigns/{draft.pk}/", f"/lists/{quay.pk}/", "/campaigns/"):
        _tab_round(page, site.url + path)
    context.close()

    context = _signed_in(chromium, site, moderator, viewport)
    page = context.new_page()
    for path in (f"/moderation/campaigns/{submitted.pk}/", "/moderation/"):
        _tab_round(page, site.url + path)
    context.close()
