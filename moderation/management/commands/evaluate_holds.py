"""`manage.py evaluate_holds`: judge every campaign whose hold has ended, now."""

from django.core.management.base import BaseCommand

from moderation.services import holds_evaluate


class Command(BaseCommand):
    help = "Judge every campaign whose hold has ended (beat runs the same every minute)."

    def handle(self, *args, **options):
        results = holds_evaluate()
        for campaign_id, tier in results.items():
            self.stdout.write(f"campaign {campaign_id}: {tier}")
        self.stdout.write(f"{len(results)} hold(s) judged.")
