from django.core.management.base import BaseCommand, CommandError

from accounts.services import account_create
from config.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an active account with a verified owner address (operators' set-up)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--password", required=True)
        parser.add_argument("--company", required=True)
        parser.add_argument("--staff", action="store_true", help="Make the user a moderator too.")
        parser.add_argument(
            "--verified-domain",
            dest="verified_domain",
            help="Add this sender domain already marked verified.",
        )

    def handle(self, *args, email, password, company, staff, verified_domain, **options):
        try:
            user = account_create(
                email=email,
                password=password,
                company=company,
                staff=staff,
                verified_domain=verified_domain,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        role = "staff " if staff else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {role}user {user.email} in account #{user.account_id} ({company})."
            )
        )
