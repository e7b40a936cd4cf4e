"""Factories for lists, subscribers and their consent."""

import factory
from django.utils import timezone

from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ConsentSource,
    MailingList,
    Subscriber,
    SubscriberStatus,
)
from tests.factories import AccountFactory


class MailingListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MailingList

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Newsletter {n}")
    purpose = "A monthly letter about our new products and events."
    privacy_policy_url = "https://shop.example.org/privacy"


class SubscriberFactory(factory.django.DjangoModelFactory):
    """A subscribed address with the web-form consent every subscriber must carry."""

    class Meta:
        model = Subscriber
        skip_postgeneration_save = True

    mailing_list = factory.SubFactory(MailingListFactory)
    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    name = factory.Sequence(lambda n: f"Reader {n}")
    status = SubscriberStatus.SUBSCRIBED
    subscribed_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def consent(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy hook
        if create:
            ConsentRecord.objects.create(
                subscriber=obj,
                event=ConsentEvent.GRANTED,
                source=ConsentSource.WEB_FORM,
                obtained_at=timezone.now(),
                ip="203.0.113.9",
                purpose_text=obj.mailing_list.purpose,
            )
