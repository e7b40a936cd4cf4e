from django.core.management.base import BaseCommand

from accounts.models import Account, User
from accounts.services import account_create

DEMO = {
    "email": "demo@example.com",
    "password": "demo-password-1",
    "company": "Demo Bakery Ltd",
    "verified_domain": "demo-bakery.example",
}
STAFF = {
    "email": "moderator@example.com",
    "password": "staff-password-1",
    "company": "ConsentMail Moderation",
    "staff": True,
}


class Command(BaseCommand):
    help = (
        "Create the demo sender and the staff (moderator) account if missing; print their logins."
    )

    def handle(self, *args, **options):
        for spec in (DEMO, STAFF):
            if not User.objects.filter(email=spec["email"]).exists():
                user = account_create(**spec)
                if not spec.get("staff"):
                    Account.objects.filter(pk=user.account_id).update(
                        contact_name="Dana Demo",
                        phone="+1 555 0100",
                        postal_address="1 Demo Street, Springfield",
                    )
        self.stdout.write(self.style.SUCCESS("Demo logins:"))
        self.stdout.write(f"  sender:    {DEMO['email']} / {DEMO['password']}")
        self.stdout.write(f"  moderator: {STAFF['email']} / {STAFF['password']}")
