"""manage.py consume_events: record the opens and clicks of the tracking queue in batches."""

import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from campaigns import tracking_queue

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Record the opens and clicks the web processes queued on TRACKING_QUEUE_URL (a Redis "
        "stream), in batches, until stopped (SIGTERM/SIGINT finish the batch at hand)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=None, help="hits per batch at most")
        parser.add_argument("--block-ms", type=int, default=1000, help="wait for new hits")
        parser.add_argument(
            "--until-empty", action="store_true", help="stop once the queue is empty"
        )
        parser.add_argument(
            "--idle-without-queue",
            action="store_true",
            help="without TRACKING_QUEUE_URL, wait until stopped instead of failing (bin/run: "
            "hits are recorded at once there, and honcho stops everything when one exits)",
        )

    def handle(
        self,
        *args,
        batch=None,
        block_ms=1000,
        until_empty=False,
        idle_without_queue=False,
        **options,
    ):
        from django.conf import settings

        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if not tracking_queue.queue_enabled():
            if not idle_without_queue:
                raise CommandError("TRACKING_QUEUE_URL is not set: hits are recorded at once.")
            self.stdout.write("No TRACKING_QUEUE_URL: hits are recorded at once; nothing to do.")
            stop.wait()
            return
        batch = batch or settings.TRACKING_QUEUE_BATCH
        self.stdout.write(f"consuming {tracking_queue.STREAM} as {tracking_queue.consumer_name()}")
        total = 0
        while not stop.is_set():
            try:
                total += tracking_queue.consume(
                    batch_size=batch, block_ms=block_ms, stop=stop, until_empty=until_empty
                )
                if until_empty:
                    break
            except (DatabaseError, OSError) as exc:
                # The database or Redis went away: the batch stays pending and is read again.
                logger.warning("Tracking consumer waiting after %s", exc)
                time.sleep(1.0)
            except Exception as exc:  # redis-py's errors are not OSErrors
                if type(exc).__module__.startswith("redis"):
                    logger.warning("Tracking consumer waiting after %s", exc)
                    time.sleep(1.0)
                else:
                    raise
        self.stdout.write(f"recorded or skipped {total} hits")
