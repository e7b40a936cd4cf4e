"""Account enforcement as services: warn, freeze (campaigns under way pause), unfreeze (they
resume), the one appeal and its window, rejection, the deletion of an account's data after the
grace period, and the automatic health check. Every refused path changes nothing."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone, translation

from accounts.models import (
    Account,
    AccountEvent,
    ApiToken,
    Notification,
    SenderDomain,
    TermsAcceptance,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from accounts.services import api_token_create
from campaigns import sending
from campaigns import services as campaign_services
from campaigns.models import (
    Campaign,
    CampaignStatusChange,
    CampaignTestSend,
    Delivery,
    DeliveryStatus,
    EmailTemplate,
    TrackingEvent,
)
from complaints.models import AbuseReport, AbuseStatus, FeedbackEvent
from config.coded_text import render
from config.errors import ApplicationError, InvalidTransition, NotFound, PermissionDenied
from lists.models import (
    ConsentRecord,
    ImportJob,
    ImportRowIssue,
    MailingList,
    PlatformSuppression,
    Subscriber,
    Suppression,
    SuppressionReason,
)
from lists.services.suppression import platform_suppression_add, suppression_add
from moderation import services as moderation
from moderation import tasks as moderation_tasks
from moderation.enforcement import appeals, decisions, deletion
from moderation.enforcement import health as account_health
from moderation.models import AccountFlag, Appeal, AuditEntry
from tests.campaigns.factories import (
    CampaignFactory,
    submitted_campaign,
    subscribe_many,
    waiting_version,
    with_approved_version,
)
from tests.factories import AccountFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

REASON = "Three upheld abuse reports in a week: the list was bought."


def entries(account, action=None) -> list[str]:
    found = AuditEntry.objects.filter(account_id=account.pk).order_by("at", "id")
    if action:
        found = found.filter(action=action)
    return list(found.values_list("action", flat=True))


def notices(account) -> list[str]:
    """The subjects of the account's notifications, in English."""
    subjects = (
        Notification.objects.filter(account_id=account.pk)
        .order_by("created_at", "id")
        .values_list("subject", flat=True)
    )
    with translation.override("en"):
        return [render(subject) for subject in subjects]


def reload(account) -> Account:
    account.refresh_from_db()
    return account


def frozen_hours_ago(account, hours: float) -> None:
    """Move the freeze (and an appeal of it) into the past, instead of waiting."""
    then = timezone.now() - timedelta(hours=hours)
    Appeal.objects.filter(account=account, frozen_at=account.state_changed_at).update(
        frozen_at=then
    )
    Account.objects.filter(pk=account.pk).update(state_changed_at=then)
    account.refresh_from_db()


@pytest.fixture
def account(sender):
    return sender.account


@pytest.fixture
def frozen(account, moderator):
    decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)
    return reload(account)


def probing(mailing_list, moderator) -> Campaign:
    """Approved and its probe chosen, nothing sent yet (the test's transaction never commits,
    so no task runs)."""
    campaign = submitted_campaign(mailing_list)
    moderation.decision_approve(
        campaign_id=campaign.pk, moderator=moderator, version_id=waiting_version(campaign)
    )
    sending.campaign_start_probe(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == "probing"
    return campaign


# --- warn -----------------------------------------------------------------------------------------


def test_warning_an_active_account_tells_its_users_why_and_is_audited(
    account, moderator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decisions.account_warn(account_id=account.pk, moderator=moderator, reason=REASON)

    account = reload(account)
    assert (account.state, account.state_reason) == ("warned", REASON)
    assert account.state_changed_at is not None
    assert account.can_send
    assert entries(account) == ["warned"]
    entry = AuditEntry.objects.get(account=account)
    assert (entry.actor, entry.actor_label, entry.reason) == (moderator, moderator.email, REASON)
    assert notices(account) == ["A warning about your account"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.endswith("A warning about your account")
    assert REASON in mail.outbox[0].body


def test_warning_twice_changes_nothing_the_second_time(account, moderator):
    decisions.account_warn(account_id=account.pk, moderator=moderator, reason=REASON)
    changed_at = reload(account).state_changed_at

    decisions.account_warn(account_id=account.pk, moderator=moderator, reason="Again")

    account = reload(account)
    assert (account.state, account.state_reason, account.state_changed_at) == (
        "warned",
        REASON,
        changed_at,
    )
    assert entries(account) == ["warned"]
    assert len(notices(account)) == 1


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_a_warning_needs_a_reason_of_sensible_length(account, moderator, reason):
    with pytest.raises(ApplicationError) as refused:
        decisions.account_warn(account_id=account.pk, moderator=moderator, reason=reason)

    assert refused.value.field == "reason"
    assert reload(account).state == "active"
    assert entries(account) == [] and notices(account) == []


def test_only_moderators_enforce(account, sender):
    for decide in (decisions.account_warn, decisions.account_freeze):
        with pytest.raises(PermissionDenied):
            decide(account_id=account.pk, moderator=sender, reason=REASON)

    assert reload(account).state == "active"
    assert entries(account) == [] and notices(account) == []


def test_an_unknown_account_is_not_found(moderator):
    with pytest.raises(NotFound):
        decisions.account_freeze(account_id=2_000_000_000, moderator=moderator, reason=REASON)
    assert AuditEntry.objects.count() == 0


def test_a_frozen_account_cannot_be_warned(frozen, moderator):
    before = entries(frozen)

    with pytest.raises(InvalidTransition):
        decisions.account_warn(account_id=frozen.pk, moderator=moderator, reason="Warn")

    assert reload(frozen).state == "frozen"
    assert entries(frozen) == before


# --- freeze ---------------------------------------------------------------------------------------


def test_freezing_stops_sending_and_tells_the_users_the_reason_and_the_appeal_deadline(
    account, moderator, settings, django_capture_on_commit_callbacks
):
    settings.APPEAL_HOURS = 24
    with django_capture_on_commit_callbacks(execute=True):
        decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)

    account = reload(account)
    assert (account.state, account.state_reason, account.can_send) == ("frozen", REASON, False)
    deadline = account.state_changed_at + timedelta(hours=24)
    entry = AuditEntry.objects.get(account=account)
    assert (entry.action, entry.actor, entry.reason) == ("frozen", moderator, REASON)
    assert entry.details == {"campaigns_under_way": [], "appeal_deadline": deadline.isoformat()}
    notification = Notification.objects.get(account=account)
    assert render(notification.subject) == "Your account is frozen"
    assert notification.level == "error"
    assert notification.link == "/account/appeal/"
    assert REASON in render(notification.body)
    assert timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M") in render(notification.body)
    with pytest.raises(PermissionDenied, match="frozen"):
        campaign_services.campaign_create(
            account=account, created_by=None, lists=[], name="New", subject="Hi"
        )


def test_freezing_pauses_campaigns_under_way_and_unfreezing_resumes_them(
    account, mailing_list, moderator, django_capture_on_commit_callbacks
):
    campaign = probing(mailing_list, moderator)
    holding = CampaignFactory(account=account, lists=[mailing_list], status="holding")
    waiting = submitted_campaign(mailing_list)

    with django_capture_on_commit_callbacks(execute=True):
        decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)

    campaign.refresh_from_db()
    holding.refresh_from_db()
    waiting.refresh_from_db()
    assert (campaign.status, campaign.resume_status) == ("paused", "probing")
    assert (holding.status, holding.resume_status) == ("paused", "holding")
    # Submitted campaigns wait for a moderator; they cannot be paused.
    assert waiting.status == "submitted"
    assert not Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).exists()
    assert AuditEntry.objects.get(action="frozen").details["campaigns_under_way"] == sorted(
        [campaign.pk, holding.pk]
    )
    # A worker that picks the campaign up now sends nothing.
    assert sending.SENDING_STATUSES.isdisjoint({campaign.status})

    with django_capture_on_commit_callbacks(execute=True):
        decisions.account_unfreeze(account_id=account.pk, moderator=moderator, reason="Fixed")

    campaign.refresh_from_db()
    holding.refresh_from_db()
    # The probe went out once resumed (tasks run eagerly), and the hold began.
    assert campaign.status == "holding"
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == (
        campaign.probe_size
    )
    assert campaign.probe_size == 2
    assert holding.status == "holding" and holding.resume_status == ""


def test_freezing_pauses_a_releasing_campaign_which_finishes_after_the_unfreeze(
    account, mailing_list, moderator, django_capture_on_commit_callbacks
):
    campaign = with_approved_version(
        CampaignFactory(account=account, lists=[mailing_list], status="releasing")
    )
    for subscriber in Subscriber.objects.filter(mailing_list=mailing_list)[:3]:
        Delivery.objects.create(campaign=campaign, subscriber=subscriber, provider="other")

    decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.resume_status) == ("paused", "releasing")
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.PENDING).count() == 3

    with django_capture_on_commit_callbacks(execute=True):
        decisions.account_unfreeze(account_id=account.pk, moderator=moderator, reason="Fixed")

    campaign.refresh_from_db()
    assert campaign.status == "sent"
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 3


def test_freezing_twice_writes_one_entry_and_one_notification(frozen, moderator):
    changed_at = frozen.state_changed_at

    decisions.account_freeze(account_id=frozen.pk, moderator=moderator, reason="Again")

    frozen = reload(frozen)
    assert (frozen.state_reason, frozen.state_changed_at) == (REASON, changed_at)
    assert entries(frozen) == ["frozen"]
    assert notices(frozen) == ["Your account is frozen"]


def test_freezing_answers_the_accounts_open_flags(account, moderator):
    flag = AccountFlag.objects.create(account=account, reason="Complaints at 0.8%.")

    decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)

    flag.refresh_from_db()
    assert flag.resolved_by == moderator and flag.resolved_at is not None


@pytest.mark.parametrize("state", ["scheduled_for_deletion", "deleted"])
def test_an_account_closing_or_deleted_cannot_be_frozen(account, moderator, state):
    Account.objects.filter(pk=account.pk).update(state=state)

    with pytest.raises(InvalidTransition):
        decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)

    assert reload(account).state == state
    assert entries(account) == [] and notices(account) == []


# --- unfreeze -------------------------------------------------------------------------------------


def test_unfreezing_gives_back_sending_and_grants_a_pending_appeal(frozen, sender, moderator):
    appeal = appeals.appeal_file(account=frozen, user=sender, text="We fixed the form.")

    decisions.account_unfreeze(account_id=frozen.pk, moderator=moderator, reason="Fixed.")

    account = reload(frozen)
    assert (account.state, account.state_reason, account.deletion_due_at) == (
        "active",
        "Fixed.",
        None,
    )
    assert account.can_send
    appeal.refresh_from_db()
    assert (appeal.status, appeal.decided_by, appeal.decision_note) == (
        "granted",
        moderator,
        "Fixed.",
    )
    assert entries(account) == ["frozen", "appealed", "unfrozen"]
    assert AuditEntry.objects.get(action="unfrozen").details == {
        "from_state": "frozen",
        "appeal_granted": True,
    }
    assert notices(account)[-1] == "Your account is unfrozen"


def test_an_account_scheduled_for_deletion_can_be_unfrozen(frozen, moderator):
    frozen_hours_ago(frozen, 25)
    appeals.appeal_windows_expire()
    assert reload(frozen).deletion_due_at is not None

    decisions.account_unfreeze(account_id=frozen.pk, moderator=moderator, reason="Mistake.")

    account = reload(frozen)
    assert (account.state, account.deletion_due_at) == ("active", None)
    assert AuditEntry.objects.get(action="unfrozen").details["from_state"] == (
        "scheduled_for_deletion"
    )


def test_unfreezing_an_account_that_may_send_changes_nothing(account, moderator):
    decisions.account_unfreeze(account_id=account.pk, moderator=moderator, reason="Nothing")

    assert reload(account).state == "active"
    assert entries(account) == [] and notices(account) == []


def test_unfreezing_needs_a_reason(frozen, moderator):
    with pytest.raises(ApplicationError):
        decisions.account_unfreeze(account_id=frozen.pk, moderator=moderator, reason=" ")
    assert reload(frozen).state == "frozen"
    assert entries(frozen) == ["frozen"]


# --- the appeal -----------------------------------------------------------------------------------


def test_a_frozen_account_appeals_once_within_the_window(frozen, sender):
    appeal = appeals.appeal_file(account=frozen, user=sender, text="  We fixed the form.  ")

    assert (appeal.status, appeal.text, appeal.filed_by) == (
        "pending",
        "We fixed the form.",
        sender,
    )
    assert appeal.frozen_at == frozen.state_changed_at
    entry = AuditEntry.objects.get(action="appealed")
    assert (entry.actor, entry.reason, entry.details) == (
        sender,
        "We fixed the form.",
        {"appeal": appeal.pk},
    )
    assert notices(frozen) == ["Your account is frozen", "Your appeal was received"]

    with pytest.raises(InvalidTransition, match="already appealed"):
        appeals.appeal_file(account=frozen, user=sender, text="Please!")
    assert Appeal.objects.count() == 1
    assert entries(frozen) == ["frozen", "appealed"]


def test_an_appeal_after_the_window_is_refused(frozen, sender, settings):
    settings.APPEAL_HOURS = 24
    frozen_hours_ago(frozen, 24.1)

    with pytest.raises(InvalidTransition, match="time to appeal ended"):
        appeals.appeal_file(account=frozen, user=sender, text="Sorry, late.")

    assert Appeal.objects.count() == 0
    assert entries(frozen) == ["frozen"]


def test_an_appeal_just_inside_the_window_is_taken(frozen, sender, settings):
    settings.APPEAL_HOURS = 24
    frozen_hours_ago(frozen, 23.9)

    assert appeals.appeal_file(account=frozen, user=sender, text="In time.").pk


@pytest.mark.parametrize("state", ["active", "warned", "scheduled_for_deletion", "deleted"])
def test_only_a_frozen_account_can_appeal(account, sender, state):
    Account.objects.filter(pk=account.pk).update(state=state, state_changed_at=timezone.now())

    with pytest.raises(InvalidTransition, match="Only a frozen account can appeal"):
        appeals.appeal_file(account=account, user=sender, text="Why?")

    assert Appeal.objects.count() == 0 and AuditEntry.objects.count() == 0


@pytest.mark.parametrize("text", ["", "  ", "x" * 5001])
def test_an_appeal_needs_a_text_of_sensible_length(frozen, sender, text):
    with pytest.raises(ApplicationError) as refused:
        appeals.appeal_file(account=frozen, user=sender, text=text)

    assert refused.value.field == "text"
    assert Appeal.objects.count() == 0


def test_a_new_freeze_can_be_appealed_again(frozen, sender, moderator):
    appeals.appeal_file(account=frozen, user=sender, text="First.")
    decisions.account_unfreeze(account_id=frozen.pk, moderator=moderator, reason="OK.")
    decisions.account_freeze(account_id=frozen.pk, moderator=moderator, reason="Again.")

    second = appeals.appeal_file(account=reload(frozen), user=sender, text="Second.")

    assert list(Appeal.objects.order_by("id").values_list("status", flat=True)) == [
        "granted",
        "pending",
    ]
    assert second.frozen_at == reload(frozen).state_changed_at


def test_rejecting_an_appeal_schedules_the_deletion_after_the_grace_period(
    frozen, sender, moderator, settings
):
    settings.DELETION_GRACE_DAYS = 30
    appeal = appeals.appeal_file(account=frozen, user=sender, text="We fixed the form.")

    appeals.appeal_reject(appeal_id=appeal.pk, moderator=moderator, note="The list was bought.")

    account = reload(frozen)
    appeal.refresh_from_db()
    assert (appeal.status, appeal.decided_by, appeal.decision_note) == (
        "rejected",
        moderator,
        "The list was bought.",
    )
    assert account.state == "scheduled_for_deletion"
    assert account.deletion_due_at == account.state_changed_at + timedelta(days=30)
    assert entries(account) == ["frozen", "appealed", "appeal_rejected", "deletion_scheduled"]
    scheduled = AuditEntry.objects.get(action="deletion_scheduled")
    assert scheduled.details == {"deletion_due_at": account.deletion_due_at.isoformat()}
    assert notices(account)[-1] == "Your appeal was rejected"

    # Again: nothing more.
    appeals.appeal_reject(appeal_id=appeal.pk, moderator=moderator, note="Again.")
    assert len(entries(account)) == 4 and len(notices(account)) == 3


def test_rejecting_an_appeal_needs_a_note_and_a_moderator(frozen, sender, moderator):
    appeal = appeals.appeal_file(account=frozen, user=sender, text="Please.")

    with pytest.raises(ApplicationError):
        appeals.appeal_reject(appeal_id=appeal.pk, moderator=moderator, note="")
    with pytest.raises(PermissionDenied):
        appeals.appeal_reject(appeal_id=appeal.pk, moderator=sender, note="No.")

    appeal.refresh_from_db()
    assert appeal.status == "pending" and reload(frozen).state == "frozen"


def test_granting_an_appeal_unfreezes_and_a_granted_one_cannot_be_rejected(
    frozen, sender, moderator
):
    appeal = appeals.appeal_file(account=frozen, user=sender, text="Please.")

    granted = appeals.appeal_grant(appeal_id=appeal.pk, moderator=moderator, note="Fine.")

    assert granted.status == "granted"
    assert reload(frozen).state == "active"
    with pytest.raises(InvalidTransition):
        appeals.appeal_reject(appeal_id=appeal.pk, moderator=moderator, note="No.")
    assert reload(frozen).state == "active"


# --- the window's expiry --------------------------------------------------------------------------


def test_an_unappealed_freeze_is_scheduled_for_deletion_once_the_window_passed(
    frozen, settings, django_capture_on_commit_callbacks
):
    settings.APPEAL_HOURS = 24
    settings.DELETION_GRACE_DAYS = 30
    frozen_hours_ago(frozen, 25)

    with django_capture_on_commit_callbacks(execute=True):
        assert appeals.appeal_windows_expire() == [frozen.pk]

    account = reload(frozen)
    assert account.state == "scheduled_for_deletion"
    assert account.deletion_due_at == account.state_changed_at + timedelta(days=30)
    assert account.state_reason.startswith("No appeal within 24 hours of the freeze.")
    entry = AuditEntry.objects.get(action="deletion_scheduled")
    assert (entry.actor, entry.actor_label) == (None, "")
    assert notices(account)[-1] == "Your account is scheduled for deletion"
    assert mail.outbox[-1].subject.endswith("Your account is scheduled for deletion")

    assert appeals.appeal_windows_expire() == []
    assert entries(account) == ["frozen", "deletion_scheduled"]


def test_a_freeze_still_in_its_window_or_appealed_is_left_alone(
    frozen, sender, moderator, settings
):
    settings.APPEAL_HOURS = 24
    appealed = UserFactory(account__company_name="Appealed Ltd").account
    decisions.account_freeze(account_id=appealed.pk, moderator=moderator, reason=REASON)
    appeals.appeal_file(account=reload(appealed), user=None, text="Please.")
    frozen_hours_ago(reload(appealed), 48)
    frozen_hours_ago(frozen, 23)

    assert appeals.appeal_windows_expire() == []

    assert reload(frozen).state == "frozen" and reload(appealed).state == "frozen"


# --- deletion -------------------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def a_full_account(sender, mailing_list, media):
    """One of everything an account holds."""
    account = sender.account
    TermsAcceptance.objects.create(
        user=sender, terms_version="1", privacy_version="1", accepted_at=timezone.now()
    )
    subscribers = list(Subscriber.objects.filter(mailing_list=mailing_list).order_by("id"))
    first = subscribers[0]
    proof = ConsentRecord(
        subscriber=first, event="granted", source="paper_form", obtained_at=timezone.now()
    )
    proof.proof_file.save("signed.pdf", ContentFile(b"%PDF signed"), save=False)
    proof.save()
    job = ImportJob(
        account=account,
        mailing_list=mailing_list,
        created_by=sender,
        original_filename="people.csv",
        file_format="csv",
        consent_source="paper_form",
    )
    job.file.save("people.csv", ContentFile(b"email\nann@example.org\n"), save=False)
    job.proof_file.save("forms.pdf", ContentFile(b"%PDF forms"), save=False)
    job.save()
    ImportRowIssue.objects.create(import_job=job, row=3, email="bad@", reason="Invalid")
    campaign = CampaignFactory(account=account, lists=[mailing_list], status="sent")
    CampaignStatusChange.objects.create(campaign=campaign, old_status="draft", new_status="sent")
    CampaignTestSend.objects.create(campaign=campaign, account=account, to_email=sender.email)
    deliveries = [
        Delivery.objects.create(
            campaign=campaign,
            subscriber=s,
            provider="other",
            status=DeliveryStatus.SENT,
            sent_at=timezone.now(),
        )
        for s in subscribers[:5]
    ]
    TrackingEvent.objects.create(delivery=deliveries[0], kind="open")
    TrackingEvent.objects.create(delivery=deliveries[1], kind="click", link_index=0)
    FeedbackEvent.objects.create(
        source="amazon_ses",
        event_id="evt-1",
        kind="complained",
        account=account,
        campaign=campaign,
        delivery=deliveries[2],
        recipient=subscribers[2].email,
    )
    report = AbuseReport.objects.create(
        reporter_email="kim@example.net", account=account, campaign=campaign
    )
    suppression_add(account=account, email="gone@example.org", reason=SuppressionReason.COMPLAINED)
    platform_suppression_add(email="bounced@example.org", source="dsn")
    api_token_create(user=sender, name="CRM")
    endpoint = WebhookEndpoint.objects.create(
        account=account, url="https://hooks.example.com/x", events=["x"], secret="s"
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint, event="x", event_id="0f8fad5b-d9cb-469f-a165-70867728950e", payload={}
    )
    Notification.objects.create(account=account, subject="Hello")
    return {"campaign": campaign, "report": report, "files": [proof, job]}


def test_deleting_an_accounts_data_keeps_only_hashed_suppressions_and_the_audit_trail(
    sender, mailing_list, moderator, media, settings, django_capture_on_commit_callbacks
):
    held = a_full_account(sender, mailing_list, media)
    account = sender.account
    # A segment the campaign targets, and a tag on a subscriber (issue 22).
    from campaigns.models import Segment
    from lists.models import SubscriberTag, Tag
    from lists.services.tags import subscribers_tags_add

    segment = Segment.objects.create(account=account, name="VIPs")
    segment.lists.set([mailing_list])
    held["campaign"].segments.set([segment])
    subscribers_tags_add(
        account=account,
        subscriber_ids=list(mailing_list.subscribers.values_list("pk", flat=True)[:3]),
        names=["vip"],
    )
    # Someone else's data, untouched.
    other = UserFactory(account__company_name="Other Ltd")
    other_list = MailingListFactory(account=other.account)
    SubscriberFactory(mailing_list=other_list)
    suppression_add(account=other.account, email="x@example.org", reason="unsubscribed")
    other_campaign = CampaignFactory(account=other.account, lists=[other_list])
    EmailTemplate.objects.create(account=account, name="Ours", html_body="<p>x</p>")
    other_template = EmailTemplate.objects.create(
        account=other.account, name="Theirs", html_body="<p>y</p>"
    )
    decisions.account_freeze(account_id=account.pk, moderator=moderator, reason=REASON)
    frozen_hours_ago(account, 25)
    appeals.appeal_windows_expire()
    files = [held["files"][0].proof_file.name, held["files"][1].file.name]
    files.append(held["files"][1].proof_file.name)
    assert all(default_storage.exists(name) for name in files)

    with django_capture_on_commit_callbacks(execute=True):
        counts = deletion.account_data_delete(account_id=account.pk)

    assert counts == {
        "feedback_events": 1,
        "welcome_messages": 0,
        "tracking_events": 2,
        "deliveries": 5,
        "send_batches": 0,
        "status_changes": 1,
        "test_sends": 1,
        "campaigns": 1,
        "email_templates": 1,
        "segments": 1,
        "consent_records": 21,
        "subscribers": 20,
        "tags": 1,
        "imports": 1,
        "exports": 0,
        "lists": 1,
        "sender_domains": 1,
        "api_tokens": 1,
        "webhook_deliveries": 1,
        "webhook_endpoints": 1,
        "notifications": 3,
        # The team's log (the API token's creation) and invitations (none) go too.
        "account_events": 1,
        "invitations": 0,
        "suppressions_kept": 1,
        "users_anonymised": 1,
    }
    assert not MailingList.objects.filter(account=account).exists()
    assert not Subscriber.objects.filter(mailing_list__account=account).exists()
    assert not Campaign.objects.filter(account=account).exists()
    assert not EmailTemplate.objects.filter(account=account).exists()
    assert EmailTemplate.objects.filter(pk=other_template.pk).exists()
    assert not Delivery.objects.filter(campaign_id=held["campaign"].pk).exists()
    assert not TrackingEvent.objects.exists()
    assert not ImportJob.objects.filter(account=account).exists()
    assert not ImportRowIssue.objects.exists()
    assert not SenderDomain.objects.filter(account=account).exists()
    assert not ApiToken.objects.filter(account=account).exists()
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert not Notification.objects.filter(account=account).exists()
    assert not AccountEvent.objects.filter(account=account).exists()
    assert not FeedbackEvent.objects.exists()
    assert not Segment.objects.filter(account=account).exists()
    assert not Tag.objects.filter(account=account).exists()
    assert not SubscriberTag.objects.exists()
    assert not TermsAcceptance.objects.filter(user__account=account, user__is_staff=False).exists()
    assert not any(default_storage.exists(name) for name in files)
    # Kept: the suppression, by hash only; the platform's hashes; the abuse report (without
    # its campaign); the audit trail, readable.
    kept = Suppression.objects.get(account=account)
    assert (kept.email, kept.reason, len(kept.email_hash)) == ("", "complained", 64)
    assert PlatformSuppression.objects.count() == 1
    held["report"].refresh_from_db()
    assert (held["report"].account_id, held["report"].campaign_id) == (account.pk, None)
    assert entries(account) == ["frozen", "deletion_scheduled", "account_deleted"]
    deleted = AuditEntry.objects.get(action="account_deleted")
    assert deleted.account_label == "Acme Ltd"
    assert deleted.details == counts
    assert AuditEntry.objects.get(action="frozen").actor_label == moderator.email
    # The account row stays, anonymised; its user can no longer log in.
    account = reload(account)
    assert (account.state, account.company_name, account.contact_name, account.phone) == (
        "deleted",
        f"Deleted account {account.pk}",
        "",
        "",
    )
    user = User.objects.get(pk=sender.pk)
    assert user.email == f"deleted-user-{user.pk}@deleted.invalid"
    assert (user.is_active, user.has_usable_password(), user.email_verified_at) == (
        False,
        False,
        None,
    )
    # The other account has everything still.
    assert Subscriber.objects.filter(mailing_list=other_list).count() == 1
    assert Campaign.objects.filter(pk=other_campaign.pk).exists()
    assert Suppression.objects.get(account=other.account).email == "x@example.org"

    # Idempotent: a second run finds nothing to do.
    assert deletion.account_data_delete(account_id=account.pk) == {}
    assert entries(account).count("account_deleted") == 1


def test_only_an_account_scheduled_for_deletion_has_its_data_deleted(frozen, mailing_list):
    with pytest.raises(InvalidTransition):
        deletion.account_data_delete(account_id=frozen.pk)

    assert Subscriber.objects.filter(mailing_list=mailing_list).count() == 20
    assert reload(frozen).state == "frozen"
    assert "account_deleted" not in entries(frozen)


def test_the_hourly_task_deletes_the_accounts_whose_deletion_is_due(frozen, moderator):
    not_yet = UserFactory(account__company_name="Later Ltd").account
    for account in (frozen, not_yet):
        Account.objects.filter(pk=account.pk).update(state="scheduled_for_deletion")
    Account.objects.filter(pk=frozen.pk).update(
        deletion_due_at=timezone.now() - timedelta(minutes=1)
    )
    Account.objects.filter(pk=not_yet.pk).update(deletion_due_at=timezone.now() + timedelta(days=1))

    assert moderation_tasks.delete_due_accounts() == [frozen.pk]
    assert moderation_tasks.delete_due_accounts() == []

    assert reload(frozen).state == "deleted"
    assert reload(not_yet).state == "scheduled_for_deletion"


# --- health ---------------------------------------------------------------------------------------


def over_the_limit(account) -> AbuseReport:
    """One upheld abuse report in the window: ABUSE_UPHELD_WARN (1) reached."""
    return AbuseReport.objects.create(
        reporter_email="kim@example.net",
        account=account,
        status=AbuseStatus.UPHELD,
        resolved_at=timezone.now(),
    )


def test_an_active_account_over_the_limits_is_warned_and_flagged_once(
    account, settings, django_capture_on_commit_callbacks
):
    settings.ABUSE_UPHELD_WARN = 1
    over_the_limit(account)

    with django_capture_on_commit_callbacks(execute=True):
        health = account_health.account_health_check(account_id=account.pk)

    assert health.status == "over_limit"
    account = reload(account)
    assert account.state == "warned"
    assert account.state_reason == "1 abuse report(s) upheld in the last 30 days."
    flag = AccountFlag.objects.get(account=account)
    assert (flag.campaign, flag.resolved_at, flag.reason) == (None, None, account.state_reason)
    entry = AuditEntry.objects.get(account=account)
    assert (entry.action, entry.actor) == ("health_warning", None)
    assert entry.details["upheld_abuse_reports"] == 1
    assert notices(account) == [
        "Your account is warned: its mail draws too many bounces or complaints"
    ]
    assert len(mail.outbox) == 1

    account_health.account_health_check(account_id=account.pk)
    assert AccountFlag.objects.filter(account=account).count() == 1
    assert entries(account) == ["health_warning"] and len(notices(account)) == 1


def test_complaints_across_campaigns_over_the_limit_warn_the_account(account, settings):
    settings.HEALTH_MIN_SENT = 20
    settings.COMPLAINT_LIMIT = 0.005
    mailing_list = MailingListFactory(account=account)
    ids = subscribe_many(mailing_list, 20, prefix="h")
    campaigns = [CampaignFactory(account=account, lists=[mailing_list]) for _ in range(2)]
    now = timezone.now()
    for n, subscriber_id in enumerate(ids):
        Delivery.objects.create(
            campaign=campaigns[n % 2],
            subscriber_id=subscriber_id,
            provider="other",
            status=DeliveryStatus.SENT,
            sent_at=now,
            complained_at=now if n == 0 else None,
        )

    health = account_health.account_health_check(account_id=account.pk)

    assert (health.sent, health.complaints, health.status) == (20, 1, "over_limit")
    assert reload(account).state == "warned"


def test_a_warned_account_over_the_limits_is_only_flagged(account, moderator, settings):
    settings.ABUSE_UPHELD_WARN = 1
    decisions.account_warn(account_id=account.pk, moderator=moderator, reason="Careful.")
    over_the_limit(account)

    account_health.account_health_check(account_id=account.pk)
    account_health.account_health_check(account_id=account.pk)

    account = reload(account)
    assert (account.state, account.state_reason) == ("warned", "Careful.")
    assert AccountFlag.objects.filter(account=account, resolved_at=None).count() == 1
    assert entries(account) == ["warned", "account_flagged"]
    assert notices(account) == ["A warning about your account"]


def test_the_health_check_never_freezes_and_leaves_healthy_or_frozen_accounts_alone(
    account, frozen, settings
):
    settings.ABUSE_UPHELD_WARN = 1
    healthy = AccountFactory()
    over_the_limit(frozen)

    assert account_health.account_health_check(account_id=healthy.pk).status == "not_enough_data"
    assert account_health.account_health_check(account_id=frozen.pk).status == "over_limit"

    assert reload(healthy).state == "active" and reload(frozen).state == "frozen"
    assert not AccountFlag.objects.exists()
    assert entries(frozen) == ["frozen"]
    assert account_health.account_health_check(account_id=2_000_000_000) is None


def test_the_health_task_checks_accounts_with_recent_feedback(account, settings):
    settings.ABUSE_UPHELD_WARN = 1
    over_the_limit(account)
    quiet = AccountFactory()
    AbuseReport.objects.create(
        reporter_email="kim@example.net",
        account=quiet,
        status=AbuseStatus.UPHELD,
        resolved_at=timezone.now() - timedelta(hours=3),
    )

    assert moderation_tasks.check_account_health() == [account.pk]
    assert moderation_tasks.check_account_health() == [account.pk]
    # The old report is outside the last hour: not looked at by the periodic run...
    assert reload(quiet).state == "active"
    # ...but it is when asked for by id.
    assert moderation_tasks.check_account_health(account_id=quiet.pk) == [quiet.pk]
    assert reload(account).state == "warned" and reload(quiet).state == "warned"
    assert AccountFlag.objects.count() == 2


def test_the_appeal_window_task_runs_twice_safely(frozen, settings):
    settings.APPEAL_HOURS = 24
    frozen_hours_ago(frozen, 30)

    assert moderation_tasks.expire_appeal_windows() == [frozen.pk]
    assert moderation_tasks.expire_appeal_windows() == []
    assert entries(frozen).count("deletion_scheduled") == 1


def test_an_unappealed_freeze_gives_its_reason_in_each_readers_language(frozen, settings):
    settings.APPEAL_HOURS = 24
    frozen_hours_ago(frozen, 30)
    moderation_tasks.expire_appeal_windows()

    account = reload(frozen)
    assert account.state == "scheduled_for_deletion"
    assert account.state_reason_code  # the system's words, stored as codes
    with translation.override("en"):
        english = account.state_reason_shown
    with translation.override("ru"):
        russian = account.state_reason_shown
    assert english == account.state_reason
    assert russian and russian != english and "%(" not in russian


def test_a_health_warning_reads_in_each_readers_language_on_the_banner_and_the_notice(
    account, settings, django_capture_on_commit_callbacks
):
    settings.ABUSE_UPHELD_WARN = 1
    over_the_limit(account)
    with django_capture_on_commit_callbacks(execute=True):
        account_health.account_health_check(account_id=account.pk)

    account = reload(account)
    assert account.state_reason_code  # stored as codes, not as a sentence in one language
    with translation.override("en"):
        english = account.state_reason_shown
    with translation.override("ru"):
        russian = account.state_reason_shown
    assert english == "1 abuse report(s) upheld in the last 30 days."
    assert russian and russian != english and "%(" not in russian
    body = Notification.objects.get(account=account).body
    with translation.override("ru"):
        assert russian in render(body)
    with translation.override("en"):
        assert english in render(body)
