"""What each pytest-xdist worker has to itself, however many `-n auto` starts.

pytest-django gives each worker its own test databases (test_<name>_gw0, _gw1, ...); the tests
that need a Redis database (a real Celery broker, the tracking queue, the load run's queue) take
this worker's one, `redis_url()`, and flush it first: a worker runs one test at a time, so one
database each is enough, and no two workers ever share one. Ports come from the OS
(tests.dns_server.free_port), so they never collide either.
"""

from __future__ import annotations

import os

# redis-server's default `databases`; database 0 stays CELERY_BROKER_URL's own.
REDIS_DATABASES = 16
MAX_WORKERS = REDIS_DATABASES - 1


def worker_number() -> int:
    """0 for gw0 (and outside xdist), 1 for gw1, ..."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw") or 0)


def worker_name() -> str:
    """gw0, gw1, ... (gw0 outside xdist): a suffix for this worker's own databases."""
    return os.environ.get("PYTEST_XDIST_WORKER") or "gw0"


def redis_database() -> int:
    """This worker's Redis database: 1 for gw0, 2 for gw1, ..."""
    number = worker_number()
    if number >= MAX_WORKERS:
        raise RuntimeError(
            f"worker gw{number}: Redis has {REDIS_DATABASES} databases, so at most "
            f"{MAX_WORKERS} workers can have one each (bin/test passes --maxprocesses)"
        )
    return 1 + number


def redis_url(base: str | None = None) -> str:
    """This worker's database on the Redis server of `base` (default: CELERY_BROKER_URL, else
    127.0.0.1:6379)."""
    base = base if base is not None else os.environ.get("CELERY_BROKER_URL", "")
    if not base.startswith("redis://"):
        base = "redis://127.0.0.1:6379/0"
    return f"{base.rsplit('/', 1)[0]}/{redis_database()}"
