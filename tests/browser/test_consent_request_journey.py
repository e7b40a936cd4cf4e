"""Asking existing clients for consent in a real Chromium (issue 25): from the list's page the
sender uploads 50 clients (and two rows that are refused), sees the candidates and submits; the
request is moderated, probed and released to the SMTP sink; 10 clients open the mail's "Yes"
link in the browser and press the button; exactly those 10 are subscribed, with their proof, and
a later campaign reaches only them."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from lists.models import ConsentRecord, Subscriber
from moderation import services as moderation
from tests.browser.conftest import log_in
from tests.campaigns.factories import submitted_campaign, waiting_version
from tests.factories import SenderDomainFactory, UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SUBJECT = "asks: may we keep writing to you?"


def _through_the_hold(campaign: Campaign, moderator) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now() - timedelta(seconds=1))
    moderation.holds_evaluate()
    campaign.refresh_from_db()
    if campaign.status == "review":
        moderation.decision_release(campaign_id=campaign.pk, moderator=moderator)
        campaign.refresh_from_db()
    assert campaign.status == "sent"


def test_fifty_clients_are_asked_and_only_the_ten_who_say_yes_are_subscribed(
    page, site, settings, tmp_path
):
    settings.HOLD_SECONDS = 3600
    moderator = UserFactory(is_staff=True)
    user = UserFactory(email="lea@bistro.example")
    account = user.account
    SenderDomainFactory(account=account, domain="news.bistro.example", verified_at=timezone.now())
    mailing_list = MailingListFactory(account=account, name="Bistro news")
    clients = [f"client{n}@example.org" for n in range(50)]
    upload = tmp_path / "clients.csv"
    upload.write_text(
        "email,name\n"
        + "".join(f"{email},Client {n}\n" for n, email in enumerate(clients))
        + "not-an-address,X\nclient7@example.org,Again\n"
    )

    log_in(page, site, user)
    page.goto(f"{site.url}/lists/{mailing_list.pk}/")
    page.get_by_role("link", name="Ask existing clients for consent").click()
    page.get_by_label("From address").fill("news@news.bistro.example")
    page.get_by_label("Intro line (optional)").fill("You dined with us this year.")
    page.get_by_label("File of existing clients (TXT, CSV, XLS or XLSX)").set_input_files(
        str(upload)
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#candidate-counts")).to_contain_text("50 clients waiting for the request.")
    expect(page.locator("#upload-added")).to_have_text("50 added from the file.")
    rows = page.locator("#refused-rows tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Not an e-mail address")
    expect(rows.nth(1)).to_contain_text("Twice in the file")
    page.get_by_role("button", name="Submit the request for moderation").click()
    request = Campaign.objects.get(kind="consent_request")
    expect(page).to_have_url(re.compile(rf"/campaigns/{request.pk}/"))
    request.refresh_from_db()
    assert request.status == "submitted"

    # Moderated, probed (tasks run eagerly here) and released like any campaign.
    moderation.decision_approve(
        campaign_id=request.pk, moderator=moderator, version_id=waiting_version(request)
    )
    request.refresh_from_db()
    assert (request.status, request.probe_size) == ("holding", 5)
    _through_the_hold(request, moderator)
    asked = [m for m in site.mail.messages() if SUBJECT in m.subject]
    assert sorted(m.to for m in asked) == sorted(clients)

    confirming = sorted(asked, key=lambda m: m.to)[:10]
    for message in confirming:
        assert "You dined with us this year." in message.text
        link = re.search(r"(http://[^/\s]+/k/[^/\s]+/)", message.text).group(1)
        page.goto(link)
        page.get_by_role("button", name="Yes, keep me informed").click()
        expect(page.locator("#consent-confirmed")).to_contain_text("You are subscribed")

    confirmed = sorted(m.to for m in confirming)
    subscribed = Subscriber.objects.filter(mailing_list=mailing_list, status="subscribed")
    assert sorted(subscribed.values_list("email", flat=True)) == confirmed
    records = ConsentRecord.objects.filter(subscriber__in=subscribed)
    assert records.count() == 10
    for record in records:
        assert (record.event, record.source, record.ip) == (
            "granted",
            "client_reconfirmed",
            "127.0.0.1",
        )
        assert "Chrome" in record.user_agent
    assert Subscriber.objects.filter(mailing_list=mailing_list, status="unconfirmed").count() == 40

    later = submitted_campaign(
        mailing_list,
        from_email="news@news.bistro.example",
        from_name="Bistro",
        subject="Spring menu",
        html_body='<p>The <a href="https://bistro.example/menu">menu</a>.</p>',
    )
    moderation.decision_approve(
        campaign_id=later.pk, moderator=moderator, version_id=waiting_version(later)
    )
    _through_the_hold(later, moderator)
    spring = [m.to for m in site.mail.messages() if m.subject == "Spring menu"]
    assert sorted(spring) == confirmed
