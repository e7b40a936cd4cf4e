"""A campaign's audience is lists or segments, evaluated in SQL and fixed at approval: the
version freezes the segments' conditions, so editing (or deleting) a segment afterwards
changes nothing about who gets the approved campaign."""

import pytest
from django.utils import timezone

from campaigns import sending, services
from campaigns.models import Delivery
from campaigns.segment_selectors import campaign_audience_count
from campaigns.segment_services import segment_delete, segment_update
from campaigns.segments import conditions_clean
from campaigns.selectors import campaign_has_recipients, recipient_count
from campaigns.versions import version_freeze
from config.errors import ApplicationError
from lists.models import Subscriber
from lists.services.tags import subscribers_tags_add
from tests.campaigns.factories import CampaignFactory, approve_now, subscribe_many, waiting_version
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory

pytestmark = pytest.mark.django_db

VIP = [{"field": "tag", "op": "has", "value": "vip"}]


@pytest.fixture
def moderator(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def vips(account, mailing_list):
    """20 subscribers of the list, the first 6 tagged vip."""
    ids = subscribe_many(mailing_list, 20)
    subscribers_tags_add(account=account, subscriber_ids=ids[:6], names=["vip"])
    return ids[:6]


@pytest.fixture
def segment(account, mailing_list):
    from campaigns.segment_services import segment_create

    return segment_create(account=account, name="VIPs", lists=[mailing_list.pk], conditions=VIP)


def _submitted_to(segment, account) -> object:
    campaign = CampaignFactory(account=account, lists=[])
    campaign.segments.set([segment])
    campaign.status = "submitted"
    campaign.submitted_at = timezone.now()
    campaign.submitted_version = version_freeze(campaign=campaign, actor=None)
    campaign.save(update_fields=["status", "submitted_at", "submitted_version"])
    return campaign


def test_the_version_records_the_segment_and_its_conditions(account, mailing_list, segment):
    campaign = _submitted_to(segment, account)
    version = campaign.submitted_version
    assert version.segments == [
        {
            "id": segment.pk,
            "name": "VIPs",
            "match": "all",
            "conditions": conditions_clean(VIP),
            "lists": [{"id": mailing_list.pk, "name": mailing_list.name}],
        }
    ]


def test_editing_the_segment_after_approval_does_not_change_the_audience(
    account, mailing_list, vips, segment, moderator, django_capture_on_commit_callbacks
):
    campaign = _submitted_to(segment, account)
    # Submitted with "has tag vip"; the sender then widens the segment to everyone, and
    # deletes it, before and after the moderator approves.
    segment_update(account=account, segment_id=segment.pk, conditions=[])
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    segment_delete(account=account, segment_id=segment.pk)

    recipients = set(
        Delivery.objects.filter(campaign=campaign).values_list("subscriber_id", flat=True)
    )
    assert recipients == set(vips)
    assert campaign.recipients_at_approval == 6


def test_a_resubmission_after_the_segment_changed_is_a_new_version(account, segment, vips):
    campaign = _submitted_to(segment, account)
    first = campaign.submitted_version
    segment_update(account=account, segment_id=segment.pk, conditions=[])
    assert version_freeze(campaign=campaign, actor=None).pk != first.pk
    assert version_freeze(campaign=campaign, actor=None).segments[0]["conditions"] == []


def test_lists_and_segments_together_send_each_address_once(
    account, mailing_list, vips, segment, moderator, django_capture_on_commit_callbacks
):
    second = MailingListFactory(account=account)
    subscribe_many(second, 4, prefix="s")
    # The same address as a VIP of the first list, on the second list too.
    vip_email = Subscriber.objects.get(pk=vips[0]).email
    Subscriber.objects.create(
        mailing_list=second, email=vip_email, status="subscribed", subscribed_at=timezone.now()
    )
    campaign = CampaignFactory(account=account, lists=[second])
    campaign.segments.set([segment])
    assert campaign_audience_count(campaign=campaign) == 6 + 4
    assert recipient_count(campaign=campaign) == 10
    campaign.status = "submitted"
    campaign.submitted_version = version_freeze(campaign=campaign, actor=None)
    campaign.save()
    campaign = approve_now(campaign, moderator, django_capture_on_commit_callbacks)
    emails = list(Delivery.objects.filter(campaign=campaign).values_list("email", flat=True))
    assert len(emails) == len(set(emails)) == 10


def test_a_segment_only_campaign_through_the_service(account, sender_domain, segment, vips):
    campaign = services.campaign_create(
        account=account,
        created_by=None,
        lists=[],
        segments=[segment.pk],
        name="VIP news",
        subject="Hello",
        from_name="Acme",
        from_email="news@news.acme.example",
        html_body="<p>Hi</p>",
    )
    assert list(campaign.lists.all()) == []
    assert list(campaign.segments.all()) == [segment]
    assert campaign_has_recipients(campaign=campaign)
    assert recipient_count(campaign=campaign) == 6


def test_an_empty_audience_is_refused(account, sender_domain):
    with pytest.raises(ApplicationError) as caught:
        services.campaign_create(
            account=account,
            created_by=None,
            lists=[],
            segments=[],
            name="Nobody",
            subject="Hello",
            from_name="Acme",
            from_email="news@news.acme.example",
            html_body="<p>Hi</p>",
        )
    assert caught.value.field == "lists"


def test_another_accounts_segment_is_refused(account, sender_domain, other_user):
    theirs_list = MailingListFactory(account=other_user.account)
    from campaigns.segment_services import segment_create

    theirs = segment_create(account=other_user.account, name="Theirs", lists=[theirs_list.pk])
    with pytest.raises(ApplicationError) as caught:
        services.campaign_create(
            account=account,
            created_by=None,
            segments=[theirs.pk],
            name="Stolen",
            subject="Hello",
            from_name="Acme",
            from_email="news@news.acme.example",
            html_body="<p>Hi</p>",
        )
    assert caught.value.field == "segments"


def test_a_segment_matching_no_one_cannot_be_submitted(
    account, sender_domain, mailing_list, segment, user
):
    subscribe_many(mailing_list, 3)  # none tagged
    campaign = CampaignFactory(account=account, lists=[], from_email="news@news.acme.example")
    campaign.segments.set([segment])
    with pytest.raises(ApplicationError):
        sending.campaign_submit(account=account, campaign_id=campaign.pk, actor=user)
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert waiting_version(campaign) is None


def test_the_moderator_sees_the_versions_segments_and_their_count(
    client, account, mailing_list, vips, segment, moderator
):
    campaign = _submitted_to(segment, account)
    segment_update(account=account, segment_id=segment.pk, conditions=[], name="Renamed")
    client.force_login(moderator)
    page = client.get(f"/moderation/campaigns/{campaign.pk}/").content.decode()
    assert 'id="review-segments"' in page
    assert "<strong>VIPs</strong>" in page and "Renamed" not in page
    assert "Has the tag “vip”" in page
    assert '<span id="recipient-count">6</span>' in page
