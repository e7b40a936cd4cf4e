"""SendGrid events at /webhooks/sendgrid/tracking/: basic auth, plus SendGrid's ECDSA signature
(X-Twilio-Email-Event-Webhook-Signature) when a verification key is configured. A post is a
batch: each event is applied once."""

from __future__ import annotations

import base64
import json

import pytest
from anymail.exceptions import AnymailNotSupportedWarning
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from complaints.models import FeedbackEvent
from lists.models import PlatformSuppression
from lists.services.suppression import suppression_reason
from tests.complaints.payloads import basic_auth, counters, load_text, state, stats

pytestmark = [
    pytest.mark.django_db,
    # anymail warns on every SendGrid view that it no longer supports SendGrid officially.
    pytest.mark.filterwarnings(
        f"ignore::{AnymailNotSupportedWarning.__module__}.AnymailNotSupportedWarning"
    ),
]

URL = "/webhooks/sendgrid/tracking/"
TIMESTAMP = "1763630050"


@pytest.fixture(scope="module")
def ecdsa_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(autouse=True)
def _anymail(settings, ecdsa_key):
    public = ecdsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": "hooks:s3cret-webhook-pass",
        "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": base64.b64encode(public).decode(),
    }


def signature_headers(body: str, key) -> dict[str, str]:
    signature = key.sign(TIMESTAMP.encode() + body.encode(), ec.ECDSA(hashes.SHA256()))
    return {
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": base64.b64encode(signature).decode(),
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": TIMESTAMP,
    }


def post(client, body: str, *, key=None, auth=None, signature=None):
    headers = basic_auth() if auth is None else auth
    if signature is None and key is not None:
        signature = signature_headers(body, key)
    return client.post(
        URL, data=body, content_type="application/json", **headers, **(signature or {})
    )


def test_delivered_open_and_click_in_one_batch_are_counted(
    client, token_client, ecdsa_key, tokens, delivery, campaign
):
    body = load_text("sendgrid_events.json", message_ref=tokens.message_ref())

    response = post(client, body, key=ecdsa_key)

    assert response.status_code == 200
    after = state(delivery)
    assert None not in (
        after["delivery"]["delivered_at"],
        after["delivery"]["opened_at"],
        after["delivery"]["clicked_at"],
    )
    assert sorted(FeedbackEvent.objects.values_list("kind", flat=True)) == [
        "clicked",
        "delivered",
        "opened",
    ]
    assert counters(stats(token_client, campaign)) == {
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "hard_bounced": 0,
        "soft_bounced": 0,
        "unsubscribed": 0,
        "complained": 0,
    }


def test_a_bounce_is_hard_and_suppresses_platform_wide(
    client, token_client, ecdsa_key, tokens, delivery, campaign, account
):
    body = load_text("sendgrid_bounce.json", message_ref=tokens.message_ref())

    response = post(client, body, key=ecdsa_key)

    assert response.status_code == 200
    after = state(delivery)
    assert after["subscriber_status"] == "bounced"
    assert suppression_reason(account=account, email="ann.lee@example.org") == "hard_bounce"
    assert PlatformSuppression.objects.count() == 1
    assert FeedbackEvent.objects.get().code == "5.1.1"
    assert stats(token_client, campaign)["hard_bounced"] == 1


def test_a_blocked_message_is_a_block_not_a_bounce_of_the_address(
    client, token_client, ecdsa_key, tokens, delivery, campaign
):
    body = load_text("sendgrid_blocked.json", message_ref=tokens.message_ref())

    response = post(client, body, key=ecdsa_key)

    assert response.status_code == 200
    after = state(delivery)
    assert after["subscriber_status"] == "subscribed"
    assert after["suppressions"] == []
    assert after["platform_suppressions"] == 0
    event = FeedbackEvent.objects.get()
    assert (event.kind, event.code) == ("blocked", "5.7.1")
    delivery.refresh_from_db()
    assert delivery.blocked_at is not None
    assert (delivery.soft_bounced_at, delivery.hard_bounced_at) == (None, None)
    assert (
        stats(token_client, campaign)["soft_bounced"],
        stats(token_client, campaign)["hard_bounced"],
    ) == (0, 0)


def test_spam_report_and_group_unsubscribe(
    client, token_client, ecdsa_key, tokens, delivery, campaign, account
):
    body = load_text("sendgrid_spamreport_unsubscribe.json", message_ref=tokens.message_ref())

    response = post(client, body, key=ecdsa_key)

    assert response.status_code == 200
    after = state(delivery)
    # The later unsubscribe does not weaken the complaint.
    assert after["subscriber_status"] == "complained"
    assert after["delivery"]["complained_at"] is not None
    assert after["delivery"]["unsubscribed_at"] is not None
    assert suppression_reason(account=account, email="ann.lee@example.org") == "complained"
    data = stats(token_client, campaign)
    assert (data["complained"], data["unsubscribed"]) == (1, 1)


def test_a_forged_signature_is_refused_and_changes_nothing(client, tokens, delivery):
    body = load_text("sendgrid_bounce.json", message_ref=tokens.message_ref())
    forger = ec.generate_private_key(ec.SECP256R1())
    before = state(delivery)

    response = post(client, body, key=forger)

    assert response.status_code == 403
    assert state(delivery) == before


def test_a_body_changed_after_signing_is_refused(client, ecdsa_key, tokens, delivery):
    complaint = load_text("sendgrid_spamreport_unsubscribe.json", message_ref=tokens.message_ref())
    bounce = load_text("sendgrid_bounce.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, bounce, signature=signature_headers(complaint, ecdsa_key))

    assert response.status_code == 403
    assert state(delivery) == before


def test_a_missing_signature_is_refused(client, tokens, delivery):
    body = load_text("sendgrid_bounce.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, body)

    assert response.status_code == 403
    assert state(delivery) == before


@pytest.mark.parametrize(("auth", "status"), [({}, 401), (basic_auth("hooks:wrong"), 403)])
def test_missing_or_wrong_basic_auth_is_refused(client, ecdsa_key, tokens, delivery, auth, status):
    body = load_text("sendgrid_bounce.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, body, key=ecdsa_key, auth=auth)

    assert response.status_code == status
    assert state(delivery) == before


def test_the_same_batch_twice_changes_nothing_the_second_time(client, ecdsa_key, tokens, delivery):
    body = load_text("sendgrid_events.json", message_ref=tokens.message_ref())
    assert post(client, body, key=ecdsa_key).status_code == 200
    once = state(delivery)

    response = post(client, body, key=ecdsa_key)

    assert response.status_code == 200
    assert state(delivery) == once
    assert once["feedback_events"] == 3
    # Engagement is counted once too.
    assert once["tracking_events"] == 2


def test_a_signed_body_that_is_not_a_batch_is_a_400(client, ecdsa_key):
    body = json.dumps({"event": "bounce"})

    response = post(client, body, key=ecdsa_key)

    assert response.status_code == 400
    assert FeedbackEvent.objects.count() == 0


def test_basic_auth_alone_is_enough_without_a_verification_key(client, settings, tokens, delivery):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hooks:s3cret-webhook-pass"}
    body = load_text("sendgrid_bounce.json", message_ref=tokens.message_ref())

    response = post(client, body)

    assert response.status_code == 200
    assert state(delivery)["subscriber_status"] == "bounced"


def test_with_nothing_configured_the_webhook_refuses_everything(client, settings, tokens, delivery):
    settings.ANYMAIL = {}
    body = load_text("sendgrid_bounce.json", message_ref=tokens.message_ref())
    before = state(delivery)

    response = post(client, body, auth={})

    assert response.status_code == 503
    assert state(delivery) == before
