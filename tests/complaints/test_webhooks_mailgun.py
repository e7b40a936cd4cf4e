"""Mailgun events at /webhooks/mailgun/tracking/: HMAC-signed (anymail checks the signature, we
check its timestamp's age), applied once per signature token."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from complaints.models import FeedbackEvent
from lists.models import PlatformSuppression
from lists.services.suppression import PLATFORM_HARD_BOUNCE, suppression_reason
from tests.complaints.payloads import basic_auth, counters, load, state, stats
from tests.factories import AccountFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

URL = "/webhooks/mailgun/tracking/"
SIGNING_KEY = "key-5f1d0c7e9b3a4c2d8e6f0a1b2c3d4e5f"


@pytest.fixture(autouse=True)
def _anymail(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def signed(payload: dict, *, token: str = "a" * 50, timestamp: int | None = None, key=SIGNING_KEY):
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    payload = dict(payload)
    payload["signature"] = {"timestamp": str(timestamp), "token": token, "signature": signature}
    return payload


def post(client, payload: dict, **extra):
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **extra)


def test_a_permanent_failure_hard_bounces_and_shows_in_the_stats(
    client, token_client, tokens, delivery, campaign, account
):
    payload = signed(load("mailgun_failed_permanent.json", message_ref=tokens.message_ref()))

    response = post(client, payload)

    assert response.status_code == 200
    after = state(delivery)
    assert after["subscriber_status"] == "bounced"
    assert after["delivery"]["hard_bounced_at"] is not None
    assert suppression_reason(account=account, email="ann.lee@example.org") == "hard_bounce"
    feedback = FeedbackEvent.objects.get()
    assert (feedback.source, feedback.kind, feedback.code) == ("mailgun", "hard_bounce", "5.1.1")
    assert feedback.event_id == f"{'a' * 50}/ann.lee@example.org"
    assert counters(stats(token_client, campaign)) == {
        "delivered": 0,
        "opened": 0,
        "clicked": 0,
        "hard_bounced": 1,
        "soft_bounced": 0,
        "unsubscribed": 0,
        "complained": 0,
    }


def test_a_temporary_failure_is_a_deferral_and_changes_nothing(client, tokens, delivery):
    payload = signed(load("mailgun_failed_temporary.json", message_ref=tokens.message_ref()))
    before = state(delivery)

    response = post(client, payload)

    assert response.status_code == 200
    assert state(delivery) == before


def test_a_forged_signature_is_refused_and_changes_nothing(client, tokens, delivery):
    payload = signed(
        load("mailgun_failed_permanent.json", message_ref=tokens.message_ref()),
        key="key-not-the-one-mailgun-has",
    )
    before = state(delivery)

    response = post(client, payload)

    assert response.status_code == 403
    assert state(delivery) == before


def test_a_payload_changed_after_signing_is_refused(client, tokens, delivery):
    payload = signed(load("mailgun_failed_permanent.json", message_ref=tokens.message_ref()))
    payload["signature"]["token"] = "b" * 50
    before = state(delivery)

    response = post(client, payload)

    assert response.status_code == 403
    assert state(delivery) == before


def test_a_signed_post_older_than_the_window_is_refused(client, settings, tokens, delivery):
    settings.MAILGUN_WEBHOOK_MAX_AGE_SECONDS = 15 * 60
    old = int(time.time()) - 16 * 60
    payload = signed(
        load("mailgun_failed_permanent.json", message_ref=tokens.message_ref()), timestamp=old
    )
    before = state(delivery)

    response = post(client, payload)

    assert response.status_code == 403
    assert state(delivery) == before


def test_a_replayed_post_changes_nothing_the_second_time(client, tokens, delivery, subscriber):
    payload = signed(load("mailgun_complained.json", message_ref=tokens.message_ref()))
    assert post(client, payload).status_code == 200
    once = state(delivery)

    response = post(client, payload)

    assert response.status_code == 200
    assert state(delivery) == once
    assert once["feedback_events"] == 1
    assert subscriber.consent_records.filter(event="withdrawn").count() == 1


def test_a_hard_bounce_suppresses_the_address_for_every_account_a_complaint_only_for_its_own(
    client, tokens, delivery, account
):
    other = AccountFactory()
    other_list = MailingListFactory(account=other)
    SubscriberFactory(mailing_list=other_list, email="ann.lee@example.org")

    complaint = signed(load("mailgun_complained.json", message_ref=tokens.message_ref()))
    assert post(client, complaint).status_code == 200
    assert suppression_reason(account=account, email="ann.lee@example.org") == "complained"
    assert suppression_reason(account=other, email="ann.lee@example.org") is None
    assert not PlatformSuppression.objects.exists()

    bounce = signed(
        load("mailgun_failed_permanent.json", message_ref=tokens.message_ref()), token="c" * 50
    )
    assert post(client, bounce).status_code == 200

    assert suppression_reason(account=other, email="Ann.Lee@example.org") == PLATFORM_HARD_BOUNCE
    # The complaint came first and stays the account's own reason.
    assert suppression_reason(account=account, email="ann.lee@example.org") == "complained"


def test_unsubscribe_and_open_are_applied(
    client, token_client, tokens, delivery, campaign, account
):
    ref = tokens.message_ref()
    assert (
        post(
            client, signed(load("mailgun_opened.json", message_ref=ref), token="o" * 50)
        ).status_code
        == 200
    )
    assert (
        post(
            client, signed(load("mailgun_unsubscribed.json", message_ref=ref), token="u" * 50)
        ).status_code
        == 200
    )

    after = state(delivery)
    assert after["subscriber_status"] == "unsubscribed"
    assert suppression_reason(account=account, email="ann.lee@example.org") == "unsubscribed"
    # "delivered" counts every sent message that did not bounce.
    assert counters(stats(token_client, campaign)) == {
        "delivered": 1,
        "opened": 1,
        "clicked": 0,
        "hard_bounced": 0,
        "soft_bounced": 0,
        "unsubscribed": 1,
        "complained": 0,
    }


def test_an_unsigned_reference_matches_nothing(client, tokens, delivery, campaign):
    """A post signed by Mailgun still cannot name a message we did not sign: a forged
    reference (and no provider id of ours) changes nothing for any subscriber."""
    payload = load("mailgun_failed_permanent.json", message_ref="not-a-signed-ref")
    payload = signed(payload)
    before = state(delivery)

    response = post(client, payload)

    assert response.status_code == 200
    after = state(delivery)
    assert after["feedback_events"] == 1
    assert FeedbackEvent.objects.get().outcome == "unmatched"
    assert {k: v for k, v in after.items() if k != "feedback_events"} == {
        k: v for k, v in before.items() if k != "feedback_events"
    }


def test_basic_auth_when_configured_is_required_on_top_of_the_signature(
    client, settings, tokens, delivery
):
    settings.ANYMAIL = dict(settings.ANYMAIL, WEBHOOK_SECRET="hooks:s3cret-webhook-pass")
    payload = signed(load("mailgun_failed_permanent.json", message_ref=tokens.message_ref()))
    before = state(delivery)

    missing = post(client, payload)
    wrong = post(client, payload, **basic_auth("hooks:wrong"))

    assert (missing.status_code, wrong.status_code) == (401, 403)
    assert state(delivery) == before
    assert post(client, payload, **basic_auth()).status_code == 200


def test_without_a_signing_key_the_webhook_refuses_everything(client, settings, tokens, delivery):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hooks:s3cret-webhook-pass"}
    payload = signed(load("mailgun_failed_permanent.json", message_ref=tokens.message_ref()))
    before = state(delivery)

    response = post(client, payload, **basic_auth())

    assert response.status_code == 503
    assert state(delivery) == before


def test_a_body_that_is_not_json_is_refused(client):
    response = client.post(URL, data="{not json", content_type="application/json")

    assert response.status_code == 403
    assert FeedbackEvent.objects.count() == 0
