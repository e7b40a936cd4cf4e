"""Outgoing webhooks against a real HTTP receiver on 127.0.0.1: signing, retries, the delivery
log, the private-address guard, and the events the product emits."""

import hashlib
import hmac
import json
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import webhooks
from accounts.models import WebhookDelivery
from accounts.tasks import deliver_webhook, webhooks_retry_due
from config.coded_text import render
from tests.accounts.webhook_receiver import start_receiver
from tests.factories import AccountFactory


@pytest.fixture
def receiver():
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def account(db):
    return AccountFactory()


def _endpoint(account, url, events=("subscriber.unsubscribed",)):
    endpoint, secret = webhooks.webhook_endpoint_create(account=account, url=url, events=events)
    return endpoint, secret


def _emit(account, django_capture_on_commit_callbacks, event="subscriber.unsubscribed"):
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = webhooks.emit_event(account.pk, event, {"subscriber_id": 7})
    return deliveries


# --- Signing -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delivery_is_signed_as_documented_and_a_wrong_secret_fails(
    account, receiver, django_capture_on_commit_callbacks
):
    endpoint, secret = _endpoint(account, receiver.url)
    assert secret.startswith("whsec_") and endpoint.secret == secret

    [delivery] = _emit(account, django_capture_on_commit_callbacks)

    [request] = receiver.requests
    header = request.headers["X-ConsentMail-Signature"]
    parts = dict(p.split("=", 1) for p in header.split(","))
    assert set(parts) == {"t", "v1"}
    assert abs(int(parts["t"]) - time.time()) < 30
    # The documented algorithm, written out independently of the code under test.
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert parts["v1"] == expected
    assert webhooks.signature_verify(secret=secret, header=header, body=request.body)
    assert not webhooks.signature_verify(secret="whsec_wrong", header=header, body=request.body)
    assert not webhooks.signature_verify(secret=secret, header=header, body=request.body + b" ")
    assert not webhooks.signature_verify(
        secret=secret, header=header, body=request.body, now=int(parts["t"]) + 3600
    )
    body = json.loads(request.body)
    assert body["type"] == "subscriber.unsubscribed"
    assert body["id"] == str(delivery.event_id)
    assert body["account_id"] == account.pk
    assert body["data"] == {"subscriber_id": 7}
    assert request.headers["X-ConsentMail-Event"] == "subscriber.unsubscribed"
    assert request.headers["X-ConsentMail-Delivery"] == str(delivery.event_id)
    assert request.headers["Content-Type"] == "application/json"
    assert request.path == "/hook"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.status_code, delivery.attempt) == ("succeeded", 200, 1)
    assert delivery.response_excerpt == "ok"
    assert delivery.delivered_at is not None and delivery.duration_ms is not None


@pytest.mark.django_db
def test_rotating_the_secret_signs_with_the_new_one(
    account, receiver, django_capture_on_commit_callbacks
):
    endpoint, old = _endpoint(account, receiver.url)
    _, new = webhooks.webhook_endpoint_rotate_secret(account=account, endpoint_id=endpoint.pk)
    assert new != old
    _emit(account, django_capture_on_commit_callbacks)
    [request] = receiver.requests
    header = request.headers["X-ConsentMail-Signature"]
    assert webhooks.signature_verify(secret=new, header=header, body=request.body)
    assert not webhooks.signature_verify(secret=old, header=header, body=request.body)


# --- Retries and the log -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_500_is_retried_with_backoff_then_succeeds(
    account, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_RETRY_DELAYS = [10, 30]
    receiver.answer((500, b"boom"), (503, b"busy"), (200, b"thanks"))
    _endpoint(account, receiver.url)
    before = timezone.now()
    [delivery] = _emit(account, django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert len(receiver.requests) == 1  # the eager retry is not due yet, so nothing more went
    assert (delivery.status, delivery.attempt, delivery.status_code) == ("pending", 1, 500)
    assert render(delivery.error) == "HTTP 500."
    assert delivery.response_excerpt == "boom"
    assert before + timedelta(seconds=9) < delivery.next_attempt_at
    assert delivery.next_attempt_at < timezone.now() + timedelta(seconds=11)
    # Not due: running the task again (twice) sends nothing.
    assert deliver_webhook(delivery.pk) is None
    assert deliver_webhook(delivery.pk) is None
    assert len(receiver.requests) == 1

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert webhooks.deliver(delivery.pk) == 30  # the second delay
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt, delivery.status_code) == ("pending", 2, 503)

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert webhooks_retry_due() == 1  # the sweeper picks the overdue one up
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt, delivery.status_code) == ("succeeded", 3, 200)
    assert delivery.response_excerpt == "thanks" and render(delivery.error) == ""
    assert len(receiver.requests) == 3
    # The same event id each time, so the receiver can de-duplicate.
    ids = {r.headers["X-ConsentMail-Delivery"] for r in receiver.requests}
    assert ids == {str(delivery.event_id)}
    assert deliver_webhook(delivery.pk) is None  # done: a second run sends nothing
    assert len(receiver.requests) == 3


@pytest.mark.django_db
def test_retries_stop_after_the_last_delay(
    account, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_RETRY_DELAYS = [10]
    receiver.answer((502, b"bad gateway"))
    _endpoint(account, receiver.url)
    [delivery] = _emit(account, django_capture_on_commit_callbacks)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert webhooks.deliver(delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt, delivery.status_code) == ("failed", 2, 502)
    assert delivery.next_attempt_at is None
    assert len(receiver.requests) == 2


@pytest.mark.django_db
def test_a_4xx_is_logged_and_not_retried(account, receiver, django_capture_on_commit_callbacks):
    receiver.answer((404, b"no such hook " + b"x" * 5000))
    _endpoint(account, receiver.url)
    [delivery] = _emit(account, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt, delivery.status_code) == ("failed", 1, 404)
    assert render(delivery.error) == "HTTP 404."
    # The answer is read only up to the cap.
    assert delivery.response_excerpt.startswith("no such hook x")
    assert len(delivery.response_excerpt) == 2048
    assert delivery.next_attempt_at is None and delivery.delivered_at is None


@pytest.mark.django_db
def test_a_timeout_is_logged_and_retried(
    account, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    receiver.answer((200, b"late", 2.0))
    _endpoint(account, receiver.url)
    started = time.monotonic()
    [delivery] = _emit(account, django_capture_on_commit_callbacks)
    assert time.monotonic() - started < 1.9
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt, delivery.status_code) == ("pending", 1, None)
    assert render(delivery.error) == "Timed out."
    assert delivery.next_attempt_at is not None


@pytest.mark.django_db
def test_a_refused_connection_is_logged_and_retried(account, django_capture_on_commit_callbacks):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _endpoint(account, f"http://127.0.0.1:{port}/hook")
    [delivery] = _emit(account, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt, delivery.status_code) == ("pending", 1, None)
    assert render(delivery.error).startswith("Connection failed")


@pytest.mark.django_db
def test_redirects_are_not_followed(account, receiver, django_capture_on_commit_callbacks):
    receiver.answer((302, b"", 0.0, {"Location": receiver.url + "/elsewhere"}))
    _endpoint(account, receiver.url)
    [delivery] = _emit(account, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.status_code) == ("failed", 302)
    assert "redirects are not followed" in render(delivery.error)
    assert [r.path for r in receiver.requests] == ["/hook"]


# --- Which endpoints get what ----------------------------------------------------------------


@pytest.mark.django_db
def test_only_active_endpoints_subscribed_to_the_event_get_it(
    account, receiver, django_capture_on_commit_callbacks
):
    wanted, _ = _endpoint(account, receiver.url, events=["subscriber.unsubscribed"])
    _endpoint(account, receiver.url + "?other", events=["import.finished"])
    inactive, _ = _endpoint(account, receiver.url + "?off", events=["subscriber.unsubscribed"])
    webhooks.webhook_endpoint_update(account=account, endpoint_id=inactive.pk, is_active=False)
    _endpoint(AccountFactory(), receiver.url + "?foreign", events=["subscriber.unsubscribed"])

    deliveries = _emit(account, django_capture_on_commit_callbacks)

    assert [d.endpoint_id for d in deliveries] == [wanted.pk]
    assert [r.path for r in receiver.requests] == ["/hook"]


@pytest.mark.django_db
def test_nothing_is_sent_when_the_transaction_rolls_back(account, receiver):
    from django.db import transaction

    _endpoint(account, receiver.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        webhooks.emit_event(account.pk, "subscriber.unsubscribed", {})
        raise RuntimeError
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


@pytest.mark.django_db
def test_every_documented_event_is_accepted_and_others_are_not(account):
    assert set(webhooks.EVENTS) == {
        "subscriber.subscribed",
        "subscriber.unsubscribed",
        "subscriber.bounced",
        "subscriber.complained",
        "campaign.status_changed",
        "import.finished",
    }
    for event in webhooks.EVENTS:
        assert webhooks.emit_event(account.pk, event, {}) == []  # no endpoints: nothing
    with pytest.raises(ValueError):
        webhooks.emit_event(account.pk, "subscriber.deleted", {})


# --- The private-address guard ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://192.168.0.10/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://localhost:8000/hook",
    ],
)
def test_private_literal_addresses_are_refused(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(webhooks.UnsafeDestination):
        webhooks.destination_resolve(url)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "example.com"]
)
def test_only_http_and_https_are_allowed(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True  # the scheme is refused even so
    with pytest.raises(webhooks.UnsafeDestination, match="http"):
        webhooks.url_check(url)


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["10.0.0.5"], ["169.254.169.254"], ["::1"], ["93.184.215.14", "10.0.0.5"]],
)
def test_a_hostname_resolving_to_a_private_address_is_refused(settings, monkeypatch, addresses):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: addresses)
    with pytest.raises(webhooks.UnsafeDestination, match="private or local"):
        webhooks.destination_resolve("https://hooks.example.com/x")


def test_a_hostname_resolving_only_to_public_addresses_passes(settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: ["93.184.215.14"])
    dest = webhooks.destination_resolve("https://hooks.example.com:8443/x?y=1")
    assert (dest.host, dest.port, dest.path, dest.address) == (
        "hooks.example.com",
        8443,
        "/x?y=1",
        "93.184.215.14",
    )


@pytest.mark.django_db
def test_localhost_registered_while_allowed_is_refused_at_delivery_time(
    account, receiver, settings, django_capture_on_commit_callbacks
):
    # Registered while allowed, delivered after the setting changed: the check runs again.
    url = receiver.url.replace("127.0.0.1", "localhost")
    _endpoint(account, url)
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(webhooks.UnsafeDestination):
        webhooks.destination_resolve(url)
    [delivery] = _emit(account, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert "private or local" in render(delivery.error)
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_private_address_is_refused_at_delivery_time_and_nothing_is_sent(
    account, receiver, settings, monkeypatch, django_capture_on_commit_callbacks
):
    _endpoint(account, receiver.url.replace("127.0.0.1", "hooks.example.com"))
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: ["127.0.0.1"])
    [delivery] = _emit(account, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.status_code, delivery.attempt) == ("failed", None, 1)
    assert "127.0.0.1" in render(delivery.error)
    assert receiver.requests == []


@pytest.mark.django_db
def test_registering_a_private_or_non_http_url_is_refused(account, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    for url in ["http://10.0.0.1/x", "ftp://example.com/", "https://user:pw@example.com/"]:
        with pytest.raises(webhooks.ApplicationError):
            webhooks.webhook_endpoint_create(account=account, url=url, events=["import.finished"])
    assert not account.webhooks.exists()


@pytest.mark.django_db
def test_the_setting_allows_a_local_receiver(settings, receiver):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    assert webhooks.destination_resolve(receiver.url).address == "127.0.0.1"


# --- Events from the product -----------------------------------------------------------------


def _payloads(receiver, event):
    return [
        json.loads(r.body) for r in receiver.requests if r.headers["X-ConsentMail-Event"] == event
    ]


@pytest.mark.django_db
def test_an_unsubscribe_fires_subscriber_unsubscribed_once(
    account, receiver, django_capture_on_commit_callbacks
):
    from lists.services.subscribers import subscriber_unsubscribe
    from tests.lists.factories import MailingListFactory, SubscriberFactory

    subscriber = SubscriberFactory(
        mailing_list=MailingListFactory(account=account), email="ann@example.org"
    )
    _endpoint(account, receiver.url, events=["subscriber.unsubscribed"])
    with django_capture_on_commit_callbacks(execute=True):
        subscriber_unsubscribe(subscriber=subscriber, channel="one_click")
    with django_capture_on_commit_callbacks(execute=True):
        subscriber_unsubscribe(subscriber=subscriber, channel="one_click")  # idempotent

    [payload] = _payloads(receiver, "subscriber.unsubscribed")
    assert payload["data"] == {
        "subscriber_id": subscriber.pk,
        "list_id": subscriber.mailing_list_id,
        "email": "ann@example.org",
        "status": "unsubscribed",
        "previous_status": "subscribed",
        "channel": "one_click",
    }


@pytest.mark.django_db
def test_a_bounce_fires_subscriber_bounced(account, receiver, django_capture_on_commit_callbacks):
    from lists.models import SubscriberStatus
    from lists.services.subscribers import subscriber_unsubscribe
    from tests.lists.factories import MailingListFactory, SubscriberFactory

    subscriber = SubscriberFactory(mailing_list=MailingListFactory(account=account))
    _endpoint(account, receiver.url, events=list(webhooks.EVENTS))
    with django_capture_on_commit_callbacks(execute=True):
        subscriber_unsubscribe(subscriber=subscriber, status=SubscriberStatus.BOUNCED)
    assert [r.headers["X-ConsentMail-Event"] for r in receiver.requests] == ["subscriber.bounced"]


@pytest.mark.django_db
def test_confirming_a_subscription_fires_subscriber_subscribed(
    account, receiver, django_capture_on_commit_callbacks
):
    from lists.models import SubscriberStatus
    from lists.services.optin import subscription_confirm, subscription_confirm_token
    from tests.lists.factories import MailingListFactory, SubscriberFactory

    subscriber = SubscriberFactory(
        mailing_list=MailingListFactory(account=account), status=SubscriberStatus.UNCONFIRMED
    )
    _endpoint(account, receiver.url, events=["subscriber.subscribed"])
    with django_capture_on_commit_callbacks(execute=True):
        subscription_confirm(token=subscription_confirm_token(subscriber), ip="203.0.113.1")
    [payload] = _payloads(receiver, "subscriber.subscribed")
    assert payload["data"]["subscriber_id"] == subscriber.pk
    assert payload["data"]["previous_status"] == "unconfirmed"
    assert payload["data"]["status"] == "subscribed"


@pytest.mark.django_db
def test_a_campaign_status_change_fires_campaign_status_changed(
    account, receiver, django_capture_on_commit_callbacks
):
    from campaigns.sending import campaign_withdraw
    from tests.campaigns.factories import submitted_campaign
    from tests.lists.factories import MailingListFactory

    campaign = submitted_campaign(MailingListFactory(account=account))
    _endpoint(account, receiver.url, events=["campaign.status_changed"])
    with django_capture_on_commit_callbacks(execute=True):
        campaign_withdraw(account=account, campaign_id=campaign.pk, actor=None)
    [payload] = _payloads(receiver, "campaign.status_changed")
    assert payload["data"] == {
        "campaign_id": campaign.pk,
        "name": campaign.name,
        "old_status": "submitted",
        "new_status": "draft",
        "reason": "withdrawn",
    }
