"""Issue 21 in a real Chromium: a new sender adds their domain, writes a draft and sends
themselves a test before DNS is done (DKIM-signed by us), publishes exactly the records the
domain page lists on a real local DNS server (dnsmasq), watches each check turn green, and
submits. The getting-started checklist follows the whole way."""

import re

import dkim as dkimpy
import pytest
from playwright.sync_api import expect

from accounts import dns as sender_dns
from accounts.models import SenderDomain
from campaigns.models import Campaign
from campaigns.states import CampaignStatus
from tests.browser.conftest import log_in
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DOMAIN = "news.violet.example"


def step(page, key: str):
    return page.locator(f"#step-{key} .badge").first


def test_from_a_new_account_to_a_submitted_campaign_through_the_dns_records(
    page, site, screenshot, dns_server, settings
):
    settings.SPF_INCLUDE = "_spf.mailer.consentmail.test"
    user = UserFactory(email="pat@violet.example", account__company_name="Violet Harbour Ltd")
    harbour = MailingListFactory(account=user.account, name="Harbour news")
    SubscriberFactory(mailing_list=harbour, email="ann.lee@example.org", name="Ann Lee")
    log_in(page, site, user)
    for key in ("domain", "draft", "test", "submit"):
        expect(step(page, key)).to_have_text("To do")
    expect(step(page, "list")).to_have_text("Done")

    # Adding the domain lists every record to publish; none is checked yet.
    page.locator("#step-domain").get_by_role("link").click()
    page.get_by_label("Domain", exact=True).fill(DOMAIN)
    expect(page.get_by_label("DKIM selector (optional)")).to_have_count(0)  # we sign
    page.get_by_role("button", name="Add domain").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(DOMAIN)
    domain = SenderDomain.objects.get(account=user.account)
    for key in ("ownership", "dkim", "spf", "dmarc"):
        expect(page.locator(f"#record-{key}-status")).to_have_text("not checked")
    expect(page.locator("#record-dkim-name")).to_have_text(
        f"{domain.signing_selector}._domainkey.{DOMAIN}"
    )
    expect(page.locator("#record-spf-value")).to_have_text(
        "v=spf1 include:_spf.mailer.consentmail.test ~all"
    )
    page.get_by_role("button", name="Verify now").click()
    for key in ("ownership", "dkim", "spf", "dmarc"):
        expect(page.locator(f"#record-{key}-status")).to_have_text("missing")
    screenshot(page, "domain-records-missing")

    # Before any DNS: a draft is saved, a test goes out, only submitting is refused.
    page.goto(site.url + "/campaigns/new/")
    page.get_by_label("Campaign name").fill("Spring timetable")
    page.get_by_label("Harbour news (1 subscribed)").check()
    page.get_by_label("Subject").fill("Sailings for {{ subscriber.first_name }}")
    page.get_by_label("From address").fill(f"news@{DOMAIN}")
    page.get_by_label("HTML body").fill("<p>Hello {{ subscriber.name }}, ferries run hourly.</p>")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#campaign-status")).to_have_text("Draft")
    campaign = Campaign.objects.get()
    expect(page.locator("#submit-sender-missing")).to_contain_text(
        f"{DOMAIN} is not verified yet: publish its TXT record"
    )
    page.get_by_role("button", name="Send a test to pat@violet.example").click()
    expect(page.get_by_role("status")).to_contain_text("Test sent to pat@violet.example.")
    test_message = site.mail.wait_for(to="pat@violet.example", subject="[Test]")
    page.get_by_role("button", name="Submit for moderation").click()
    expect(page.locator("#campaign-status")).to_have_text("Draft")
    screenshot(page, "domain-records-draft-before-dns")
    page.goto(site.url + "/dashboard/")
    expect(step(page, "draft")).to_have_text("Done")
    expect(step(page, "test")).to_have_text("Done")
    expect(step(page, "domain")).to_have_text("To do")

    # Publish what the page says, one record at a time: each check turns green as it appears.
    published: dict[str, list[str]] = {}
    page.goto(f"{site.url}/account/domains/{domain.pk}/")
    for key in ("dkim", "spf", "dmarc", "ownership"):
        name = page.locator(f"#record-{key}-name").inner_text().strip()
        value = page.locator(f"#record-{key}-value").inner_text().strip()
        published.setdefault(name, []).append(value)
        dns_server.set_records(published)
        page.get_by_role("button", name="Verify now").click()
        expect(page.locator(f"#record-{key}-status")).to_have_text("found")
        if key == "dkim":
            screenshot(page, "domain-records-dkim-found")
    expect(page.locator("#domain-status")).to_have_text("Verified")
    screenshot(page, "domain-records-all-found")

    # The test message sent before DNS verifies against the key now published, aligned.
    raw = (site.mail.directory / test_message.name).read_bytes()
    resolver = sender_dns.build_resolver()

    def dnsfunc(name, timeout=5):
        found = sender_dns.txt_records(name.decode().rstrip("."), resolver=resolver)
        return found[0].encode() if found else None

    assert dkimpy.verify(raw, dnsfunc=dnsfunc)
    signature = test_message.message["DKIM-Signature"]
    assert re.search(rf"\bd={re.escape(DOMAIN)};", signature)
    assert sender_dns.dmarc_aligned(DOMAIN, DOMAIN, strict=True)

    # Submitting now works; the checklist is done from end to end.
    page.goto(f"{site.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#submit-sender-missing")).to_have_count(0)
    page.get_by_role("button", name="Submit for moderation").click()
    expect(page.locator("#campaign-status")).to_have_text("Submitted for moderation")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SUBMITTED
    page.goto(site.url + "/dashboard/")
    for key in ("email", "profile", "domain", "list", "subscribers", "draft", "test", "submit"):
        expect(step(page, key)).to_have_text("Done")
    screenshot(page, "domain-records-dashboard-done")
