"""Approval binds (issue 17): what a moderator approves is exactly what is sent, to exactly the
audience approved. Each test is one of the findings an attacker reproduced, written to fail
on the code before the fix."""

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Account
from campaigns import sending
from campaigns.merge import MergeTagError
from campaigns.models import Campaign, CampaignVersion, Delivery, DeliveryStatus
from campaigns.selectors import joined_since_approval
from campaigns.tokens import MessageTokens
from config.errors import PermissionDenied
from lists.models import MailingList, Subscriber
from moderation import services as moderation
from tests.campaigns.factories import (
    CampaignFactory,
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
    return subscribe_many(mailing_list, 30)


def _campaign(mailing_list, **fields):
    fields.setdefault("subject", "{{ subscriber.attributes.subj | default('November news') }}")
    fields.setdefault(
        "html_body",
        "<p>Hello {{ subscriber.name }}: {{ subscriber.attributes.offer | default('no offer') }}"
        '</p><p><a href="https://acme.example/new">New</a></p>',
    )
    return submitted_campaign(mailing_list, **fields)


def _campaign_mail():
    return [message for message in mail.outbox if message.extra_headers.get("Feedback-ID")]


def test_merge_data_edited_during_the_hold_does_not_reach_the_release(
    mailing_list, audience, moderator, django_capture_on_commit_callbacks
):
    campaign = approve_now(_campaign(mailing_list), moderator, django_capture_on_commit_callbacks)
    assert campaign.status == "holding"
    mail.outbox.clear()
    # The attack: every subscriber's merge data rewritten while the probe's figures come in.
    for subscriber in Subscriber.objects.filter(mailing_list=mailing_list):
        subscriber.attributes = {
            "subj": "Account locked - act now",
            "offer": "https://phish.example/login",
        }
        subscriber.name = "Click https://phish.example"
        subscriber.save()

    end_hold_now(campaign, django_capture_on_commit_callbacks)

    assert campaign.status == "sent"
    sent = _campaign_mail()
    assert len(sent) == 27
    for message in sent:
        assert message.subject == "November news"
        body = message.body + "".join(part for part, _ in message.alternatives)
        assert "phish.example" not in body
        assert "Account locked" not in body
        assert "no offer" in body


def test_subscribers_added_after_approval_wait_for_the_next_campaign(
    mailing_list, audience, moderator, django_capture_on_commit_callbacks
):
    campaign = approve_now(_campaign(mailing_list), moderator, django_capture_on_commit_callbacks)
    assert Delivery.objects.filter(campaign=campaign).count() == 30
    subscribe_many(mailing_list, 5, prefix="late")
    assert joined_since_approval(campaign=campaign) == 5

    end_hold_now(campaign, django_capture_on_commit_callbacks)

    deliveries = Delivery.objects.filter(campaign=campaign)
    assert deliveries.count() == 30
    assert deliveries.filter(status=DeliveryStatus.SENT).count() == 30
    assert not [m for m in _campaign_mail() if m.to[0].startswith("late")]


def test_the_address_is_the_one_fixed_at_approval(
    mailing_list, audience, moderator, django_capture_on_commit_callbacks
):
    campaign = approve_now(_campaign(mailing_list), moderator, django_capture_on_commit_callbacks)
    waiting = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.WAITING).first()
    fixed = waiting.email
    Subscriber.objects.filter(pk=waiting.subscriber_id).update(email="victim@target.example")
    mail.outbox.clear()
    end_hold_now(campaign, django_capture_on_commit_callbacks)
    recipients = [m.to[0] for m in _campaign_mail()]
    assert "victim@target.example" not in recipients
    assert fixed in recipients


def test_identity_and_list_name_edited_after_approval_do_not_reach_the_footer(
    mailing_list, audience, moderator, django_capture_on_commit_callbacks
):
    campaign = approve_now(_campaign(mailing_list), moderator, django_capture_on_commit_callbacks)
    approved_company = campaign.account.company_name
    Account.objects.filter(pk=campaign.account_id).update(
        company_name="PayPal Security", postal_address="Visit https://phish.example"
    )
    MailingList.objects.filter(pk=mailing_list.pk).update(name="PayPal alerts")
    mail.outbox.clear()
    end_hold_now(campaign, django_capture_on_commit_callbacks)
    sent = _campaign_mail()
    assert sent
    for message in sent:
        assert approved_company in message.body
        assert "PayPal" not in message.body and "phish.example" not in message.body
        assert "PayPal" not in message.extra_headers["List-Id"]


def test_approving_a_version_the_moderator_did_not_see_is_a_409(
    mailing_list, audience, moderator, user, django_capture_on_commit_callbacks
):
    campaign = _campaign(mailing_list)
    seen = waiting_version(campaign)
    # Meanwhile the sender withdraws, edits and resubmits.
    sending.campaign_withdraw(account=campaign.account, campaign_id=campaign.pk, actor=None)
    Campaign.objects.filter(pk=campaign.pk).update(subject="Your account is locked")
    sending.campaign_submit(account=campaign.account, campaign_id=campaign.pk, actor=None)
    assert waiting_version(campaign) != seen

    api = APIClient()
    api.force_authenticate(moderator)
    url = f"/api/v1/moderation/campaigns/{campaign.pk}/approve/"
    response = api.post(url, {"version": seen}, format="json")
    assert response.status_code == 409
    assert "changed after you opened it" in response.json()["detail"]
    campaign.refresh_from_db()
    assert campaign.status == "submitted" and campaign.approved_version_id is None
    assert not Delivery.objects.filter(campaign=campaign).exists()

    assert api.post(url, {}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        ok = api.post(url, {"version": waiting_version(campaign)}, format="json")
    assert ok.status_code == 200
    assert ok.json()["approved_version"]["number"] == 2


def test_the_browser_approve_form_is_bound_to_the_version_shown(
    client, mailing_list, audience, django_capture_on_commit_callbacks
):
    moderator = UserFactory(is_staff=True)
    campaign = _campaign(mailing_list)
    client.force_login(moderator)
    page = client.get(reverse("moderation_review", args=[campaign.pk]))
    seen = waiting_version(campaign)
    assert f'name="approve-version" value="{seen}"' in page.content.decode()

    sending.campaign_withdraw(account=campaign.account, campaign_id=campaign.pk, actor=None)
    Campaign.objects.filter(pk=campaign.pk).update(html_body="<p>Login at https://x.example</p>")
    sending.campaign_submit(account=campaign.account, campaign_id=campaign.pk, actor=None)

    response = client.post(
        reverse("moderation_approve", args=[campaign.pk]), {"approve-version": seen}
    )
    assert response.status_code == 409
    assert "changed after you opened it" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == "submitted"


def test_an_unchanged_resubmission_keeps_its_version(mailing_list, audience):
    campaign = _campaign(mailing_list)
    first = waiting_version(campaign)
    sending.campaign_withdraw(account=campaign.account, campaign_id=campaign.pk, actor=None)
    sending.campaign_submit(account=campaign.account, campaign_id=campaign.pk, actor=None)
    assert waiting_version(campaign) == first
    assert CampaignVersion.objects.filter(campaign=campaign).count() == 1


def test_a_version_is_immutable(mailing_list, audience):
    version = CampaignVersion.objects.get(pk=waiting_version(_campaign(mailing_list)))
    version.subject = "changed"
    with pytest.raises(ValueError):
        version.save()


@pytest.mark.parametrize(
    "html",
    [
        '<div style="color:{{ subscriber.attributes.c }}">Hi</div>',
        '<div style="background:url({{ subscriber.attributes.u }})">Hi</div>',
        '<a href="https://acme.example/{{ subscriber.attributes.p }}">Go</a>',
        '<img src="https://acme.example/{{ subscriber.email }}.png" alt="x">',
        '<p lang="{{ subscriber.name }}">x</p>',
    ],
)
def test_merge_tags_inside_attributes_are_refused_at_save(account, sender_domain, html):
    with pytest.raises(MergeTagError) as refused:
        CampaignFactory(account=account, from_email="news@news.acme.example", html_body=html)
        campaign = Campaign.objects.latest("pk")
        sending.content_check(campaign)
    assert refused.value.field == "html_body"


def test_merge_tags_in_alt_and_title_and_text_are_allowed(account, sender_domain, mailing_list):
    from campaigns.services import campaign_create

    campaign = campaign_create(
        account=account,
        created_by=None,
        lists=[mailing_list.pk],
        name="n",
        subject="s",
        from_name="Acme",
        from_email="news@news.acme.example",
        html_body='<p title="{{ subscriber.name }}">Hi <img src="https://acme.example/a.png" '
        'alt="{{ subscriber.first_name }}"> {{ subscriber.name }}</p>',
    )
    assert campaign.pk


def test_a_test_link_shows_its_target_instead_of_redirecting(client, mailing_list, audience):
    campaign = CampaignFactory(account=mailing_list.account, lists=[mailing_list])
    token = MessageTokens(campaign_id=campaign.pk, subscriber_id=0, is_test=True).click(0)
    response = client.get(f"/c/{token}/")
    assert response.status_code == 200
    assert "https://acme.example/new" in response.content.decode()
    assert "Location" not in response


def test_no_redirect_for_a_campaign_that_was_never_approved(client, mailing_list, audience):
    campaign = _campaign(mailing_list)
    subscriber_id = audience[0]
    token = MessageTokens(campaign_id=campaign.pk, subscriber_id=subscriber_id).click(0)
    assert client.get(f"/c/{token}/").status_code == 404


def test_the_redirect_goes_only_to_the_approved_links(
    client, mailing_list, audience, moderator, django_capture_on_commit_callbacks
):
    campaign = approve_now(_campaign(mailing_list), moderator, django_capture_on_commit_callbacks)
    tokens = MessageTokens(campaign_id=campaign.pk, subscriber_id=audience[0])
    response = client.get(f"/c/{tokens.click(0)}/")
    assert response.status_code == 302
    assert response["Location"] == "https://acme.example/new"
    assert client.get(f"/c/{tokens.click(1)}/").status_code == 404


def test_a_moderator_cannot_decide_on_their_own_accounts_campaign(mailing_list, audience):
    campaign = _campaign(mailing_list)
    insider = UserFactory(is_staff=True, account=campaign.account)
    with pytest.raises(PermissionDenied):
        moderation.decision_approve(
            campaign_id=campaign.pk, moderator=insider, version_id=waiting_version(campaign)
        )
    with pytest.raises(PermissionDenied):
        moderation.decision_reject(campaign_id=campaign.pk, moderator=insider, reason="x")
    campaign.refresh_from_db()
    assert campaign.status == "submitted"


def test_the_review_page_shows_merge_values_with_links_highlighted(client, mailing_list, audience):
    Subscriber.objects.filter(pk=audience[3]).update(
        attributes={"offer": "Visit https://phish.example now"}
    )
    campaign = _campaign(mailing_list)
    client.force_login(UserFactory(is_staff=True))
    page = client.get(reverse("moderation_review", args=[campaign.pk])).content.decode()
    assert 'id="merge-fields"' in page
    assert "subscriber.attributes.offer" in page
    assert "Visit https://phish.example now" in page
    assert 'class="merge-url-like"' in page


def test_the_fixed_audience_leaves_out_every_suppressed_address(mailing_list, audience, account):
    from lists.services.suppression import platform_suppression_add, suppression_add
    from tests.lists.factories import SubscriberFactory

    emails = dict(Subscriber.objects.filter(pk__in=audience[:3]).values_list("pk", "email"))
    first, second, third = (emails[pk] for pk in audience[:3])
    suppression_add(account=account, email=first, reason="unsubscribed")
    platform_suppression_add(email=second.upper())  # a hard bounce for another account
    # An address PostgreSQL's lower() may not fold as Python does is checked in Python.
    unicode_one = SubscriberFactory(
        mailing_list=mailing_list, email="ÉLODIE@exemple.fr", status="subscribed"
    )
    suppression_add(account=account, email="élodie@exemple.fr", reason="complained")
    campaign = _campaign(mailing_list)
    sending.campaign_approve(
        campaign_id=campaign.pk, actor=None, version_id=waiting_version(campaign)
    )

    campaign = sending.campaign_start_probe(campaign_id=campaign.pk)

    fixed = set(Delivery.objects.filter(campaign=campaign).values_list("email", flat=True))
    assert campaign.recipients_at_approval == len(fixed) == 28
    assert {first, second, unicode_one.email}.isdisjoint(fixed)
    assert third in fixed
