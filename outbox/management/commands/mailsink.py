import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from outbox.sink import start_sink


class Command(BaseCommand):
    help = "Run the local SMTP sink: every message is kept as an .eml file in OUTBOX_DIR."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.EMAIL_PORT)
        parser.add_argument("--dir", default=getattr(settings, "OUTBOX_DIR", "var/outbox"))

    def handle(self, *args, host, port, dir, **options):
        controller = start_sink(Path(dir), host=host, port=port)
        self.stdout.write(f"SMTP sink on {host}:{port}, storing messages in {dir}")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        signal.signal(signal.SIGINT, lambda *_: stopped.set())
        stopped.wait()
        controller.stop()
