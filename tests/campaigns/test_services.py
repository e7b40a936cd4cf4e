"""Authoring, submission, cancelling and test sends, through the services."""

import smtplib
from types import SimpleNamespace

import pytest
from anymail.exceptions import AnymailRecipientsRefused
from django.core import mail

from accounts.models import AccountState
from campaigns import sending, services
from campaigns.models import Campaign, CampaignStatusChange, CampaignTestSend
from campaigns.states import CampaignStatus
from config.errors import ApplicationError, InvalidTransition, NotFound, PermissionDenied
from tests.campaigns.factories import CampaignFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

BLOCKING = SimpleNamespace(
    as_dict=lambda: {
        "code": "link.shortener",
        "severity": "block",
        "reason": "Links through URL shorteners hide where they lead.",
        "where": "links",
        "excerpt": "bit.ly",
    }
)
REVIEW = SimpleNamespace(
    as_dict=lambda: {
        "code": "subject.all_caps",
        "severity": "review",
        "reason": "The subject is in capitals.",
        "where": "subject",
        "excerpt": "",
    }
)


def blocking_analyser(campaign):
    return [BLOCKING, REVIEW]


def review_analyser(campaign):
    return [REVIEW]


@pytest.fixture
def analyser(settings):
    settings.CONTENT_ANALYSER = "tests.campaigns.test_services.review_analyser"
    return settings


def create(user, fields):
    return services.campaign_create(account=user.account, created_by=user, **fields)


def test_create_saves_a_draft_with_its_lists(user, campaign_fields, mailing_list):
    campaign = create(user, campaign_fields)

    assert campaign.status == CampaignStatus.DRAFT
    assert list(campaign.lists.all()) == [mailing_list]
    assert campaign.from_email == "news@news.acme.example"
    assert campaign.created_by == user


def test_a_draft_needs_no_verified_domain_but_submitting_does(
    user, campaign_fields, subscriber, sender_domain, analyser
):
    """Issue 21: a new user writes, previews and tests before DNS is done; only submitting
    needs the From domain verified, and the refusal says exactly what is missing."""
    sender_domain.verified_at = None
    sender_domain.save()

    campaign = create(user, campaign_fields)
    services.campaign_send_test(account=user.account, campaign_id=campaign.pk, user=user)
    with pytest.raises(ApplicationError) as refused:
        sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)

    assert campaign.status == CampaignStatus.DRAFT
    assert [message.to for message in mail.outbox] == [[user.email]]
    assert refused.value.field == "from_email"
    assert refused.value.message == (
        "news.acme.example is not verified yet: publish its TXT record (see Sender domains), "
        "then verify it. Drafts, previews and test sends work meanwhile."
    )
    assert services.sender_domain_missing(user.account, campaign) == refused.value.message
    assert Campaign.objects.get().status == CampaignStatus.DRAFT
    assert not CampaignStatusChange.objects.exists()


def test_a_draft_may_use_any_address_but_tests_need_one_of_the_accounts_domains(
    user, other_user, campaign_fields, sender_domain, subscriber, analyser
):
    sender_domain.delete()
    CampaignFactory(account=other_user.account)  # verifies a domain for the other account
    campaign_fields["from_email"] = "news@" + other_user.account.sender_domains.get().domain

    campaign = create(user, campaign_fields)
    with pytest.raises(ApplicationError) as test_refused:
        services.campaign_send_test(account=user.account, campaign_id=campaign.pk, user=user)
    with pytest.raises(ApplicationError) as submit_refused:
        sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)

    # Another account's verified domain of that name counts for nothing.
    assert "is not on a sender domain of your account" in test_refused.value.message
    assert submit_refused.value.message == test_refused.value.message
    assert mail.outbox == []
    assert not CampaignTestSend.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_lists_must_be_the_accounts_own(user, other_user, campaign_fields):
    foreign = MailingListFactory(account=other_user.account)
    campaign_fields["lists"] = [foreign.pk]

    with pytest.raises(ApplicationError) as refused:
        create(user, campaign_fields)

    assert refused.value.field == "lists"
    assert refused.value.message == f"No such list: {foreign.pk}."
    assert not Campaign.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("subject", "Hi {{ settings.SECRET_KEY }}", "there is no “settings”"),
        ("html_body", "<p>{{ subscriber.__class__ }}</p>", "underscore"),
        ("text_body", "{{ range(10) }}", "only names, lookups"),
        ("html_body", "", "This field is required."),
        ("reply_to", "not an address", "Not a valid e-mail address: "),
        ("from_email", "news.acme.example", "Not a valid e-mail address: "),
        ("from_name", "Acme\nBcc: x", "single line"),
    ],
)
def test_bad_content_is_refused_on_its_field(user, campaign_fields, field, value, message):
    campaign_fields[field] = value

    with pytest.raises(ApplicationError) as refused:
        create(user, campaign_fields)

    assert refused.value.field == field
    assert message in refused.value.message
    assert not Campaign.objects.exists()


def test_html_over_the_size_limit_is_refused(user, campaign_fields, settings):
    settings.CAMPAIGN_HTML_MAX_BYTES = 1000
    campaign_fields["html_body"] = "<p>" + "x" * 1000 + "</p>"

    with pytest.raises(ApplicationError) as refused:
        create(user, campaign_fields)
    assert refused.value.field == "html_body"


def test_a_frozen_account_cannot_create(user, campaign_fields):
    user.account.state = AccountState.FROZEN
    user.account.save()

    with pytest.raises(PermissionDenied) as refused:
        create(user, campaign_fields)
    assert "frozen" in refused.value.message


def test_update_changes_a_draft(user, campaign_fields, account):
    campaign = create(user, campaign_fields)
    second = MailingListFactory(account=account)

    services.campaign_update(
        account=account, campaign_id=campaign.pk, subject="New subject", lists=[second.pk]
    )

    campaign.refresh_from_db()
    assert campaign.subject == "New subject"
    assert list(campaign.lists.all()) == [second]


@pytest.mark.parametrize("status", ["submitted", "approved", "probing", "sent", "cancelled"])
def test_only_drafts_and_rejected_campaigns_can_be_edited(user, campaign_fields, account, status):
    campaign = create(user, campaign_fields)
    Campaign.objects.filter(pk=campaign.pk).update(status=status)

    with pytest.raises(InvalidTransition):
        services.campaign_update(account=account, campaign_id=campaign.pk, subject="Changed")

    campaign.refresh_from_db()
    assert campaign.subject == campaign_fields["subject"]


def test_another_accounts_campaign_is_not_found(user, other_user, campaign_fields):
    campaign = create(user, campaign_fields)

    with pytest.raises(NotFound):
        services.campaign_update(account=other_user.account, campaign_id=campaign.pk, name="x")
    with pytest.raises(NotFound):
        services.campaign_delete(account=other_user.account, campaign_id=campaign.pk)
    with pytest.raises(NotFound):
        sending.campaign_submit(account=other_user.account, campaign_id=campaign.pk, actor=None)
    assert Campaign.objects.get().name == "November news"


def test_delete_only_before_approval(user, campaign_fields, account):
    kept = create(user, campaign_fields)
    Campaign.objects.filter(pk=kept.pk).update(status=CampaignStatus.APPROVED)
    deleted = create(user, campaign_fields | {"name": "Other"})

    with pytest.raises(InvalidTransition):
        services.campaign_delete(account=account, campaign_id=kept.pk)
    services.campaign_delete(account=account, campaign_id=deleted.pk)

    assert list(Campaign.objects.values_list("pk", flat=True)) == [kept.pk]


def test_submit_moves_to_the_queue_with_the_findings(user, campaign_fields, subscriber, analyser):
    campaign = create(user, campaign_fields)

    submitted = sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)
    again = sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)

    assert submitted.status == again.status == CampaignStatus.SUBMITTED
    assert submitted.findings == [REVIEW.as_dict()]
    assert submitted.submitted_at is not None
    change = CampaignStatusChange.objects.get()
    assert (change.old_status, change.new_status, change.actor) == ("draft", "submitted", user)


def test_blocking_findings_stop_submission(user, campaign_fields, subscriber, settings):
    settings.CONTENT_ANALYSER = "tests.campaigns.test_services.blocking_analyser"
    campaign = create(user, campaign_fields)

    with pytest.raises(ApplicationError) as refused:
        sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)

    assert refused.value.message == (
        "The campaign cannot be submitted: Links through URL shorteners hide where they lead."
    )
    # Given as the reader reads them: the reason in the request's language, with its params.
    assert refused.value.extra["findings"] == [
        {**BLOCKING.as_dict(), "params": {}},
        {**REVIEW.as_dict(), "params": {}},
    ]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert not CampaignStatusChange.objects.exists()


def test_a_campaign_without_subscribers_cannot_be_submitted(user, campaign_fields, analyser):
    campaign = create(user, campaign_fields)

    with pytest.raises(ApplicationError) as refused:
        sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)

    assert refused.value.field == "lists"
    assert Campaign.objects.get().status == CampaignStatus.DRAFT


def test_a_sender_domain_withdrawn_since_saving_stops_submission(
    user, campaign_fields, subscriber, sender_domain, analyser
):
    campaign = create(user, campaign_fields)
    sender_domain.verified_at = None
    sender_domain.save()

    with pytest.raises(ApplicationError) as refused:
        sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)
    assert refused.value.field == "from_email"


def test_a_frozen_account_cannot_submit(user, campaign_fields, subscriber, analyser):
    campaign = create(user, campaign_fields)
    user.account.state = AccountState.FROZEN
    user.account.save()

    with pytest.raises(PermissionDenied):
        sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)
    assert Campaign.objects.get().status == CampaignStatus.DRAFT


def test_withdraw_and_resubmit(user, campaign_fields, subscriber, analyser):
    campaign = create(user, campaign_fields)
    sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)

    sending.campaign_withdraw(account=user.account, campaign_id=campaign.pk, actor=user)
    sending.campaign_withdraw(account=user.account, campaign_id=campaign.pk, actor=user)
    services.campaign_update(account=user.account, campaign_id=campaign.pk, subject="Better")
    sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)

    assert list(CampaignStatusChange.objects.values_list("old_status", "new_status")) == [
        ("draft", "submitted"),
        ("submitted", "draft"),
        ("draft", "submitted"),
    ]


def test_cancel_is_idempotent_and_final(user, campaign_fields):
    campaign = create(user, campaign_fields)

    sending.campaign_cancel(account=user.account, campaign_id=campaign.pk, actor=user, reason="x")
    sending.campaign_cancel(account=user.account, campaign_id=campaign.pk, actor=user)

    assert Campaign.objects.get().status == CampaignStatus.CANCELLED
    assert CampaignStatusChange.objects.count() == 1
    with pytest.raises(InvalidTransition):
        sending.campaign_submit(account=user.account, campaign_id=campaign.pk, actor=user)


def test_a_sent_campaign_cannot_be_cancelled(user, campaign_fields):
    campaign = create(user, campaign_fields)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENT)

    with pytest.raises(InvalidTransition):
        sending.campaign_cancel(account=user.account, campaign_id=campaign.pk, actor=user)


def test_a_test_goes_to_the_users_own_address_as_a_subscriber_would_get_it(
    user, campaign_fields, subscriber
):
    campaign = create(user, campaign_fields)

    sent = services.campaign_send_test(
        account=user.account, campaign_id=campaign.pk, user=user, subscriber_id=subscriber.pk
    )

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject == "[Test] Hello Ann"
    assert "Hi Ann Lee" in message.body
    assert "Unsubscribe: " in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent.to_email == user.email
    assert sent.message_id == message.extra_headers["Message-ID"]


def test_test_sends_are_limited_per_hour(user, campaign_fields, settings):
    settings.TEST_SENDS_PER_HOUR = 2
    campaign = create(user, campaign_fields)
    for _ in range(2):
        services.campaign_send_test(account=user.account, campaign_id=campaign.pk, user=user)

    with pytest.raises(services.TooManyRequests) as refused:
        services.campaign_send_test(account=user.account, campaign_id=campaign.pk, user=user)

    assert refused.value.status_code == 429
    assert len(mail.outbox) == 2
    assert CampaignTestSend.objects.count() == 2


@pytest.mark.parametrize(
    "failure",
    [smtplib.SMTPServerDisconnected("gone"), AnymailRecipientsRefused("refused")],
    ids=["smtp", "esp"],
)
def test_a_failed_test_send_gives_its_claim_back(user, campaign_fields, monkeypatch, failure):
    campaign = create(user, campaign_fields)

    def refuse(self, *args, **kwargs):
        raise failure

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", refuse)
    with pytest.raises(ApplicationError) as refused:
        services.campaign_send_test(account=user.account, campaign_id=campaign.pk, user=user)

    assert "did not take the test message" in refused.value.message
    assert not CampaignTestSend.objects.exists()


def test_no_test_for_an_unverified_user_or_a_frozen_account(user, campaign_fields):
    campaign = create(user, campaign_fields)
    user.email_verified_at = None
    user.save()
    with pytest.raises(ApplicationError):
        services.campaign_send_test(account=user.account, campaign_id=campaign.pk, user=user)
    user.account.state = AccountState.FROZEN
    user.account.save()
    with pytest.raises(PermissionDenied):
        services.campaign_send_test(account=user.account, campaign_id=campaign.pk, user=user)

    assert mail.outbox == []


def test_a_subscriber_on_another_list_cannot_be_previewed(user, campaign_fields, account):
    campaign = create(user, campaign_fields)
    elsewhere = SubscriberFactory(mailing_list=MailingListFactory(account=account))

    with pytest.raises(ApplicationError) as refused:
        services.campaign_send_test(
            account=account, campaign_id=campaign.pk, user=user, subscriber_id=elsewhere.pk
        )
    assert refused.value.field == "subscriber_id"
    assert mail.outbox == []


def test_the_content_analyser_blocks_a_shortened_link_and_passes_a_clean_campaign(
    user, campaign_fields, subscriber
):
    shortened = create(
        user,
        campaign_fields
        | {"name": "Short", "html_body": '<p>Hi <a href="https://bit.ly/3xyz">here</a></p>'},
    )
    clean = create(user, campaign_fields)

    with pytest.raises(ApplicationError) as refused:
        sending.campaign_submit(account=user.account, campaign_id=shortened.pk, actor=user)
    submitted = sending.campaign_submit(account=user.account, campaign_id=clean.pk, actor=user)

    assert "link.shortener" in [f["code"] for f in refused.value.extra["findings"]]
    assert Campaign.objects.get(pk=shortened.pk).status == CampaignStatus.DRAFT
    assert submitted.status == CampaignStatus.SUBMITTED
    assert [f for f in submitted.findings if f["severity"] == "block"] == []


def test_the_recipient_count_counts_an_address_on_two_lists_once(
    user, campaign_fields, mailing_list, subscriber, account
):
    from campaigns.selectors import recipient_count

    SubscriberFactory(mailing_list=mailing_list, email="bob@example.org")
    SubscriberFactory(mailing_list=mailing_list, email="gone@example.org", status="unsubscribed")
    other = MailingListFactory(account=account)
    SubscriberFactory(mailing_list=other, email="ann.lee@example.org")
    one_list = create(user, campaign_fields)
    both = create(user, campaign_fields | {"name": "Both", "lists": [mailing_list.pk, other.pk]})

    assert recipient_count(campaign=one_list) == 2
    assert recipient_count(campaign=both) == 2
