"""Postmark events at /webhooks/postmark/tracking/: Postmark signs nothing, so basic auth is
required, and the webhook refuses everything until it is configured."""

from __future__ import annotations

import pytest

from complaints.models import FeedbackEvent
from lists.models import PlatformSuppression
from lists.services.suppression import suppression_reason
from tests.complaints.payloads import basic_auth, counters, load_text, state, stats

pytestmark = pytest.mark.django_db

URL = "/webhooks/postmark/tracking/"


@pytest.fixture(autouse=True)
def _anymail(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hooks:s3cret-webhook-pass"}


def post(client, body: str, *, auth=None):
    headers = basic_auth() if auth is None else auth
    return client.post(URL, data=body, content_type="application/json", **headers)


def test_a_hard_bounce_is_applied(client, token_client, tokens, delivery, campaign, account):
    response = post(
        client, load_text("postmark_bounce_hard.json", message_ref=tokens.message_ref())
    )

    assert response.status_code == 200
    assert state(delivery)["subscriber_status"] == "bounced"
    assert suppression_reason(account=account, email="ann.lee@example.org") == "hard_bounce"
    assert PlatformSuppression.objects.count() == 1
    feedback = FeedbackEvent.objects.get()
    assert (feedback.source, feedback.event_id, feedback.code) == (
        "postmark",
        "4323372036854775807/ann.lee@example.org",
        "5.1.1",
    )
    assert stats(token_client, campaign)["hard_bounced"] == 1


def test_a_soft_bounce_is_soft_although_anymail_calls_it_bounced(
    client, token_client, tokens, delivery, campaign
):
    response = post(
        client, load_text("postmark_bounce_soft.json", message_ref=tokens.message_ref())
    )

    assert response.status_code == 200
    after = state(delivery)
    assert after["subscriber_status"] == "subscribed"
    assert after["suppressions"] == []
    assert after["delivery"]["soft_bounced_at"] is not None
    assert stats(token_client, campaign)["soft_bounced"] == 1


def test_a_spam_complaint_and_a_delivery(client, token_client, tokens, delivery, campaign, account):
    ref = tokens.message_ref()
    assert post(client, load_text("postmark_delivery.json", message_ref=ref)).status_code == 200
    assert (
        post(client, load_text("postmark_spam_complaint.json", message_ref=ref)).status_code == 200
    )

    after = state(delivery)
    assert after["delivery"]["delivered_at"] is not None
    assert after["subscriber_status"] == "complained"
    assert suppression_reason(account=account, email="ann.lee@example.org") == "complained"
    assert counters(stats(token_client, campaign)) == {
        "delivered": 1,
        "opened": 0,
        "clicked": 0,
        "hard_bounced": 0,
        "soft_bounced": 0,
        "unsubscribed": 0,
        "complained": 1,
    }


def test_a_delivery_without_an_event_id_is_deduplicated_by_its_content(client, tokens, delivery):
    body = load_text("postmark_delivery.json", message_ref=tokens.message_ref())
    assert post(client, body).status_code == 200
    once = state(delivery)

    assert post(client, body).status_code == 200

    assert state(delivery) == once
    assert FeedbackEvent.objects.get().event_id.startswith("sha256:")


@pytest.mark.parametrize(("auth", "status"), [({}, 401), (basic_auth("hooks:wrong"), 403)])
def test_missing_or_wrong_basic_auth_is_refused(client, tokens, delivery, auth, status):
    before = state(delivery)

    response = post(
        client, load_text("postmark_bounce_hard.json", message_ref=tokens.message_ref()), auth=auth
    )

    assert response.status_code == status
    assert state(delivery) == before


def test_without_a_secret_the_webhook_refuses_everything(client, settings, tokens, delivery):
    settings.ANYMAIL = {}
    before = state(delivery)

    response = post(
        client, load_text("postmark_bounce_hard.json", message_ref=tokens.message_ref()), auth={}
    )

    assert response.status_code == 503
    assert state(delivery) == before


def test_an_unparsable_body_is_a_400(client):
    response = post(client, "{not json")

    assert response.status_code == 400
    assert FeedbackEvent.objects.count() == 0


def test_the_webhook_needs_no_csrf_token(tokens, delivery):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)

    response = post(client, load_text("postmark_delivery.json", message_ref=tokens.message_ref()))

    assert response.status_code == 200
    assert state(delivery)["delivery"]["delivered_at"] is not None
