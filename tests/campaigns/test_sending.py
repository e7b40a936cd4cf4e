"""The staged send in one process: approval, probe, hold, verdict, release or review, decline,
pause and resume (tasks run eagerly; mail goes to Django's locmem outbox)."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from campaigns import delivery, sending
from campaigns.models import Campaign, Delivery, DeliveryStatus
from config.errors import InvalidTransition
from lists.models import Subscriber, SubscriberStatus
from moderation import services as moderation
from moderation.models import AccountFlag, AuditEntry
from tests.campaigns.factories import (
    approve_now,
    end_hold_now,
    submitted_campaign,
    subscribe_many,
    waiting_version,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def audience(mailing_list):
    return subscribe_many(mailing_list, 200)


@pytest.fixture
def campaign(mailing_list, audience):
    return submitted_campaign(mailing_list)


def test_approval_sends_a_probe_of_ten_percent_then_holds(
    campaign, moderator, django_capture_on_commit_callbacks, settings
):
    settings.HOLD_SECONDS = 3600
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)

    assert campaign.status == "holding"
    assert campaign.probe_size == 20
    assert campaign.recipients_at_approval == 200
    # The whole audience is fixed at approval: the probe goes, the rest waits for the release.
    probe = Delivery.objects.filter(campaign=campaign, is_probe=True)
    assert probe.count() == 20
    assert set(probe.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    rest = Delivery.objects.filter(campaign=campaign, is_probe=False)
    assert rest.count() == 180
    assert set(rest.values_list("status", flat=True)) == {DeliveryStatus.WAITING}
    assert len([m for m in mail.outbox if "News for" in m.subject]) == 20
    assert campaign.hold_until > timezone.now() + timedelta(minutes=59)
    assert sum(campaign.probe_plan["allocation"].values()) == 20
    statuses = list(campaign.changes.values_list("new_status", flat=True))
    assert statuses == ["approved", "probing", "holding"]
    assert AuditEntry.objects.filter(action="approved", campaign=campaign, actor=moderator).exists()


def test_a_clean_probe_releases_the_rest_and_the_campaign_is_sent(
    campaign, moderator, django_capture_on_commit_callbacks
):
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    mail.outbox.clear()

    assert end_hold_now(campaign, django_capture_on_commit_callbacks) == {campaign.pk: "green"}

    assert campaign.status == "sent"
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 200
    released = [m for m in mail.outbox if "News for" in m.subject]
    assert len(released) == 180
    assert campaign.verdict["tier"] == "green"


def test_who_unsubscribed_during_the_hold_is_not_released_to(
    campaign, moderator, django_capture_on_commit_callbacks, mailing_list
):
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    in_probe = set(
        Delivery.objects.filter(campaign=campaign, is_probe=True).values_list(
            "subscriber_id", flat=True
        )
    )
    gone = Subscriber.objects.filter(mailing_list=mailing_list).exclude(pk__in=in_probe)[:5]
    gone_ids = [s.pk for s in gone]
    Subscriber.objects.filter(pk__in=gone_ids).update(status=SubscriberStatus.UNSUBSCRIBED)

    end_hold_now(campaign, django_capture_on_commit_callbacks)

    # Fixed in the audience at approval, skipped when their turn came: never sent.
    left_out = Delivery.objects.filter(campaign=campaign, subscriber_id__in=gone_ids)
    assert set(left_out.values_list("status", flat=True)) == {DeliveryStatus.SKIPPED}
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 195


def test_complaints_over_the_threshold_send_the_campaign_to_review_and_flag_the_account(
    mailing_list, moderator, django_capture_on_commit_callbacks
):
    subscribe_many(mailing_list, 2000)
    campaign = submitted_campaign(mailing_list)
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    probe = Delivery.objects.filter(campaign=campaign, is_probe=True)
    assert probe.count() == 200
    complained = list(probe.values_list("pk", flat=True)[:5])  # 2.5%
    Delivery.objects.filter(pk__in=complained).update(complained_at=timezone.now())
    mail.outbox.clear()

    assert end_hold_now(campaign, django_capture_on_commit_callbacks) == {campaign.pk: "review"}

    assert campaign.status == "review"
    assert campaign.verdict["flag_account"] is True
    assert AccountFlag.objects.filter(account=campaign.account, campaign=campaign).exists()
    released = Delivery.objects.filter(campaign=campaign).exclude(status=DeliveryStatus.WAITING)
    assert released.count() == 200  # nothing released
    assert not [m for m in mail.outbox if "News for" in m.subject]

    with django_capture_on_commit_callbacks(execute=True):
        moderation.decision_decline(campaign_id=campaign.pk, moderator=moderator, reason="Spam.")
    campaign.refresh_from_db()
    assert campaign.status == "declined"
    assert campaign.moderation_note == "Spam."
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 200
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SKIPPED).count() == 1800
    assert not [m for m in mail.outbox if "News for" in m.subject]
    assert AuditEntry.objects.filter(action="declined", campaign=campaign, reason="Spam.").exists()


def test_a_moderator_releases_a_campaign_in_review(
    mailing_list, moderator, django_capture_on_commit_callbacks
):
    subscribe_many(mailing_list, 400)
    campaign = approve_now(
        submitted_campaign(mailing_list), moderator, django_capture_on_commit_callbacks
    )
    probe = Delivery.objects.filter(campaign=campaign, is_probe=True)
    Delivery.objects.filter(pk__in=list(probe.values_list("pk", flat=True)[:2])).update(
        complained_at=timezone.now()
    )
    end_hold_now(campaign, django_capture_on_commit_callbacks)
    assert campaign.status == "review"

    with django_capture_on_commit_callbacks(execute=True):
        moderation.decision_release(
            campaign_id=campaign.pk, moderator=moderator, reason="Known list."
        )
    campaign.refresh_from_db()

    assert campaign.status == "sent"
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 400


def test_transitions_are_idempotent_and_illegal_ones_are_refused(
    campaign, moderator, django_capture_on_commit_callbacks
):
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    again = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    assert again.status == "holding"
    assert Delivery.objects.filter(campaign=campaign, is_probe=True).count() == 20
    assert Delivery.objects.filter(campaign=campaign).count() == 200
    assert AuditEntry.objects.filter(action="approved", campaign=campaign).count() == 1
    with pytest.raises(InvalidTransition):
        moderation.decision_reject(campaign_id=campaign.pk, moderator=moderator, reason="No.")
    assert sending.campaign_start_probe(campaign_id=campaign.pk).status == "holding"


def test_only_staff_decide(campaign, user):
    from config.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        moderation.decision_approve(
            campaign_id=campaign.pk, moderator=user, version_id=waiting_version(campaign)
        )
    campaign.refresh_from_db()
    assert campaign.status == "submitted"


def test_reject_needs_a_reason_the_sender_sees(campaign, moderator):
    from config.errors import ApplicationError

    with pytest.raises(ApplicationError):
        moderation.decision_reject(campaign_id=campaign.pk, moderator=moderator, reason=" ")
    moderation.decision_reject(campaign_id=campaign.pk, moderator=moderator, reason="No imprint.")
    campaign.refresh_from_db()
    assert campaign.status == "rejected"
    assert campaign.moderation_note == "No imprint."
    assert campaign.account.notifications.filter(
        subject__code="accounts.notice.campaign_rejected.subject"
    ).exists()


def test_a_frozen_account_pauses_at_the_next_batch_and_resumes_when_unfrozen(
    campaign, moderator, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # approve, but send nothing yet
    with django_capture_on_commit_callbacks(execute=True):
        moderation.decision_approve(
            campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
        )
    settings.CELERY_TASK_ALWAYS_EAGER = True
    sending.campaign_start_probe(campaign_id=campaign.pk)
    account = campaign.account
    account.state = "frozen"
    account.save(update_fields=["state"])

    assert delivery.drain(campaign_id=campaign.pk) == (0, False)
    campaign.refresh_from_db()
    assert campaign.status == "paused" and campaign.resume_status == "probing"
    assert not Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).exists()

    assert delivery.sweep().resumed == []  # still frozen
    account.state = "active"
    account.save(update_fields=["state"])
    with django_capture_on_commit_callbacks(execute=True):
        report = delivery.sweep()
    assert report.resumed == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == "holding"
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 20


@pytest.mark.slow
def test_twenty_thousand_recipients_get_a_probe_of_one_thousand_with_their_provider_mix(
    mailing_list,
):
    subscribe_many(mailing_list, 20_000)
    campaign = submitted_campaign(mailing_list)
    sending.campaign_approve(
        campaign_id=campaign.pk, actor=None, version_id=waiting_version(campaign)
    )

    campaign = sending.campaign_start_probe(campaign_id=campaign.pk, seed=7)

    probe = Delivery.objects.filter(campaign=campaign, is_probe=True)
    assert campaign.probe_size == 1000 and probe.count() == 1000
    assert Delivery.objects.filter(campaign=campaign).count() == 20_000
    mix = Counter(probe.values_list("provider", flat=True))
    # Six providers in equal parts in the list: the probe has the same mix.
    assert set(mix) == {"gmail", "yahoo", "microsoft", "yandex", "mailru", "other"}
    assert max(mix.values()) - min(mix.values()) <= 1
    assert campaign.probe_plan["seed"] == 7
    assert campaign.probe_plan["allocation"] == dict(mix)
    again = sending.campaign_start_probe(campaign_id=campaign.pk, seed=8)
    assert again.probe_seed == 7 and probe.count() == 1000  # a retried task changes nothing


def test_a_probe_is_reproducible_from_its_seed(mailing_list, account):
    subscribe_many(mailing_list, 300)
    first = submitted_campaign(mailing_list)
    second = submitted_campaign(mailing_list)
    chosen = []
    for campaign in (first, second):
        sending.campaign_approve(
            campaign_id=campaign.pk, actor=None, version_id=waiting_version(campaign)
        )
        sending.campaign_start_probe(campaign_id=campaign.pk, seed=42)
        chosen.append(
            sorted(
                Delivery.objects.filter(campaign=campaign, is_probe=True).values_list(
                    "subscriber_id", flat=True
                )
            )
        )
    assert chosen[0] == chosen[1] and len(chosen[0]) == 30


def test_an_address_on_two_lists_is_one_recipient_and_suppressed_ones_none(
    mailing_list, account, django_capture_on_commit_callbacks
):
    from lists.services.suppression import suppression_add
    from tests.lists.factories import MailingListFactory

    other = MailingListFactory(account=account, name="Offers")
    subscribe_many(mailing_list, 10, domains=("example.org",))
    subscribe_many(other, 10, domains=("example.org",))  # the same ten addresses
    suppression_add(account=account, email="r0@example.org", reason="unsubscribed")
    campaign = submitted_campaign(mailing_list)
    campaign.lists.add(other)
    sending.campaign_approve(
        campaign_id=campaign.pk, actor=None, version_id=waiting_version(campaign)
    )

    campaign = sending.campaign_start_probe(campaign_id=campaign.pk)

    assert campaign.recipients_at_approval == 9


def test_deciding_on_an_unknown_campaign_is_not_found(moderator):
    from config.errors import NotFound

    with pytest.raises(NotFound):
        moderation.decision_approve(campaign_id=987654321, moderator=moderator, version_id=1)
    with pytest.raises(NotFound):
        moderation.decision_release(campaign_id=987654321, moderator=moderator)
    with pytest.raises(NotFound):
        moderation.decision_decline(campaign_id=987654321, moderator=moderator, reason="x")


def test_the_sweeper_queues_a_lost_probe_task_again(
    campaign, moderator, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the task that should start the probe is lost
    moderation.decision_approve(
        campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
    )
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert delivery.sweep().dispatched == []  # approved just now: its task may still come
    Campaign.objects.filter(pk=campaign.pk).update(
        approved_at=timezone.now() - timedelta(seconds=settings.SEND_LEASE_SECONDS + 1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        report = delivery.sweep()

    assert report.dispatched == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == "holding"
