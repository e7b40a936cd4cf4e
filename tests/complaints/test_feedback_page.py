"""The sender's "Unsubscribes and complaints" page (/feedback/) and the account health panel, on
the page and on the dashboard: each tab's rows, the campaign filter, the CSV export, the
unsubscribe latency, and that another account's rows never show."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Delivery, DeliveryStatus
from campaigns.tokens import MessageTokens
from complaints import account_views
from complaints.models import (
    AbuseReport,
    FeedbackEvent,
    FeedbackKind,
    FeedbackOutcome,
    FeedbackSource,
)
from complaints.services import Feedback, feedback_apply
from complaints.templatetags.complaints_feedback import duration, percent
from tests.campaigns.factories import CampaignFactory, subscribe_many
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

URL = "/feedback/"


@pytest.fixture
def sender(client, user):
    client.force_login(user)
    return client


def _sent(campaign, subscriber, *, hours_ago: float = 1) -> MessageTokens:
    """A delivery of `campaign` to `subscriber`, sent `hours_ago`; its message tokens."""
    Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        status=DeliveryStatus.SENT,
        sent_at=timezone.now() - timedelta(hours=hours_ago),
    )
    return MessageTokens(campaign_id=campaign.pk, subscriber_id=subscriber.pk)


def _report(tokens, kind, *, event_id, source=FeedbackSource.AMAZON_SES, **fields):
    event = feedback_apply(
        Feedback(
            source=source,
            event_id=event_id,
            kind=kind,
            message_ref=tokens.message_ref(),
            **fields,
        )
    )
    assert event is not None and event.outcome == FeedbackOutcome.APPLIED
    return event


def _text(response) -> str:
    return response.content.decode()


def _said(response) -> str:
    """The page's text with runs of white space as one space, to read sentences from."""
    return " ".join(_text(response).split())


def _rows(response) -> list:
    """The table's rows on the page, in order (the objects the template was given)."""
    return list(response.context["page"].object_list)


# --- the tabs ------------------------------------------------------------------------------------


def test_the_unsubscribes_tab_lists_processed_unsubscriptions(sender, tokens, campaign):
    _report(tokens, FeedbackKind.UNSUBSCRIBED, event_id="u1", source=FeedbackSource.ONE_CLICK)
    _report(tokens, FeedbackKind.COMPLAINED, event_id="c1", source=FeedbackSource.ARF)

    response = sender.get(URL)

    assert response.status_code == 200
    [row] = _rows(response)
    assert (row.kind, row.recipient, row.list_name) == (
        "unsubscribed",
        "ann.lee@example.org",
        "Monthly news",
    )
    text = _text(response)
    assert "Processed unsubscriptions" in text
    assert "ann.lee@example.org" in text
    assert "Monthly news" in text
    assert f'<a href="/campaigns/{campaign.pk}/">{campaign.name}</a>' in text
    assert "One-click unsubscribe (RFC 8058)" in text
    # The complaint is on its own tab, not this one.
    assert "Feedback loop (ARF)" not in text
    assert response.context["tab"] == "unsubscribes"
    assert [(t["slug"], t["count"]) for t in response.context["tabs"]] == [
        ("unsubscribes", 1),
        ("complaints", 1),
        ("bounces", 0),
        ("abuse", 0),
    ]


def test_the_complaints_tab_shows_the_recipients_comment(sender, tokens, campaign):
    _report(
        tokens,
        FeedbackKind.COMPLAINED,
        event_id="c1",
        source=FeedbackSource.REPORT_PAGE,
        comment="I never <b>signed up</b> for this.",
    )

    response = sender.get(URL, {"tab": "complaints"})

    [row] = _rows(response)
    assert row.kind == "complained"
    text = _text(response)
    assert "Spam complaints" in text
    assert "ann.lee@example.org" in text
    assert "Report-spam link" in text
    # The recipient's words, escaped.
    assert "I never &lt;b&gt;signed up&lt;/b&gt; for this." in text
    assert 'aria-current="page">Complaints' in text


def test_the_bounces_tab_shows_hard_and_soft_bounces_with_the_detail_truncated(
    sender, tokens, campaign, mailing_list
):
    other = _sent(campaign, SubscriberFactory(mailing_list=mailing_list, email="bob@example.org"))
    detail = "550 5.1.1 The email account that you tried to reach does not exist. " * 5
    _report(tokens, FeedbackKind.HARD_BOUNCE, event_id="b1", code="5.1.1", detail=detail)
    _report(other, FeedbackKind.SOFT_BOUNCE, event_id="b2", code="4.2.2", detail="Mailbox full")
    _report(tokens, FeedbackKind.UNSUBSCRIBED, event_id="u1")

    response = sender.get(URL, {"tab": "bounces"})

    assert sorted(r.kind for r in _rows(response)) == ["hard_bounce", "soft_bounce"]
    text = _text(response)
    assert "<code>5.1.1</code>" in text and "<code>4.2.2</code>" in text
    assert "Hard bounce" in text and "Soft bounce" in text
    assert ">Mailbox full</td>" in text
    # The cell shows 120 characters at most, the ellipsis included; the rest is in its title.
    assert f">{detail[:119]}\u2026</td>" in text
    assert f">{detail[:120]}" not in text


def test_the_abuse_tab_shows_status_and_note_but_never_the_reporter(sender, account, campaign):
    AbuseReport.objects.create(
        reporter_email="whistle.blower@example.net",
        ip="198.51.100.23",
        comment="I am Wendy Whistle and I never subscribed",
        message_text="To: whistle.blower@example.net\nSubject: News",
        account=account,
        campaign=campaign,
        matched_by="message_ref",
        status="dismissed",
        resolution_note="The consent record is in order.",
        resolved_at=timezone.now(),
    )
    AbuseReport.objects.create(reporter_email="x@example.net", account=account, status="open")

    response = sender.get(URL, {"tab": "abuse"})

    assert [r.status for r in _rows(response)] == ["open", "dismissed"]
    text = _text(response)
    assert "Abuse reports about your account" in text
    assert "Dismissed" in text and "The consent record is in order." in text
    assert "Not reviewed yet" in text
    for private in ("whistle.blower", "198.51.100.23", "Wendy", "x@example.net"):
        assert private not in text


def test_an_unknown_tab_shows_the_unsubscribes(sender):
    response = sender.get(URL, {"tab": "<script>"})

    assert response.status_code == 200
    assert response.context["tab"] == "unsubscribes"
    assert "<script>" not in _text(response)


@pytest.mark.parametrize(
    ("tab", "empty"),
    [
        ("unsubscribes", "No one has unsubscribed."),
        ("complaints", "No spam complaints."),
        ("bounces", "No bounces."),
        ("abuse", "No abuse reports about your account."),
    ],
)
def test_each_tab_has_an_empty_state(sender, tab, empty):
    response = sender.get(URL, {"tab": tab})

    text = _text(response)
    assert 'id="feedback-empty"' in text
    assert empty in text
    assert 'id="feedback-table"' not in text
    assert "Download CSV" not in text


def test_test_messages_and_unmatched_reports_are_not_listed(sender, account, campaign):
    for outcome in (FeedbackOutcome.TEST, FeedbackOutcome.UNMATCHED):
        FeedbackEvent.objects.create(
            source="arf",
            event_id=outcome,
            kind=FeedbackKind.COMPLAINED,
            outcome=outcome,
            account=account,
            campaign=campaign,
            recipient="ghost@example.org",
        )

    response = sender.get(URL, {"tab": "complaints"})

    assert _rows(response) == []
    assert "ghost@example.org" not in _text(response)


# --- scoping and the campaign filter -------------------------------------------------------------


@pytest.fixture
def other_accounts_complaint():
    """Another account's campaign, with a complaint about it."""
    owner = UserFactory()
    theirs = MailingListFactory(account=owner.account, name="Their list")
    their_campaign = CampaignFactory(account=owner.account, lists=[theirs], status="holding")
    subscriber = SubscriberFactory(mailing_list=theirs, email="stranger@example.org")
    _report(
        _sent(their_campaign, subscriber),
        FeedbackKind.COMPLAINED,
        event_id="theirs",
        comment="Their recipient's words",
    )
    AbuseReport.objects.create(
        reporter_email="r@example.net",
        account=owner.account,
        campaign=their_campaign,
        resolution_note="Their moderator note",
    )
    return their_campaign


def test_another_accounts_rows_never_show(sender, tokens, other_accounts_complaint):
    _report(tokens, FeedbackKind.COMPLAINED, event_id="mine")

    for tab in ("complaints", "abuse"):
        text = _text(sender.get(URL, {"tab": tab}))
        assert "stranger@example.org" not in text
        assert "Their recipient's words" not in text
        assert "Their moderator note" not in text
        assert other_accounts_complaint.name not in text
    assert [r.recipient for r in _rows(sender.get(URL, {"tab": "complaints"}))] == [
        "ann.lee@example.org"
    ]


def test_another_accounts_campaign_id_shows_nothing(sender, tokens, other_accounts_complaint):
    _report(tokens, FeedbackKind.COMPLAINED, event_id="mine")

    response = sender.get(URL, {"tab": "complaints", "campaign": other_accounts_complaint.pk})

    assert _rows(response) == []
    text = _text(response)
    assert "None of your campaigns has this id" in text
    assert "stranger@example.org" not in text and "ann.lee@example.org" not in text
    assert [t["count"] for t in response.context["tabs"]] == [0, 0, 0, 0]
    # Nor in the export.
    export = sender.get(
        URL, {"tab": "complaints", "campaign": other_accounts_complaint.pk, "format": "csv"}
    )
    assert b"".join(export.streaming_content).decode().splitlines()[1:] == []


def test_the_campaign_filter_shows_one_campaigns_rows(
    sender, tokens, account, mailing_list, campaign
):
    second = CampaignFactory(
        account=account, lists=[mailing_list], status="sent", name="December news"
    )
    bob = SubscriberFactory(mailing_list=mailing_list, email="bob@example.org")
    _report(tokens, FeedbackKind.UNSUBSCRIBED, event_id="first")
    _report(_sent(second, bob), FeedbackKind.UNSUBSCRIBED, event_id="second")
    CampaignFactory(account=account, lists=[mailing_list], name="Never sent draft")

    everything = sender.get(URL)
    only_second = sender.get(URL, {"campaign": second.pk})

    assert sorted(r.recipient for r in _rows(everything)) == [
        "ann.lee@example.org",
        "bob@example.org",
    ]
    assert [r.recipient for r in _rows(only_second)] == ["bob@example.org"]
    text = _text(only_second)
    assert f'<option value="{second.pk}" selected>December news</option>' in text
    assert f'<option value="{campaign.pk}" >{campaign.name}</option>' in text
    # A draft never had recipients: not offered.
    assert "Never sent draft" not in text
    assert "for “December news”" in text
    # The tab links, pages and the export keep the filter.
    assert f"?tab=complaints&amp;campaign={second.pk}" in text
    assert f"?tab=unsubscribes&amp;campaign={second.pk}&amp;format=csv" in text


def test_a_malformed_campaign_filter_is_ignored(sender, tokens):
    _report(tokens, FeedbackKind.UNSUBSCRIBED, event_id="u1")

    response = sender.get(URL, {"campaign": "1 OR 1=1"})

    assert response.status_code == 200
    assert [r.recipient for r in _rows(response)] == ["ann.lee@example.org"]


def test_the_page_needs_a_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- pagination and CSV --------------------------------------------------------------------------


def test_rows_are_paginated_newest_first(sender, monkeypatch, account, campaign, mailing_list):
    monkeypatch.setattr(account_views, "PAGE_SIZE", 2)
    now = timezone.now()
    for n in range(5):
        FeedbackEvent.objects.create(
            source="one_click",
            event_id=f"u{n}",
            kind=FeedbackKind.UNSUBSCRIBED,
            account=account,
            campaign=campaign,
            recipient=f"r{n}@example.org",
            occurred_at=now - timedelta(minutes=n),
            suppressed_at=now - timedelta(minutes=n),
        )

    first = sender.get(URL)
    third = sender.get(URL, {"page": 3})

    assert [r.recipient for r in _rows(first)] == ["r0@example.org", "r1@example.org"]
    assert [r.recipient for r in _rows(third)] == ["r4@example.org"]
    assert "Page 1 of 3" in _text(first)
    assert 'href="?tab=unsubscribes&amp;page=2" rel="next"' in _text(first)


def test_the_csv_export_holds_the_current_tab_for_the_account(
    sender, account, campaign, other_accounts_complaint
):
    at = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    FeedbackEvent.objects.create(
        source="report_page",
        event_id="c1",
        kind=FeedbackKind.COMPLAINED,
        account=account,
        campaign=campaign,
        recipient="ann.lee@example.org",
        comment='=HYPERLINK("http://evil.example")',
        occurred_at=at,
        suppressed_at=at,
    )
    FeedbackEvent.objects.create(
        source="one_click",
        event_id="u1",
        kind=FeedbackKind.UNSUBSCRIBED,
        account=account,
        campaign=campaign,
        recipient="bob@example.org",
        occurred_at=at,
        suppressed_at=at + timedelta(milliseconds=40),
    )

    complaints = sender.get(URL, {"tab": "complaints", "format": "csv", "page": 3})
    unsubscribes = sender.get(URL, {"format": "csv"})

    assert complaints.status_code == 200
    assert complaints["Content-Type"] == "text/csv"
    assert complaints["Content-Disposition"].startswith('attachment; filename="complaints-')
    lines = b"".join(complaints.streaming_content).decode().splitlines()
    assert lines == [
        "\ufeffwhen,email,campaign,channel,comment",
        # A formula is defused for spreadsheets.
        f"{at.isoformat()},ann.lee@example.org,{campaign.name},Report-spam link,"
        '"\'=HYPERLINK(""http://evil.example"")"',
    ]
    lines = b"".join(unsubscribes.streaming_content).decode().splitlines()
    assert lines == [
        "\ufeffwhen,email,list,campaign,channel,suppressed_at,seconds",
        f"{at.isoformat()},bob@example.org,,{campaign.name},One-click unsubscribe (RFC 8058),"
        f"{(at + timedelta(milliseconds=40)).isoformat()},0.040",
    ]


def test_the_abuse_csv_leaves_the_reporter_out(sender, account, campaign):
    at = timezone.now().replace(microsecond=0)
    AbuseReport.objects.create(
        reporter_email="whistle.blower@example.net",
        ip="198.51.100.23",
        comment="Wendy here",
        account=account,
        campaign=campaign,
        status="upheld",
        resolution_note="No consent records for these addresses.",
        created_at=at,
        resolved_at=at,
    )

    response = sender.get(URL, {"tab": "abuse", "format": "csv"})

    assert b"".join(response.streaming_content).decode().splitlines() == [
        "\ufeffdate,campaign,status,resolved_at,moderator_note",
        f"{at.isoformat()},{campaign.name},Upheld,{at.isoformat()},"
        "No consent records for these addresses.",
    ]


# --- unsubscribe latency -------------------------------------------------------------------------


def _unsubscribe_taking(account, campaign, n: int, seconds: float):
    at = timezone.now() - timedelta(days=1)
    FeedbackEvent.objects.create(
        source="unsubscribe_page",
        event_id=f"lat-{n}",
        kind=FeedbackKind.UNSUBSCRIBED,
        account=account,
        campaign=campaign,
        recipient=f"l{n}@example.org",
        occurred_at=at,
        suppressed_at=at + timedelta(seconds=seconds),
    )


def test_the_latency_sentence_gives_the_median_and_the_slowest(sender, account, campaign):
    for n, seconds in enumerate([0.04, 0.2, 0.1]):
        _unsubscribe_taking(account, campaign, n, seconds)

    said = _said(sender.get(URL))

    assert (
        "Unsubscribes take effect immediately: median 0.1 s, slowest 0.2 s over 3 "
        "unsubscribes; mailbox providers require under 2 days."
    ) in said


def test_the_latency_sentence_says_when_unsubscribes_were_slow(sender, account, campaign):
    _unsubscribe_taking(account, campaign, 1, 0.05)
    _unsubscribe_taking(account, campaign, 2, 3 * 86400)

    response = sender.get(URL)

    assert response.context["latency_state"] == "late"
    assert "Unsubscribes take effect within 3 days:" in _text(response)
    assert 'class="banner warning" id="unsubscribe-latency"' in _text(response)


def test_the_latency_sentence_without_unsubscribes(sender):
    text = _text(sender.get(URL))

    assert "No unsubscribes yet. When someone unsubscribes, the address is suppressed at once" in (
        text
    )


def test_a_real_unsubscribe_is_measured(sender, tokens):
    event = _report(tokens, FeedbackKind.UNSUBSCRIBED, event_id="u1")

    response = sender.get(URL)

    assert event.suppressed_at >= event.occurred_at
    assert response.context["latency"].count == 1
    assert response.context["latency_state"] == "immediate"
    assert "over 1 unsubscribe;" in _text(response)


# --- the health panel ----------------------------------------------------------------------------


def _sent_many(campaign, mailing_list, count: int, *, complained=0, hard_bounced=0):
    now = timezone.now()
    ids = subscribe_many(mailing_list, count, prefix="h")
    Delivery.objects.bulk_create(
        [
            Delivery(
                campaign=campaign,
                subscriber_id=sid,
                provider="other",
                status=DeliveryStatus.SENT,
                sent_at=now - timedelta(days=1),
                complained_at=now if n < complained else None,
                hard_bounced_at=now if complained <= n < complained + hard_bounced else None,
            )
            for n, sid in enumerate(ids)
        ]
    )


@pytest.fixture
def small_window(settings):
    settings.HEALTH_MIN_SENT = 20
    settings.HARD_BOUNCE_WARN = 0.02
    settings.HARD_BOUNCE_LIMIT = 0.05
    settings.COMPLAINT_WARN = 0.001
    settings.COMPLAINT_LIMIT = 0.005


def test_the_health_panel_when_all_is_well(sender, small_window, campaign, mailing_list):
    _sent_many(campaign, mailing_list, 40)

    text = _text(sender.get(URL))

    assert '<span class="badge ok" id="health-status">Good</span>' in text
    assert '<dd id="health-sent">40</dd>' in text
    assert '0 (0%) <span class="muted small">warning from 2%, limit 5%</span>' in text
    assert '0 (0%) <span class="muted small">warning from 0.1%, limit 0.5%</span>' in text
    assert 'id="health-reasons"' not in text


def test_the_health_panel_warns_over_the_stricter_levels(
    sender, small_window, campaign, mailing_list
):
    _sent_many(campaign, mailing_list, 40, hard_bounced=1)

    text = _text(sender.get(URL))

    assert '<span class="badge warning" id="health-status">Warning</span>' in text
    assert '<dd id="health-bounces">1 (2.5%)' in text
    assert "Hard bounces at 2.5% of 40 messages, over 2%." in text


def test_the_health_panel_over_the_limit(sender, small_window, campaign, mailing_list, account):
    _sent_many(campaign, mailing_list, 40, complained=1)
    AbuseReport.objects.create(reporter_email="r@example.net", account=account, status="open")

    text = _text(sender.get(URL))

    assert '<span class="badge error" id="health-status">Over the limit</span>' in text
    assert '<dd id="health-complaints">1 (2.5%)' in text
    assert "Spam complaints at 2.5% of 40 messages, at or over the limit of 0.5%." in text
    assert '<dd id="health-abuse">0 upheld, 1 open</dd>' in text


def test_the_health_panel_explains_not_enough_data(sender, small_window, campaign, mailing_list):
    _sent_many(campaign, mailing_list, 3, complained=1)

    text = _text(sender.get(URL))

    assert '<span class="badge " id="health-status">Not enough data</span>' in text
    assert "Not enough data yet: 3 messages sent in the last 30 days." in text
    assert "Rates are judged from 20 messages on" in text


def test_the_dashboard_shows_the_compact_health_panel(client, user, small_window):
    client.force_login(user)

    text = _text(client.get("/dashboard/"))

    assert 'class="card health-panel compact"' in text
    assert "Not enough data yet: 0 messages sent" in text
    assert '<a class="button secondary" href="/feedback/">Unsubscribes &amp; complaints</a>' in text
    # The thresholds, in one line rather than per figure.
    assert "Warning from 2% hard bounces or 0.1% complaints; the limits are 5% and 0.5%." in text


def test_the_nav_marks_the_page_current(sender):
    text = _text(sender.get(URL))

    assert '<a href="/feedback/" aria-current="page">Complaints</a>' in text


# --- formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, ""),
        (0, "0 s"),
        (0.001, "<0.01 s"),
        (0.04, "0.04 s"),
        (0.2, "0.2 s"),
        (12.34, "12.3 s"),
        (210, "3.5 min"),
        (7560, "2.1 h"),
        (3 * 86400, "3 days"),
    ],
)
def test_duration(seconds, shown):
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("rate", "shown"), [(0, "0%"), (0.001, "0.1%"), (0.0042, "0.42%"), (0.05, "5%")]
)
def test_percent(rate, shown):
    assert percent(rate) == shown
