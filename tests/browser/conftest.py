"""Real-browser fixtures: Debian's headless Chromium, the live server, and a real SMTP sink.

Chromium comes from the distribution, not Playwright's download: Debian's headless shell
(`apt-get install chromium-headless-shell`), the same Chromium build as `chromium` run in the
headless mode Playwright itself uses for headless runs. `/usr/bin/chromium`'s headless mode is
the whole browser, with a display compositor drawing frames nobody sees: on one share of the
accessibility walk it used 35 CPU-s against 23 for the shell, and the whole suite about 670
against 520. `CHROMIUM_PATH=/usr/bin/chromium` runs the browser tests in the whole browser.
Without the browser the tests skip locally and fail in CI. Screenshots go to
test-artifacts/screenshots/ (gitignored) at desktop and mobile widths.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import MailSink, require_service

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium-headless-shell"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"
# Screenshots are for people to look at, nothing asserts on them, and a full-page PNG at two
# widths cost about 0.4 s of a loaded run each (168 of them): taken only when asked for.
SCREENSHOTS = os.environ.get("TEST_SCREENSHOTS", "") not in ("", "0")
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module (each test gets its own context)."""
    if not CHROMIUM.exists():
        require_service(
            "Chromium", f"{CHROMIUM} is missing; apt-get install -y chromium-headless-shell"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread, so Django's ORM would refuse to
    # run in the test body. The loop is Playwright's and never runs our code: telling Django so is
    # safe. Django reads os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] on each call, so it is set only
    # while the browser lives; set for the whole session it would leak into subprocesses (e.g.
    # `check --deploy` fails on it, async.E001).
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    """A fresh page (own cookies) at desktop size."""
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@dataclass
class Site:
    url: str
    mail: MailSink


@pytest.fixture
def site(live_server, mail_sink, settings) -> Site:
    """The live server, sending its mail over real SMTP to the sink, with links back to itself."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = mail_sink.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    settings.SITE_URL = live_server.url
    return Site(url=live_server.url, mail=mail_sink)


def save_screenshot(target, path: Path) -> None:
    """A full-page shot of `target` (a page or a locator) to `path`, when TEST_SCREENSHOTS is
    set."""
    if SCREENSHOTS:
        path.parent.mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(path), full_page=True)


@pytest.fixture
def screenshot() -> Callable[..., None]:
    """screenshot(page, "account-signup") saves account-signup-desktop.png and -mobile.png, when
    TEST_SCREENSHOTS is set (README).

    A campaign preview's frame is brought into view at each width first: headless Chromium
    leaves a sandboxed frame that was never on screen unpainted in a full-page shot."""

    def take(page, name: str) -> None:
        if not SCREENSHOTS:
            return
        frame = page.locator("#preview-html")
        for label, size in (("desktop", DESKTOP), ("mobile", MOBILE)):
            page.set_viewport_size(size)
            if frame.count() and frame.is_visible():
                frame.scroll_into_view_if_needed()
                page.wait_for_timeout(150)
            save_screenshot(page, SCREENSHOT_DIR / f"{name}-{label}.png")
        page.set_viewport_size(DESKTOP)
        page.evaluate("window.scrollTo(0, 0)")

    return take


# The password tests.factories.UserFactory gives every user.
FACTORY_PASSWORD = "correct-horse-battery"


def log_in(page, site: Site, user, *, landing: str | None = "/dashboard/") -> None:
    """Log `user` (made by UserFactory) in through the login page; check where it lands."""
    from playwright.sync_api import expect

    page.goto(site.url + "/login/")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(FACTORY_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if landing:
        expect(page).to_have_url(site.url + landing)
