"""The campaign page's live timeline of the staged send (and the fragment the page polls for it),
the clicks per link, and the campaigns area in Russian and, unchanged, in English."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Notification
from campaigns import merge, selectors
from campaigns import sending as campaign_sending
from campaigns.forms import MERGE_TAG_HELP_TEXT
from campaigns.models import Campaign, Delivery, DeliveryStatus, TrackingEvent
from campaigns.views import _progress_context
from lists.models import Subscriber
from moderation import services as moderation
from tests.campaigns.factories import (
    CampaignFactory,
    approve_now,
    end_hold_now,
    submitted_campaign,
    subscribe_many,
    with_approved_version,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STEPS = ["submitted", "approved", "probe", "hold", "verdict", "release", "done"]
RUSSIAN = {"accept-language": "ru"}


@pytest.fixture
def moderator(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def owner(client, user):
    client.force_login(user)
    return client


def _probe(campaign):
    return list(Delivery.objects.filter(campaign=campaign, is_probe=True).order_by("pk"))


@pytest.fixture
def holding_campaign(mailing_list, moderator, django_capture_on_commit_callbacks):
    """200 recipients; the probe of 20 went out (in-process), the hold is on."""
    subscribe_many(mailing_list, 200)
    return approve_now(
        submitted_campaign(mailing_list), moderator, django_capture_on_commit_callbacks
    )


@pytest.fixture
def sent_campaign(holding_campaign, django_capture_on_commit_callbacks):
    """Judged green (nothing bad in the probe), released and sent to all 200."""
    end_hold_now(holding_campaign, django_capture_on_commit_callbacks)
    campaign = holding_campaign
    assert campaign.status == "sent"
    return campaign


@pytest.fixture
def review_campaign(holding_campaign, django_capture_on_commit_callbacks):
    """Three complaints in the probe of 20: over the review threshold, a moderator decides."""
    Delivery.objects.filter(pk__in=[d.pk for d in _probe(holding_campaign)[:3]]).update(
        complained_at=timezone.now()
    )
    end_hold_now(holding_campaign, django_capture_on_commit_callbacks)
    campaign = holding_campaign
    assert campaign.status == "review"
    return campaign


def _fragment(client, campaign, **kwargs):
    return client.get(reverse("campaign_progress", args=[campaign.pk]), **kwargs)


def _steps(html: str) -> dict[str, dict]:
    """Each step of the timeline: its state (class), whether it is aria-current, and its words."""
    found = {}
    step = re.compile(
        r'<li id="step-(\w+)" class="send-step (\w+)"([^>]*)>(.*?)</li>\s*(?=<li id="step-|</ol>)',
        re.S,
    )
    for match in step.finditer(html):
        key, state, attributes, body = match.groups()
        found[key] = {
            "state": state,
            "current": 'aria-current="step"' in attributes,
            "words": " ".join(re.sub(r"<[^>]+>", "", unescape(body)).split()),
        }
    return found


def _states(html: str) -> list[tuple[str, str]]:
    return [(key, step["state"]) for key, step in _steps(html).items()]


def _current(html: str) -> list[str]:
    return [key for key, step in _steps(html).items() if step["current"]]


# --- the timeline on the page ----------------------------------------------------------------


def test_a_draft_has_no_timeline(owner, account, mailing_list):
    campaign = CampaignFactory(account=account, lists=[mailing_list])

    page = owner.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()

    assert 'id="progress"' not in page
    assert "campaign-stats.js" not in page and "campaign-progress.css" not in page


def test_a_submitted_campaign_waits_for_approval_in_an_ordered_list(owner, mailing_list):
    campaign = submitted_campaign(mailing_list)

    page = owner.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()

    assert re.search(r'<ol class="send-steps" id="progress-steps">', page)
    assert [key for key, _ in _states(page)] == STEPS
    assert _states(page)[:3] == [
        ("submitted", "done"),
        ("approved", "current"),
        ("probe", "pending"),
    ]
    assert _current(page) == ["approved"]
    steps = _steps(page)
    assert steps["submitted"]["words"].startswith("Submitted (done) ")
    assert campaign.submitted_at.strftime("%Y-%m-%d %H:%M") in steps["submitted"]["words"]
    assert "A moderator reviews the campaign" in steps["approved"]["words"]
    # The live region, what it polls and how often, and the script that does it.
    region = re.search(r'<div id="progress-live"[^>]*>', page, re.S).group(0)
    assert 'aria-live="polite"' in region
    assert f'data-poll-url="/campaigns/{campaign.pk}/progress/"' in region
    assert 'data-poll-seconds="5"' in region
    assert 'data-final="false"' in page
    assert "campaign-stats.js" in page and "campaign-progress.css" in page
    assert re.search(r'<p class="small banner info" id="progress-stale" hidden>', page)


def test_while_holding_the_probe_is_done_and_the_hold_counts_down(owner, holding_campaign):
    page = owner.get(reverse("campaign_detail", args=[holding_campaign.pk])).content.decode()

    assert _states(page) == [
        ("submitted", "done"),
        ("approved", "done"),
        ("probe", "done"),
        ("hold", "current"),
        ("verdict", "pending"),
        ("release", "pending"),
        ("done", "pending"),
    ]
    assert _current(page) == ["hold"]
    steps = _steps(page)
    assert "To 20 of 200 recipients, chosen at random." in steps["probe"]["words"]
    iso = holding_campaign.hold_until.isoformat()
    hold = re.search(r'<p class="step-detail" id="hold">.*?</p>', page, re.S).group(0)
    assert f'<time datetime="{iso}" id="hold-until">' in hold
    assert f'data-countdown="{iso}"' in hold
    assert re.search(r"\(in (5\shours,\s59\sminutes|6\shours)\)", unescape(hold))
    assert "compared with the thresholds" in steps["verdict"]["words"]


def test_once_the_hold_has_ended_the_verdict_is_being_judged(owner, holding_campaign):
    Campaign.objects.filter(pk=holding_campaign.pk).update(
        hold_until=timezone.now() - timedelta(seconds=5)
    )

    html = _fragment(owner, holding_campaign).content.decode()

    assert _current(html) == ["verdict"]
    assert dict(_states(html))["hold"] == "done"
    assert "The hold is over: the probe is being judged." in _steps(html)["verdict"]["words"]
    assert 'id="hold-countdown"' not in html


def test_a_sent_campaign_is_done_with_its_verdict_against_the_thresholds(owner, sent_campaign):
    page = owner.get(reverse("campaign_detail", args=[sent_campaign.pk])).content.decode()

    assert all(state == "done" for _, state in _states(page))
    assert _current(page) == ["done"]
    assert 'data-final="true"' in page
    steps = _steps(page)
    assert steps["verdict"]["words"] == (
        f"Verdict (done) {sent_campaign.judged_at:%Y-%m-%d %H:%M} Green "
        "Within every threshold: the rest was released. "
        "Spam complaints 0% (warning from 0.1%, review over 0.3%, policy limit 0.5%) "
        "Hard bounces 0% (warning from 2%, review over 5% (the policy limit)) "
        "Provider blocks 0% (warning from 2%, review over 5%) "
        "Unsubscribed 0% (warning from 1%, review over 2%)"
    )
    assert "200 of 200 sent." in steps["release"]["words"]
    finished = f"{sent_campaign.finished_at:%Y-%m-%d %H:%M} UTC"
    assert f"Sent to every recipient; finished {finished}." in steps["done"]["words"]


def test_in_review_the_verdict_waits_for_a_moderator_and_then_says_who_released_it(
    owner, review_campaign, moderator, django_capture_on_commit_callbacks
):
    html = _fragment(owner, review_campaign).content.decode()

    assert _current(html) == ["verdict"]
    verdict = _steps(html)["verdict"]
    assert verdict["state"] == "current"
    assert verdict["words"].startswith("Verdict (now) ")
    assert "Review The probe's results are over a threshold" in verdict["words"]
    assert "Spam complaints 15% (warning from 0.1%" in verdict["words"]
    assert 'data-final="false"' in html

    with django_capture_on_commit_callbacks(execute=True):
        moderation.decision_release(campaign_id=review_campaign.pk, moderator=moderator)

    html = _fragment(owner, review_campaign).content.decode()
    verdict = _steps(html)["verdict"]
    assert verdict["state"] == "done"
    assert "a moderator reviewed the probe and released the rest" in verdict["words"]


def test_a_declined_campaign_stops_where_it_was_and_says_why(owner, review_campaign, moderator):
    moderation.decision_decline(
        campaign_id=review_campaign.pk, moderator=moderator, reason="Bought addresses."
    )

    html = _fragment(owner, review_campaign).content.decode()

    assert _states(html)[4:] == [
        ("verdict", "stopped"),
        ("release", "skipped"),
        ("done", "skipped"),
    ]
    assert _current(html) == ["verdict"]
    assert "Verdict (Declined)" in _steps(html)["verdict"]["words"]
    assert (
        "Declined by a moderator: nothing more is sent. "
        '<q class="stop-reason">Bought addresses.</q>' in unescape(html)
    )
    assert 'data-final="true"' in html


def test_a_paused_campaign_shows_the_step_it_paused_at(owner, holding_campaign):
    campaign_sending.campaign_pause(campaign_id=holding_campaign.pk, reason="account frozen")

    html = _fragment(owner, holding_campaign).content.decode()

    assert dict(_states(html))["hold"] == "paused"
    assert _current(html) == ["hold"]
    assert "Sending is paused while the account may not send" in _steps(html)["hold"]["words"]
    assert 'data-final="false"' in html


def test_while_the_probe_goes_out_it_shows_how_much_is_handed_over(owner, holding_campaign):
    Campaign.objects.filter(pk=holding_campaign.pk).update(
        status="probing", probe_sent_at=None, hold_until=None
    )
    probe = [delivery.pk for delivery in _probe(holding_campaign)]
    Delivery.objects.filter(pk__in=probe[:15]).update(status=DeliveryStatus.PENDING, sent_at=None)

    html = _fragment(owner, holding_campaign).content.decode()

    assert _current(html) == ["probe"]
    words = _steps(html)["probe"]["words"]
    assert words == (
        "Probe sent (now) The probe is being sent to 20 of 200 recipients, chosen at random. "
        "5 of 20 handed over."
    )
    assert '<progress value="5" max="20"' in html


def test_during_the_hold_no_delivery_is_counted(owner, holding_campaign):
    with CaptureQueriesContext(connection) as queries:
        assert _fragment(owner, holding_campaign).status_code == 200

    assert not [q for q in queries.captured_queries if "campaigns_delivery" in q["sql"]]


def test_releasing_shows_how_far_the_send_has_got(owner, sent_campaign):
    rest = Delivery.objects.filter(campaign=sent_campaign, is_probe=False).order_by("pk")
    Delivery.objects.filter(pk__in=list(rest.values_list("pk", flat=True)[:30])).update(
        status=DeliveryStatus.PENDING, sent_at=None
    )
    Campaign.objects.filter(pk=sent_campaign.pk).update(status="releasing", finished_at=None)

    html = _fragment(owner, sent_campaign).content.decode()

    assert _current(html) == ["release"]
    words = _steps(html)["release"]["words"]
    assert "Sending to the rest of the recipients: 30 still to go. 170 of 200 sent." in words
    assert '<progress value="170" max="200"' in html
    assert dict(_states(html))["done"] == "pending"


# --- the fragment the page polls ---------------------------------------------------------------


def test_the_fragment_is_the_timeline_alone_and_never_cached(owner, holding_campaign):
    response = _fragment(owner, holding_campaign)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="send-progress"')
    assert "<html" not in html and "<body" not in html
    assert 'data-status="holding"' in html and 'data-status-label="Holding"' in html
    assert "no-store" in response["Cache-Control"]


def test_the_fragment_of_another_accounts_campaign_is_a_404(client, holding_campaign):
    client.force_login(UserFactory())

    assert _fragment(client, holding_campaign).status_code == 404


def test_the_fragment_needs_a_signed_in_sender(client, holding_campaign):
    response = _fragment(client, holding_campaign)

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_campaign_back_to_draft_gives_a_final_empty_fragment(owner, mailing_list):
    campaign = CampaignFactory(account=mailing_list.account, lists=[mailing_list])

    html = _fragment(owner, campaign).content.decode()

    assert re.fullmatch(
        r'\s*<div id="send-progress" class="send-progress" data-status="draft" '
        r'data-status-label="Draft" data-final="true"></div>\s*',
        html,
    )


def test_the_fragment_costs_the_same_few_queries_whatever_the_send(
    owner, sent_campaign, django_assert_max_num_queries, mailing_list
):
    with django_assert_max_num_queries(7):
        assert _fragment(owner, sent_campaign).status_code == 200
    with CaptureQueriesContext(connection) as small:
        _fragment(owner, sent_campaign)

    # Ten times the recipients, with clicks: not one query more.
    subscribe_many(mailing_list, 1800, prefix="more")
    campaign = Campaign.objects.get(pk=sent_campaign.pk)
    deliveries = Delivery.objects.filter(campaign=campaign)
    for delivery in deliveries[:50]:
        TrackingEvent.objects.create(delivery=delivery, kind="click", link_index=0)
    more = Subscriber.objects.filter(mailing_list=mailing_list, email__startswith="more")
    Delivery.objects.bulk_create(
        [
            Delivery(campaign=campaign, subscriber_id=pk, provider="other", status="sent")
            for pk in more.values_list("pk", flat=True)
        ]
    )
    with CaptureQueriesContext(connection) as large:
        _fragment(owner, sent_campaign)
    assert len(large.captured_queries) == len(small.captured_queries)


def test_a_step_changes_its_signature_only_when_what_it_shows_changes(holding_campaign):
    campaign = Campaign.objects.select_related("account").get(pk=holding_campaign.pk)
    before = {step["key"]: step["sig"] for step in _progress_context(campaign)["steps"]}
    assert _progress_context(campaign)["steps"][3]["sig"] == before["hold"]

    # A probe message bounces: nothing the timeline shows changes, so no step is swapped.
    Delivery.objects.filter(pk=_probe(campaign)[0].pk).update(hard_bounced_at=timezone.now())
    assert {step["key"]: step["sig"] for step in _progress_context(campaign)["steps"]} == before

    # The hold ends: the hold and the verdict change, the steps before them do not.
    campaign.hold_until = timezone.now() - timedelta(seconds=1)
    after = {step["key"]: step["sig"] for step in _progress_context(campaign)["steps"]}
    changed = sorted(key for key in STEPS if after[key] != before[key])
    assert changed == ["hold", "verdict"]


# --- clicks per link ---------------------------------------------------------------------------


@pytest.fixture
def clicked_campaign(sent_campaign):
    """Three links; people click the first and third, a scanner follows every link once."""
    Campaign.objects.filter(pk=sent_campaign.pk).update(
        html_body='<p><a href="https://acme.example/a">A</a> <a href="https://acme.example/b">B</a>'
        ' <a href="https://acme.example/c">C</a></p>'
    )
    with_approved_version(Campaign.objects.get(pk=sent_campaign.pk))  # as if approved so
    campaign = Campaign.objects.select_related("account", "approved_version").get(
        pk=sent_campaign.pk
    )
    deliveries = list(Delivery.objects.filter(campaign=campaign).order_by("pk")[:5])

    def click(delivery, link, machine=""):
        TrackingEvent.objects.create(
            delivery=delivery, kind="click", link_index=link, machine_reason=machine
        )

    for delivery in deliveries[:4]:
        click(delivery, 0)
    click(deliveries[0], 0)  # the same person again: one more click, not one more person
    click(deliveries[1], 2)
    for link in range(3):
        click(deliveries[4], link, machine="all_links")
    TrackingEvent.objects.create(delivery=deliveries[2], kind="open")  # not a click
    return campaign


def test_the_clicks_per_link_come_from_one_grouped_query(
    clicked_campaign, django_assert_num_queries
):
    with django_assert_num_queries(1):
        links = selectors.link_clicks(campaign=clicked_campaign)

    assert [(k.index, k.url, k.people, k.clicks, k.machine_clicks) for k in links] == [
        (0, "https://acme.example/a", 4, 5, 1),
        (1, "https://acme.example/b", 0, 0, 1),
        (2, "https://acme.example/c", 1, 1, 1),
    ]


def test_the_campaign_page_shows_the_clicks_per_link(owner, clicked_campaign):
    page = unescape(
        owner.get(reverse("campaign_detail", args=[clicked_campaign.pk])).content.decode()
    )

    rows = {
        index: " ".join(re.sub(r"<[^>]+>", " ", match).split())
        for index, match in re.findall(r'<tr id="link-(\d)">(.*?)</tr>', page, re.S)
    }
    assert rows == {
        "0": "https://acme.example/a 4 5 2% 1",
        "1": "https://acme.example/b 0 0 0% 1",
        "2": "https://acme.example/c 1 1 0.5% 1",
    }
    head = re.search(r'<table id="link-clicks".*?</thead>', page, re.S).group(0)
    assert " ".join(re.sub(r"<[^>]+>", " ", head).split()) == (
        "Link People who clicked Clicks Share of recipients Machine clicks"
    )


def test_a_campaign_without_links_says_so(owner, holding_campaign):
    Campaign.objects.filter(pk=holding_campaign.pk).update(html_body="<p>No links here.</p>")
    with_approved_version(Campaign.objects.get(pk=holding_campaign.pk))  # as if approved so

    page = owner.get(reverse("campaign_detail", args=[holding_campaign.pk])).content.decode()

    assert 'id="no-links"' in page and 'id="link-clicks"' not in page


# --- Russian, and English unchanged -------------------------------------------------------------


def _read_notifications(account):
    # So the page's Russian is the campaign's alone (the nav's unread badge has its own test:
    # test_a_russian_page_with_an_unread_notification_renders).
    Notification.objects.filter(account=account).update(read_at=timezone.now())


def test_a_russian_page_with_an_unread_notification_renders(owner, holding_campaign):
    assert Notification.objects.filter(account=holding_campaign.account, read_at=None).exists()

    response = owner.get(reverse("campaign_detail", args=[holding_campaign.pk]), headers=RUSSIAN)

    assert response.status_code == 200


def test_the_campaign_page_in_russian(owner, holding_campaign):
    _read_notifications(holding_campaign.account)
    response = owner.get(reverse("campaign_detail", args=[holding_campaign.pk]), headers=RUSSIAN)

    assert response["Content-Language"] == "ru"
    page = unescape(response.content.decode())
    for text in ("Ход рассылки", "Пробная отправка", "Выдержка", "Вердикт", "Сводка", "История"):
        assert text in page, text
    assert '<span class="badge status status-holding">Выдержка</span>' in page
    steps = _steps(page)
    assert steps["probe"]["words"].startswith("Пробная отправка (готово)")
    assert "Получили 20 из 200 получателей (выбраны случайно)." in steps["probe"]["words"]
    assert re.search(r"\(через (5\sчасов,\s59\sминут|6\sчасов)\)", steps["hold"]["words"])
    # The countdown's words, for the script.
    region = re.search(r'<div id="progress-live"[^>]*>', page, re.S).group(0)
    assert 'data-text-left="(осталось {time})"' in region
    assert 'data-unit-hours="ч"' in region and 'data-unit-minutes="мин"' in region
    assert "Клики по ссылкам" in page
    assert "Hold" not in re.sub(
        r"<[^>]+>", " ", page.split('id="progress"')[1].split("</section>")[0]
    )


def test_the_campaign_page_in_english_is_unchanged(owner, holding_campaign):
    response = owner.get(reverse("campaign_detail", args=[holding_campaign.pk]))

    assert response["Content-Language"] == "en"
    page = unescape(response.content.decode())
    for text in ("Progress", "Probe sent", "Summary", "History", "Clicks per link"):
        assert text in page, text
    assert '<span class="badge status status-holding">Holding</span>' in page
    region = re.search(r'<div id="progress-live"[^>]*>', page, re.S).group(0)
    assert 'data-text-left="({time} left)"' in region and 'data-unit-hours="h"' in region


def test_the_campaign_list_and_editor_in_russian(owner, account, mailing_list, sender_domain):
    CampaignFactory(account=account, lists=[mailing_list], name="Осенние новости")

    listing = unescape(owner.get(reverse("campaigns"), headers=RUSSIAN).content.decode())
    assert "Новая рассылка" in listing and "Черновик" in listing and "Черновики" in listing

    editor = unescape(owner.get(reverse("campaign_create"), headers=RUSSIAN).content.decode())
    for text in ("Название рассылки", "Кому отправить", "Тема", "Сохранить черновик"):
        assert text in editor, text
    assert 'data-text-up-to-date="Актуально"' in editor


def test_a_status_change_message_is_in_the_users_language(owner, mailing_list):
    campaign = submitted_campaign(mailing_list)

    response = owner.post(
        reverse("campaign_withdraw", args=[campaign.pk]), headers=RUSSIAN, follow=True
    )

    assert "Рассылка снята с модерации и снова стала черновиком." in unescape(
        response.content.decode()
    )


def test_the_merge_tag_help_is_the_same_in_english():
    with translation.override("en"):
        assert str(MERGE_TAG_HELP_TEXT) == merge.HELP
