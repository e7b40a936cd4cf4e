"""The open pixel and the click redirect record what they see on the recipient's delivery:
people's opens and clicks, machines' set apart with the reason."""

import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import tracking
from campaigns.models import Delivery, DeliveryStatus, TrackingEvent
from campaigns.tokens import MessageTokens, TokenData, TokenKind
from tests.campaigns.factories import CampaignFactory, with_approved_version

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
LINKS = ("https://acme.example/a", "https://acme.example/b", "https://acme.example/c")


@pytest.fixture
def campaign(account, mailing_list):
    html = "".join(f'<p><a href="{url}">{url[-1]}</a></p>' for url in LINKS)
    return with_approved_version(
        CampaignFactory(account=account, lists=[mailing_list], html_body=html)
    )


@pytest.fixture
def delivery(campaign, subscriber):
    """Sent an hour ago: well past the too-fast window."""
    return Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        status=DeliveryStatus.SENT,
        sent_at=timezone.now() - timedelta(hours=1),
    )


@pytest.fixture
def tokens(delivery):
    return MessageTokens(campaign_id=delivery.campaign_id, subscriber_id=delivery.subscriber_id)


def _open(client, tokens, *, method="get", user_agent=FIREFOX, **extra):
    response = getattr(client, method)(
        f"/o/{tokens.open()}.gif", HTTP_USER_AGENT=user_agent, **extra
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    return response


def _click(client, tokens, link, *, method="get", user_agent=FIREFOX, **extra):
    response = getattr(client, method)(
        f"/c/{tokens.click(link)}/", HTTP_USER_AGENT=user_agent, **extra
    )
    assert (response.status_code, response["Location"]) == (302, LINKS[link])
    return response


def _counters(delivery):
    delivery.refresh_from_db()
    return {
        "opens": delivery.opens,
        "machine_opens": delivery.machine_opens,
        "clicks": delivery.clicks,
        "machine_clicks": delivery.machine_clicks,
    }


def _reasons(kind=None):
    events = TrackingEvent.objects.order_by("at", "id")
    if kind:
        events = events.filter(kind=kind)
    return list(events.values_list("machine_reason", flat=True))


# --- opens -----------------------------------------------------------------------------------


def test_a_persons_open_is_counted(client, tokens, delivery):
    _open(client, tokens)

    assert _counters(delivery) == {"opens": 1, "machine_opens": 0, "clicks": 0, "machine_clicks": 0}
    event = TrackingEvent.objects.get()
    assert (event.delivery_id, event.kind, event.machine_reason) == (delivery.pk, "open", "")
    assert event.user_agent == FIREFOX
    assert delivery.opened_at == event.at
    assert delivery.clicked_at is None


def test_gmails_image_proxy_is_a_person_reading(client, tokens, delivery):
    _open(client, tokens, user_agent=GMAIL_PROXY)

    assert _counters(delivery)["opens"] == 1
    assert delivery.opened_at is not None


def test_a_scanners_open_is_set_apart(client, tokens, delivery):
    _open(client, tokens, user_agent="Mozilla/5.0 (compatible; Barracuda Sentinel)")

    assert _counters(delivery) == {"opens": 0, "machine_opens": 1, "clicks": 0, "machine_clicks": 0}
    assert delivery.opened_at is None
    assert _reasons() == ["scanner"]


def test_apple_mail_privacy_protection_is_set_apart(client, tokens, delivery):
    _open(client, tokens, user_agent="Mozilla/5.0", REMOTE_ADDR="17.58.101.7")

    assert _counters(delivery) == {"opens": 0, "machine_opens": 1, "clicks": 0, "machine_clicks": 0}
    assert delivery.opened_at is None
    assert _reasons() == ["privacy_proxy"]


def test_a_forged_forwarded_for_header_is_not_believed(client, tokens, delivery, settings):
    settings.TRUSTED_PROXY_COUNT = 0

    _open(client, tokens, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="17.1.2.3")

    assert _reasons() == [""]
    assert _counters(delivery)["opens"] == 1


def test_apples_address_seen_through_our_proxy_is_set_apart(client, tokens, delivery, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    _open(client, tokens, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="17.1.2.3")

    assert _reasons() == ["privacy_proxy"]
    assert _counters(delivery)["opens"] == 0


def test_a_head_request_is_never_a_persons_open(client, tokens, delivery):
    response = _open(client, tokens, method="head")

    assert response.content == b""
    assert _counters(delivery) == {"opens": 0, "machine_opens": 1, "clicks": 0, "machine_clicks": 0}
    assert delivery.opened_at is None
    assert _reasons() == ["head_request"]


def test_an_open_seconds_after_sending_is_a_machine(client, tokens, delivery):
    Delivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now())

    _open(client, tokens)

    assert _reasons() == ["too_fast"]
    assert _counters(delivery)["machine_opens"] == 1


def test_repeated_opens_count_each_and_keep_the_first_time(client, tokens, delivery):
    _open(client, tokens)
    first = TrackingEvent.objects.get().at
    _open(client, tokens, user_agent="curl/8.5.0")
    _open(client, tokens)

    assert _counters(delivery) == {"opens": 2, "machine_opens": 1, "clicks": 0, "machine_clicks": 0}
    assert delivery.opened_at == first
    assert TrackingEvent.objects.count() == 3


def test_the_user_agent_is_cut_to_300_characters(client, tokens, delivery):
    _open(client, tokens, user_agent="Mozilla/5.0 " + "x" * 500)

    assert len(TrackingEvent.objects.get().user_agent) == 300


# --- clicks ----------------------------------------------------------------------------------


def test_a_persons_click_counts_as_an_open_too(client, tokens, delivery):
    _click(client, tokens, 1)

    assert _counters(delivery) == {"opens": 0, "machine_opens": 0, "clicks": 1, "machine_clicks": 0}
    event = TrackingEvent.objects.get()
    assert (event.kind, event.link_index, event.machine_reason) == ("click", 1, "")
    assert delivery.clicked_at == event.at
    assert delivery.opened_at == event.at


def test_a_click_after_an_open_keeps_the_first_open(client, tokens, delivery):
    _open(client, tokens)
    opened = TrackingEvent.objects.get().at
    _click(client, tokens, 0)

    assert _counters(delivery) == {"opens": 1, "machine_opens": 0, "clicks": 1, "machine_clicks": 0}
    assert delivery.opened_at == opened
    assert delivery.clicked_at > opened


def test_a_scanner_following_every_link_is_set_apart_retroactively(client, tokens, delivery):
    _click(client, tokens, 0)
    _click(client, tokens, 1)
    assert _counters(delivery)["clicks"] == 2  # two links: could be a person

    _click(client, tokens, 2)

    assert _counters(delivery) == {"opens": 0, "machine_opens": 0, "clicks": 0, "machine_clicks": 3}
    assert _reasons("click") == ["all_links", "all_links", "all_links"]
    assert delivery.clicked_at is None
    assert delivery.opened_at is None


def test_clicks_on_every_link_minutes_apart_are_a_persons(client, tokens, delivery):
    _click(client, tokens, 0)
    _click(client, tokens, 1)
    TrackingEvent.objects.update(at=timezone.now() - timedelta(minutes=3))

    _click(client, tokens, 2)

    assert _counters(delivery)["clicks"] == 3
    assert _reasons("click") == ["", "", ""]


def test_the_burst_does_not_reclassify_an_earlier_open(client, tokens, delivery):
    _open(client, tokens)
    for link in range(3):
        _click(client, tokens, link)

    assert _counters(delivery) == {"opens": 1, "machine_opens": 0, "clicks": 0, "machine_clicks": 3}
    assert delivery.opened_at == TrackingEvent.objects.get(kind="open").at


def test_a_head_request_on_a_link_is_never_a_persons_click(client, tokens, delivery):
    _click(client, tokens, 0, method="head")

    assert _counters(delivery) == {"opens": 0, "machine_opens": 0, "clicks": 0, "machine_clicks": 1}
    assert delivery.clicked_at is None
    assert _reasons() == ["head_request"]


def test_a_link_checkers_click_is_set_apart(client, tokens, delivery):
    _click(client, tokens, 0, user_agent="Microsoft Office Existence Discovery")

    assert _counters(delivery)["machine_clicks"] == 1
    assert _reasons() == ["scanner"]


# --- nothing to record -----------------------------------------------------------------------


def test_test_tokens_record_nothing(client, delivery):
    tokens = MessageTokens(
        campaign_id=delivery.campaign_id, subscriber_id=delivery.subscriber_id, is_test=True
    )

    _open(client, tokens)
    # A test message's link shows a page naming its target, never a redirect.
    page = client.get(f"/c/{tokens.click(0)}/", HTTP_USER_AGENT=FIREFOX)
    assert page.status_code == 200 and LINKS[0] in page.content.decode()

    assert not TrackingEvent.objects.exists()
    assert _counters(delivery) == {"opens": 0, "machine_opens": 0, "clicks": 0, "machine_clicks": 0}
    assert (delivery.opened_at, delivery.clicked_at) == (None, None)


def test_a_click_without_a_delivery_still_redirects(client, campaign):
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=987654)

    _click(client, tokens, 2)
    _open(client, tokens)

    assert not TrackingEvent.objects.exists()


def test_a_message_not_sent_records_nothing(client, tokens, delivery):
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PENDING)

    _click(client, tokens, 0)
    _open(client, tokens)

    assert not TrackingEvent.objects.exists()
    assert _counters(delivery)["clicks"] == 0


def test_an_unknown_link_is_not_recorded(client, tokens, delivery):
    response = client.get(f"/c/{tokens.click(3)}/", HTTP_USER_AGENT=FIREFOX)

    assert response.status_code == 404
    assert not TrackingEvent.objects.exists()


def test_a_failure_to_record_never_breaks_the_redirect(
    client, tokens, delivery, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(tracking, "record_click", broken)
    monkeypatch.setattr(tracking, "record_open", broken)

    with caplog.at_level(logging.ERROR, logger="campaigns.public_views"):
        _click(client, tokens, 0)
        _open(client, tokens)

    assert [r.getMessage() for r in caplog.records] == [
        f"Could not record the click of campaign {delivery.campaign_id}",
        f"Could not record the open of campaign {delivery.campaign_id}",
    ]
    assert not TrackingEvent.objects.exists()


# --- the services, directly ------------------------------------------------------------------


def test_recounting_is_from_the_events(delivery):
    data = TokenData(
        kind=TokenKind.OPEN, campaign_id=delivery.campaign_id, subscriber_id=delivery.subscriber_id
    )
    Delivery.objects.filter(pk=delivery.pk).update(opens=40, machine_opens=7)

    tracking.record_open(token_data=data, user_agent=FIREFOX, method="GET", ip="198.51.100.4")

    assert _counters(delivery) == {"opens": 1, "machine_opens": 0, "clicks": 0, "machine_clicks": 0}


@pytest.mark.django_db(transaction=True)
def test_concurrent_opens_are_all_counted(campaign, subscriber):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    delivery = Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        status=DeliveryStatus.SENT,
        sent_at=timezone.now() - timedelta(hours=1),
    )
    data = TokenData(kind=TokenKind.OPEN, campaign_id=campaign.pk, subscriber_id=subscriber.pk)
    start = threading.Barrier(8)
    errors = []

    def hit():
        from django.db import connection as thread_connection

        try:
            start.wait()
            tracking.record_open(token_data=data, user_agent=FIREFOX, method="GET", ip="")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert TrackingEvent.objects.filter(delivery=delivery).count() == 8
    assert _counters(delivery)["opens"] == 8
