"""tests/complaints/test_webhooks_sendgrid.py again, through the hot front and the tracking queue
(tests/complaints/queued_webhooks.py)."""

from campaigns import tracking_queue
from tests.complaints import test_webhooks_sendgrid as tests
from tests.complaints.queued_webhooks import _nothing_left_queued, client, import_tests

import_tests(tests, globals())
__all__ = ["_nothing_left_queued", "client"]


def test_an_accepted_post_went_through_the_queue(
    client, token_client, ecdsa_key, tokens, delivery, campaign
):
    """Not only the answers: the hot front took the post (else the suites above prove little)."""
    tests.test_delivered_open_and_click_in_one_batch_are_counted(
        client, token_client, ecdsa_key, tokens, delivery, campaign
    )
    assert tracking_queue.posts_accepted_total() >= 1
