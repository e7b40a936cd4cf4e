"""The review page's probe section shows what the verdict counted: refusals at hand-over, provider
blocks, and the share of probe recipients inactive in the account's last campaigns (issue 18)."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Delivery, DeliveryStatus
from lists.models import Subscriber
from moderation import services as moderation
from tests.campaigns.factories import CampaignFactory
from tests.moderation.conftest import submit

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def probe_text(response) -> str:
    html = response.content.decode()
    start = html.index('id="probe"')
    chunk = html[start : html.index("</section>", start)]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", chunk))).strip()


@pytest.fixture
def judged(mailing_list):
    """A probe of 10 of the list's 20: 6 accepted, 3 refused as unknown users, 1 refused by a
    spam filter. The account's one earlier campaign reached the first 8, and only the first
    opened it."""
    account = mailing_list.account
    ids = list(
        Subscriber.objects.filter(mailing_list=mailing_list).order_by("id").values_list("pk")
    )
    ids = [pk for (pk,) in ids]
    earlier = CampaignFactory(
        account=account, lists=[mailing_list], probe_sent_at=NOW - timedelta(days=10)
    )
    Delivery.objects.bulk_create(
        Delivery(
            campaign=earlier,
            subscriber_id=pk,
            provider="other",
            status=DeliveryStatus.SENT,
            sent_at=NOW - timedelta(days=10),
            opened_at=NOW - timedelta(days=9) if n == 0 else None,
            machine_opens=0 if n == 0 else 2,  # privacy proxies: not a person
        )
        for n, pk in enumerate(ids[:8])
    )
    campaign = submit(mailing_list)
    Campaign.objects.filter(pk=campaign.pk).update(
        status="holding",
        probe_size=10,
        probe_sent_at=NOW - timedelta(hours=7),
        hold_until=NOW - timedelta(hours=1),
    )

    def row(n, pk):
        if n < 6:
            return {"status": DeliveryStatus.SENT, "sent_at": NOW - timedelta(hours=7)}
        if n < 9:
            return {"status": DeliveryStatus.FAILED, "hard_bounced_at": NOW}
        return {"status": DeliveryStatus.FAILED, "blocked_at": NOW}

    Delivery.objects.bulk_create(
        Delivery(campaign=campaign, subscriber_id=pk, provider="other", is_probe=True, **row(n, pk))
        for n, pk in enumerate(ids[:10])
    )
    assert moderation.holds_evaluate() == {campaign.pk: "review"}
    campaign.refresh_from_db()
    return campaign


def test_the_probe_section_shows_refusals_blocks_and_inactive_recipients(client, moderator, judged):
    client.force_login(moderator)

    text = probe_text(client.get(reverse("moderation_review", args=[judged.pk])))

    assert "Sent 6 Refused at hand-over 4 Hard bounces 3 Soft bounces 0 Provider blocks 1" in text
    assert "Inactive 70%" in text
    assert (
        "Inactive recipients: 7 of 10 (70%) were sent the account's last campaign and neither "
        "opened nor clicked it as a person; 2 had not been sent it."
    ) in text
    assert "This informs; it never decides the verdict." in text
    assert judged.verdict["rule"] == "bounces_limit"  # 3 in 10: even 10.8% breaks 5%
    assert judged.verdict["inactive"] == {
        "recipients": 10,
        "inactive": 7,
        "first_time": 2,
        "campaigns": 1,
        "share": 0.7,
    }
    assert "3 hard bounces in 10 messages: 30%" in text


def test_the_probe_section_in_russian(client, moderator, judged):
    client.force_login(moderator)

    text = probe_text(
        client.get(
            reverse("moderation_review", args=[judged.pk]), headers={"accept-language": "ru"}
        )
    )

    assert "Отклонено при передаче 4" in text
    assert "Блокировки почтовых сервисов 1" in text
    assert "Неактивные 70%" in text
