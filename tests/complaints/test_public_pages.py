"""The recipient's pages: unsubscribe (page and RFC 8058 one-click), report spam, the abuse form."""

import pytest
from django.core.cache import cache

from campaigns.tokens import MessageTokens
from complaints.models import AbuseReport, FeedbackEvent
from lists.models import Suppression
from lists.services.suppression import suppression_reason

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    cache.clear()


def test_a_get_shows_the_page_and_changes_nothing(client, tokens, subscriber):
    response = client.get(f"/u/{tokens.unsubscribe()}/")

    subscriber.refresh_from_db()
    body = response.content.decode()
    assert response.status_code == 200
    assert "Monthly news" in body and subscriber.mailing_list.account.company_name in body
    assert 'id="unsubscribe-button"' in body
    assert subscriber.status == "subscribed"
    assert not FeedbackEvent.objects.exists() and not Suppression.objects.exists()


def test_the_page_post_unsubscribes_at_once_and_shows_the_time_to_suppression(
    client, tokens, subscriber, delivery, account
):
    response = client.post(f"/u/{tokens.unsubscribe()}/")

    assert response.status_code == 302
    subscriber.refresh_from_db()
    delivery.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    assert delivery.unsubscribed_at is not None
    assert suppression_reason(account=account, email=subscriber.email) == "unsubscribed"
    assert subscriber.consent_records.filter(event="withdrawn").count() == 1
    event = FeedbackEvent.objects.get()
    assert (event.source, event.kind, event.is_probe) == ("unsubscribe_page", "unsubscribed", True)
    assert event.suppression_seconds is not None and event.suppression_seconds < 60

    page = client.get(response["Location"]).content.decode()
    assert 'id="unsubscribed"' in page and "suppressed in under a second" in page


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "List-Unsubscribe=One-Click", "content_type": "application/x-www-form-urlencoded"},
        {"data": {"List-Unsubscribe": "One-Click"}},  # multipart, as some providers send it
    ],
)
def test_one_click_post_unsubscribes_without_a_page(client, tokens, subscriber, kwargs):
    response = client.post(f"/u/{tokens.unsubscribe()}/", **kwargs)

    subscriber.refresh_from_db()
    assert (response.status_code, response.content) == (200, b"Unsubscribed.\n")
    assert subscriber.status == "unsubscribed"
    assert FeedbackEvent.objects.get().source == "one_click"


def test_unsubscribing_twice_records_one_event(client, tokens, subscriber):
    url = f"/u/{tokens.unsubscribe()}/"
    client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    second = client.post(url)

    assert second.status_code == 302
    assert FeedbackEvent.objects.count() == 1
    assert subscriber.consent_records.filter(event="withdrawn").count() == 1


@pytest.mark.parametrize("path", ["/u/{}/", "/r/{}/"])
def test_a_tampered_token_is_a_friendly_404(client, tokens, subscriber, path):
    token = tokens.unsubscribe() if path.startswith("/u") else tokens.report()
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    for method in ("get", "post"):
        response = getattr(client, method)(path.format(tampered))
        assert response.status_code == 404
        assert "This link is not valid" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == "subscribed"


def test_a_report_token_does_not_unsubscribe_through_the_unsubscribe_url(client, tokens):
    assert client.post(f"/u/{tokens.report()}/").status_code == 404


def test_report_spam_records_a_complaint_counted_in_the_probe(
    client, tokens, subscriber, delivery, account, token_client
):
    assert client.get(f"/r/{tokens.report()}/").status_code == 200
    assert not FeedbackEvent.objects.exists()

    response = client.post(f"/r/{tokens.report()}/", {"comment": "Never signed up."})

    assert response.status_code == 302
    subscriber.refresh_from_db()
    event = FeedbackEvent.objects.get()
    assert (event.kind, event.source, event.comment) == (
        "complained",
        "report_page",
        "Never signed up.",
    )
    assert subscriber.status == "complained"
    assert suppression_reason(account=account, email=subscriber.email) == "complained"
    stats = token_client.get(f"/api/v1/campaigns/{delivery.campaign_id}/stats/").json()
    assert (stats["complained"], stats["probe"]["complained"]) == (1, 1)
    assert 'id="reported"' in client.get(response["Location"]).content.decode()


def test_a_test_messages_links_show_but_change_nothing(client, delivery, subscriber):
    test = MessageTokens(
        campaign_id=delivery.campaign_id, subscriber_id=subscriber.pk, is_test=True
    )
    page = client.get(f"/u/{test.unsubscribe()}/").content.decode()
    client.post(f"/u/{test.unsubscribe()}/")
    client.post(f"/r/{test.report()}/", {"comment": "x"})

    subscriber.refresh_from_db()
    assert 'id="test-notice"' in page
    assert subscriber.status == "subscribed"
    assert not Suppression.objects.exists()
    assert set(FeedbackEvent.objects.values_list("outcome", flat=True)) == {"test"}


def test_the_abuse_form_matches_the_campaign_by_the_pasted_headers(client, tokens, delivery):
    headers = (
        f"Message-ID: <{tokens.message_ref()}@news.acme.example>\n"
        "From: Acme News <news@news.acme.example>\nSubject: Hello\n"
    )
    response = client.post(
        "/abuse/",
        {"reporter_email": "angry@example.net", "message_text": headers, "comment": "Spam"},
    )

    assert (response.status_code, response["Location"]) == (302, "/abuse/thanks/")
    report = AbuseReport.objects.get()
    assert (report.campaign_id, report.account_id, report.matched_by, report.status) == (
        delivery.campaign_id,
        delivery.campaign.account_id,
        "message_ref",
        "open",
    )


def test_an_unmatched_report_still_lands_in_the_queue(client):
    client.post(
        "/abuse/", {"reporter_email": "a@example.net", "message_text": "Subject: buy now\n"}
    )

    report = AbuseReport.objects.get()
    assert (report.account_id, report.matched_by) == (None, "")


def test_a_forged_feedback_id_of_another_account_matches_nothing(client, delivery):
    text = f"Feedback-ID: {delivery.campaign_id}:999999:campaign:consentmail\n"
    client.post("/abuse/", {"reporter_email": "a@example.net", "message_text": text})

    assert AbuseReport.objects.get().campaign_id is None


def test_the_honeypot_and_empty_reports_store_nothing(client):
    bot = client.post(
        "/abuse/",
        {"reporter_email": "a@example.net", "message_text": "x", "website": "http://spam"},
    )
    empty = client.post("/abuse/", {"reporter_email": "a@example.net"})
    bad_email = client.post("/abuse/", {"reporter_email": "nope", "message_text": "x"})

    assert bot.status_code == 302
    assert empty.status_code == 400 and "Paste the message" in empty.content.decode()
    assert bad_email.status_code == 400
    assert not AbuseReport.objects.exists()


def test_the_abuse_form_is_rate_limited_per_address(client, settings):
    settings.ABUSE_REPORTS_PER_HOUR = 2
    answers = [
        client.post("/abuse/", {"reporter_email": "a@example.net", "message_text": f"m{i}"})
        for i in range(3)
    ]

    assert [a.status_code for a in answers] == [302, 302, 429]
    assert AbuseReport.objects.count() == 2


def test_an_oversized_report_is_refused(client, settings):
    settings.ABUSE_REPORT_MAX_BYTES = 1000
    response = client.post(
        "/abuse/", {"reporter_email": "a@example.net", "message_text": "x" * 2000}
    )

    assert response.status_code == 400 and "too large" in response.content.decode()
    assert not AbuseReport.objects.exists()


def test_no_later_campaign_of_the_account_reaches_an_unsubscribed_address(
    client, tokens, subscriber, mailing_list, account
):
    from campaigns import sending
    from campaigns.models import Campaign, Delivery
    from tests.campaigns.factories import CampaignFactory, with_approved_version
    from tests.lists.factories import MailingListFactory, SubscriberFactory

    client.post(f"/u/{tokens.unsubscribe()}/")
    # The same address on another list of the account, still marked subscribed there.
    other_list = MailingListFactory(account=account, name="Offers")
    SubscriberFactory(mailing_list=other_list, email=subscriber.email)
    SubscriberFactory(mailing_list=other_list, email="bob.ray@example.org")
    later = with_approved_version(
        CampaignFactory(account=account, lists=[mailing_list, other_list])
    )
    Campaign.objects.filter(pk=later.pk).update(status="approved")
    sending.campaign_start_probe(campaign_id=later.pk)  # the audience is fixed here

    audience = set(Delivery.objects.filter(campaign=later).values_list("email", flat=True))
    assert audience == {"bob.ray@example.org"}
