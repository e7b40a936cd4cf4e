"""Factories for campaigns."""

import factory
from django.utils import timezone

from campaigns.models import Campaign
from tests.factories import AccountFactory, SenderDomainFactory


class CampaignFactory(factory.django.DjangoModelFactory):
    """A draft to the given lists, from an address on a verified domain of its account."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    subject = "News for {{ subscriber.first_name | default('you') }}"
    from_name = "Acme News"
    from_email = factory.LazyAttribute(
        lambda c: (
            "news@" + SenderDomainFactory(account=c.account, verified_at=timezone.now()).domain
        )
    )
    html_body = (
        '<h1>Hello {{ subscriber.name }}</h1><p><a href="https://acme.example/new">New</a></p>'
    )

    @factory.post_generation
    def lists(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy hook
        if create and extracted:
            obj.lists.set(extracted)
