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


DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "yandex.ru", "mail.ru", "example.org")


def subscribe_many(mailing_list, count: int, *, prefix: str = "r", domains=DOMAINS) -> list[int]:
    """`count` subscribed addresses with web-form consent on `mailing_list`, written in bulk
    (a factory per row is far too slow for thousands); addresses cycle through `domains`.
    Returns their ids."""
    from lists.models import ConsentEvent, ConsentRecord, ConsentSource, Subscriber

    now = timezone.now()
    subscribers = Subscriber.objects.bulk_create(
        [
            Subscriber(
                mailing_list=mailing_list,
                email=f"{prefix}{n}@{domains[n % len(domains)]}",
                name=f"Reader {n}",
                status="subscribed",
                subscribed_at=now,
            )
            for n in range(count)
        ],
        batch_size=2000,
    )
    if not all(s.pk for s in subscribers):  # SQLite before 3.35 returns no ids
        subscribers = list(Subscriber.objects.filter(mailing_list=mailing_list).order_by("id"))
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                subscriber=s,
                event=ConsentEvent.GRANTED,
                source=ConsentSource.WEB_FORM,
                obtained_at=now,
                purpose_text=mailing_list.purpose,
            )
            for s in subscribers
        ],
        batch_size=2000,
    )
    return [s.pk for s in subscribers]


def submitted_campaign(mailing_list, **fields) -> Campaign:
    """A campaign to `mailing_list` already waiting for moderation."""
    from campaigns.versions import version_freeze

    campaign = CampaignFactory(account=mailing_list.account, lists=[mailing_list], **fields)
    campaign.status = "submitted"
    campaign.submitted_at = timezone.now()
    campaign.submitted_version = version_freeze(campaign=campaign, actor=None)
    campaign.save(update_fields=["status", "submitted_at", "submitted_version"])
    return campaign


def waiting_version(campaign) -> int | None:
    """The id of the version of `campaign` waiting for moderation, as the database has it now."""
    return Campaign.objects.values_list("submitted_version_id", flat=True).get(pk=campaign.pk)


def with_approved_version(campaign: Campaign) -> Campaign:
    """`campaign` with its content frozen as the approved version, as a moderator's approval
    leaves it (tests that put deliveries in place by hand need the links a message carries)."""
    from campaigns.versions import version_freeze

    version = version_freeze(campaign=campaign, actor=None)
    Campaign.objects.filter(pk=campaign.pk).update(
        submitted_version=version, approved_version=version, approved_at=timezone.now()
    )
    campaign.refresh_from_db()
    return campaign


def approve_now(campaign: Campaign, moderator, capture) -> Campaign:
    """A moderator approves the version waiting; the probe goes out (tasks run eagerly inside
    `capture`, pytest-django's django_capture_on_commit_callbacks)."""
    from moderation import services as moderation

    with capture(execute=True):
        moderation.decision_approve(
            campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
        )
    campaign.refresh_from_db()
    return campaign


def end_hold_now(campaign: Campaign, capture) -> dict:
    """The hold ends now and beat's check judges it; returns {campaign id: tier}."""
    from datetime import timedelta

    from moderation import services as moderation

    Campaign.objects.filter(pk=campaign.pk).update(hold_until=timezone.now() - timedelta(seconds=1))
    with capture(execute=True):
        results = moderation.holds_evaluate()
    campaign.refresh_from_db()
    return results
