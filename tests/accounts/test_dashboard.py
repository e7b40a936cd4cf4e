"""The sender's dashboard: lists with their subscribers and growth, campaigns by status, the
account's health against the thresholds, the latest unsubscribes and complaints; each chart with
its numbers as text, a fixed few queries however much there is, English and Russian."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Delivery, DeliveryStatus
from complaints.models import FeedbackEvent, FeedbackKind, FeedbackOutcome, FeedbackSource
from config import charts
from lists.models import MailingList, Subscriber
from lists.templatetags.lists_dashboard import growth_buckets
from tests.campaigns.factories import CampaignFactory, subscribe_many
from tests.factories import AccountFactory, UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db

URL = "/dashboard/"


@dataclass
class Dashboard:
    """What `build_dashboard` made, for the assertions."""

    harbour: MailingList
    spring: MailingList
    offers: MailingList
    empty: MailingList
    feedback: list[FeedbackEvent]


def _subscribers(mailing_list, *, days_ago: float, count: int, status: str = "subscribed"):
    """`count` subscribers who subscribed `days_ago` (bulk: the counters' triggers see them)."""
    at = timezone.now() - timedelta(days=days_ago)
    Subscriber.objects.bulk_create(
        Subscriber(
            mailing_list=mailing_list,
            email=f"{mailing_list.pk}-{days_ago}-{status}-{n}@example.org",
            status=status,
            subscribed_at=at if status != "unconfirmed" else None,
        )
        for n in range(count)
    )


def build_dashboard(account) -> Dashboard:
    """A sender with four lists, campaigns in six statuses, a hard bounce among 40 messages and
    a dozen unsubscribes and complaints; another account with data of its own that must never
    show. Needs settings.HEALTH_MIN_SENT <= 40 for the health verdict."""
    harbour = MailingListFactory(account=account, name="Harbour news")
    _subscribers(harbour, days_ago=0, count=3)
    _subscribers(harbour, days_ago=1, count=2)
    # Joined in the window and left since: part of the intake, not of today's count.
    _subscribers(harbour, days_ago=5, count=1, status="unsubscribed")
    _subscribers(harbour, days_ago=12, count=4)
    _subscribers(harbour, days_ago=45, count=5)  # in 90 days, not in 30
    _subscribers(harbour, days_ago=200, count=10)  # in neither
    _subscribers(harbour, days_ago=0, count=2, status="unconfirmed")  # never subscribed yet
    spring = MailingListFactory(account=account, name="Spring customers")
    offers = MailingListFactory(account=account, name="Offers")
    _subscribers(offers, days_ago=100, count=1)
    empty = MailingListFactory(account=account, name="Empty list")

    # 40 messages sent from the spring list 20 days ago, one of them hard-bounced: 2.5%.
    ids = subscribe_many(spring, 40, prefix="spring")
    Subscriber.objects.filter(pk__in=ids).update(subscribed_at=timezone.now() - timedelta(days=20))
    sent = CampaignFactory(account=account, lists=[spring], status="sent", name="Spring sale")
    now = timezone.now()
    Delivery.objects.bulk_create(
        Delivery(
            campaign=sent,
            subscriber_id=sid,
            provider="other",
            status=DeliveryStatus.SENT,
            sent_at=now - timedelta(days=2),
            hard_bounced_at=now if n == 0 else None,
        )
        for n, sid in enumerate(ids)
    )
    for status, count in {
        "draft": 2,
        "submitted": 1,
        "holding": 1,
        "sent": 2,
        "declined": 1,
    }.items():
        for _ in range(count):
            CampaignFactory(account=account, status=status)

    feedback = []
    for n in range(12):
        kind = FeedbackKind.COMPLAINED if n % 3 == 0 else FeedbackKind.UNSUBSCRIBED
        feedback.append(
            FeedbackEvent.objects.create(
                account=account,
                campaign=sent,
                source=FeedbackSource.ONE_CLICK,
                event_id=f"fb-{n}",
                kind=kind,
                recipient=f"reader{n}@example.org",
                occurred_at=now - timedelta(hours=n + 1),
            )
        )
    # Neither a bounce nor a test message's report is an unsubscribe or a complaint.
    FeedbackEvent.objects.create(
        account=account,
        source=FeedbackSource.DSN,
        event_id="bounce",
        kind=FeedbackKind.HARD_BOUNCE,
        recipient="bounced@example.org",
    )
    FeedbackEvent.objects.create(
        account=account,
        source=FeedbackSource.REPORT_PAGE,
        event_id="test",
        kind=FeedbackKind.COMPLAINED,
        outcome=FeedbackOutcome.TEST,
        recipient="tester@example.org",
    )

    other = AccountFactory(company_name="Other Co")
    theirs = MailingListFactory(account=other, name="Their secret list")
    _subscribers(theirs, days_ago=0, count=7)
    for _ in range(5):
        CampaignFactory(account=other, status="sent")
    FeedbackEvent.objects.create(
        account=other,
        source=FeedbackSource.ONE_CLICK,
        event_id="theirs",
        kind=FeedbackKind.COMPLAINED,
        recipient="their.reader@example.org",
    )
    return Dashboard(harbour, spring, offers, empty, feedback)


@pytest.fixture
def small_window(settings):
    settings.HEALTH_MIN_SENT = 20
    settings.HARD_BOUNCE_WARN = 0.02
    settings.HARD_BOUNCE_LIMIT = 0.05
    settings.COMPLAINT_WARN = 0.001
    settings.COMPLAINT_LIMIT = 0.005


@pytest.fixture
def sender(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def data(user, small_window) -> Dashboard:
    return build_dashboard(user.account)


def _html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def _section(html: str, section_id: str) -> str:
    """The markup of the <section id=...> on the page."""
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section #{section_id}"
    return match.group(0)


def _said(markup: str) -> str:
    """Text with tags dropped and white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", markup).split())


def _growth_rows(response) -> dict[str, dict]:
    return {row["list"].name: row for row in response.context["list_rows"]}


# --- lists ----------------------------------------------------------------------------------------


def test_each_list_shows_its_subscribers_and_its_intake_per_day(sender, data):
    response = sender.get(URL)
    html = _html(response)
    rows = _growth_rows(response)

    # Largest first; another account's list never shows.
    assert list(rows) == ["Spring customers", "Harbour news", "Offers", "Empty list"]
    assert "Their secret list" not in html
    assert {name: row["subscribers"] for name, row in rows.items()} == {
        "Spring customers": 40,
        "Harbour news": 24,  # 3 + 2 + 4 + 5 + 10 subscribed; the one who left is not counted
        "Offers": 1,
        "Empty list": 0,
    }
    # Joined in the last 30 days, the one who left since included.
    assert {name: row["new"] for name, row in rows.items()} == {
        "Spring customers": 40,
        "Harbour news": 10,
        "Offers": 0,
        "Empty list": 0,
    }
    today = timezone.now().date()
    harbour = {b["start"]: b["count"] for b in rows["Harbour news"]["buckets"] if b["count"]}
    assert harbour == {
        today: 3,
        today - timedelta(days=1): 2,
        today - timedelta(days=5): 1,
        today - timedelta(days=12): 4,
    }
    assert len(rows["Harbour news"]["buckets"]) == 30
    said = _said(_section(html, "dashboard-lists"))
    assert "Harbour news 24 subscribers +10 in 30 days" in said
    assert "Offers 1 subscriber +0 in 30 days" in said


def test_a_sparkline_has_a_title_a_description_and_a_table_of_its_figures(sender, data):
    html = _html(sender.get(URL))
    row = re.search(
        rf'<li class="growth-row" id="list-growth-{data.harbour.pk}">.*?</li>', html, re.S
    ).group(0)

    svg = re.search(r"<svg class=\"sparkline\".*?</svg>", row, re.S).group(0)
    assert 'role="img"' in svg
    assert f'aria-labelledby="growth-title-{data.harbour.pk} growth-desc-{data.harbour.pk}"' in svg
    assert "<title id=" in svg and "New subscribers of “Harbour news” per day</title>" in svg
    today = timezone.now().date()
    first = today - timedelta(days=29)
    assert f"10 new subscribers from {first:%-d %B} to {today:%-d %B}." in svg
    assert f"The busiest day was {today - timedelta(days=12):%-d %B}, with 4." in svg
    # One bar per day with someone new, each with its day and count.
    assert len(re.findall(r"<rect ", svg)) == 4
    assert f"<title>{today:%-d %B}: 3</title>" in svg
    # The same figures as a table, for screen readers and anyone who prefers numbers.
    table = re.search(r"<details class=\"growth-table\">.*?</details>", row, re.S).group(0)
    cells = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(\d+)</td></tr>", table)
    assert cells == [
        (f"{today - timedelta(days=12):%-d %B %Y}", "4"),
        (f"{today - timedelta(days=5):%-d %B %Y}", "1"),
        (f"{today - timedelta(days=1):%-d %B %Y}", "2"),
        (f"{today:%-d %B %Y}", "3"),
    ]


def test_ninety_days_are_counted_per_week(sender, data):
    response = sender.get(URL, {"growth": "90"})
    rows = _growth_rows(response)

    assert response.context["per"] == "week"
    assert len(rows["Harbour news"]["buckets"]) == 13
    assert rows["Harbour news"]["new"] == 15  # the 45-day-old five join the 30 days' ten
    assert rows["Offers"]["new"] == 0  # 100 days ago
    starts = [bucket["start"] for bucket in rows["Harbour news"]["buckets"]]
    assert all(start.weekday() == 0 for start in starts)
    html = _html(response)
    assert 'href="?growth=90#dashboard-lists" aria-current="true"' in html
    assert "+15" in _said(_section(html, "dashboard-lists"))


def test_an_unknown_period_is_the_default_thirty_days(sender, data):
    response = sender.get(URL, {"growth": "7"})
    assert response.context["days"] == 30
    assert response.context["per"] == "day"


def test_growth_buckets_end_today():
    monday = date(2026, 11, 23)
    per, days = growth_buckets(30, today=date(2026, 11, 25))
    assert per == "day" and len(days) == 30
    assert (days[0], days[-1]) == (date(2026, 10, 27), date(2026, 11, 25))
    per, weeks = growth_buckets(90, today=date(2026, 11, 25))
    assert per == "week" and len(weeks) == 13
    assert (weeks[0], weeks[-1]) == (monday - timedelta(weeks=12), monday)


def test_without_lists_the_panel_says_how_to_start(sender):
    html = _html(sender.get(URL))
    section = _section(html, "dashboard-lists")
    assert "Build a list of people who asked for your mail" in section
    assert '<a class="button secondary" href="/lists/">Create a list</a>' in section
    assert "sparkline" not in section


# --- campaigns ------------------------------------------------------------------------------------


def test_campaigns_are_counted_by_status_and_link_to_the_filtered_list(sender, data):
    response = sender.get(URL)
    html = _html(response)
    section = _section(html, "dashboard-campaigns")

    counts = {row["status"]: row["count"] for row in response.context["status_rows"]}
    assert counts == {
        "draft": 2,
        "submitted": 1,
        "approved": 0,
        "probing": 0,
        "holding": 1,
        "review": 0,
        "releasing": 0,
        "sent": 3,
        # The ways out show only when taken.
        "declined": 1,
    }
    assert "8 campaigns, by status:" in _said(section)
    assert '<a href="/campaigns/?status=draft">Draft</a>' in section
    assert (
        '<a href="/campaigns/?status=sent">Sent</a></th>\n        <td class="num">3</td>' in section
    )
    # The filter the link uses is one the campaign list understands.
    listed = sender.get("/campaigns/?status=draft")
    assert listed.status_code == 200 and len(listed.context["page"].object_list) == 2
    # Bars on one scale: sent (3) is the longest; a zero draws none.
    lengths = {row["status"]: row["length"] for row in response.context["status_rows"]}
    assert lengths["sent"] == "100.0" and lengths["draft"] == "66.7" and lengths["approved"] == "0"
    assert section.count('aria-hidden="true"') == 9


def test_without_campaigns_the_panel_invites_a_first_one(sender):
    section = _section(_html(sender.get(URL)), "dashboard-campaigns")
    assert '<a class="button secondary" href="/campaigns/new/">Write a campaign</a>' in section
    assert "<table" not in section


# --- health ---------------------------------------------------------------------------------------


def test_the_health_gauges_mark_the_thresholds_and_say_where_the_rate_is(sender, data):
    html = _html(sender.get(URL))
    panel = _section(html, "account-health")

    assert '<span class="badge warning" id="health-status">Warning</span>' in panel
    bounces = re.search(
        r'<figure class="gauge level-warning" id="gauge-bounces">.*?</figure>', panel, re.S
    ).group(0)
    assert "Hard bounces 2.5% over the warning level (2%), under the limit (5%)" in _said(bounces)
    assert (
        '<title id="gauge-bounces-title">Hard bounces: the rate against the thresholds</title>'
        in bounces
    )
    assert (
        '<desc id="gauge-bounces-desc">2.5% of 40 messages sent; warning level 2%, limit 5%.</desc>'
        in bounces
    )
    # The scale runs to 1.5 times the limit (7.5%): warning at 2/7.5, limit at 5/7.5 of 240.
    assert '<line x1="64.0" x2="64.0"' in bounces and 'stroke-dasharray="3 2"' in bounces
    assert '<line x1="160.0" x2="160.0"' in bounces
    assert '<rect x="0" y="8" width="80.0"' in bounces  # 2.5 / 7.5 of 240
    complaints = re.search(
        r'<figure class="gauge level-ok" id="gauge-complaints">.*?</figure>', panel, re.S
    ).group(0)
    assert "Spam complaints 0% under the warning level (0.1%)" in _said(complaints)
    # The figures in words as well.
    assert '<dd id="health-bounces">1 (2.5%)</dd>' in panel


def test_gauges_are_not_judged_before_enough_messages_were_sent(sender, user, settings):
    settings.HEALTH_MIN_SENT = 200
    build_dashboard(user.account)
    panel = _section(_html(sender.get(URL)), "account-health")
    assert 'class="gauge level-unjudged"' in panel
    assert "too few messages to judge yet" in panel
    assert "level-warning" not in panel


def test_no_gauges_before_anything_was_sent(sender):
    panel = _section(_html(sender.get(URL)), "account-health")
    assert "Not enough data yet: 0 messages sent" in panel
    assert "<figure" not in panel


# --- recent unsubscribes and complaints -----------------------------------------------------------


def test_the_latest_ten_unsubscribes_and_complaints_show_newest_first(sender, data):
    response = sender.get(URL)
    html = _html(response)
    section = _section(html, "recent-feedback")

    shown = [event.pk for event in response.context["events"]]
    assert shown == [event.pk for event in data.feedback[:10]]
    rows = re.findall(r'<tr id="feedback-(\d+)" class="kind-(\w+)">', section)
    assert [int(pk) for pk, _ in rows] == shown
    assert [kind for _, kind in rows] == [e.kind for e in data.feedback[:10]]
    assert "reader0@example.org" in section and "reader9@example.org" in section
    assert "reader10@example.org" not in section  # the eleventh is on the feedback page
    for absent in ("bounced@example.org", "tester@example.org", "their.reader@example.org"):
        assert absent not in section
    assert section.count('<span class="badge error">Spam complaint</span>') == 4  # 0, 3, 6, 9
    assert f'<a href="/campaigns/{data.feedback[0].campaign_id}/">Spring sale</a>' in section
    assert (
        '<a class="button secondary" href="/feedback/?tab=unsubscribes">All unsubscribes</a>'
        in section
    )
    assert (
        '<a class="button secondary" href="/feedback/?tab=complaints">All complaints</a>' in section
    )


def test_without_feedback_the_panel_says_what_will_appear(sender):
    section = _section(_html(sender.get(URL)), "recent-feedback")
    assert 'id="no-recent-feedback"' in section
    assert "<table" not in section


# --- the page as a whole --------------------------------------------------------------------------


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    return len(queries)


def test_the_queries_do_not_grow_with_lists_campaigns_or_feedback(
    sender, user, data, django_assert_max_num_queries
):
    _queries(sender)  # the first request of a session may do more
    few = _queries(sender)
    account = user.account
    for n in range(12):
        mailing_list = MailingListFactory(account=account, name=f"More {n:02}")
        _subscribers(mailing_list, days_ago=n, count=2)
    for status in ["draft", "sent", "paused", "cancelled", "rejected", "review"] * 4:
        CampaignFactory(account=account, status=status)
    for n in range(20):
        FeedbackEvent.objects.create(
            account=account,
            source=FeedbackSource.ONE_CLICK,
            event_id=f"more-{n}",
            kind=FeedbackKind.UNSUBSCRIBED,
            recipient=f"more{n}@example.org",
        )

    many = _queries(sender)
    # Session, user, account, domains, unread notifications, the terms acceptance (the banner);
    # the getting-started facts (one query); lists, their growth; campaigns by status; health
    # (deliveries, abuse reports); the latest feedback.
    with django_assert_max_num_queries(13):
        sender.get(URL, {"growth": "90"})

    assert many == few


def test_the_page_needs_no_script_and_every_chart_has_its_numbers_as_text(sender, data):
    html = _html(sender.get(URL))
    # The one script is the site-wide one that lets keyboards reach a table that scrolls on a
    # phone (base.html); the dashboard itself draws everything on the server.
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == ['<script src="/static/js/scroll-regions.js" defer>']
    # Every drawing is either an image with a title and a description, or hidden because the
    # number beside it says the same.
    drawings = list(re.finditer(r"<svg\b[^>]*>.*?</svg>", html, re.S))
    assert len(drawings) == 4 + 9 + 2  # sparklines, status bars, gauges
    for match in drawings:
        svg = match.group(0)
        if 'role="img"' in svg[: svg.index(">")]:
            assert "<title id=" in svg and "<desc id=" in svg, svg[:120]
        else:
            assert html[: match.start()].endswith('aria-hidden="true">'), svg[:120]
    assert html.count('<details class="growth-table">') == 4
    # Coordinates keep a decimal point whatever the language.
    ru = sender.get(URL, headers={"accept-language": "ru"}).content.decode()
    assert not re.search(r'(x|y|width|height)="\d+,\d', ru)


def test_the_dashboard_in_russian(sender, data):
    response = sender.get(URL, headers={"accept-language": "ru"})
    html = _html(response)
    said = _said(html)

    assert response["Content-Language"] == "ru"
    assert '<html lang="ru">' in html
    for text in (
        "С чего начать",
        "Опубликуйте записи домена отправителя",
        "Отправьте рассылку на модерацию",
        "Harbour news 24 подписчика +10 за 30 дней",
        "Offers 1 подписчик +0 за 30 дней",
        "Spring customers 40 подписчиков",
        "8 рассылок по статусам:",
        "Состояние аккаунта",
        "Жёсткие отказы 2,5% выше уровня предупреждения (2%), ниже предела (5%)",
        "Последние отписки и жалобы",
        "Жалоба на спам",
        "Все отписки",
        "Вы вошли как",
    ):
        assert text in said, text
    assert "Новые подписчики списка «Harbour news» по дням" in html
    # Month names in the language, in the genitive after a day.
    today = timezone.now().date()
    months = "января февраля марта апреля мая июня июля августа сентября октября ноября декабря"
    assert f"{today.day} {months.split()[today.month - 1]}" in said
    for english in ("Getting started", "Recent unsubscribes", "Account health", "subscribers"):
        assert english not in said, english


def test_the_english_page_keeps_its_wording(sender, data):
    said = _said(_html(sender.get(URL)))
    for text in (
        "Getting started",
        "Verify your e-mail address",
        "Account health",
        "Warning from 2% hard bounces or 0.1% complaints; the limits are 5% and 0.5%.",
        "Recent unsubscribes and complaints",
        "Sender domains",
        "State: Active",
    ):
        assert text in said, text


def test_staff_without_an_account_and_visitors_are_turned_away(client):
    assert client.get(URL)["Location"].startswith(reverse("login"))
    # A moderator without a sending account goes to their own work, the moderation queue.
    client.force_login(UserFactory(is_staff=True, account=None))
    assert client.get(URL)["Location"] == reverse("moderation_queue")


# --- the chart geometry ---------------------------------------------------------------------------


def test_columns_scale_to_the_largest_and_keep_a_small_one_visible():
    bars = charts.columns([0, 1, 100, 50], width=40, height=20)
    assert [bar["height"] for bar in bars] == ["0.0", "1.5", "20.0", "10.0"]
    assert [bar["y"] for bar in bars] == ["20.0", "18.5", "0.0", "10.0"]
    assert [bar["x"] for bar in bars] == ["1.2", "11.2", "21.2", "31.2"]
    assert charts.columns([], width=10, height=10) == []
    assert {bar["height"] for bar in charts.columns([0, 0], width=10, height=10)} == {"0.0"}


def test_gauges_keep_their_marks_in_place_until_the_value_passes_them():
    good = charts.gauge(0.01, marks={"warn": 0.02, "limit": 0.05}, width=300)
    assert good["marks"] == {"warn": "80.0", "limit": "200.0"}
    assert good["fill"] == "40.0" and good["over"] == {"warn": False, "limit": False}
    assert not good["beyond"]
    # Far past the limit the gauge is full and says so; the marks stay where they were.
    bad = charts.gauge(0.5, marks={"warn": 0.02, "limit": 0.05}, width=300)
    assert bad["fill"] == "300.0" and bad["marks"] == {"warn": "80.0", "limit": "200.0"}
    assert bad["beyond"] and bad["over"] == {"warn": True, "limit": True}
    # A label is kept clear of the edge.
    edge = charts.gauge(0.01, marks={"warn": 0.001, "limit": 0.05}, width=300)
    assert edge["marks"]["warn"] == "4.0" and edge["labels"]["warn"] == "14.0"
    # A rate above zero never looks like none.
    assert charts.gauge(0.0001, marks={"limit": 0.05}, width=300)["fill"] == "2.0"


def test_bar_lengths_share_one_scale():
    assert charts.bar_lengths({"a": 3, "b": 1, "c": 0}, width=100) == {
        "a": "100.0",
        "b": "33.3",
        "c": "0",
    }
    assert charts.bar_lengths({"a": 0}, width=100) == {"a": "0"}
    assert charts.nice_ceiling(0) == 1 and charts.nice_ceiling(7) == 10
