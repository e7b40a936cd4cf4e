"""The public hot paths (config.hot_paths) in front of Django, and the tracking queue behind them
(campaigns.tracking_queue, manage.py consume_events).

Every recording test of test_tracking_recording runs here again through the WSGI application
gunicorn serves, twice: with hits recorded at once (no queue: tests and bin/run) and with hits
queued on a Redis stream and applied in batches by the consumer. What is recorded must not
depend on the path.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns import selectors, tracking, tracking_queue
from campaigns.models import Delivery, DeliveryStatus, TrackingEvent
from complaints.models import FeedbackEvent
from lists.models import Subscriber, Suppression
from tests.campaigns import test_tracking_recording as recording
from tests.campaigns.hot_client import HotClient, drain, queue_url
from tests.campaigns.test_tracking_recording import FIREFOX, LINKS

pytestmark = pytest.mark.django_db

_NOT_THROUGH_THE_CLIENT = {
    # Patches the services and reads public_views' logger: see the hot-path version below.
    "test_a_failure_to_record_never_breaks_the_redirect",
    "test_recounting_is_from_the_events",
    "test_concurrent_opens_are_all_counted",
}
# Its tests, and the fixtures they use (campaign, delivery, tokens), run here too.
for _name in dir(recording):
    if _name.startswith("test_") and _name not in _NOT_THROUGH_THE_CLIENT:
        globals()[_name] = getattr(recording, _name)
for _name in ("campaign", "delivery", "tokens"):
    globals()[_name] = getattr(recording, _name)


@pytest.fixture
def tracking_queue_url(settings):
    """Hits go through a Redis stream of their own for this test."""
    settings.TRACKING_QUEUE_URL = queue_url()
    tracking_queue.ensure_group()
    return settings.TRACKING_QUEUE_URL


@pytest.fixture(autouse=True)
def _fresh_links_cache():
    selectors._approved_links_cache.clear()
    yield
    selectors._approved_links_cache.clear()


@pytest.fixture(params=["at-once", "queued"])
def client(request, settings):
    """The hot paths' client; "queued" drains the queue after every request, as the consumer
    would within a second."""
    if request.param == "at-once":
        settings.TRACKING_QUEUE_URL = ""
        return HotClient()
    settings.TRACKING_QUEUE_URL = queue_url()
    tracking_queue.ensure_group()
    return HotClient(after=drain)


def _subscriber_of(delivery):
    return Subscriber.objects.get(pk=delivery.subscriber_id)


# --- the answers -----------------------------------------------------------------------------


def test_the_pixel_keeps_its_security_headers_without_the_browser_stack(client, tokens, settings):
    settings.SECURE_REFERRER_POLICY = "same-origin"

    response = client.get(f"/o/{tokens.open()}.gif", HTTP_USER_AGENT=FIREFOX)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    # No session, no CSRF cookie: the browser stack never ran.
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


def test_hsts_goes_out_over_https_only(tokens, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = HotClient()

    plain = client.get(f"/o/{tokens.open()}.gif")
    secure = client.get(f"/o/{tokens.open()}.gif", HTTP_X_FORWARDED_PROTO="https")

    assert "Strict-Transport-Security" not in plain.headers
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")


def test_plain_http_is_left_to_django_when_https_is_required(tokens, delivery, settings):
    settings.SECURE_SSL_REDIRECT = True
    client = HotClient()

    response = client.get(f"/o/{tokens.open()}.gif")

    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert not TrackingEvent.objects.exists()


def test_a_bad_token_gets_the_pixel_and_a_bad_click_djangos_page(client, delivery):
    assert client.get("/o/not-a-token.gif").status_code == 200
    page = client.get("/c/not-a-token/")

    assert page.status_code == 404
    assert b"<html" in page.content.lower()
    assert not TrackingEvent.objects.exists()


def test_the_click_redirect_reads_the_approved_version_not_the_draft(client, tokens, campaign):
    # An edit after approval (refused by the services; here by hand) is never followed.
    type(campaign).objects.filter(pk=campaign.pk).update(
        html_body='<p><a href="https://evil.example/">x</a></p>'
    )

    response = client.get(f"/c/{tokens.click(0)}/", HTTP_USER_AGENT=FIREFOX)

    assert (response.status_code, response["Location"]) == (302, LINKS[0])


def test_the_links_are_cached_per_process(tokens, delivery, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.TRACKING_QUEUE_URL = ""
    client = HotClient()
    with CaptureQueriesContext(connection) as first:
        client.get(f"/c/{tokens.click(0)}/", HTTP_USER_AGENT=FIREFOX)
    # Recording at once still reads and writes the delivery; the links are not read again.
    with CaptureQueriesContext(connection) as second:
        response = client.get(f"/c/{tokens.click(1)}/", HTTP_USER_AGENT=FIREFOX)

    assert response["Location"] == LINKS[1]
    links_query = 'SELECT "campaigns_campaignversion"."links"'
    assert sum(links_query in q["sql"] for q in first.captured_queries) == 1
    assert sum(links_query in q["sql"] for q in second.captured_queries) == 0


def test_a_hit_redis_cannot_take_is_recorded_at_once(tokens, delivery, settings, caplog):
    settings.TRACKING_QUEUE_URL = "redis://127.0.0.1:1/0"  # nobody listens there

    client = HotClient()
    click = client.get(f"/c/{tokens.click(0)}/", HTTP_USER_AGENT=FIREFOX)
    pixel = client.get(f"/o/{tokens.open()}.gif", HTTP_USER_AGENT=FIREFOX)

    assert (click.status_code, pixel.status_code) == (302, 200)
    # Kept before the answer all the same: in the database, not in the queue.
    assert TrackingEvent.objects.filter(queue_id=None).count() == 2
    delivery.refresh_from_db()
    assert (delivery.opens, delivery.clicks) == (1, 1)
    assert [r.getMessage() for r in caplog.records if r.name == "campaigns.tracking"] == [
        "Tracking queue unavailable; recording the click at once",
        "Tracking queue unavailable; recording the open at once",
    ]


def test_a_failure_to_record_never_breaks_the_pixel(tokens, delivery, settings, monkeypatch):
    settings.TRACKING_QUEUE_URL = ""

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(tracking, "record_open", broken)
    pixel = HotClient().get(f"/o/{tokens.open()}.gif", HTTP_USER_AGENT=FIREFOX)

    assert pixel.status_code == 200
    assert not TrackingEvent.objects.exists()


# --- one-click unsubscribe -------------------------------------------------------------------


def test_one_click_unsubscribe_is_durable_before_the_answer(client, tokens, delivery):
    response = client.post(
        f"/u/{tokens.unsubscribe()}/",
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert (response.status_code, response.content) == (200, b"Unsubscribed.\n")
    assert "no-store" in response["Cache-Control"]
    assert _subscriber_of(delivery).status == "unsubscribed"
    assert Suppression.objects.count() == 1
    assert FeedbackEvent.objects.get().source == "one_click"


def test_a_second_one_click_is_answered_by_django_and_changes_nothing(client, tokens, delivery):
    body = b"List-Unsubscribe=One-Click"
    path = f"/u/{tokens.unsubscribe()}/"
    client.post(path, data=body, content_type="application/x-www-form-urlencoded")

    again = client.post(path, data=body, content_type="application/x-www-form-urlencoded")

    assert again.status_code == 200
    assert (FeedbackEvent.objects.count(), Suppression.objects.count()) == (1, 1)


def test_the_unsubscribe_pages_post_is_left_to_django(client, tokens, delivery):
    response = client.post(f"/u/{tokens.unsubscribe()}/", data=b"", content_type="text/plain")

    # The page's own button: CSRF-exempt, redirects to the page saying it is done.
    assert response.status_code == 302
    assert response["Location"].endswith("?done=1")
    assert FeedbackEvent.objects.get().source == "unsubscribe_page"


# --- the queue -------------------------------------------------------------------------------


def _hit(delivery, *, kind="o", at=None, link=None, user_agent=FIREFOX):
    return tracking_queue.Hit(
        kind=kind,
        campaign_id=delivery.campaign_id,
        subscriber_id=delivery.subscriber_id,
        link_index=link,
        user_agent=user_agent,
        method="GET",
        ip="198.51.100.7",
        at=at or timezone.now(),
    )


def test_a_batch_applied_twice_is_recorded_once(tracking_queue_url, delivery):
    for _ in range(3):
        tracking_queue.hit_enqueue(_hit(delivery))
    entries = tracking_queue.connection().xrange(tracking_queue.STREAM)
    hits = [tracking_queue.Hit.from_entry(i, f) for i, f in entries]

    # A consumer recorded the batch and died before acknowledging it; another applies it again.
    assert tracking.hits_record(hits) == 3
    assert tracking.hits_record(hits) == 0

    delivery.refresh_from_db()
    assert (TrackingEvent.objects.count(), delivery.opens) == (3, 3)
    assert {e.queue_id for e in TrackingEvent.objects.all()} == {i for i, _ in entries}


def test_hits_of_concurrent_requests_share_a_round_trip_and_each_gets_its_own_entry(
    tracking_queue_url, delivery, monkeypatch
):
    import threading

    sent = tracking_queue._enqueue_many
    batches: list[int] = []
    first_call = threading.Event()
    others_waiting = threading.Event()

    def observed(entries):
        batches.append(len(entries))
        if len(batches) == 1:
            # The leader is on its round trip while the other requests arrive.
            first_call.set()
            assert others_waiting.wait(5)
        return sent(entries)

    monkeypatch.setattr(tracking_queue._ENQUEUES, "_apply_many", observed)
    ids: dict[int, str] = {}

    def request(n: int) -> None:
        ids[n] = tracking_queue.hit_enqueue(_hit(delivery, user_agent=f"{FIREFOX} n={n}"))

    leader = threading.Thread(target=request, args=(0,))
    leader.start()
    assert first_call.wait(5)
    others = [threading.Thread(target=request, args=(n,)) for n in range(1, 8)]
    for thread in others:
        thread.start()
    # Bounded: a request that never queues fails the test instead of hanging it.
    for _ in range(1000):
        if len(tracking_queue._ENQUEUES._waiting) == 7:
            break
        threading.Event().wait(0.005)
    others_waiting.set()
    for thread in [leader, *others]:
        thread.join(5)

    assert batches == [1, 7]
    entries = dict(tracking_queue.connection().xrange(tracking_queue.STREAM))
    assert sorted(ids.values()) == sorted(entries)
    # Each request's answer names its own hit's entry.
    assert all(entries[ids[n]]["ua"].endswith(f"n={n}") for n in ids)
    assert tracking_queue.pending_for(delivery.campaign_id) == 8
    assert tracking_queue.accepted_total() == 8


def test_a_restarted_redis_without_the_script_still_takes_the_hit(tracking_queue_url, delivery):
    tracking_queue.hit_enqueue(_hit(delivery))
    tracking_queue.connection().script_flush()

    tracking_queue.hit_enqueue(_hit(delivery))

    assert tracking_queue.connection().xlen(tracking_queue.STREAM) == 2
    assert tracking_queue.pending_for(delivery.campaign_id) == 2


def test_a_dead_consumers_entries_are_claimed_and_recorded_once(
    tracking_queue_url, delivery, settings
):
    settings.TRACKING_QUEUE_CLAIM_SECONDS = 0.05
    for _ in range(4):
        tracking_queue.hit_enqueue(_hit(delivery))
    redis = tracking_queue.connection()
    # The dead consumer read them and never acknowledged them.
    redis.xreadgroup(tracking_queue.GROUP, "dead", {tracking_queue.STREAM: ">"}, count=10)
    assert tracking_queue.pending_for(delivery.campaign_id) == 4

    import time

    time.sleep(0.1)
    handled = tracking_queue.consume_once(consumer="alive", batch_size=10, block_ms=0)

    assert handled == 4
    assert TrackingEvent.objects.count() == 4
    assert tracking_queue.pending_for(delivery.campaign_id) == 0
    assert redis.xlen(tracking_queue.STREAM) == 0
    assert redis.xpending(tracking_queue.STREAM, tracking_queue.GROUP)["pending"] == 0


def test_a_scanners_sweep_within_one_batch_is_set_apart(tracking_queue_url, delivery):
    now = timezone.now()
    for link in range(3):
        tracking_queue.hit_enqueue(
            _hit(delivery, kind="c", link=link, at=now + timedelta(milliseconds=link))
        )
    drain()

    delivery.refresh_from_db()
    assert (delivery.clicks, delivery.machine_clicks, delivery.clicked_at) == (0, 3, None)
    assert (
        sorted(TrackingEvent.objects.values_list("machine_reason", flat=True)) == ["all_links"] * 3
    )


def test_a_batch_over_many_deliveries_recounts_each(tracking_queue_url, campaign, mailing_list):
    from tests.lists.factories import SubscriberFactory

    sent = timezone.now() - timedelta(hours=1)
    deliveries = [
        Delivery.objects.create(
            campaign=campaign,
            subscriber=SubscriberFactory(mailing_list=mailing_list),
            provider="other",
            status=DeliveryStatus.SENT,
            sent_at=sent,
        )
        for _ in range(5)
    ]
    for n, one in enumerate(deliveries):
        for _ in range(n):
            tracking_queue.hit_enqueue(_hit(one))
        tracking_queue.hit_enqueue(_hit(one, user_agent="Mozilla/5.0 (compatible; Barracuda)"))

    assert drain() == 15

    opens = dict(Delivery.objects.filter(campaign=campaign).values_list("pk", "opens"))
    machine = set(
        Delivery.objects.filter(campaign=campaign).values_list("machine_opens", flat=True)
    )
    assert opens == {one.pk: n for n, one in enumerate(deliveries)}
    assert machine == {1}


def test_the_verdict_waits_for_the_campaigns_queue_to_drain(tracking_queue_url, delivery):
    from campaigns import sending
    from campaigns.models import Campaign

    hold_end = timezone.now() - timedelta(seconds=1)
    Campaign.objects.filter(pk=delivery.campaign_id).update(status="holding", hold_until=hold_end)
    # A hit of the hold, still queued.
    tracking_queue.hit_enqueue(_hit(delivery, at=hold_end - timedelta(seconds=2)))

    held, verdict = sending.campaign_judge_probe(campaign_id=delivery.campaign_id)
    assert verdict is None and held.status == "holding" and held.judged_at is None

    drain()
    judged, verdict = sending.campaign_judge_probe(campaign_id=delivery.campaign_id)
    assert verdict is not None and judged.judged_at is not None
    delivery.refresh_from_db()
    assert delivery.opens == 1  # what the verdict read


def test_hits_after_the_holds_end_never_postpone_the_verdict(tracking_queue_url, delivery):
    """Under steady traffic the queue is never empty: only what came in during the hold counts."""
    from campaigns import sending
    from campaigns.models import Campaign

    hold_end = timezone.now() - timedelta(seconds=5)
    Campaign.objects.filter(pk=delivery.campaign_id).update(status="holding", hold_until=hold_end)
    tracking_queue.hit_enqueue(_hit(delivery, at=hold_end - timedelta(seconds=1)))
    tracking_queue.hit_enqueue(_hit(delivery, at=hold_end + timedelta(seconds=1)))
    assert tracking_queue.pending_for(delivery.campaign_id, before=hold_end) == 1

    # The consumer records the first; the second and newer ones keep the queue busy.
    entries = tracking_queue.connection().xrange(tracking_queue.STREAM, count=1)
    tracking_queue.batch_apply([tracking_queue.Hit.from_entry(i, f) for i, f in entries])
    tracking_queue.hit_enqueue(_hit(delivery))

    judged, verdict = sending.campaign_judge_probe(campaign_id=delivery.campaign_id)
    assert verdict is not None and judged.judged_at is not None
    assert tracking_queue.pending_for(delivery.campaign_id) == 2


def test_the_verdict_waits_for_webhook_posts_of_the_hold(tracking_queue_url, delivery):
    """A queued post may report on any campaign: one that came in during the hold is waited for."""
    from campaigns import sending
    from campaigns.models import Campaign

    hold_end = timezone.now() - timedelta(seconds=5)
    Campaign.objects.filter(pk=delivery.campaign_id).update(status="holding", hold_until=hold_end)
    post = tracking_queue.Post(
        esp="postmark", content_type="application/json", body="{}", at=hold_end
    )
    tracking_queue.post_enqueue(post)

    assert sending.campaign_judge_probe(campaign_id=delivery.campaign_id)[1] is None

    drain()
    assert sending.campaign_judge_probe(campaign_id=delivery.campaign_id)[1] is not None


def test_consume_events_command_drains_the_queue(tracking_queue_url, delivery):
    for _ in range(2):
        tracking_queue.hit_enqueue(_hit(delivery))

    call_command("consume_events", "--until-empty", "--block-ms", "0")

    delivery.refresh_from_db()
    assert delivery.opens == 2
    assert tracking_queue.accepted_total() == 2


def test_consume_events_refuses_without_a_queue(settings):
    from django.core.management import CommandError

    settings.TRACKING_QUEUE_URL = ""
    with pytest.raises(CommandError):
        call_command("consume_events", "--until-empty")


# --- one-click unsubscribes of concurrent requests: one transaction ----------------------------


def test_one_click_unsubscribes_of_many_requests_apply_in_one_batch(campaign, mailing_list):
    from campaigns.tokens import TokenData, TokenKind
    from complaints.services import one_click_unsubscribes_apply
    from lists.models import SubscriberStatus
    from tests.lists.factories import SubscriberFactory

    people = [
        SubscriberFactory(mailing_list=mailing_list, email=f"p{n}@example.org") for n in range(4)
    ]
    people[3].status = SubscriberStatus.UNSUBSCRIBED
    people[3].save(update_fields=["status"])
    for person in people:
        Delivery.objects.create(
            campaign=campaign, subscriber=person, status=DeliveryStatus.SENT, provider="other"
        )

    def link(person):
        return TokenData(
            kind=TokenKind.UNSUBSCRIBE, campaign_id=campaign.pk, subscriber_id=person.pk
        )

    # Two POSTs of one message in one batch, and one of somebody already off the list.
    outcomes = one_click_unsubscribes_apply(
        [link(people[0]), link(people[1]), link(people[0]), link(people[2]), link(people[3])]
    )

    assert [outcome.already for outcome in outcomes] == [False, False, True, False, True]
    assert all(outcome.event.source == "one_click" for outcome in outcomes if not outcome.already)
    assert {p.email for p in Subscriber.objects.filter(status="unsubscribed")} == {
        person.email for person in people
    }
    assert FeedbackEvent.objects.filter(kind="unsubscribed").count() == 3
    assert sorted(Suppression.objects.values_list("email", flat=True)) == [
        "p0@example.org",
        "p1@example.org",
        "p2@example.org",
    ]


def test_a_failed_batch_of_one_clicks_is_applied_by_django_alone(
    tokens, delivery, monkeypatch, caplog
):
    from config import hot_paths

    def broken(_tokens):
        raise RuntimeError("the batch failed")

    monkeypatch.setattr(hot_paths, "_ONE_CLICKS", hot_paths.GroupCommit(broken))

    response = HotClient().post(
        f"/u/{tokens.unsubscribe()}/",
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert _subscriber_of(delivery).status == "unsubscribed"
    assert FeedbackEvent.objects.get().source == "one_click"
    assert "applying it through the view" in caplog.text


def test_a_malformed_entry_is_dropped_under_its_own_campaign(tracking_queue_url, delivery):
    """Its campaign's pending count comes back to 0: the verdict waits on it."""
    enqueue, _ = tracking_queue._scripts(tracking_queue_url)
    campaign = str(delivery.campaign_id)
    fields = ["k", "o", "c", campaign, "s", "not a number", "t", "1"]
    enqueue(
        keys=[
            tracking_queue.STREAM,
            tracking_queue.PENDING_PREFIX + campaign,
            tracking_queue.ACCEPTED,
        ],
        args=["1", *fields],
    )
    assert tracking_queue.pending_for(delivery.campaign_id) == 1

    drain()

    assert tracking_queue.pending_for(delivery.campaign_id) == 0
    assert TrackingEvent.objects.count() == 0


def test_one_rule_recounts_a_delivery_and_finds_an_approved_link(delivery, monkeypatch):
    """record_open's recount and the batch's are one statement; approved_link and its cached
    twin read the links one way."""
    recounted = []
    real = tracking._recount_many
    monkeypatch.setattr(tracking, "_recount_many", lambda ids: recounted.append(ids) or real(ids))
    tracking._recount(delivery.pk)
    assert recounted == [{delivery.pk}]

    read = []
    monkeypatch.setattr(
        selectors, "_approved_links_of", lambda pk: read.append(pk) or ["https://a.example/"]
    )
    assert (
        selectors.approved_link(campaign_id=delivery.campaign_id, index=0) == "https://a.example/"
    )
    assert selectors.approved_link_cached(campaign_id=delivery.campaign_id, index=0) == (
        "https://a.example/"
    )
    assert selectors.approved_link_cached(campaign_id=delivery.campaign_id, index=1) is None
    assert read == [delivery.campaign_id] * 2
