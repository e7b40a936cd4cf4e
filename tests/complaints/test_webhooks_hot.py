"""ESP webhook posts on the hot front (config.hot_paths): a post its view would accept is
verified without Django's middleware, queued raw and answered once Redis has it; the consumer
parses it with the view's parser and applies it (complaints.esp.posts_apply). Whole suites of
each ESP run through that way too (test_webhooks_*_queued.py)."""

from __future__ import annotations

import json

import pytest

from campaigns import tracking_queue
from campaigns.models import Delivery, TrackingEvent
from complaints.models import FeedbackEvent
from tests.campaigns.hot_client import HotClient, drain, queue_url
from tests.complaints import test_webhooks_mailgun as mailgun
from tests.complaints.payloads import basic_auth, load, load_text

pytestmark = pytest.mark.django_db

SECRET = "hooks:s3cret-webhook-pass"


@pytest.fixture(autouse=True)
def _queue(settings):
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": mailgun.SIGNING_KEY,
    }
    settings.TRACKING_QUEUE_URL = queue_url()
    tracking_queue.ensure_group()


def _postmark(client, body: str, **auth):
    return client.post(
        "/webhooks/postmark/tracking/",
        data=body.encode(),
        content_type="application/json",
        **(auth or basic_auth()),
    )


def test_a_verified_post_is_answered_once_queued_and_applied_by_the_consumer(tokens, delivery):
    response = _postmark(
        HotClient(), load_text("postmark_bounce_hard.json", message_ref=tokens.message_ref())
    )

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    # Queued, not applied: the request never touched the feedback tables.
    assert tracking_queue.posts_accepted_total() == 1
    assert tracking_queue.connection().xlen(tracking_queue.STREAM) == 1
    assert not FeedbackEvent.objects.exists()

    assert drain() == 1

    feedback = FeedbackEvent.objects.get()
    assert (feedback.source, feedback.kind) == ("postmark", "hard_bounce")
    assert tracking_queue.connection().xlen(tracking_queue.STREAM) == 0


def test_refused_posts_go_to_the_view_and_nothing_is_queued(tokens, delivery):
    client = HotClient()
    body = load_text("postmark_bounce_hard.json", message_ref=tokens.message_ref())

    assert _postmark(client, body, HTTP_X_NOTHING="").status_code == 401
    assert _postmark(client, body, **basic_auth("hooks:wrong")).status_code == 403
    assert _postmark(client, "{not json").status_code == 400
    forged = mailgun.signed(
        load("mailgun_opened.json", message_ref=tokens.message_ref()), key="other"
    )
    response = client.post(
        mailgun.URL,
        data=json.dumps(forged).encode(),
        content_type="application/json",
        **basic_auth(),
    )
    assert response.status_code == 403

    assert tracking_queue.posts_accepted_total() == 0
    assert not FeedbackEvent.objects.exists()


def test_without_redis_the_view_applies_the_post_at_once(tokens, delivery, settings):
    settings.TRACKING_QUEUE_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    response = _postmark(
        HotClient(), load_text("postmark_bounce_hard.json", message_ref=tokens.message_ref())
    )

    assert response.status_code == 200
    assert FeedbackEvent.objects.get().kind == "hard_bounce"


def test_a_queued_post_applied_twice_is_applied_once(tokens, delivery):
    """A consumer killed after its commit, before its acknowledgement: the post comes again."""
    client = HotClient()
    body = json.dumps(mailgun.signed(load("mailgun_opened.json", message_ref=tokens.message_ref())))
    assert (
        client.post(
            mailgun.URL, data=body.encode(), content_type="application/json", **basic_auth()
        ).status_code
        == 200
    )
    entries = tracking_queue.connection().xrange(tracking_queue.STREAM)
    posts = [tracking_queue.Post.from_entry(i, f) for i, f in entries]

    from complaints.esp import posts_apply

    posts_apply(posts)
    posts_apply(posts)

    assert FeedbackEvent.objects.get().kind == "opened"
    assert TrackingEvent.objects.get().kind == "open"
    assert Delivery.objects.get(pk=delivery.pk).opens == 1
