from datetime import timedelta

from django.core.management.base import BaseCommand

from lists.services.imports import imports_purge_stale


class Command(BaseCommand):
    help = "Run the retention purges now (beat runs them on a schedule)."

    def handle(self, *args, **options):
        imports = imports_purge_stale(older_than=timedelta(hours=24))
        self.stdout.write(f"Deleted {imports} import(s) uploaded but never started.")
