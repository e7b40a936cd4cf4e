from django.core.management.base import BaseCommand, CommandError

from accounts.services import account_create, moderator_create
from config.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Operators' set-up of a user whose address is already verified. "
        "`create_account EMAIL --password P --company NAME [--verified-domain D]` makes a sender "
        "account and its owner. `create_account EMAIL --password P --staff` makes a moderator "
        "with no sending account (so they never moderate campaigns of their own); add "
        "`--with-account --company NAME [--verified-domain D]` to give the moderator a sending "
        "account as well."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--password", required=True)
        parser.add_argument(
            "--company",
            help="The sender account's company name (a sender, or a moderator with "
            "--with-account).",
        )
        parser.add_argument(
            "--staff",
            action="store_true",
            help="Make a moderator. Without --with-account they have no sending account.",
        )
        parser.add_argument(
            "--with-account",
            dest="with_account",
            action="store_true",
            help="With --staff: give the moderator a sending account too (needs --company).",
        )
        parser.add_argument(
            "--verified-domain",
            dest="verified_domain",
            help="Add this sender domain to the new account, already marked verified.",
        )

    def handle(
        self, *args, email, password, company, staff, with_account, verified_domain, **options
    ):
        if with_account and not staff:
            raise CommandError("--with-account is for --staff; a sender always has an account.")
        makes_account = not staff or with_account
        if not makes_account:
            for option, value in (("--company", company), ("--verified-domain", verified_domain)):
                if value:
                    raise CommandError(
                        f"{option} is for a sending account; a moderator made with --staff has "
                        "none. Add --with-account to give them one."
                    )
        elif not company:
            raise CommandError("--company is required to make a sending account.")
        try:
            if makes_account:
                user = account_create(
                    email=email,
                    password=password,
                    company=company,
                    staff=staff,
                    verified_domain=verified_domain,
                )
            else:
                user = moderator_create(email=email, password=password)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if not makes_account:
            message = f"Created moderator {user.email} (no sending account)."
        else:
            role = "staff " if staff else ""
            message = f"Created {role}user {user.email} in account #{user.account_id} ({company})."
        self.stdout.write(self.style.SUCCESS(message))
