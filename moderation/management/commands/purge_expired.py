"""`manage.py purge_expired [--dry-run]`: run the retention purges now (beat runs them daily)."""

from django.core.management.base import BaseCommand, CommandError

from moderation.retention import PURGES, purge_expired


class Command(BaseCommand):
    help = "Run the retention purges now (beat runs them daily), one line per purge."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what is due without deleting anything.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        counts = purge_expired(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        for purge in PURGES:
            if purge.key in counts:
                self.stdout.write(f"{verb} {counts[purge.key]} {purge.what} [{purge.key}].")
            else:
                self.stdout.write(f"FAILED {purge.what} [{purge.key}]: see the log.")
        failed = [purge.key for purge in PURGES if purge.key not in counts]
        if failed:
            raise CommandError(f"{len(failed)} purge(s) failed: {', '.join(failed)}.")
