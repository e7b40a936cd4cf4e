"""GET /api/v1/complaints/: the account's spam complaints and the abuse reports about it, merged
newest first, paged without skipping or repeating across the two kinds, filtered, scoped to the
account, and never naming whoever reported the account."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import MessageTokens
from complaints.models import AbuseReport, FeedbackEvent, FeedbackKind, FeedbackOutcome
from complaints.services import Feedback, feedback_apply
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/complaints/"
T0 = timezone.now().replace(microsecond=0) - timedelta(days=2)


def _complaint(campaign, email, *, minutes, event_id, comment="", source="arf"):
    """`email` on `campaign`'s first list reports its message as spam, T0 + `minutes`."""
    subscriber = SubscriberFactory(mailing_list=campaign.lists.first(), email=email)
    Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        status=DeliveryStatus.SENT,
        sent_at=T0 - timedelta(hours=1),
    )
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=subscriber.pk)
    event = feedback_apply(
        Feedback(
            source=source,
            event_id=event_id,
            kind=FeedbackKind.COMPLAINED,
            message_ref=tokens.message_ref(),
            occurred_at=T0 + timedelta(minutes=minutes),
            comment=comment,
        )
    )
    assert event.outcome == FeedbackOutcome.APPLIED
    return event


def _abuse(account, campaign, *, minutes, status="open", note="", **fields):
    return AbuseReport.objects.create(
        reporter_email=fields.pop("reporter_email", "reporter@example.net"),
        ip=fields.pop("ip", "198.51.100.7"),
        comment=fields.pop("comment", "I am Rita Reporter"),
        message_text="To: reporter@example.net",
        account=account,
        campaign=campaign,
        matched_by="message_ref" if campaign else "",
        status=status,
        resolution_note=note,
        created_at=T0 + timedelta(minutes=minutes),
        **fields,
    )


def _keys(response) -> list[tuple[str, int]]:
    return [(item["type"], item["id"]) for item in response.json()["results"]]


def test_complaints_and_abuse_reports_merged_newest_first(token_client, account, campaign):
    complaint = _complaint(
        campaign,
        "ann.lee@example.org",
        minutes=10,
        event_id="c1",
        comment="Never asked for this",
        source="report_page",
    )
    report = _abuse(account, campaign, minutes=20, status="dismissed", note="Consent is on file.")
    unmatched = _abuse(account, None, minutes=5)

    response = token_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    assert body["results"] == [
        {
            "type": "abuse_report",
            "id": report.pk,
            "campaign": campaign.pk,
            "campaign_name": campaign.name,
            "email": None,
            "source": "abuse_form",
            "comment": None,
            "status": "dismissed",
            "resolution_note": "Consent is on file.",
            "created_at": (T0 + timedelta(minutes=20)).isoformat().replace("+00:00", "Z"),
        },
        {
            "type": "complaint",
            "id": complaint.pk,
            "campaign": campaign.pk,
            "campaign_name": campaign.name,
            "email": "ann.lee@example.org",
            "source": "report_page",
            "comment": "Never asked for this",
            "status": "recorded",
            "resolution_note": "",
            "created_at": (T0 + timedelta(minutes=10)).isoformat().replace("+00:00", "Z"),
        },
        {
            "type": "abuse_report",
            "id": unmatched.pk,
            "campaign": None,
            "campaign_name": None,
            "email": None,
            "source": "abuse_form",
            "comment": None,
            "status": "open",
            "resolution_note": "",
            "created_at": (T0 + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        },
    ]


def test_only_applied_complaints_are_listed(token_client, account, campaign):
    complaint = _complaint(campaign, "ann.lee@example.org", minutes=1, event_id="c1")
    for n, (kind, outcome) in enumerate(
        [
            (FeedbackKind.UNSUBSCRIBED, FeedbackOutcome.APPLIED),
            (FeedbackKind.HARD_BOUNCE, FeedbackOutcome.APPLIED),
            (FeedbackKind.COMPLAINED, FeedbackOutcome.TEST),
            (FeedbackKind.COMPLAINED, FeedbackOutcome.UNMATCHED),
        ]
    ):
        FeedbackEvent.objects.create(
            source="esp",
            event_id=f"other-{n}",
            kind=kind,
            outcome=outcome,
            account=account,
            campaign=campaign,
            recipient="someone@example.org",
        )

    response = token_client.get(URL)

    assert _keys(response) == [("complaint", complaint.pk)]


def test_pages_walk_both_kinds_without_skipping_or_repeating(token_client, account, campaign):
    expected = []
    # Interleaved, with complaints and reports at the very same second: the ties are ordered too.
    for n in range(7):
        event = _complaint(campaign, f"c{n}@example.org", minutes=n, event_id=f"c{n}")
        report = _abuse(account, campaign, minutes=n if n % 2 else n + 1)
        expected += [(event.occurred_at, "complaint", event.pk)]
        expected += [(report.created_at, "abuse_report", report.pk)]
    expected = [(kind, pk) for _, kind, pk in sorted(expected, reverse=True)]

    seen, url, pages = [], f"{URL}?page_size=3", 0
    while url:
        response = token_client.get(url)
        assert response.status_code == 200
        assert response.json()["count"] == 14
        seen += _keys(response)
        url = response.json()["next"]
        pages += 1

    assert pages == 5
    assert seen == expected
    assert len(set(seen)) == 14


def test_a_page_past_the_end_is_a_404(token_client, account, campaign):
    _abuse(account, campaign, minutes=1)

    response = token_client.get(URL, {"page": 2})

    assert response.status_code == 404


def test_filter_by_type(token_client, account, campaign):
    complaint = _complaint(campaign, "ann.lee@example.org", minutes=1, event_id="c1")
    report = _abuse(account, campaign, minutes=2)

    assert _keys(token_client.get(URL, {"type": "complaint"})) == [("complaint", complaint.pk)]
    assert _keys(token_client.get(URL, {"type": "abuse_report"})) == [("abuse_report", report.pk)]
    assert len(_keys(token_client.get(URL, {"type": ""}))) == 2


def test_filter_by_campaign(token_client, account, campaign, mailing_list):
    other = CampaignFactory(account=account, lists=[mailing_list], status="sent")
    mine = _complaint(campaign, "ann.lee@example.org", minutes=1, event_id="c1")
    _complaint(other, "bob@example.org", minutes=2, event_id="c2")
    report = _abuse(account, campaign, minutes=3)
    _abuse(account, other, minutes=4)

    response = token_client.get(URL, {"campaign": campaign.pk})

    assert _keys(response) == [("abuse_report", report.pk), ("complaint", mine.pk)]


def test_filter_since(token_client, account, campaign):
    _complaint(campaign, "ann.lee@example.org", minutes=1, event_id="c1")
    late = _complaint(campaign, "bob@example.org", minutes=30, event_id="c2")
    _abuse(account, campaign, minutes=2)
    report = _abuse(account, campaign, minutes=20)

    since = (T0 + timedelta(minutes=20)).isoformat()
    response = token_client.get(URL, {"since": since})

    assert _keys(response) == [("complaint", late.pk), ("abuse_report", report.pk)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"type": "unsubscribe"}, "type"),
        ({"campaign": "abc"}, "campaign"),
        ({"campaign": "0"}, "campaign"),
        ({"campaign": str(2**64)}, "campaign"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(token_client, query, field):
    response = token_client.get(URL, query)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_another_accounts_rows_never_appear(token_client, account, campaign):
    mine = _complaint(campaign, "ann.lee@example.org", minutes=1, event_id="mine")
    stranger = UserFactory()
    their_list = MailingListFactory(account=stranger.account)
    theirs = CampaignFactory(account=stranger.account, lists=[their_list], status="sent")
    _complaint(theirs, "stranger@example.org", minutes=2, event_id="theirs")
    _abuse(stranger.account, theirs, minutes=3, note="Their note")

    everything = token_client.get(URL)
    by_their_campaign = token_client.get(URL, {"campaign": theirs.pk})

    assert _keys(everything) == [("complaint", mine.pk)]
    assert "stranger@example.org" not in everything.content.decode()
    assert "Their note" not in everything.content.decode()
    assert by_their_campaign.status_code == 200
    assert by_their_campaign.json()["count"] == 0


def test_the_reporter_never_appears(token_client, account, campaign):
    _abuse(
        account,
        campaign,
        minutes=1,
        status="upheld",
        note="Upheld: no consent records.",
        reporter_email="whistle.blower@example.net",
        ip="203.0.113.99",
        comment="Wendy Whistle, whistle.blower@example.net, never subscribed",
        user_agent="ReporterBrowser/1.0",
    )

    response = token_client.get(URL)

    body = response.content.decode()
    assert response.json()["count"] == 1
    for private in ("whistle.blower", "203.0.113.99", "Wendy", "ReporterBrowser", "To: "):
        assert private not in body


def test_credentials_are_required(api_client, account, campaign):
    _abuse(account, campaign, minutes=1)

    response = api_client.get(URL)

    assert response.status_code == 401
    assert "results" not in response.json()


def test_an_erased_recipients_complaint_has_no_email(token_client, account, campaign):
    event = FeedbackEvent.objects.create(
        source="arf",
        event_id="erased",
        kind=FeedbackKind.COMPLAINED,
        account=account,
        campaign=campaign,
        recipient="",
    )

    [item] = token_client.get(URL).json()["results"]

    assert (item["type"], item["id"], item["email"]) == ("complaint", event.pk, None)
