"""factory_boy factories shared by the whole suite."""

import factory
from django.conf import settings
from django.utils import timezone

from accounts.models import Account, SenderDomain, User


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    company_name = factory.Sequence(lambda n: f"Company {n} Ltd")
    contact_name = "Pat Sender"
    phone = "+1 555 0100"
    postal_address = "1 Main Street, Springfield"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    account = factory.SubFactory(AccountFactory)
    email_verified_at = factory.LazyFunction(timezone.now)
    # Hashed before the INSERT (make_password, as set_password does), so a user is one INSERT:
    # a post-generation set_password needed a second save, an UPDATE of every column, for each
    # of the suite's users. UserFactory(password="...") still hashes the one given.
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def terms_accepted(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy hook
        """A sender has accepted the current terms and privacy versions, as at sign-up; pass
        terms_accepted=False for one who has not (accounts.terms)."""
        if create and obj.account_id and extracted is not False:
            from accounts.models import TermsAcceptance

            TermsAcceptance.objects.create(
                user=obj,
                terms_version=settings.TERMS_VERSION,
                privacy_version=settings.PRIVACY_VERSION,
                accepted_at=timezone.now(),
            )


class SenderDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SenderDomain

    account = factory.SubFactory(AccountFactory)
    domain = factory.Sequence(lambda n: f"news{n}.example.com")
    verification_token = factory.Sequence(lambda n: f"{n:032x}")
