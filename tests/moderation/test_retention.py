"""The retention run (privacy rule 9): what is older than its setting goes, what is recent or
still needed stays, files leave storage after commit, one audit entry records the counts, and a
second run finds nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import (
    Account,
    ApiToken,
    Notification,
    User,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from campaigns.models import Campaign, CampaignTestSend, Delivery, DeliveryStatus, TrackingEvent
from complaints.models import FeedbackDeadLetter, FeedbackEvent, FeedbackKind, FeedbackSource
from config.coded_text import render
from lists import selectors as lists_selectors
from lists.models import (
    ConsentEvent,
    ConsentRecord,
    ConsentSource,
    ImportJob,
    ImportRowIssue,
    ImportStatus,
    PlatformSuppression,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from moderation import retention
from moderation.models import AuditAction, AuditEntry
from moderation.retention import PURGES, months_before, purge_expired
from tests.campaigns.factories import CampaignFactory
from tests.factories import AccountFactory, UserFactory
from tests.lists.factories import MailingListFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

ALL_ZERO = {purge.key: 0 for purge in PURGES}


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def days_ago(days: float) -> datetime:
    return timezone.now() - timedelta(days=days)


def run(capture, **kwargs) -> dict[str, int]:
    """One retention run with its after-commit callbacks (the file deletions) executed."""
    with capture(execute=True):
        return purge_expired(**kwargs)


def counts_with(**nonzero: int) -> dict[str, int]:
    return ALL_ZERO | {key.replace("__", "."): n for key, n in nonzero.items()}


@pytest.fixture
def account():
    return UserFactory().account


@pytest.fixture
def delivery(account):
    mailing_list = MailingListFactory(account=account)
    subscriber = SubscriberFactory(mailing_list=mailing_list)
    campaign = CampaignFactory(account=account, lists=[mailing_list], status="sent")
    return Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        provider="other",
        status=DeliveryStatus.SENT,
        sent_at=days_ago(200),
        opened_at=days_ago(200),
        clicked_at=days_ago(199),
        opens=3,
        clicks=1,
        machine_opens=1,
    )


# --- campaigns -----------------------------------------------------------------------------------


def test_tracking_events_older_than_the_setting_go_and_the_delivery_counters_stay(
    settings, delivery, django_capture_on_commit_callbacks
):
    days = settings.RETENTION_TRACKING_DAYS
    old = [
        TrackingEvent.objects.create(delivery=delivery, kind="open", at=days_ago(days + 20)),
        TrackingEvent.objects.create(
            delivery=delivery, kind="click", link_index=0, at=days_ago(days + 1)
        ),
    ]
    recent = TrackingEvent.objects.create(delivery=delivery, kind="open", at=days_ago(days - 1))

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(campaigns__tracking_events=2)
    assert list(TrackingEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not TrackingEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    delivery.refresh_from_db()
    assert (delivery.opens, delivery.clicks, delivery.machine_opens) == (3, 1, 1)
    assert delivery.opened_at is not None and delivery.clicked_at is not None
    assert delivery.status == DeliveryStatus.SENT


def test_old_test_sends_go(settings, account, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(account=account)
    days = settings.RETENTION_TRACKING_DAYS
    CampaignTestSend.objects.create(
        campaign=campaign, account=account, to_email="me@acme.example", sent_at=days_ago(days + 1)
    )
    recent = CampaignTestSend.objects.create(
        campaign=campaign, account=account, to_email="me@acme.example", sent_at=days_ago(1)
    )

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(campaigns__test_sends=1)
    assert list(CampaignTestSend.objects.values_list("pk", flat=True)) == [recent.pk]


# --- complaints ----------------------------------------------------------------------------------


def test_old_feedback_events_go_and_their_suppressions_stay(
    settings, delivery, django_capture_on_commit_callbacks
):
    account = delivery.campaign.account
    days = settings.RETENTION_FEEDBACK_DAYS

    def event(kind: str, age: float) -> FeedbackEvent:
        return FeedbackEvent.objects.create(
            source=FeedbackSource.SENDGRID,
            event_id=uuid.uuid4().hex,
            kind=kind,
            account=account,
            campaign=delivery.campaign,
            delivery=delivery,
            recipient="reader@example.org",
            comment="stop it",
            received_at=days_ago(age),
        )

    event(FeedbackKind.COMPLAINED, days + 1)
    event(FeedbackKind.HARD_BOUNCE, days + 30)
    recent = event(FeedbackKind.COMPLAINED, days - 1)
    Suppression.objects.create(
        account=account, email_hash="a" * 64, reason=SuppressionReason.COMPLAINED
    )
    PlatformSuppression.objects.create(email_hash="b" * 64)
    Delivery.objects.filter(pk=delivery.pk).update(complained_at=days_ago(days + 1))

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(complaints__feedback_events=2)
    assert list(FeedbackEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert Suppression.objects.filter(account=account).count() == 1
    assert PlatformSuppression.objects.count() == 1
    delivery.refresh_from_db()
    assert delivery.complained_at is not None


def test_old_dead_letters_go_with_the_feedback_events(settings, django_capture_on_commit_callbacks):
    days = settings.RETENTION_FEEDBACK_DAYS
    for event_id, age in (("old", days + 1), ("recent", days - 1)):
        FeedbackDeadLetter.objects.create(
            source="arf",
            event_id=event_id,
            kind="complained",
            report={"recipient": "reader@example.org"},
            error="IntegrityError: ...",
            created_at=days_ago(age),
        )

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(complaints__feedback_dead_letters=1)
    assert list(FeedbackDeadLetter.objects.values_list("event_id", flat=True)) == ["recent"]


# --- accounts ------------------------------------------------------------------------------------


def test_finished_webhook_deliveries_older_than_the_setting_go_pending_ones_stay(
    settings, account, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpoint.objects.create(
        account=account, url="https://hooks.acme.example/in", secret="s", events=["*"]
    )
    days = settings.RETENTION_WEBHOOK_DELIVERY_DAYS

    def delivery(status: str, age: float) -> WebhookDelivery:
        row = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event="import.finished",
            event_id=uuid.uuid4(),
            payload={},
            status=status,
        )
        WebhookDelivery.objects.filter(pk=row.pk).update(created_at=days_ago(age))
        return row

    delivery(WebhookDeliveryStatus.SUCCEEDED, days + 1)
    delivery(WebhookDeliveryStatus.FAILED, days + 1)
    pending = delivery(WebhookDeliveryStatus.PENDING, days + 1)
    recent = delivery(WebhookDeliveryStatus.SUCCEEDED, days - 1)

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(accounts__webhook_deliveries=2)
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}


def test_read_notifications_older_than_the_setting_go_unread_ones_stay(
    settings, account, django_capture_on_commit_callbacks
):
    days = settings.RETENTION_NOTIFICATION_DAYS

    def notification(age: float, *, read: bool) -> Notification:
        row = Notification.objects.create(
            account=account, subject="Approved", read_at=days_ago(age) if read else None
        )
        Notification.objects.filter(pk=row.pk).update(created_at=days_ago(age))
        return row

    notification(days + 1, read=True)
    unread = notification(days + 100, read=False)
    recent = notification(days - 1, read=True)

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(accounts__notifications=1)
    assert set(Notification.objects.values_list("pk", flat=True)) == {unread.pk, recent.pk}


def test_expired_sessions_go(django_capture_on_commit_callbacks):
    Session.objects.create(session_key="e" * 32, session_data="x", expire_date=days_ago(0.01))
    Session.objects.create(session_key="v" * 32, session_data="x", expire_date=days_ago(-0.5))

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(accounts__sessions=1)
    assert list(Session.objects.values_list("session_key", flat=True)) == ["v" * 32]


# --- lists: import files -------------------------------------------------------------------------


def make_import(
    mailing_list,
    *,
    status: str,
    age_days: float,
    progress_days: float | None = None,
    proof: bool = False,
) -> ImportJob:
    job = ImportJob(
        account=mailing_list.account,
        mailing_list=mailing_list,
        original_filename="people.csv",
        file_format="csv",
        consent_source=ConsentSource.PAPER_FORM,
        status=status,
        column_map={"email": 0, "attributes": {"city": 1}},
        imported=1,
    )
    job.file.save("people.csv", ContentFile(b"email,city\nann@example.org,Oslo\n"), save=False)
    if proof:
        job.proof_file.save("scan.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"), save=False)
    job.save()
    ImportJob.objects.filter(pk=job.pk).update(
        created_at=days_ago(age_days),
        progress_at=None if progress_days is None else days_ago(progress_days),
    )
    job.refresh_from_db()
    return job


def record_from_import(subscriber: Subscriber, job: ImportJob) -> ConsentRecord:
    return ConsentRecord.objects.create(
        subscriber=subscriber,
        event=ConsentEvent.GRANTED,
        source=ConsentSource.PAPER_FORM,
        obtained_at=timezone.now(),
        import_job=job,
        proof_file=job.proof_file.name,
    )


def test_old_import_files_leave_storage_and_the_job_and_its_report_stay(
    settings, media, account, django_capture_on_commit_callbacks
):
    mailing_list = MailingListFactory(account=account)
    days = settings.RETENTION_IMPORT_FILE_DAYS
    done = make_import(mailing_list, status=ImportStatus.DONE, age_days=days + 1, proof=True)
    ImportRowIssue.objects.create(import_job=done, row=3, email="bad@", reason="Invalid address")
    record_from_import(SubscriberFactory(mailing_list=mailing_list), done)
    recent = make_import(mailing_list, status=ImportStatus.DONE, age_days=days - 1)
    stuck = make_import(
        mailing_list, status=ImportStatus.QUEUED, age_days=days + 5, progress_days=days + 5
    )
    alive = make_import(
        mailing_list, status=ImportStatus.RUNNING, age_days=days + 5, progress_days=0.001
    )
    paths = {job.pk: media / job.file.name for job in (done, recent, stuck, alive)}
    assert all(path.exists() for path in paths.values())

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(lists__import_files=2)
    for job in (done, recent, stuck, alive):
        job.refresh_from_db()
    assert (done.file.name, stuck.file.name) == ("", "")
    assert not paths[done.pk].exists() and not paths[stuck.pk].exists()
    assert paths[recent.pk].exists() and paths[alive.pk].exists()
    assert recent.file.name and alive.file.name
    # The job, its report and its proof (a subscriber's consent rests on it) stay.
    assert (done.status, done.imported, done.issues.count()) == (ImportStatus.DONE, 1, 1)
    assert done.proof_file.name and (media / done.proof_file.name).exists()
    # Without its file the stuck import can never finish: it is failed, saying why.
    assert stuck.status == ImportStatus.FAILED
    assert render(stuck.failure_reason) == (
        f"The import never finished; its uploaded file was deleted after {days} days."
    )
    assert stuck.finished_at is not None
    assert alive.status == ImportStatus.RUNNING


def test_an_import_proof_file_goes_only_once_no_subscriber_rests_on_it(
    settings, media, account, django_capture_on_commit_callbacks
):
    mailing_list = MailingListFactory(account=account)
    days = settings.RETENTION_IMPORT_FILE_DAYS
    orphaned = make_import(mailing_list, status=ImportStatus.DONE, age_days=days + 1, proof=True)
    used = make_import(mailing_list, status=ImportStatus.DONE, age_days=days + 1, proof=True)
    # Unsubscribed, but the subscriber exists: its consent history, proof included, stays.
    subscriber = SubscriberFactory(mailing_list=mailing_list, status=SubscriberStatus.UNSUBSCRIBED)
    record_from_import(subscriber, used)
    orphaned_path = media / orphaned.proof_file.name
    used_path = media / used.proof_file.name

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(lists__import_files=2, lists__orphaned_import_proofs=1)
    orphaned.refresh_from_db()
    used.refresh_from_db()
    assert orphaned.proof_file.name == "" and not orphaned_path.exists()
    assert used.proof_file.name and used_path.exists()
    assert ConsentRecord.objects.filter(subscriber=subscriber).count() == 2


def test_stale_pending_imports_are_deleted_by_the_hourly_service(
    media, account, django_capture_on_commit_callbacks
):
    mailing_list = MailingListFactory(account=account)
    stale = make_import(mailing_list, status=ImportStatus.PENDING, age_days=1.1)
    fresh = make_import(mailing_list, status=ImportStatus.PENDING, age_days=0.5)
    stale_path = media / stale.file.name

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(lists__stale_pending_imports=1)
    assert list(ImportJob.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not stale_path.exists() and (media / fresh.file.name).exists()


# --- lists: sign-ups never confirmed -------------------------------------------------------------


def signup(mailing_list, email: str, *, age_days: float, **fields) -> Subscriber:
    subscriber = SubscriberFactory(
        mailing_list=mailing_list,
        email=email,
        status=SubscriberStatus.UNCONFIRMED,
        **({"subscribed_at": None} | fields),
    )
    Subscriber.objects.filter(pk=subscriber.pk).update(
        created_at=days_ago(age_days),
        updated_at=days_ago(age_days),
        confirmation_sent_at=days_ago(age_days),
    )
    return subscriber


def test_sign_ups_never_confirmed_go_with_their_consent_and_proof(
    settings, media, account, django_capture_on_commit_callbacks
):
    mailing_list = MailingListFactory(account=account)
    days = settings.RETENTION_UNCONFIRMED_DAYS
    never = signup(mailing_list, "never@example.org", age_days=days + 1)
    proof = ConsentRecord(
        subscriber=never,
        event=ConsentEvent.GRANTED,
        source=ConsentSource.PAPER_FORM,
        obtained_at=timezone.now(),
    )
    proof.proof_file.save("form.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"), save=False)
    proof.save()
    proof_path = media / proof.proof_file.name
    waiting = signup(mailing_list, "waiting@example.org", age_days=days - 1)
    # Subscribed once, unsubscribed, signed up again and did not confirm: history stays.
    former = signup(
        mailing_list, "former@example.org", age_days=days + 1, subscribed_at=days_ago(400)
    )
    # Asked for a new confirmation e-mail lately: still waiting.
    resent = signup(mailing_list, "resent@example.org", age_days=days + 1)
    Subscriber.objects.filter(pk=resent.pk).update(confirmation_sent_at=days_ago(1))
    confirmed = SubscriberFactory(mailing_list=mailing_list, email="yes@example.org")
    Subscriber.objects.filter(pk=confirmed.pk).update(created_at=days_ago(days + 1))
    Suppression.objects.create(
        account=account, email_hash="c" * 64, email="never@example.org", reason="unsubscribed"
    )

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(lists__never_confirmed=1)
    assert set(Subscriber.objects.values_list("pk", flat=True)) == {
        waiting.pk,
        former.pk,
        resent.pk,
        confirmed.pk,
    }
    assert not ConsentRecord.objects.filter(subscriber_id=never.pk).exists()
    assert not proof_path.exists()
    assert ConsentRecord.objects.filter(subscriber=confirmed).count() == 1
    assert ConsentRecord.objects.filter(subscriber=former).count() == 1
    assert Suppression.objects.filter(account=account).count() == 1
    # The counters the database keeps (summed over their shards) follow the purge.
    assert lists_selectors.status_counts(mailing_list=mailing_list)["unconfirmed"] == 3


# --- lists: preferences of dormant accounts ------------------------------------------------------


def dormant_account(settings, *, login_days: int | None = None) -> Account:
    """An account created, joined and last logged in RETENTION_DORMANT_PREFERENCES_DAYS + 1
    days ago (or `login_days` ago)."""
    days = settings.RETENTION_DORMANT_PREFERENCES_DAYS
    long_ago = days_ago(days + 1)
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(
        date_joined=long_ago,
        last_login=days_ago(login_days or days + 1),
    )
    Account.objects.filter(pk=user.account_id).update(created_at=long_ago)
    return user.account


def with_preferences(account: Account) -> tuple[Subscriber, ImportJob]:
    mailing_list = MailingListFactory(account=account)
    subscriber = SubscriberFactory(
        mailing_list=mailing_list, attributes={"city": "Oslo", "interests": ["boats"]}
    )
    job = ImportJob.objects.create(
        account=account,
        mailing_list=mailing_list,
        original_filename="people.csv",
        file_format="csv",
        consent_source=ConsentSource.PAPER_FORM,
        status=ImportStatus.DONE,
        column_map={"email": 0, "attributes": {"city": 1}},
        imported=1,
    )
    return subscriber, job


def test_preferences_of_dormant_accounts_go_and_their_consent_and_suppressions_stay(
    settings, django_capture_on_commit_callbacks
):
    dormant = dormant_account(settings)
    subscriber, job = with_preferences(dormant)
    plain = SubscriberFactory(mailing_list=subscriber.mailing_list, attributes={})
    Suppression.objects.create(account=dormant, email_hash="d" * 64, reason="complained")
    # Logged in a month ago.
    active = dormant_account(settings, login_days=30)
    active_subscriber, active_job = with_preferences(active)

    counts = run(django_capture_on_commit_callbacks)

    assert counts == counts_with(
        lists__dormant_subscriber_attributes=1, lists__dormant_import_column_maps=1
    )
    subscriber.refresh_from_db()
    job.refresh_from_db()
    assert subscriber.attributes == {} and job.column_map == {}
    assert (subscriber.email, subscriber.status) == (subscriber.email, SubscriberStatus.SUBSCRIBED)
    assert job.imported == 1
    assert ConsentRecord.objects.filter(subscriber__in=[subscriber, plain]).count() == 2
    assert Suppression.objects.filter(account=dormant).count() == 1
    active_subscriber.refresh_from_db()
    active_job.refresh_from_db()
    assert active_subscriber.attributes == {"city": "Oslo", "interests": ["boats"]}
    assert active_job.column_map == {"email": 0, "attributes": {"city": 1}}


def test_an_account_that_sent_lately_or_uses_the_api_is_not_dormant(settings):
    days = settings.RETENTION_DORMANT_PREFERENCES_DAYS
    sending = dormant_account(settings)
    campaign = CampaignFactory(account=sending)
    Campaign.objects.filter(pk=campaign.pk).update(released_at=days_ago(days - 1))
    integrated = dormant_account(settings)
    ApiToken.objects.create(
        account=integrated,
        user=integrated.users.get(),
        name="shop",
        prefix="abcd",
        key_digest="f" * 64,
        last_used_at=days_ago(2),
    )
    dormant = dormant_account(settings)
    deleted = dormant_account(settings)
    Account.objects.filter(pk=deleted.pk).update(state="deleted")
    young = AccountFactory()

    since = timezone.now() - timedelta(days=days)
    from campaigns.retention import dormant_accounts

    assert list(dormant_accounts(since=since)) == [dormant]
    assert young.created_at > since


# --- the run as a whole --------------------------------------------------------------------------


def seed_everything(settings, delivery) -> None:
    """One expired row for each purge that acts on a row of its own."""
    TrackingEvent.objects.create(
        delivery=delivery, kind="open", at=days_ago(settings.RETENTION_TRACKING_DAYS + 1)
    )
    FeedbackEvent.objects.create(
        source=FeedbackSource.DSN,
        event_id="dsn-1",
        kind=FeedbackKind.HARD_BOUNCE,
        received_at=days_ago(settings.RETENTION_FEEDBACK_DAYS + 1),
    )
    signup(
        delivery.subscriber.mailing_list,
        "never@example.org",
        age_days=settings.RETENTION_UNCONFIRMED_DAYS + 1,
    )


def test_one_audit_entry_records_the_counts_and_cutoffs(
    settings, delivery, django_capture_on_commit_callbacks
):
    seed_everything(settings, delivery)
    now = timezone.now()

    counts = run(django_capture_on_commit_callbacks, now=now)

    expected = counts_with(
        campaigns__tracking_events=1, complaints__feedback_events=1, lists__never_confirmed=1
    )
    assert counts == expected
    entry = AuditEntry.objects.get(action=AuditAction.PURGED)
    assert (entry.actor, entry.actor_label, entry.account) == (None, "", None)
    assert entry.reason == "Retention purge: 3 row(s) or file(s)."
    assert entry.details["counts"] == expected
    assert entry.details["failed"] == []
    assert entry.details["at"] == now.isoformat()
    cutoffs = entry.details["cutoffs"]
    assert set(cutoffs) == set(expected)
    assert (
        cutoffs["campaigns.tracking_events"]
        == (now - timedelta(days=settings.RETENTION_TRACKING_DAYS)).isoformat()
    )
    assert cutoffs["accounts.sessions"] == now.isoformat()
    assert (
        cutoffs["lists.dormant_subscriber_attributes"]
        == (now - timedelta(days=settings.RETENTION_DORMANT_PREFERENCES_DAYS)).isoformat()
    )


def test_running_twice_purges_nothing_the_second_time(
    settings, delivery, django_capture_on_commit_callbacks
):
    seed_everything(settings, delivery)
    run(django_capture_on_commit_callbacks)

    assert run(django_capture_on_commit_callbacks) == ALL_ZERO
    assert AuditEntry.objects.filter(action=AuditAction.PURGED).count() == 2


def test_the_cutoff_moves_with_now(settings, delivery, django_capture_on_commit_callbacks):
    TrackingEvent.objects.create(delivery=delivery, kind="open", at=days_ago(1))
    later = timezone.now() + timedelta(days=settings.RETENTION_TRACKING_DAYS)

    assert run(django_capture_on_commit_callbacks)["campaigns.tracking_events"] == 0
    assert run(django_capture_on_commit_callbacks, now=later)["campaigns.tracking_events"] == 1


def test_a_failing_purge_is_rolled_back_logged_and_the_others_still_run(
    settings, delivery, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    seed_everything(settings, delivery)
    failing = next(p for p in PURGES if p.key == "complaints.feedback_events")

    def half_done_then_broken(before, dry_run):
        FeedbackEvent.objects.all().delete()
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(
        retention,
        "PURGES",
        tuple(
            p
            if p is not failing
            else retention.Purge(p.key, p.what, p.cutoff, half_done_then_broken)
            for p in PURGES
        ),
    )

    counts = run(django_capture_on_commit_callbacks)

    assert "complaints.feedback_events" not in counts
    assert counts == {
        key: n
        for key, n in counts_with(campaigns__tracking_events=1, lists__never_confirmed=1).items()
        if key != "complaints.feedback_events"
    }
    assert FeedbackEvent.objects.count() == 1  # rolled back
    assert "Retention purge complaints.feedback_events failed" in caplog.text
    entry = AuditEntry.objects.get(action=AuditAction.PURGED)
    assert entry.details["failed"] == ["complaints.feedback_events"]


def test_a_dry_run_counts_and_changes_nothing(
    settings, delivery, django_capture_on_commit_callbacks
):
    seed_everything(settings, delivery)

    counts = run(django_capture_on_commit_callbacks, dry_run=True)

    assert counts == counts_with(
        campaigns__tracking_events=1, complaints__feedback_events=1, lists__never_confirmed=1
    )
    assert TrackingEvent.objects.count() == 1
    assert FeedbackEvent.objects.count() == 1
    assert Subscriber.objects.filter(email="never@example.org").exists()
    assert not AuditEntry.objects.exists()


# --- the command and the task --------------------------------------------------------------------


def test_the_command_prints_one_line_per_purge(
    settings, delivery, capsys, django_capture_on_commit_callbacks
):
    seed_everything(settings, delivery)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_expired", "--dry-run")
    dry = capsys.readouterr().out.splitlines()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_expired")
    out = capsys.readouterr().out.splitlines()

    assert len(dry) == len(out) == len(PURGES)
    assert "Would delete 1 open and click event(s) [campaigns.tracking_events]." in dry
    assert "Deleted 1 open and click event(s) [campaigns.tracking_events]." in out
    assert "Deleted 1 feedback event(s) [complaints.feedback_events]." in out
    assert (
        "Deleted 1 sign-up(s) never confirmed, with their consent records "
        "[lists.never_confirmed]." in out
    )
    assert "Deleted 0 uploaded import file(s) [lists.import_files]." in out
    assert TrackingEvent.objects.count() == 0
    assert AuditEntry.objects.filter(action=AuditAction.PURGED).count() == 1


def test_the_command_fails_loudly_when_a_purge_fails(
    monkeypatch, capsys, django_capture_on_commit_callbacks
):
    def broken(before, dry_run):
        raise RuntimeError("boom")

    first = PURGES[0]
    monkeypatch.setattr(
        retention, "PURGES", (retention.Purge(first.key, first.what, first.cutoff, broken),)
    )
    # The command reads PURGES from its own import.
    from moderation.management.commands import purge_expired as command

    monkeypatch.setattr(command, "PURGES", retention.PURGES)

    with pytest.raises(CommandError, match="1 purge\\(s\\) failed: lists.stale_pending_imports"):
        call_command("purge_expired")
    assert capsys.readouterr().out == (
        f"FAILED {first.what} [lists.stale_pending_imports]: see the log.\n"
    )


def test_the_task_runs_the_purges(settings, delivery, django_capture_on_commit_callbacks):
    from moderation.tasks import purge_expired as task

    seed_everything(settings, delivery)
    with django_capture_on_commit_callbacks(execute=True):
        first = task.apply().get()
    with django_capture_on_commit_callbacks(execute=True):
        second = task.apply().get()

    assert first["campaigns.tracking_events"] == 1 and first["lists.never_confirmed"] == 1
    assert second == ALL_ZERO


def test_months_before_keeps_the_day_or_takes_the_months_last():
    moment = datetime(2025, 3, 31, 12, 30, tzinfo=UTC)

    assert months_before(moment, 1) == datetime(2025, 2, 28, 12, 30, tzinfo=UTC)
    assert months_before(moment, 13) == datetime(2024, 2, 29, 12, 30, tzinfo=UTC)
    assert months_before(moment, 18) == datetime(2023, 9, 30, 12, 30, tzinfo=UTC)
    assert months_before(moment, 0) == moment
