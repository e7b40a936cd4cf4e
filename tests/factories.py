"""factory_boy factories shared by the whole suite."""

import factory
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
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy hook
        if create:
            obj.save()


class SenderDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SenderDomain

    account = factory.SubFactory(AccountFactory)
    domain = factory.Sequence(lambda n: f"news{n}.example.com")
    verification_token = factory.Sequence(lambda n: f"{n:032x}")
