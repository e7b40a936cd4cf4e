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
                    self._demo_list(user)
        self.stdout.write(self.style.SUCCESS("Demo logins:"))
        self.stdout.write(f"  sender:    {DEMO['email']} / {DEMO['password']}")
        self.stdout.write(f"  moderator: {STAFF['email']} / {STAFF['password']}")

    def _demo_list(self, user) -> None:
        """A list with a few consented subscribers, so the pages have something to show."""
        from lists.services.lists import list_create
        from lists.services.subscribers import subscriber_add

        mailing_list = list_create(
            account=user.account,
            name="Fresh from the oven",
            purpose="A weekly e-mail with our new breads, seasonal cakes and shop events.",
            double_opt_in=True,
        )
        consent = {"source": "paper_form", "proof": "Sign-up sheet at the shop counter, 2026"}
        for email, name in [
            ("ann.baker@example.org", "Ann Baker"),
            ("ben.crust@example.org", "Ben Crust"),
            ("chloe.rye@example.org", "Chloe Rye"),
        ]:
            subscriber_add(
                mailing_list=mailing_list,
                email=email,
                name=name,
                consent=consent,
                double_opt_in=False,
                recorded_by=user,
            )
