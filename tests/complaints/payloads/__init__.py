"""Real-format ESP webhook payloads (shapes from the ESPs' docs and anymail's test suite), and
the few helpers the webhook tests share to load them and to see what a post changed."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from campaigns.models import Delivery, TrackingEvent
from complaints.models import FeedbackEvent
from lists.models import PlatformSuppression, Subscriber, Suppression

HERE = Path(__file__).parent
BASIC_AUTH = "hooks:s3cret-webhook-pass"


def load_text(name: str, *, message_ref: str) -> str:
    """The payload file with our message reference put in."""
    return (HERE / name).read_text().replace("__MESSAGE_REF__", message_ref)


def load(name: str, *, message_ref: str):
    return json.loads(load_text(name, message_ref=message_ref))


def basic_auth(credentials: str = BASIC_AUTH) -> dict[str, str]:
    """Test-client kwargs that send HTTP basic auth."""
    token = base64.b64encode(credentials.encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def state(delivery: Delivery) -> dict:
    """Everything a webhook may change, to assert that a refused post changed none of it."""
    delivery = Delivery.objects.get(pk=delivery.pk)
    subscriber = Subscriber.objects.get(pk=delivery.subscriber_id)
    return {
        "feedback_events": FeedbackEvent.objects.count(),
        "suppressions": list(Suppression.objects.values_list("account_id", "reason")),
        "platform_suppressions": PlatformSuppression.objects.count(),
        "tracking_events": TrackingEvent.objects.count(),
        "subscriber_status": subscriber.status,
        "delivery": {
            field: getattr(delivery, field)
            for field in (
                "delivered_at",
                "opened_at",
                "clicked_at",
                "soft_bounced_at",
                "hard_bounced_at",
                "complained_at",
                "unsubscribed_at",
            )
        },
    }


def stats(client, campaign) -> dict:
    """GET /api/v1/campaigns/{id}/stats/ as the campaign's owner."""
    response = client.get(f"/api/v1/campaigns/{campaign.pk}/stats/")
    assert response.status_code == 200, response.content
    return response.json()


def counters(data: dict) -> dict:
    """The event counters of a stats answer (whole campaign)."""
    names = ("delivered", "opened", "clicked", "hard_bounced", "soft_bounced")
    return {name: data[name] for name in (*names, "unsubscribed", "complained")}
