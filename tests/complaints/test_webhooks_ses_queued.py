"""tests/complaints/test_webhooks_ses.py again, through the hot front and the tracking queue
(tests/complaints/queued_webhooks.py)."""

from campaigns import tracking_queue
from tests.complaints import test_webhooks_ses as tests
from tests.complaints.queued_webhooks import _nothing_left_queued, client, import_tests

import_tests(tests, globals())
__all__ = ["_nothing_left_queued", "client"]


def test_an_accepted_post_went_through_the_queue(
    client, token_client, amazon, signing_key, tokens, delivery, campaign, account
):
    """Not only the answers: the hot front took the post (else the suites above prove little)."""
    tests.test_a_signed_permanent_bounce_hard_bounces_the_delivery_and_suppresses_everywhere(
        client, token_client, amazon, signing_key, tokens, delivery, campaign, account
    )
    assert tracking_queue.posts_accepted_total() >= 1
