"""tests/complaints/test_webhooks_postmark.py again, through the hot front and the tracking queue
(tests/complaints/queued_webhooks.py)."""

from tests.complaints import test_webhooks_postmark as tests
from tests.complaints.queued_webhooks import _nothing_left_queued, client, import_tests

import_tests(tests, globals())
__all__ = ["_nothing_left_queued", "client"]
