"""The campaign page's figures move with its live timeline (issue 23, item 5): the fragment the
page polls carries the figures table whenever the timeline counts the messages."""

import re

import pytest
from django.urls import reverse

from campaigns.models import Campaign, Delivery, DeliveryStatus
from tests.campaigns.factories import approve_now, end_hold_now, submitted_campaign, subscribe_many
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def holding_campaign(mailing_list, django_capture_on_commit_callbacks):
    subscribe_many(mailing_list, 200)
    return approve_now(
        submitted_campaign(mailing_list),
        UserFactory(is_staff=True),
        django_capture_on_commit_callbacks,
    )


def figure(html: str, key: str) -> list[str]:
    """The probe's and the whole send's cells of one row of the figures table."""
    row = re.search(rf'<tr id="figure-{key}">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [re.sub(r"<[^>]+>", "", cell).split()[0] for cell in cells]


def fragment(client, campaign) -> str:
    return client.get(reverse("campaign_progress", args=[campaign.pk])).content.decode()


def test_while_the_rest_goes_out_the_fragment_carries_the_figures_as_the_timeline_counts(
    owner, holding_campaign, django_capture_on_commit_callbacks
):
    end_hold_now(holding_campaign, django_capture_on_commit_callbacks)
    rest = Delivery.objects.filter(campaign=holding_campaign, is_probe=False).order_by("pk")
    Delivery.objects.filter(pk__in=list(rest.values_list("pk", flat=True)[:30])).update(
        status=DeliveryStatus.PENDING, sent_at=None
    )
    Campaign.objects.filter(pk=holding_campaign.pk).update(status="releasing", finished_at=None)

    html = fragment(owner, holding_campaign)

    assert "170 of 200 sent." in " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert figure(html, "sent") == ["20", "170"]
    assert figure(html, "pending") == ["0", "30"]
    sig = re.search(r'<table id="figures" data-sig="([^"]*)"', html).group(1)

    Delivery.objects.filter(campaign=holding_campaign, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENT
    )
    again = fragment(owner, holding_campaign)

    assert figure(again, "pending") == ["0", "0"]
    assert re.search(r'<table id="figures" data-sig="([^"]*)"', again).group(1) != sig


def test_the_page_and_the_fragment_draw_the_same_figures_table(owner, holding_campaign):
    page = owner.get(reverse("campaign_detail", args=[holding_campaign.pk])).content.decode()

    assert figure(page, "sent") == ["20", "20"]
    assert re.search(r'<table id="figures" data-sig="[^"]+"', page)


def test_during_the_hold_the_fragment_counts_nothing_and_carries_no_figures(
    owner, holding_campaign
):
    assert 'id="figures"' not in fragment(owner, holding_campaign)
