"""Run a webhook test module again through config.hot_paths with the tracking queue on: posts
the view would accept are verified in front of Django, queued raw and applied by the consumer
(drained after every request, as the consumer would within a second); everything else goes to
the view. Every answer and everything applied must be what the view alone gives."""

from __future__ import annotations

import pytest

from campaigns import tracking_queue
from tests.campaigns.hot_client import HotClient, drain, queue_url


class QueuedWebhookClient(HotClient):
    """The test Client's post(), through the hot front, with str bodies as the Client takes."""

    def post(self, path, data=b"", content_type="", **extra):
        if isinstance(data, str):
            data = data.encode()
        return super().post(path, data=data, content_type=content_type, **extra)


def _is_fixture(obj) -> bool:
    return hasattr(obj, "_pytestfixturefunction") or type(obj).__name__.startswith("Fixture")


def import_tests(module, namespace: dict) -> None:
    """The module's tests, marks and fixtures (its autouse settings too) into `namespace`."""
    if hasattr(module, "pytestmark"):
        namespace["pytestmark"] = module.pytestmark
    for name in dir(module):
        obj = getattr(module, name)
        if name.startswith("test_") or (_is_fixture(obj) and name != "client"):
            namespace[name] = obj


@pytest.fixture
def client(settings):
    settings.TRACKING_QUEUE_URL = queue_url()
    tracking_queue.ensure_group()
    return QueuedWebhookClient(after=drain)


@pytest.fixture(autouse=True)
def _nothing_left_queued(client):
    yield
    assert tracking_queue.connection().xlen(tracking_queue.STREAM) == 0
