"""The Celery app; tasks live in each app's tasks.py and are found by autodiscovery."""

import logging
import os

from celery import Celery
from celery.signals import worker_ready

logger = logging.getLogger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("consentmail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def warn_unless_redis_keeps_tasks(sender=None, **kwargs) -> None:
    """A Redis broker that evicts keys under memory pressure drops queued tasks without a word:
    say so loudly when a worker starts on one (docker-compose.yml runs it with noeviction)."""
    url = app.conf.broker_url or ""
    if not url.startswith(("redis://", "rediss://")):
        return
    if type(getattr(sender, "pool", None)).__module__ == "celery.concurrency.thread":
        # Seen in tests/reliability/fault_harness.py (redis-restart --pool threads): when Redis
        # restarts under running acks_late tasks, this pool's worker fails ("Unrecoverable
        # error" in kombu's restore of unacknowledged messages) and exits with status 1; only a
        # supervisor that restarts it brings it back. The prefork pool reconnects and goes on.
        logger.error(
            "With the threads pool a worker exits when Redis restarts under running tasks; "
            "run workers on a Redis broker with the prefork pool (the default), or restart them."
        )
    import redis

    try:
        policy = redis.Redis.from_url(url, socket_timeout=2).config_get("maxmemory-policy")
    except redis.RedisError as exc:  # CONFIG may be disabled on a managed Redis
        logger.warning("could not read Redis's maxmemory-policy: %s", exc)
        return
    if policy.get("maxmemory-policy") != "noeviction":
        logger.error(
            "Redis maxmemory-policy is %r: queued tasks can be evicted and lost. "
            "Run the broker with --maxmemory-policy noeviction.",
            policy.get("maxmemory-policy"),
        )
