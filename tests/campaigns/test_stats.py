"""A campaign's figures: the stats API and the campaign page, after a send run in-process
(bounces and complaints set on the deliveries as the feedback would), and the timeline."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import stats
from campaigns.models import Campaign, Delivery, DeliveryStatus
from campaigns.verdict import wilson_interval
from config.coded_text import in_english, render
from moderation import services as moderation
from tests.campaigns.factories import (
    CampaignFactory,
    approve_now,
    end_hold_now,
    submitted_campaign,
    subscribe_many,
)
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db

FIGURES = {
    "recipients",
    "probe_size",
    "sent",
    "refused",
    "delivered",
    "opened",
    "clicked",
    "hard_bounced",
    "soft_bounced",
    "blocked",
    "unsubscribed",
    "complained",
    "failed",
    "pending",
    "possibly_duplicated",
    "machine_opened",
    "machine_clicked",
}


@pytest.fixture
def moderator(db):
    return UserFactory(is_staff=True)


def _mark(rows, **changes):
    Delivery.objects.filter(pk__in=[row.pk for row in rows]).update(**changes)


@pytest.fixture
def holding_campaign(mailing_list, moderator, django_capture_on_commit_callbacks):
    """200 recipients, a probe of 20 sent, holding."""
    subscribe_many(mailing_list, 200)
    return approve_now(
        submitted_campaign(mailing_list), moderator, django_capture_on_commit_callbacks
    )


@pytest.fixture
def sent_campaign(holding_campaign, django_capture_on_commit_callbacks):
    """The probe gets 1 hard bounce in 20 (5%: amber), so the rest is released with a warning;
    then feedback arrives on the rest too, and one of the rest is refused at hand-over."""
    campaign = holding_campaign
    now = timezone.now()
    probe = list(Delivery.objects.filter(campaign=campaign, is_probe=True).order_by("pk"))
    _mark(probe[0:1], hard_bounced_at=now)
    _mark(probe[1:2], soft_bounced_at=now)
    _mark(probe[2:5], opened_at=now)
    _mark(probe[2:3], clicked_at=now)
    _mark(probe[5:6], unsubscribed_at=now)
    _mark(probe[6:7], machine_opens=2)

    end_hold_now(campaign, django_capture_on_commit_callbacks)
    assert campaign.status == "sent"
    assert campaign.verdict["tier"] == "amber"

    rest = list(Delivery.objects.filter(campaign=campaign, is_probe=False).order_by("pk"))
    _mark(rest[0:2], complained_at=now)
    _mark(rest[2:3], hard_bounced_at=now)
    _mark(rest[3:4], possibly_duplicated=True)
    _mark(rest[4:5], status=DeliveryStatus.FAILED, error="550 no such user")
    _mark(rest[5:6], soft_bounced_at=now, delivered_at=now)  # deferred, then delivered
    _mark(rest[6:7], machine_clicks=1)
    # Refused with "550 5.1.1" when handed over: failed, read as a hard bounce, never sent.
    _mark(rest[7:8], status=DeliveryStatus.FAILED, sent_at=None, hard_bounced_at=now)
    _mark(rest[8:9], blocked_at=now)  # accepted, then a provider's spam filter refused it
    return campaign


# --- the API ---------------------------------------------------------------------------------


def test_stats_of_a_sent_campaign_give_the_whole_send_and_the_probe(token_client, sent_campaign):
    response = token_client.get(f"/api/v1/campaigns/{sent_campaign.pk}/stats/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIGURES | {
        "probe",
        "rates",
        "verdict",
        "hold_until",
        "status",
        "timeline",
        "providers",
    }
    assert {name: body[name] for name in FIGURES} == {
        "recipients": 200,
        "probe_size": 20,
        "sent": 198,
        "refused": 1,
        "delivered": 194,
        "opened": 3,
        "clicked": 1,
        "hard_bounced": 3,
        "soft_bounced": 2,
        "blocked": 1,
        "unsubscribed": 1,
        "complained": 2,
        "failed": 2,
        "pending": 0,
        "possibly_duplicated": 1,
        "machine_opened": 1,
        "machine_clicked": 1,
    }
    assert body["probe"] == {
        "recipients": 20,
        "probe_size": 20,
        "sent": 20,
        "refused": 0,
        "delivered": 18,
        "opened": 3,
        "clicked": 1,
        "hard_bounced": 1,
        "soft_bounced": 1,
        "blocked": 0,
        "unsubscribed": 1,
        "complained": 0,
        "failed": 0,
        "pending": 0,
        "possibly_duplicated": 0,
        "machine_opened": 1,
        "machine_clicked": 0,
    }
    assert body["status"] == "sent"
    assert datetime.fromisoformat(body["hold_until"]) == sent_campaign.hold_until


def test_the_rates_are_the_verdicts_once_judged(token_client, sent_campaign):
    body = token_client.get(f"/api/v1/campaigns/{sent_campaign.pk}/stats/").json()

    # The reasons are stored as codes; the API gives them in the request's language.
    reasons = [render(reason) for reason in sent_campaign.verdict["reasons"]]
    assert body["verdict"] == {**sent_campaign.verdict, "reasons": reasons}
    assert body["verdict"]["tier"] == "amber"
    assert body["verdict"]["rule"] == "bounces_amber"
    rates = body["rates"]
    assert rates["basis"] == "verdict"
    assert rates["hard_bounce_rate"] == 0.05
    assert rates["complaint_rate"] == 0.0
    assert rates["open_rate"] == 0.15
    assert rates["click_rate"] == 0.05
    # The account's first campaign: no earlier one to tell inactive recipients by.
    assert rates["inactive_rate"] == 0.0
    assert body["verdict"]["inactive"] == {
        "recipients": 20,
        "inactive": 0,
        "first_time": 20,
        "campaigns": 0,
        "share": 0.0,
    }
    assert (rates["block_rate"], rates["refusal_rate"]) == (0.0, 0.0)
    assert rates["intervals"] == {
        "complaint_rate": list(wilson_interval(0, 20)),
        "hard_bounce_rate": list(wilson_interval(1, 20)),
        "block_rate": list(wilson_interval(0, 20)),
        "unsubscribe_rate": list(wilson_interval(1, 20)),
    }
    # Complaints after the verdict change the figures, not the verdict's rates.
    assert body["complained"] == 2


def test_before_the_verdict_the_rates_are_the_probes_as_they_stand(token_client, holding_campaign):
    probe = Delivery.objects.filter(campaign=holding_campaign, is_probe=True).order_by("pk")
    _mark(probe[:1], complained_at=timezone.now())

    body = token_client.get(f"/api/v1/campaigns/{holding_campaign.pk}/stats/").json()

    assert body["status"] == "holding"
    assert body["verdict"] is None
    assert body["rates"]["basis"] == "live"
    assert body["rates"]["complaint_rate"] == 0.05
    assert body["rates"]["intervals"]["complaint_rate"] == list(wilson_interval(1, 20))
    assert body["rates"]["inactive_rate"] == 0.0
    assert (body["sent"], body["probe"]["sent"], body["recipients"]) == (20, 20, 200)
    assert body["complained"] == body["probe"]["complained"] == 1
    assert datetime.fromisoformat(body["hold_until"]) == holding_campaign.hold_until
    assert datetime.fromisoformat(body["hold_until"]) > timezone.now() + timedelta(hours=5)


def test_providers_are_the_probe_plans_mix(token_client, holding_campaign):
    body = token_client.get(f"/api/v1/campaigns/{holding_campaign.pk}/stats/").json()

    plan = holding_campaign.probe_plan
    assert {p["provider"]: p["probe"] for p in body["providers"]} == plan["allocation"]
    assert {p["provider"]: p["recipients"] for p in body["providers"]} == plan["providers"]
    assert sum(p["recipients"] for p in body["providers"]) == 200
    assert sum(p["probe"] for p in body["providers"]) == 20
    counts = [p["recipients"] for p in body["providers"]]
    assert counts == sorted(counts, reverse=True)


def test_a_draft_has_live_recipients_and_nothing_else(token_client, mailing_list, account):
    subscribe_many(mailing_list, 3)
    campaign = CampaignFactory(account=account, lists=[mailing_list])

    body = token_client.get(f"/api/v1/campaigns/{campaign.pk}/stats/").json()

    assert body["recipients"] == 3
    assert body["probe_size"] is None
    assert body["sent"] == body["probe"]["sent"] == body["probe"]["recipients"] == 0
    assert body["status"] == "draft"
    assert (body["verdict"], body["hold_until"]) == (None, None)
    assert (body["timeline"], body["providers"]) == ([], [])
    assert body["rates"]["basis"] == "live"
    assert body["rates"]["complaint_rate"] == 0.0


def test_another_accounts_campaign_is_a_404(token_client, other_user):
    other_list = MailingListFactory(account=other_user.account)
    foreign = CampaignFactory(account=other_user.account, lists=[other_list])

    response = token_client.get(f"/api/v1/campaigns/{foreign.pk}/stats/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such campaign."}


def test_stats_need_authentication(api_client, sent_campaign):
    response = api_client.get(f"/api/v1/campaigns/{sent_campaign.pk}/stats/")

    assert response.status_code in (401, 403)
    assert "sent" not in response.json()


def test_the_counters_take_one_query(sent_campaign, django_assert_num_queries):
    sent_campaign.refresh_from_db()
    # One grouped aggregate for every counter, one UNION for the timeline.
    with django_assert_num_queries(2):
        figures = stats.campaign_stats(campaign=sent_campaign)
    assert figures["sent"] == 198


# --- the timeline ----------------------------------------------------------------------------

BASE = datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)


@pytest.fixture
def timed(account, mailing_list):
    """A campaign whose deliveries are written with chosen times."""
    campaign = CampaignFactory(account=account, lists=[mailing_list])
    subscribers = iter(subscribe_many(mailing_list, 10))

    def delivery(*, status=DeliveryStatus.SENT, **times):
        return Delivery.objects.create(
            campaign=campaign,
            subscriber_id=next(subscribers),
            provider="other",
            status=status,
            **times,
        )

    delivery.campaign = campaign
    return delivery


def test_a_short_send_is_bucketed_by_the_minute(timed):
    timed(sent_at=BASE)
    timed(sent_at=BASE + timedelta(seconds=10), opened_at=BASE + timedelta(seconds=60))
    timed(
        sent_at=BASE + timedelta(minutes=5),
        clicked_at=BASE + timedelta(minutes=6),
        hard_bounced_at=BASE + timedelta(minutes=6, seconds=5),
        complained_at=BASE + timedelta(minutes=89),
    )
    timed(status=DeliveryStatus.FAILED, sent_at=BASE + timedelta(minutes=200))  # not sent

    timeline = stats.campaign_stats(campaign=timed.campaign)["timeline"]

    assert len(timeline) == 90  # 09:00 .. 10:29
    assert timeline[0] == {
        "start": "2026-03-02T09:00:00+00:00",
        "end": "2026-03-02T09:01:00+00:00",
        "sent": 2,
        "opened": 0,
        "clicked": 0,
        "bounced": 0,
        "blocked": 0,
        "complained": 0,
    }
    assert timeline[1]["opened"] == 1
    assert timeline[5]["sent"] == 1
    assert (timeline[6]["clicked"], timeline[6]["bounced"]) == (1, 1)
    assert timeline[-1]["start"] == "2026-03-02T10:29:00+00:00"
    assert timeline[-1]["complained"] == 1
    assert sum(bucket["sent"] for bucket in timeline) == 3
    assert sum(sum(v for k, v in b.items() if k not in ("start", "end")) for b in timeline) == 7


def test_a_longer_send_is_bucketed_by_the_hour(timed):
    timed(sent_at=BASE, soft_bounced_at=BASE + timedelta(minutes=3))
    timed(sent_at=BASE + timedelta(hours=6, minutes=2), opened_at=BASE + timedelta(hours=10))

    timeline = stats.campaign_stats(campaign=timed.campaign)["timeline"]

    assert [b["start"][11:16] for b in timeline] == [f"{h:02}:00" for h in range(9, 20)]
    assert timeline[0]["end"] == "2026-03-02T10:00:00+00:00"
    assert (timeline[0]["sent"], timeline[0]["bounced"]) == (1, 1)
    assert timeline[6]["sent"] == 1
    assert timeline[10]["opened"] == 1


def test_opens_days_later_are_bucketed_by_the_day(timed):
    timed(sent_at=BASE, opened_at=BASE + timedelta(days=10, hours=10))

    timeline = stats.campaign_stats(campaign=timed.campaign)["timeline"]

    assert len(timeline) == 11
    assert timeline[0]["start"] == "2026-03-02T00:00:00+00:00"
    assert timeline[-1]["start"] == "2026-03-12T00:00:00+00:00"
    assert (timeline[0]["sent"], timeline[-1]["opened"]) == (1, 1)
    assert sum(b["opened"] for b in timeline[:-1]) == 0


def test_while_the_send_is_under_way_the_timeline_runs_to_now(holding_campaign):
    Delivery.objects.filter(campaign=holding_campaign).update(
        sent_at=timezone.now() - timedelta(hours=3)
    )

    timeline = stats.campaign_stats(campaign=holding_campaign)["timeline"]

    assert len(timeline) == 4  # hours
    assert timeline[0]["sent"] == 20
    last = timeline[-1]
    assert datetime.fromisoformat(last["start"]) <= timezone.now()
    assert datetime.fromisoformat(last["end"]) > timezone.now()
    assert sum(b["sent"] for b in timeline[1:]) == 0


def test_the_bucket_size_follows_the_span():
    assert stats.bucket_unit(timedelta(hours=2)) == "minute"
    assert stats.bucket_unit(timedelta(hours=2, seconds=1)) == "hour"
    assert stats.bucket_unit(timedelta(days=4)) == "hour"
    assert stats.bucket_unit(timedelta(days=4, seconds=1)) == "day"


# --- the campaign page -----------------------------------------------------------------------


def _words(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", unescape(response.content.decode())).split())


def _section(response, element_id: str) -> str:
    html = unescape(response.content.decode())
    match = re.search(rf'<(\w+)[^>]*id="{element_id}".*?</\1>', html, re.S)
    assert match, f"no #{element_id}"
    return match.group(0)


def test_the_campaign_page_shows_the_probe_and_the_whole_send(client, user, sent_campaign):
    client.force_login(user)

    response = client.get(reverse("campaign_detail", args=[sent_campaign.pk]))

    assert response.status_code == 200
    rows = {
        key: " ".join(re.sub(r"<[^>]+>", " ", _section(response, f"figure-{key}")).split())
        for key in (
            "recipients",
            "sent",
            "complained",
            "hard_bounced",
            "blocked",
            "opened",
            "failed",
        )
    }
    assert rows == {
        "recipients": "Recipients 20 200",
        "sent": "Sent 20 198",
        "complained": "Spam complaints 0 0% 2 1%",
        # The refusal at hand-over is a hard bounce like the others.
        "hard_bounced": "Hard bounces 1 5% 3 1.5%",
        "blocked": "Blocked by the provider 0 0% 1 0.51%",
        "opened": "Opened 3 15% 3 1.5%",
        "failed": "Refused by the mail server 0 2",
    }
    words = _words(response)
    assert "Sent to every recipient" in words
    assert "1 message was being handed over when a sending worker stopped" in words
    # The amber verdict's warning is its reasons, shown once, with the verdict.
    assert sent_campaign.moderation_note == in_english(sent_campaign.verdict["reasons"])
    assert 'id="moderation-note"' not in response.content.decode()


def test_the_campaign_page_shows_the_moderators_note(
    client, user, holding_campaign, moderator, django_capture_on_commit_callbacks
):
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        moderation.decision_decline(
            campaign_id=holding_campaign.pk, moderator=moderator, reason="Bought addresses."
        )

    response = client.get(reverse("campaign_detail", args=[holding_campaign.pk]))

    note = " ".join(re.sub(r"<[^>]+>", " ", _section(response, "moderation-note")).split())
    assert note == "Note from the moderators Bought addresses."
    assert 'id="possibly-duplicated"' not in response.content.decode()


def test_the_campaign_page_shows_the_verdict(client, user, sent_campaign):
    client.force_login(user)

    response = client.get(reverse("campaign_detail", args=[sent_campaign.pk]))

    verdict = _section(response, "verdict")
    badge = '<span class="badge warning tier-amber" id="verdict-tier">Amber</span>'
    assert badge in verdict
    assert "Hard bounces at the warning level" in verdict and "bounces_amber" in verdict
    for reason in sent_campaign.verdict["reasons"]:
        assert f"<li>{render(reason)}</li>" in verdict
    rows = {
        key: " ".join(re.sub(r"<[^>]+>", " ", _section(response, f"interval-{key}")).split())
        for key in ("complaint_rate", "hard_bounce_rate")
    }
    assert rows == {
        "complaint_rate": "Spam complaints "
        "Warning from 0.1%, review over 0.3%, policy limit 0.5% 0% 0%–16.1%",
        "hard_bounce_rate": "Hard bounces "
        "Warning from 2%, review over 5% (the policy limit) 5% 0.89%–23.6%",
    }


def test_the_campaign_page_draws_the_timeline(client, user, sent_campaign):
    client.force_login(user)

    response = client.get(reverse("campaign_detail", args=[sent_campaign.pk]))

    chart = _section(response, "timeline")
    assert re.search(r'<svg viewBox="0 0 1000 \d+" width="100%" role="img"', chart)
    assert chart.count("<polyline") == 4
    bars = re.findall(r"<rect [^>]*><title>([^<]+)</title>", chart)
    assert sum(int(title.split(": ")[1].split()[0]) for title in bars) == 198
    legend = " ".join(re.sub(r"<[^>]+>", " ", _section(response, "timeline-legend")).split())
    assert legend.startswith("Sent 198 Opened 3 Clicked 1 Bounced 5 Complaints 2")
    assert "<script" not in chart
    assert "campaign-stats.js" in response.content.decode()


def test_the_campaign_page_counts_down_the_hold(client, user, holding_campaign):
    client.force_login(user)

    response = client.get(reverse("campaign_detail", args=[holding_campaign.pk]))

    iso = holding_campaign.hold_until.isoformat()
    hold = _section(response, "hold")
    assert f'<time datetime="{iso}" id="hold-until">' in hold
    assert holding_campaign.hold_until.strftime("%Y-%m-%d %H:%M UTC") in hold
    assert f'data-countdown="{iso}"' in hold
    assert re.search(r"\(in (5\shours,\s59\sminutes|6\shours)\)", hold)
    assert "Not judged yet" in _words(response)
    assert _section(response, "verdict").count("badge") == 0


def test_a_draft_has_no_sending_section(client, user, account, mailing_list):
    client.force_login(user)
    campaign = CampaignFactory(account=account, lists=[mailing_list])

    response = client.get(reverse("campaign_detail", args=[campaign.pk]))

    assert response.status_code == 200
    assert 'id="sending"' not in response.content.decode()
    assert "campaign-stats.js" not in response.content.decode()


def test_the_test_send_button_goes_once_the_campaign_is_approved(client, user, mailing_list):
    from tests.campaigns.factories import submitted_campaign

    campaign = submitted_campaign(mailing_list)
    client.force_login(user)
    assert b"Send a test to" in client.get(f"/campaigns/{campaign.pk}/").content
    Campaign.objects.filter(pk=campaign.pk).update(status="holding")
    page = client.get(f"/campaigns/{campaign.pk}/").content
    assert b"Send a test to" not in page and b'id="tests-closed"' in page
