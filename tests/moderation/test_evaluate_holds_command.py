"""`manage.py evaluate_holds` judges the campaigns whose hold has ended, and only those."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns import sending
from campaigns.models import Campaign, Delivery, DeliveryStatus
from tests.campaigns.factories import submitted_campaign, subscribe_many, waiting_version
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db


def holding(settings, mailing_list):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    campaign = submitted_campaign(mailing_list)
    sending.campaign_approve(
        campaign_id=campaign.pk, actor=None, version_id=waiting_version(campaign)
    )
    sending.campaign_start_probe(campaign_id=campaign.pk)
    sending.campaign_begin_hold(campaign_id=campaign.pk)
    # The probe as the send leaves it (this test's transaction never commits, so no worker ran):
    # handed over and accepted. A probe with nothing handed over would go to review.
    Delivery.objects.filter(campaign=campaign).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now()
    )
    return campaign


def test_the_command_judges_ended_holds_only(settings, user, capsys):
    mailing_list = MailingListFactory(account=user.account)
    subscribe_many(mailing_list, 50)
    ended = holding(settings, mailing_list)
    waiting = holding(settings, mailing_list)
    Campaign.objects.filter(pk=ended.pk).update(hold_until=timezone.now() - timedelta(seconds=1))

    call_command("evaluate_holds")

    out = capsys.readouterr().out
    assert f"campaign {ended.pk}: green" in out and "1 hold(s) judged." in out
    ended.refresh_from_db()
    waiting.refresh_from_db()
    assert ended.verdict["tier"] == "green" and ended.status in ("releasing", "sent")
    assert waiting.status == "holding" and waiting.verdict == {}
