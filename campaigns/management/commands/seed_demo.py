from django.core.management.base import BaseCommand

from accounts.models import Account, User
from accounts.services import account_create, moderator_create

DEMO = {
    "email": "demo@example.com",
    "password": "demo-password-1",
    "company": "Demo Bakery Ltd",
    "verified_domain": "demo-bakery.example",
}
# A moderator has no sending account of their own (never judges their own campaigns).
STAFF = {"email": "moderator@example.com", "password": "staff-password-1"}


class Command(BaseCommand):
    help = (
        "Create the demo sender (with a list and two campaigns) and the moderator (staff, no "
        "sending account) if missing; print their logins."
    )

    def handle(self, *args, **options):
        if not User.objects.filter(email=DEMO["email"]).exists():
            user = account_create(**DEMO)
            Account.objects.filter(pk=user.account_id).update(
                contact_name="Dana Demo",
                phone="+1 555 0100",
                postal_address="1 Demo Street, Springfield",
            )
            self._demo_campaign(user, self._demo_list(user))
        if not User.objects.filter(email=STAFF["email"]).exists():
            moderator_create(**STAFF)
        self.stdout.write(self.style.SUCCESS("Demo logins:"))
        self.stdout.write(f"  sender:    {DEMO['email']} / {DEMO['password']}")
        self.stdout.write(f"  moderator: {STAFF['email']} / {STAFF['password']}")

    def _demo_list(self, user):
        """A list with a few consented subscribers, so the pages have something to show."""
        from lists.services.lists import list_create
        from lists.services.subscribers import subscriber_add

        mailing_list = list_create(
            account=user.account,
            name="Fresh from the oven",
            purpose="A weekly e-mail with our new breads, seasonal cakes and shop events.",
            privacy_policy_url="https://bakery.example.org/privacy",
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
        return mailing_list

    def _demo_campaign(self, user, mailing_list) -> None:
        """A draft to preview, test-send and submit, and one waiting for moderation."""
        from campaigns.services import campaign_create

        campaign_create(
            account=user.account,
            created_by=user,
            lists=[mailing_list.pk],
            name="Winter menu",
            subject="Winter breads are here, {{ subscriber.first_name | default('friend') }}",
            from_name="Demo Bakery",
            from_email=f"news@{DEMO['verified_domain']}",
            html_body=(
                "<style>h1 { color: #7c2d12 } p { font-size: 16px }</style>"
                "<h1>Hello {{ subscriber.first_name | default('friend') }},</h1>"
                "<p>Our winter rye and the first stollen of the season are in the shop from "
                'Monday. <a href="https://demo-bakery.example/winter">See the menu</a>.</p>'
            ),
        )
        # And one already waiting for moderation: the moderator's queue has something to approve,
        # whose probe, hold (HOLD_SECONDS, two minutes locally) and release the sender can watch.
        from campaigns.sending import campaign_submit

        waiting = campaign_create(
            account=user.account,
            created_by=user,
            lists=[mailing_list.pk],
            name="Advent opening hours",
            subject="Our Advent opening hours",
            from_name="Demo Bakery",
            from_email=f"news@{DEMO['verified_domain']}",
            html_body=(
                "<h1>Open every day in Advent</h1><p>From 1 December we bake from 6 am and the "
                "shop is open until 8 pm, Sundays included.</p>"
            ),
        )
        campaign_submit(account=user.account, campaign_id=waiting.pk, actor=user)
