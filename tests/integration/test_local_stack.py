"""README's first command, for real: bin/run on embedded defaults (SQLite, the filesystem broker,
honcho's web + worker + beat + SMTP sink), then a newcomer's sign-up and verification over HTTP."""

import http.cookiejar
import os
import re
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import free_port
from tests.integration.conftest import ROOT, wait_for

pytestmark = [pytest.mark.slow]


class Browser:
    """Just enough of a browser: cookies, CSRF tokens from forms, redirects followed."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.read().decode()

    def post_form(self, path: str, fields: dict, *, form_page: str = "") -> tuple[str, str]:
        """GET the page with the form (`form_page`, default `path`), then POST it with CSRF."""
        page = self.get(form_page or path)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode(fields | {"csrfmiddlewaretoken": csrf}).encode()
        request = urllib.request.Request(
            self.base + path, data=body, headers={"Referer": self.base + path}
        )
        with self.opener.open(request, timeout=10) as response:
            return response.geturl(), response.read().decode()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    """One bin/run for the module's journeys (it takes a while to start): they touch different
    accounts, the newcomer's and the demo's."""
    tmp_path = tmp_path_factory.mktemp("local_stack")
    port, smtp_port = free_port(), free_port()
    # Only what a newcomer has: no DATABASE_URL, no broker, no mail server, no CI settings.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "CELERY_", "EMAIL_", "DJANGO_", "SITE_"))
    } | {
        "VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "EMAIL_PORT": str(smtp_port),
        # The demo's hold, shortened further, and beat's check of ended holds every second
        # instead of every minute: the release is still beat's doing, seconds after the probe.
        "HOLD_SECONDS": "1",
        "EVALUATE_HOLDS_SECONDS": "1",
    }
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        ["bin/run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: _answers(base + "/healthz/") or process.poll() is not None,
            timeout=180,
            what="bin/run to serve",
        )
        assert process.poll() is None, (tmp_path / "run.log").read_text()
        yield base, tmp_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_bin_run_serves_the_newcomer_journey_on_embedded_defaults(local_stack):
    base, tmp_path = local_stack
    run_log = (tmp_path / "run.log").read_text()
    assert "demo@example.com / demo-password-1" in run_log
    assert (tmp_path / "var" / "db.sqlite3").exists()
    browser = Browser(base)

    url, page = browser.post_form(
        "/signup/",
        {
            "company_name": "Newcomer Ltd",
            "contact_name": "Nia",
            "email": "nia@newcomer.example",
            "phone": "+1 555 0102",
            "postal_address": "4 Fresh Lane",
            "accept_terms": "on",
            "accept_privacy": "on",
            "password": "a-long-unusual-passphrase",
        },
    )
    assert url == base + "/dashboard/"
    assert "We sent a verification link to nia@newcomer.example" in page

    # The worker (filesystem broker) hands the mail to the SMTP sink; the outbox page shows it
    # (with the demo campaign's mail, when the other journey ran first).
    to_nia = r'href="(/dev/outbox/[^"]+)">[^<]*</a></td><td>nia@newcomer\.example<'
    outbox = wait_for(
        lambda: re.findall(to_nia, browser.get("/dev/outbox/")),
        timeout=60,
        what="the verification mail in the outbox",
    )
    message = browser.get(outbox[0])
    # The page shows the text part and the HTML part (escaped inside a srcdoc frame): the link
    # is read from the text, its characters are a signed token's.
    link = re.search(re.escape(base) + r"(/verify/[\w\-:./]+)", message).group(1)
    assert "Address verified" in browser.get(link)

    # Log out, log in again, add a sender domain and get its TXT record.
    url, _ = browser.post_form("/logout/", {}, form_page="/dashboard/")
    assert url == base + "/login/"
    url, _ = browser.post_form(
        "/login/", {"username": "nia@newcomer.example", "password": "a-long-unusual-passphrase"}
    )
    assert url == base + "/dashboard/"
    url, page = browser.post_form("/account/domains/", {"domain": "news.newcomer.example"})
    assert re.search(r"/account/domains/\d+/$", url)
    assert re.search(r"consentmail-verification=[0-9a-f]{32}", page)


def test_bin_run_sends_a_staged_campaign_on_embedded_defaults(local_stack):
    """The moderator approves the demo campaign waiting in the queue; the worker (filesystem
    broker, SQLite) sends the probe to the local sink, beat judges the hold and the rest goes."""
    base, tmp_path = local_stack
    moderator = Browser(base)
    moderator.post_form(
        "/login/", {"username": "moderator@example.com", "password": "staff-password-1"}
    )
    queue = moderator.get("/moderation/")
    campaign_id = re.search(r'href="/moderation/campaigns/(\d+)/"', queue).group(1)
    assert "Advent opening hours" in queue
    review = moderator.get(f"/moderation/campaigns/{campaign_id}/")
    # The approve form names the version the page showed.
    version = re.search(r'name="approve-version" value="(\d+)"', review).group(1)
    url, _ = moderator.post_form(
        f"/moderation/campaigns/{campaign_id}/approve/",
        {"approve-version": version},
        form_page=f"/moderation/campaigns/{campaign_id}/",
    )
    assert url.startswith(base + "/moderation/")

    def advent_messages():
        listing = Browser(base).get("/dev/outbox/")
        return listing.count("Our Advent opening hours")

    # Three subscribers: a probe of one, then the two others after the hold.
    wait_for(lambda: advent_messages() >= 1, timeout=60, what="the probe in the outbox")
    wait_for(lambda: advent_messages() == 3, timeout=150, what="the release after beat's check")
    sender = Browser(base)
    sender.post_form("/login/", {"username": "demo@example.com", "password": "demo-password-1"})
    page = sender.get(f"/campaigns/{campaign_id}/")
    assert 'id="finished"' in page
    assert "was approved" in sender.get("/notifications/")
