"""A test client that goes through config.wsgi's HotPaths in front of Django, as gunicorn does
(Django's test Client calls Django's handler directly and would skip them), and a Redis-backed
tracking queue for one test."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass

from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils.datastructures import CaseInsensitiveMapping

from config.hot_paths import HotPaths
from tests.conftest import require_service
from tests.workers import redis_url as worker_redis_url


@dataclass
class HotResponse:
    status_code: int
    headers: CaseInsensitiveMapping
    content: bytes

    def __getitem__(self, name: str) -> str:
        return self.headers[name]


class HotClient:
    """get/head/post through HotPaths; `after` runs after every request (draining the queue)."""

    def __init__(self, after=None):
        self.app = HotPaths(WSGIHandler())
        self.after = after

    def request(self, method, path, data=b"", content_type="", **extra) -> HotResponse:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "testserver",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(data)),
            "CONTENT_TYPE": content_type,
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            **extra,
        }
        seen = {}

        def start_response(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers

        # As Django's test Client does: the test's transaction holds the connection open.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            result = self.app(environ, start_response)
            body = b"".join(result)
            if hasattr(result, "close"):
                result.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        if method == "HEAD":  # the server sends no body (as Django's test client strips it)
            body = b""
        if self.after:
            self.after()
        return HotResponse(
            int(seen["status"].split()[0]), CaseInsensitiveMapping(seen["headers"]), body
        )

    def get(self, path, **extra) -> HotResponse:
        return self.request("GET", path, **extra)

    def head(self, path, **extra) -> HotResponse:
        return self.request("HEAD", path, **extra)

    def post(self, path, data=b"", content_type="", **extra) -> HotResponse:
        return self.request("POST", path, data=data, content_type=content_type, **extra)


def queue_url() -> str:
    """A Redis database of CELERY_BROKER_URL's server for this xdist worker (flushed)."""
    import redis

    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        require_service("Redis", "CELERY_BROKER_URL is not a redis:// URL")
    url = worker_redis_url(broker)
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.ConnectionError as exc:
        require_service("Redis", str(exc))
    return url


def drain() -> int:
    """Record everything queued (as `manage.py consume_events --until-empty` does)."""
    from campaigns import tracking_queue

    return tracking_queue.consume(batch_size=500, block_ms=0, until_empty=True)
