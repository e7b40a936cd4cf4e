"""Welcome messages (issue 22, "Automation, the first step"): moderated once like a campaign,
sent on confirmation from the approved version only, once per subscriber, with our footer and
List-Unsubscribe headers, never to a suppressed address, never by a frozen account."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import AccountState
from campaigns import delivery, sending, tasks, welcome
from campaigns.models import Campaign, CampaignKind, Delivery, DeliveryStatus, WelcomeMessage
from campaigns.states import CampaignStatus
from campaigns.tokens import MessageTokens
from complaints.services import unsubscribe_link_apply
from config.errors import NotFound, PermissionDenied
from lists.models import SubscriberStatus
from lists.services import optin
from lists.services.suppression import suppression_add
from moderation import services as moderation
from tests.campaigns.factories import waiting_version
from tests.factories import UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

WELCOME = {
    "subject": "Welcome, {{ subscriber.name | default('friend') }}",
    "from_name": "Acme News",
    "from_email": "news@news.acme.example",
    "reply_to": "",
    "html_body": '<p>Hello {{ subscriber.name }}, start <a href="https://acme.example/start">'
    "here</a>.</p>",
    "text_body": "",
}


@pytest.fixture
def moderator(db):
    return UserFactory(is_staff=True, account=None)


@pytest.fixture
def single_opt_in(account):
    return MailingListFactory(account=account, name="Offers", double_opt_in=False)


def _write(account, mailing_list, **fields):
    return welcome.welcome_save(
        account=account, list_id=mailing_list.pk, actor=None, **{**WELCOME, **fields}
    )


def _approve(welcome_message, moderator, capture):
    campaign = Campaign.objects.get(pk=welcome_message.campaign_id)
    with capture(execute=True):
        moderation.decision_approve(
            campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
        )
    welcome_message.refresh_from_db()
    return welcome_message


def _approved_welcome(account, mailing_list, moderator, capture, **fields):
    written = _write(account, mailing_list, **fields)
    welcome.welcome_submit(account=account, list_id=mailing_list.pk, actor=None)
    return _approve(written, moderator, capture)


def _confirm(subscriber, capture):
    """The person follows the double opt-in link; on-commit work (the welcome task) runs."""
    token = optin.subscription_confirm_token(subscriber)
    with capture(execute=True):
        optin.subscription_confirm(token=token, ip="192.0.2.1")


def _unconfirmed(mailing_list, email="new@example.org"):
    return SubscriberFactory(
        mailing_list=mailing_list, email=email, name="Nia New", status=SubscriberStatus.UNCONFIRMED
    )


def _welcome_mail():
    return [message for message in mail.outbox if message.extra_headers.get("Feedback-ID")]


# --- writing and moderation --------------------------------------------------------------------


def test_a_new_welcome_is_a_draft_campaign_of_its_list(account, mailing_list, sender_domain):
    written = _write(account, mailing_list)

    campaign = written.campaign
    assert campaign.kind == CampaignKind.WELCOME
    assert campaign.status == CampaignStatus.DRAFT
    assert list(campaign.lists.all()) == [mailing_list]
    assert written.live is None
    # Not among the account's campaigns: it lives on the list's welcome page.
    assert not Campaign.objects.filter(account=account).exclude(kind=CampaignKind.WELCOME).exists()


def test_submit_needs_no_subscribers_and_approval_starts_no_probe(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    approved = _approved_welcome(
        account, mailing_list, moderator, django_capture_on_commit_callbacks
    )

    campaign = Campaign.objects.get(pk=approved.campaign_id)
    assert campaign.status == CampaignStatus.APPROVED
    assert approved.live_id == campaign.pk
    assert campaign.probe_size is None
    assert not Delivery.objects.filter(campaign=campaign).exists()
    # Beat's sweeper does not start a probe for it either.
    with django_capture_on_commit_callbacks(execute=True):
        delivery.sweep()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    assert not Delivery.objects.filter(campaign=campaign).exists()


def test_editing_an_approved_welcome_makes_a_new_draft_and_the_old_keeps_being_sent(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    first = _approved_welcome(account, mailing_list, moderator, django_capture_on_commit_callbacks)
    live_id = first.live_id

    edited = _write(account, mailing_list, subject="A brand new welcome")

    assert edited.campaign_id != live_id
    assert edited.campaign.status == CampaignStatus.DRAFT
    assert edited.live_id == live_id
    # A new subscriber gets the approved version, not the edit.
    _confirm(_unconfirmed(mailing_list, "one@example.org"), django_capture_on_commit_callbacks)
    assert [message.subject for message in _welcome_mail()] == ["Welcome, Nia New"]

    welcome.welcome_submit(account=account, list_id=mailing_list.pk, actor=None)
    _confirm(_unconfirmed(mailing_list, "two@example.org"), django_capture_on_commit_callbacks)
    # Submitted, not approved: still the old one.
    assert [message.subject for message in _welcome_mail()][-1] == "Welcome, Nia New"

    second = _approve(edited, moderator, django_capture_on_commit_callbacks)
    assert second.live_id == second.campaign_id != live_id
    _confirm(_unconfirmed(mailing_list, "three@example.org"), django_capture_on_commit_callbacks)
    assert [message.subject for message in _welcome_mail()][-1] == "A brand new welcome"


def test_editing_a_submitted_welcome_withdraws_it(
    account, mailing_list, sender_domain, django_capture_on_commit_callbacks
):
    _write(account, mailing_list)
    welcome.welcome_submit(account=account, list_id=mailing_list.pk, actor=None)

    edited = _write(account, mailing_list, subject="Changed")

    assert edited.campaign.status == CampaignStatus.DRAFT
    assert edited.campaign.subject == "Changed"
    assert edited.campaign.submitted_version_id is None


def test_a_welcome_campaign_cannot_be_deleted_or_moved_to_other_lists(
    account, mailing_list, sender_domain
):
    from campaigns import services

    written = _write(account, mailing_list)
    other = MailingListFactory(account=account)
    with pytest.raises(Exception, match="welcome"):
        services.campaign_delete(account=account, campaign_id=written.campaign_id)
    with pytest.raises(Exception, match="welcome"):
        services.campaign_update(account=account, campaign_id=written.campaign_id, lists=[other.pk])
    assert WelcomeMessage.objects.filter(pk=written.pk).exists()


def test_another_accounts_list_is_not_found(account, sender_domain, other_user):
    theirs = MailingListFactory(account=other_user.account)
    with pytest.raises(NotFound):
        _write(account, theirs)
    with pytest.raises(NotFound):
        welcome.welcome_for(account=account, list_id=theirs.pk)


# --- what is sent ------------------------------------------------------------------------------


def test_nothing_unapproved_is_ever_sent(
    account,
    mailing_list,
    single_opt_in,
    sender_domain,
    moderator,
    django_capture_on_commit_callbacks,
):
    _write(account, mailing_list)
    _write(account, single_opt_in)
    welcome.welcome_submit(account=account, list_id=mailing_list.pk, actor=None)
    # Rejected: back to the sender, never sent.
    campaign = WelcomeMessage.objects.get(mailing_list=mailing_list).campaign
    sending.campaign_reject(campaign_id=campaign.pk, actor=moderator, reason="Say who you are.")

    _confirm(_unconfirmed(mailing_list), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        optin.subscription_form_submit(
            mailing_list=single_opt_in, email="solo@example.org", consent_given=True
        )

    assert _welcome_mail() == []
    assert not Delivery.objects.filter(campaign__kind=CampaignKind.WELCOME).exists()


def test_confirming_sends_the_approved_welcome_with_footer_and_headers(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    _approved_welcome(account, mailing_list, moderator, django_capture_on_commit_callbacks)
    subscriber = _unconfirmed(mailing_list)

    _confirm(subscriber, django_capture_on_commit_callbacks)

    (message,) = _welcome_mail()
    assert message.to == ["new@example.org"]
    assert message.subject == "Welcome, Nia New"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/u/" in message.extra_headers["List-Unsubscribe"]
    html = message.alternatives[0][0]
    # Our footer: why they get it, the unsubscribe link, the company.
    assert "Monthly news" in html
    assert "/u/" in html
    assert account.company_name in html
    sent = Delivery.objects.get(subscriber=subscriber)
    assert sent.status == DeliveryStatus.SENT
    assert not sent.is_probe


def test_a_single_opt_in_sign_up_gets_the_welcome(
    account, single_opt_in, sender_domain, moderator, django_capture_on_commit_callbacks
):
    _approved_welcome(account, single_opt_in, moderator, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        optin.subscription_form_submit(
            mailing_list=single_opt_in, email="solo@example.org", consent_given=True
        )

    assert [message.to for message in _welcome_mail()] == [["solo@example.org"]]


def test_one_welcome_per_subscriber_whatever_runs_twice(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    approved = _approved_welcome(
        account, mailing_list, moderator, django_capture_on_commit_callbacks
    )
    subscriber = _unconfirmed(mailing_list)
    _confirm(subscriber, django_capture_on_commit_callbacks)

    # The task again, the send task again, the confirmation link again.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.welcome_subscriber(subscriber.pk) is None
        tasks.send_welcome(approved.live_id)
    _confirm(subscriber, django_capture_on_commit_callbacks)
    # A new approved version does not welcome them again either.
    _write(account, mailing_list, subject="Second")
    welcome.welcome_submit(account=account, list_id=mailing_list.pk, actor=None)
    _approve(approved, moderator, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.welcome_subscriber(subscriber.pk) is None

    assert len(_welcome_mail()) == 1
    assert Delivery.objects.filter(subscriber=subscriber).count() == 1


def test_a_suppressed_address_is_skipped_at_send_time(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    approved = _approved_welcome(
        account, mailing_list, moderator, django_capture_on_commit_callbacks
    )
    subscriber = SubscriberFactory(mailing_list=mailing_list, email="late@example.org")
    with django_capture_on_commit_callbacks(execute=False):
        queued = welcome.welcome_queue_for(subscriber_id=subscriber.pk)
    assert queued.status == DeliveryStatus.PENDING
    # Suppressed between the queueing and the send (another list's unsubscribe, say).
    suppression_add(account=account, email="late@example.org", reason="unsubscribed")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_welcome(approved.live_id)

    assert _welcome_mail() == []
    queued.refresh_from_db()
    assert queued.status == DeliveryStatus.SKIPPED
    assert queued.error == "suppressed"


def test_a_frozen_accounts_welcomes_are_not_sent(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    approved = _approved_welcome(
        account, mailing_list, moderator, django_capture_on_commit_callbacks
    )
    pending = SubscriberFactory(mailing_list=mailing_list, email="pending@example.org")
    with django_capture_on_commit_callbacks(execute=False):
        queued = welcome.welcome_queue_for(subscriber_id=pending.pk)
    account.state = AccountState.FROZEN
    account.save(update_fields=["state"])

    # Freezing pauses campaigns under way; the welcome stays approved but sends nothing.
    assert sending.campaign_pause(campaign_id=approved.live_id, reason="frozen").status == (
        CampaignStatus.APPROVED
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.send_welcome(approved.live_id)
    _confirm(_unconfirmed(mailing_list), django_capture_on_commit_callbacks)

    assert _welcome_mail() == []
    queued.refresh_from_db()
    assert queued.status == DeliveryStatus.SKIPPED
    assert queued.error == welcome.SKIPPED_FROZEN
    assert Delivery.objects.filter(campaign_id=approved.live_id).count() == 1
    with pytest.raises(PermissionDenied):
        _write(account, mailing_list, subject="While frozen")


def test_a_declined_welcome_stops_being_sent(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    approved = _approved_welcome(
        account, mailing_list, moderator, django_capture_on_commit_callbacks
    )
    sending.campaign_decline(campaign_id=approved.live_id, actor=moderator, reason="No.")

    _confirm(_unconfirmed(mailing_list), django_capture_on_commit_callbacks)

    assert _welcome_mail() == []
    summary = welcome.welcome_summary(welcome.welcome_for(account=account, list_id=mailing_list.pk))
    assert summary["is_sending"] is False


def test_its_own_figures(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    approved = _approved_welcome(
        account, mailing_list, moderator, django_capture_on_commit_callbacks
    )
    ann = _unconfirmed(mailing_list, "ann@example.org")
    _confirm(ann, django_capture_on_commit_callbacks)
    _confirm(_unconfirmed(mailing_list, "bob@example.org"), django_capture_on_commit_callbacks)
    token = MessageTokens(campaign_id=approved.live_id, subscriber_id=ann.pk, is_test=False)
    from campaigns.tokens import TokenKind, unpack

    unsubscribe_link_apply(
        token=unpack(token.unsubscribe(), kind=TokenKind.UNSUBSCRIBE), one_click=True
    )

    stats = welcome.welcome_stats(welcome=approved)
    assert (stats.sent, stats.unsubscribed, stats.complained, stats.opened) == (2, 1, 0, 0)


# --- the API -----------------------------------------------------------------------------------


def test_api_put_get_submit(token_client, mailing_list, sender_domain):
    url = reverse("api-list-welcome", args=[mailing_list.pk])
    assert token_client.get(url).status_code == 404

    created = token_client.put(url, WELCOME, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "draft"
    assert created.json()["live"] is None
    assert created.json()["stats"]["sent"] == 0

    changed = token_client.put(url, {**WELCOME, "subject": "Hi"}, format="json")
    assert changed.status_code == 200
    assert token_client.get(url).json()["subject"] == "Hi"

    submitted = token_client.post(reverse("api-list-welcome-submit", args=[mailing_list.pk]))
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["status"] == "submitted"


def test_api_refuses_bad_input_other_accounts_and_frozen(
    token_client, mailing_list, sender_domain, other_user
):
    url = reverse("api-list-welcome", args=[mailing_list.pk])
    missing = token_client.put(url, {"subject": "x"}, format="json")
    assert missing.status_code == 400
    theirs = MailingListFactory(account=other_user.account)
    assert token_client.get(reverse("api-list-welcome", args=[theirs.pk])).status_code == 404
    assert (
        token_client.put(
            reverse("api-list-welcome", args=[theirs.pk]), WELCOME, format="json"
        ).status_code
        == 404
    )
    assert not WelcomeMessage.objects.exists()
    account = mailing_list.account
    account.state = AccountState.FROZEN
    account.save(update_fields=["state"])
    assert token_client.put(url, WELCOME, format="json").status_code == 403
    assert not WelcomeMessage.objects.exists()


# --- the pages ---------------------------------------------------------------------------------


def test_the_welcome_page_writes_and_submits(client, user, mailing_list, sender_domain, other_user):
    client.force_login(user)
    url = reverse("list_welcome", args=[mailing_list.pk])
    assert 'id="no-live-version"' in client.get(url).content.decode()

    refused = client.post(url, {"action": "save", "subject": ""})
    assert refused.status_code == 400
    assert not WelcomeMessage.objects.exists()
    saved = client.post(url, {"action": "save", **WELCOME})
    assert saved.status_code == 302
    submitted = client.post(url, {"action": "submit"})
    assert submitted.status_code == 302
    assert WelcomeMessage.objects.get().campaign.status == CampaignStatus.SUBMITTED
    page = client.get(url).content.decode()
    assert 'id="waiting-note"' in page
    # The draft's own campaign page (preview and test) opens too.
    campaign_id = WelcomeMessage.objects.get().campaign_id
    assert client.get(reverse("campaign_detail", args=[campaign_id])).status_code == 200
    # And the list's page names it.
    assert (
        'id="list-welcome"'
        in client.get(reverse("list_detail", args=[mailing_list.pk])).content.decode()
    )

    theirs = MailingListFactory(account=other_user.account)
    assert client.get(reverse("list_welcome", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("list_welcome", args=[theirs.pk]), WELCOME).status_code == 404


def test_the_moderator_sees_it_is_a_welcome(
    client, account, mailing_list, sender_domain, moderator
):
    written = _write(account, mailing_list)
    welcome.welcome_submit(account=account, list_id=mailing_list.pk, actor=None)
    client.force_login(moderator)

    page = client.get(reverse("moderation_review", args=[written.campaign_id]))

    assert page.status_code == 200
    assert 'id="welcome-kind"' in page.content.decode()


def test_a_lost_send_task_is_made_up_by_the_sweeper(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    approved = _approved_welcome(
        account, mailing_list, moderator, django_capture_on_commit_callbacks
    )
    subscriber = SubscriberFactory(mailing_list=mailing_list, email="lost@example.org")
    with django_capture_on_commit_callbacks(execute=False):  # the task never reaches a worker
        welcome.welcome_queue_for(subscriber_id=subscriber.pk)
    assert _welcome_mail() == []

    with django_capture_on_commit_callbacks(execute=True):
        report = delivery.sweep()

    assert approved.live_id in report.dispatched
    assert [message.to for message in _welcome_mail()] == [["lost@example.org"]]


def test_account_data_deletion_takes_the_welcome(
    account, mailing_list, sender_domain, django_capture_on_commit_callbacks
):
    from moderation.enforcement import deletion

    _write(account, mailing_list)
    account.state = AccountState.SCHEDULED_FOR_DELETION
    account.save(update_fields=["state"])

    with django_capture_on_commit_callbacks(execute=True):
        counts = deletion.account_data_delete(account_id=account.pk)

    assert counts["welcome_messages"] == 1
    assert not WelcomeMessage.objects.exists()
    assert not Campaign.objects.filter(account=account).exists()


def test_the_dashboard_counts_do_not_count_welcome_messages(
    account, mailing_list, sender_domain, moderator, django_capture_on_commit_callbacks
):
    from campaigns.selectors import campaign_status_counts
    from tests.campaigns.factories import CampaignFactory

    _approved_welcome(account, mailing_list, moderator, django_capture_on_commit_callbacks)
    _write(account, mailing_list, subject="A newer welcome")  # its next version, a draft
    CampaignFactory(account=account, lists=[mailing_list])

    counts = campaign_status_counts(account=account)

    # Only the regular draft: the welcome's approved and draft versions live on the list's page.
    assert counts[CampaignStatus.DRAFT] == 1
    assert counts[CampaignStatus.APPROVED] == 0
    assert sum(counts.values()) == 1


def test_a_welcome_campaign_is_not_offered_for_duplication(
    client, user, account, mailing_list, sender_domain
):
    from django.urls import reverse

    from campaigns import email_templates
    from config.errors import ApplicationError

    written = _write(account, mailing_list)
    client.force_login(user)

    page = client.get(reverse("campaign_detail", args=[written.campaign_id])).content.decode()

    assert 'id="campaign-duplicate"' not in page
    assert 'id="campaign-save-as-template"' in page  # its content can still start a template
    with pytest.raises(ApplicationError, match="welcome message cannot be duplicated"):
        email_templates.campaign_duplicate(
            account=account, campaign_id=written.campaign_id, created_by=user
        )
    assert Campaign.objects.filter(account=account).count() == 1
