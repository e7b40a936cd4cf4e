"""axe-core over every page the access matrix visits, in a real Chromium: the sender's, a team
member's, the moderator's and the public (recipient) pages, in English and Russian, at desktop
(1280 px) and phone (390 px) width. Any serious or critical violation fails the one test, with a
report naming the page, the language, the width, the rule and the nodes.

axe-core is a copy of the published script (tests/browser/axe-core/, README there), checked
against Deque's published hash before use: nothing is fetched at test time. The pages and the
data behind them are the access matrix's (tests/security/routes.py builds the world,
test_access_matrix.PAGES says who may open each page), so a page added later is checked here
too. The walk is split into SHARDS shares of the routes, so that xdist's workers share it; each
share builds the world once and, in each language, loads each of its pages once per user and
checks it at both widths.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from tests.accounts.test_dashboard import build_dashboard
from tests.browser.conftest import DESKTOP, MOBILE
from tests.browser.test_moderation_journey import submitted_campaign
from tests.factories import UserFactory
from tests.security.routes import BROWSER_ROUTES, Route, World, build_world
from tests.security.test_access_matrix import PAGES, PUBLIC, SENDER, STAFF, USER

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AXE_VERSION = "4.14.1"
# axe.min.js's hash in sri-history.json of the npm package axe-core@4.14.1.
AXE_SRI = "sha256-KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw="
AXE_PATH = Path(__file__).with_name("axe-core") / "axe.min.js"
FAILING_IMPACTS = {"serious", "critical"}
LANGUAGES = ("en", "ru")
WIDTHS = (("desktop", DESKTOP), ("phone", MOBILE))
NEXT_FRAME = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


@dataclass
class Violation:
    url: str
    who: str
    language: str
    width: str
    rule: str
    impact: str
    help: str
    nodes: list[str]

    def __str__(self) -> str:
        nodes = "\n".join(f"      {node}" for node in self.nodes[:6])
        more = f"\n      ... and {len(self.nodes) - 6} more" if len(self.nodes) > 6 else ""
        return (
            f"{self.url} [{self.who}, {self.language}, {self.width}] {self.rule} ({self.impact}):"
            f" {self.help}\n{nodes}{more}"
        )


@functools.cache
def axe_script() -> str:
    """The vendored axe-core, once it is known to be the script Deque published."""
    script = AXE_PATH.read_bytes()
    digest = "sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode()
    assert digest == AXE_SRI, f"{AXE_PATH} is not axe-core {AXE_VERSION} as published ({digest})"
    return script.decode()


def test_the_axe_script_is_the_published_one():
    assert f"axe v{AXE_VERSION}" in axe_script()[:100]


# Faults axe reports as serious or critical (low contrast, an image without alt, an empty
# button) beside ones it reports as minor or moderate (text outside landmarks, a skipped heading
# level, no h1, a duplicate id).
PLANTED = """<!doctype html><html lang="en"><head><title>Planted</title></head><body>
<main><h2>Two</h2><h4>Four</h4>
<p style="color:#ccc;background:#fff">low contrast</p><img src="data:,">
<button></button><span id="twice">a</span><span id="twice">b</span></main>
<p>Outside every landmark</p></body></html>"""


def test_the_rules_left_out_cannot_fail_the_walk(chromium):
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_content(PLANTED)
        page.add_script_tag(content=axe_script())
        left_out = page.evaluate(SKIP_RULES_THAT_CANNOT_FAIL)
        assert {"region", "heading-order", "page-has-heading-one"} <= left_out.keys()
        everything = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        walked = _violations(page, url="planted", who="anonymous", language="en", width="any")
    finally:
        context.close()
    impacts = {v["id"]: v["impact"] for v in everything["violations"]}
    # The full run sees the low-impact faults too, and only under the rules left out.
    assert {"region", "heading-order", "page-has-heading-one"} <= impacts.keys()
    assert all(impacts[rule] in {"minor", "moderate"} for rule in impacts.keys() & left_out.keys())
    # Without those rules the walk reports exactly the full run's serious and critical ones.
    failing = {rule for rule, impact in impacts.items() if impact in FAILING_IMPACTS}
    assert failing == {"color-contrast", "image-alt", "button-name"}
    assert {v.rule for v in walked} == failing


# Shares of the walk, one test each (both languages).
SHARDS = 4


def _pages(world: World, routes: list[Route] = BROWSER_ROUTES) -> list[tuple[str, str]]:
    """(who, url) for every page of `routes` that answers its user's GET with a whole HTML
    page."""
    clients = {
        "anonymous": world.client(),
        "owner": world.client(world.owner),
        "viewer": world.client(world.viewer),
        "staff": world.client(world.staff),
    }
    visits = []
    for route in routes:
        page = PAGES[route.name]
        whos = {
            PUBLIC: ("anonymous",),
            USER: ("owner",),
            SENDER: ("owner", "viewer") if _team_member_sees(route) else ("owner",),
            STAFF: ("staff",),
        }[page.kind]
        url = route.url(world)
        for who in whos:
            response = clients[who].get(url)
            # A whole page, not a fragment a page polls for (the campaign's progress).
            html = response.status_code == 200 and not getattr(response, "streaming", False)
            if html and b"<html" in response.content[:500]:
                visits.append((who, url))
    return visits


def _team_member_sees(route: Route) -> bool:
    # A viewer's pages differ from the owner's (no edit actions); the main ones are checked as
    # a team member too.
    return route.name in {
        "dashboard",
        "lists",
        "list_detail",
        "campaigns",
        "campaign_detail",
        "team",
    }


def _browser_context(chromium, site_url: str, language: str, user) -> object:
    context = chromium.new_context(
        viewport=DESKTOP, locale="ru-RU" if language == "ru" else "en-GB"
    )
    context.set_default_timeout(15_000)
    # axe comes with every document the context loads, before the page's own scripts (it only
    # defines `axe`). As an init script Chromium compiles its 650 kB once and reuses the code on
    # the next pages, and the text crosses Playwright's pipe once per context instead of once per
    # page load, as page.evaluate of the source did.
    context.add_init_script(axe_script())
    if user is not None:
        client = Client()
        client.force_login(user)
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": site_url}]
        )
    return context


# The rules that can fail this test: axe gives a violation the rule's own impact, or else the
# highest impact of its failing checks (aggregateNodeResults, _finalizeRuleResult), and each
# check's impact is fixed in axe's data. A rule whose possible impacts are all minor or moderate
# (29 of 4.14.1's 105: region, heading-order, the landmark rules, duplicate-id...) can never
# report a serious or critical violation, so it is not run; a rule or check whose impact cannot
# be read is kept. On the API reference this was 18% of each run.
SKIP_RULES_THAT_CANNOT_FAIL = """Object.fromEntries(axe._audit.rules.filter(rule => {
  const checks = axe._audit.data.checks;
  const impacts = rule.impact ? [rule.impact] : [...rule.any, ...rule.all, ...rule.none].map(
    check => (checks[typeof check === 'string' ? check : check.id] || {}).impact);
  return impacts.every(impact => impact === 'minor' || impact === 'moderate');
}).map(rule => [rule.id, {enabled: false}]))"""


def _violations(page, *, url, who, language, width) -> list[Violation]:
    """axe's serious and critical violations on the page."""
    # `iframes: false`: axe is only ever in the top document, so a frame (a campaign's sandboxed
    # preview) never answers axe's ping; waiting for it cost about 0.3 s a run and only ever
    # yielded frame-tested as "incomplete", never a violation. The frame's own document is the
    # campaign's message, not our page.
    results = page.evaluate(
        "axe.run(document, {resultTypes: ['violations'], iframes: false,"
        f" rules: {SKIP_RULES_THAT_CANNOT_FAIL}}})"
    )
    return [
        Violation(
            url=url,
            who=who,
            language=language,
            width=width,
            rule=v["id"],
            impact=v["impact"],
            help=v["help"],
            nodes=[
                f"{', '.join(map(str, n['target']))}: {n.get('failureSummary', '')!s}".replace(
                    "\n", " "
                )
                for n in v["nodes"]
            ],
        )
        for v in results["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


# Pages in a state a plain GET does not show: (who, path, what to do first). A form sent empty
# shows its errors (the browser's own checks are switched off so the server answers); an unknown
# address shows the 404 page.
SEND_EMPTY = "send empty"
STATES = [
    ("anonymous", "/signup/", SEND_EMPTY),
    ("anonymous", "/login/", SEND_EMPTY),
    ("anonymous", "/no-such-page/", None),
    ("owner", "/lists/new/", SEND_EMPTY),
    ("owner", "/campaigns/new/", SEND_EMPTY),
    # The visual editor open on a starter template's content (issue 22), and the template form's
    # errors.
    ("owner", "/campaigns/new/?starter=newsletter", None),
    ("owner", "/templates/new/", SEND_EMPTY),
    ("owner", "/account/profile/", SEND_EMPTY),
    ("owner", "/no-such-page/", None),
    # The admin's index, for the moderators who may use it.
    ("staff", "/admin/", None),
]


def _send_empty(page) -> None:
    page.evaluate("document.querySelectorAll('form').forEach(f => { f.noValidate = true; })")
    form = page.locator("main form[method=post]").filter(has=page.locator("[type=submit]")).first
    form.locator(
        "input[type=text], input[type=email], input[type=password], textarea"
    ).evaluate_all("fields => fields.forEach(f => { f.value = ''; })")
    with page.expect_navigation():
        form.locator("[type=submit]").first.click()


@pytest.mark.django_db
def test_the_shares_walk_every_route_and_state_once_and_most_routes_are_pages(settings, tmp_path):
    routes = [route for shard in range(SHARDS) for route in BROWSER_ROUTES[shard::SHARDS]]
    assert sorted(map(str, routes)) == sorted(map(str, BROWSER_ROUTES))
    states = [state for shard in range(SHARDS) for state in STATES[shard::SHARDS]]
    assert sorted(map(str, states)) == sorted(map(str, STATES))
    # Together the shares must cover the site, not next to nothing.
    visits = _pages(build_world(settings, tmp_path))
    assert len(visits) >= 60, f"only {len(visits)} pages answered with HTML: {visits}"


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda shard: f"share{shard + 1}")
def test_every_page_passes_axe_in_both_languages_at_both_widths(
    chromium, site, settings, tmp_path, shard
):
    # Both languages in one test: the world is built (and flushed after) once per share, not
    # once per share and language.
    world = build_world(settings, tmp_path)
    # The dashboard's panels, the campaign index and the complaints page with data in them.
    settings.HEALTH_MIN_SENT = 20
    build_dashboard(world.owner.account)
    # A review with the analyser's findings and a list of role addresses.
    other_sender = UserFactory(email="pat@violet-harbour.example")
    review = f"/moderation/campaigns/{submitted_campaign(other_sender).pk}/"
    users = {"anonymous": None, "owner": world.owner, "viewer": world.viewer, "staff": world.staff}
    visits = [(who, url, None) for who, url in _pages(world, BROWSER_ROUTES[shard::SHARDS])]
    visits += STATES[shard::SHARDS]
    if shard == SHARDS - 1:
        visits.append(("staff", review, None))
    assert visits, f"share {shard + 1} of {SHARDS} has no page"
    found: list[Violation] = []
    for language in LANGUAGES:
        for who, user in users.items():
            if any(visitor == who for visitor, _, _ in visits):
                found += _walk(chromium, site, language, who, user, visits)
    report = "\n".join(map(str, found))
    assert not found, f"{len(found)} serious or critical axe violations:\n{report}"


def _walk(chromium, site, language: str, who: str, user, visits) -> list[Violation]:
    """`who`'s visits in `language`, each page at both widths."""
    found: list[Violation] = []
    context = _browser_context(chromium, site.url, language, user)
    try:
        page = context.new_page()
        for visitor, url, action in visits:
            if visitor != who:
                continue
            page.set_viewport_size(DESKTOP)
            response = page.goto(site.url + url)
            expected = 404 if "no-such-page" in url else 200
            assert response.status == expected, (
                f"{url} [{who}, {language}] answered {response.status}"
            )
            if action == SEND_EMPTY:
                _send_empty(page)
                url += " (sent empty)"
            lang = page.evaluate("document.documentElement.lang")
            assert lang.startswith(language), f"{url} [{who}] has lang={lang!r}"
            for width, size in WIDTHS:
                page.set_viewport_size(size)
                # The page's scripts answer the resize in the next frame.
                page.evaluate(NEXT_FRAME)
                found += _violations(page, url=url, who=who, language=language, width=width)
    finally:
        context.close()
    return found


API_DOCS = "/api/v1/docs/"


def _open_api_docs(chromium, site, language: str) -> tuple[BrowserContext, Page]:
    context = cast(BrowserContext, _browser_context(chromium, site.url, language, None))
    page = context.new_page()
    # Generating the schema takes a while on a busy machine.
    page.goto(site.url + API_DOCS, timeout=60_000)
    expect(page.get_by_role("heading", name="GET /api/v1/account/", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == language
    return context, page


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_api_docs_pass_axe_in_both_languages_at_both_widths(chromium, site, language):
    # The API reference (config/api_docs.py) is not in the access matrix's browser routes: it is
    # checked here, signed out, with its page translated and the schema's texts as generated.
    # Every rule runs on the whole page (18,650 elements) in each language, at each width.
    found: list[Violation] = []
    context, page = _open_api_docs(chromium, site, language)
    try:
        for width, size in WIDTHS:
            page.set_viewport_size(size)
            page.evaluate(NEXT_FRAME)
            found += _violations(
                page, url=API_DOCS, who="anonymous", language=language, width=width
            )
    finally:
        context.close()
    report = "\n".join(map(str, found))
    assert not found, f"{len(found)} serious or critical axe violations:\n{report}"
