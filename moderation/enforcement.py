"""Account enforcement (DESIGN.md rule 8): warnings, freezes and unfreezes by moderators, the
frozen account's one appeal, the appeal window's expiry, the deletion of an account's data after
the grace period, the automatic health check across campaigns and the resolution of abuse reports.

Every decision locks the account row first and acts only when something changes, so a repeated
click (or a task run twice) writes no second audit entry and sends no second notification.
Sending stops through campaigns.sending: freezing pauses the campaigns under way, and workers
also stop at their next batch because a frozen account cannot send.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import (
    Account,
    AccountEvent,
    AccountState,
    ApiToken,
    Invitation,
    Notification,
    SenderDomain,
    TermsAcceptance,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from accounts.services import notify
from campaigns import sending
from campaigns.models import (
    Campaign,
    CampaignStatusChange,
    CampaignTestSend,
    Delivery,
    SendBatch,
    TrackingEvent,
    WelcomeMessage,
)
from campaigns.states import UNDER_WAY, CampaignStatus, can_transition
from complaints.models import AbuseReport, AbuseStatus, FeedbackEvent
from complaints.selectors import AccountHealth, HealthStatus, account_health
from config.coded_text import CodedText, coded, in_english
from config.errors import ApplicationError, InvalidTransition, NotFound, PermissionDenied
from lists.models import (
    ConsentRecord,
    ImportJob,
    ImportRowIssue,
    MailingList,
    Subscriber,
    SubscriberCount,
    Suppression,
)
from lists.services.consent import PROOF_FILE_TYPES, upload_name
from lists.services.subscribers import subscribers_delete
from moderation.models import AccountFlag, Appeal, AppealFile, AppealStatus, AuditAction
from moderation.selectors import appeal_deadline
from moderation.services import REASON_MAX, _clean_reason, _ensure_moderator, audit

logger = logging.getLogger(__name__)

State = AccountState
APPEAL_TEXT_MAX = 5000
# An account a moderator can still warn or freeze: one that may send.
ENFORCEABLE = frozenset({State.ACTIVE, State.WARNED})
# An account a moderator can unfreeze.
UNFREEZABLE = frozenset({State.FROZEN, State.SCHEDULED_FOR_DELETION})


# --- helpers --------------------------------------------------------------------------------------


def _locked_account(account_id: int) -> Account:
    # No select_related: only the account's row is locked.
    account = Account.objects.select_for_update().filter(pk=account_id).first()
    if account is None:
        raise NotFound("No such account.")
    return account


def _clean_note(note: str, *, field: str = "note") -> str:
    """A moderator's note the sender sees: required, at most REASON_MAX characters."""
    note = (note or "").strip()
    if not note:
        raise ApplicationError(_("Give a note: the sender sees it."), field=field)
    if len(note) > REASON_MAX:
        raise ApplicationError(_("At most %(max)s characters.") % {"max": REASON_MAX}, field=field)
    return note


def _state_label(state: str) -> str:
    return AccountState(state).label.lower()


def _set_state(
    account: Account, state: str, *, reason: str, now: datetime, reason_code: list | None = None
) -> None:
    """`reason` as the English copy (or as a moderator typed it); `reason_code`, when the system
    wrote the reason, is what readers see, each in their language."""
    account.state = state
    account.state_changed_at = now
    account.state_reason = reason
    account.state_reason_code = reason_code
    fields = ["state", "state_changed_at", "state_reason", "state_reason_code"]
    if state != State.SCHEDULED_FOR_DELETION:
        account.deletion_due_at = None
        fields.append("deletion_due_at")
    account.save(update_fields=fields)


def _resolve_open_flags(account: Account, *, moderator: User | None, now: datetime) -> int:
    """A moderator who decided about the account has answered its flags."""
    return AccountFlag.objects.filter(account=account, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=moderator
    )


def _appeal_link() -> str:
    return reverse("account_appeal")


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


# --- moderators' decisions ------------------------------------------------------------------------


def account_warn(*, account_id: int, moderator: User, reason: str) -> Account:
    """Warn an active account (state warned; it may still send) with a reason its users see.
    Idempotent (an account already warned changes nothing: no second entry or notification);
    InvalidTransition for a frozen, closing or deleted account. Locks the account row."""
    _ensure_moderator(moderator)
    reason = _clean_reason(reason, required=True)
    with transaction.atomic():
        account = _locked_account(account_id)
        if account.state == State.WARNED:
            return account
        if account.state != State.ACTIVE:
            raise InvalidTransition(
                _("The account is %(state)s: only an active account can be warned.")
                % {"state": _state_label(account.state)},
                extra={"state": account.state},
            )
        now = timezone.now()
        _set_state(account, State.WARNED, reason=reason, now=now)
        _resolve_open_flags(account, moderator=moderator, now=now)
        audit(actor=moderator, action=AuditAction.WARNED, account=account, reason=reason)
        notify(
            account,
            "accounts.notice.warned",
            link=reverse("dashboard"),
            level="warning",
            reason=reason,
        )
    return account


def account_freeze(*, account_id: int, moderator: User, reason: str) -> Account:
    """Freeze an active or warned account: it can no longer create, test or submit campaigns,
    and every campaign of it under way is paused (a batch already running stops at its next
    heartbeat, when it sees the account may not send). Its users are told the reason and until
    when they may appeal (APPEAL_HOURS). Idempotent: an account already frozen changes nothing.
    InvalidTransition for an account closing or deleted. Locks the account row, then (after the
    freeze is committed) each campaign's row in turn, never both at once, so that the freeze
    cannot deadlock with a worker that locks a campaign and then its account."""
    _ensure_moderator(moderator)
    reason = _clean_reason(reason, required=True)
    with transaction.atomic():
        account = _locked_account(account_id)
        if account.state == State.FROZEN:
            return account
        if account.state not in ENFORCEABLE:
            raise InvalidTransition(
                _("The account is %(state)s: only an active or warned account can be frozen.")
                % {"state": _state_label(account.state)},
                extra={"state": account.state},
            )
        now = timezone.now()
        _set_state(account, State.FROZEN, reason=reason, now=now)
        _resolve_open_flags(account, moderator=moderator, now=now)
        deadline = appeal_deadline(account)
        under_way = campaigns_to_pause(account_id=account.pk)
        audit(
            actor=moderator,
            action=AuditAction.FROZEN,
            account=account,
            reason=reason,
            details={"campaigns_under_way": under_way, "appeal_deadline": deadline.isoformat()},
        )
        notify(
            account,
            "accounts.notice.frozen",
            link=_appeal_link(),
            level="error",
            reason=reason,
            deadline=_when(deadline),
            days=settings.DELETION_GRACE_DAYS,
        )
    pause_campaigns(account_id=account.pk, reason=coded("campaigns.status.account_frozen"))
    return account


def campaigns_to_pause(*, account_id: int) -> list[int]:
    """Ids of the account's campaigns under way that may be paused (submitted ones may not:
    they wait for a moderator, who will not approve them while the account is frozen)."""
    pausable = [status for status in UNDER_WAY if can_transition(status, CampaignStatus.PAUSED)]
    return list(
        Campaign.objects.filter(account_id=account_id, status__in=pausable)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def pause_campaigns(*, account_id: int, reason: str | CodedText) -> list[int]:
    """Pause every campaign of the account under way that may be paused, each in its own
    transaction (campaigns.sending.campaign_pause locks the row). Safe to repeat: a campaign
    paused, finished or stopped meanwhile is left as it is. Returns the ids now paused."""
    paused = []
    for campaign_id in campaigns_to_pause(account_id=account_id):
        try:
            campaign = sending.campaign_pause(campaign_id=campaign_id, reason=reason)
        except (InvalidTransition, NotFound):
            continue  # sent, stopped or deleted since the read: nothing to pause
        if campaign.status == CampaignStatus.PAUSED:
            paused.append(campaign_id)
    return paused


def account_unfreeze(*, account_id: int, moderator: User, reason: str) -> Account:
    """Give a frozen (or scheduled-for-deletion) account back its sending: state active, no
    deletion due, a pending appeal granted, and its paused campaigns resumed where they
    stopped (after commit, through campaigns.sending.campaigns_resume_for_account). Idempotent:
    an account that may send changes nothing; InvalidTransition for a deleted one. Locks the
    account row."""
    _ensure_moderator(moderator)
    reason = _clean_reason(reason, required=True)
    with transaction.atomic():
        account = _locked_account(account_id)
        if account.state in ENFORCEABLE:
            return account
        if account.state not in UNFREEZABLE:
            raise InvalidTransition(
                _("The account is %(state)s: it cannot be unfrozen.")
                % {"state": _state_label(account.state)},
                extra={"state": account.state},
            )
        now = timezone.now()
        before = account.state
        _set_state(account, State.ACTIVE, reason=reason, now=now)
        _resolve_open_flags(account, moderator=moderator, now=now)
        granted = Appeal.objects.filter(account=account, status=AppealStatus.PENDING).update(
            status=AppealStatus.GRANTED, decided_by=moderator, decided_at=now, decision_note=reason
        )
        audit(
            actor=moderator,
            action=AuditAction.UNFROZEN,
            account=account,
            reason=reason,
            details={"from_state": before, "appeal_granted": bool(granted)},
        )
        notify(
            account,
            "accounts.notice.unfrozen",
            link=reverse("campaigns"),
            level="info",
            note=reason,
        )
    sending.campaigns_resume_for_account(account_id=account.pk)
    return account


# --- the appeal -----------------------------------------------------------------------------------


def appeal_documents_check(uploads: list[UploadedFile]) -> list[tuple[UploadedFile, str]]:
    """Refuse (a field error on "files") more than APPEAL_FILES_MAX documents, one over
    APPEAL_FILE_MAX_BYTES, or one that is not a PDF, PNG, JPEG or GIF by its first bytes
    (whatever its name or declared type: never HTML or SVG); return each with its type."""
    if len(uploads) > settings.APPEAL_FILES_MAX:
        raise ApplicationError(
            _("At most %(max)s files.") % {"max": settings.APPEAL_FILES_MAX}, field="files"
        )
    checked = []
    for upload in uploads:
        name = upload_name(upload.name, default="document")
        if upload.size is None or upload.size > settings.APPEAL_FILE_MAX_BYTES:
            raise ApplicationError(
                _("%(name)s is too big: the limit is %(limit)s.")
                % {"name": name, "limit": filesizeformat(settings.APPEAL_FILE_MAX_BYTES)},
                field="files",
            )
        upload.seek(0)
        head = upload.read(8)
        upload.seek(0)
        kind = next((k for magic, k in PROOF_FILE_TYPES.items() if head.startswith(magic)), None)
        if kind is None:
            raise ApplicationError(
                _("%(name)s is not a PDF, PNG, JPEG or GIF file (a scan or photo of the forms).")
                % {"name": name},
                field="files",
            )
        checked.append((upload, kind))
    return checked


def appeal_file(
    *, account: Account, user: User | None, text: str, files: list[UploadedFile] | None = None
) -> Appeal:
    """The sender's one appeal against the current freeze, filed within APPEAL_HOURS of it;
    while it waits, the account is not scheduled for deletion. InvalidTransition (409) when the
    account is not frozen, the window has passed or the freeze was already appealed; a field
    error for an empty or oversized text, or documents appeal_documents_check refuses. The
    documents (signed forms) are stored privately with the appeal. Locks the account row, so an
    appeal and the window's expiry cannot both happen."""
    text = (text or "").strip()
    if not text:
        raise ApplicationError(_("Say why the account should be unfrozen."), field="text")
    if len(text) > APPEAL_TEXT_MAX:
        raise ApplicationError(
            _("At most %(max)s characters.") % {"max": APPEAL_TEXT_MAX}, field="text"
        )
    documents = appeal_documents_check(list(files or []))
    with transaction.atomic():
        locked = _locked_account(account.pk)
        if locked.state != State.FROZEN or locked.state_changed_at is None:
            raise InvalidTransition(
                _("Only a frozen account can appeal; this one is %(state)s.")
                % {"state": _state_label(locked.state)},
                extra={"state": locked.state},
            )
        if Appeal.objects.filter(account=locked, frozen_at=locked.state_changed_at).exists():
            raise InvalidTransition(
                _("This freeze was already appealed: a moderator will answer."),
                extra={"state": locked.state},
            )
        deadline = appeal_deadline(locked)
        if timezone.now() > deadline:
            raise InvalidTransition(
                _("The time to appeal ended at %(when)s.") % {"when": _when(deadline)},
                extra={"state": locked.state},
            )
        appeal = Appeal.objects.create(
            account=locked, frozen_at=locked.state_changed_at, text=text, filed_by=user
        )
        stored = []
        for upload, kind in documents:
            name = upload_name(upload.name, default="document")
            document = AppealFile(appeal=appeal, original_name=name, size=upload.size)
            # The stored name ends in the type found, so it is only ever served as that type.
            document.file.save(f"{name.rsplit('.', 1)[0][:80] or 'document'}.{kind}", upload, False)
            stored.append(document)
        AppealFile.objects.bulk_create(stored)
        audit(
            actor=user,
            action=AuditAction.APPEALED,
            account=locked,
            reason=text,
            details={"appeal": appeal.pk},
        )
        notify(
            locked,
            "accounts.notice.appeal_received",
            link=_appeal_link(),
        )
    return appeal


def _locked_pending_appeal(appeal_id: int) -> tuple[Appeal, Account]:
    account_id = Appeal.objects.filter(pk=appeal_id).values_list("account_id", flat=True).first()
    if account_id is None:
        raise NotFound("No such appeal.")
    # Lock order: the account, then the appeal, as every other enforcement decision does.
    account = _locked_account(account_id)
    appeal = Appeal.objects.select_for_update().get(pk=appeal_id)
    return appeal, account


def appeal_reject(*, appeal_id: int, moderator: User, note: str) -> Appeal:
    """Reject a pending appeal with a note the sender sees: the account is scheduled for
    deletion DELETION_GRACE_DAYS from now. Idempotent (a rejected appeal changes nothing);
    InvalidTransition for a granted appeal or an account no longer frozen. Locks the account
    row, then the appeal's."""
    _ensure_moderator(moderator)
    note = _clean_note(note)
    with transaction.atomic():
        appeal, account = _locked_pending_appeal(appeal_id)
        if appeal.status == AppealStatus.REJECTED:
            return appeal
        if appeal.status != AppealStatus.PENDING or account.state != State.FROZEN:
            raise InvalidTransition(
                "Only a pending appeal of a frozen account can be rejected.",
                extra={"status": appeal.status},
            )
        now = timezone.now()
        appeal.status = AppealStatus.REJECTED
        appeal.decided_by = moderator
        appeal.decided_at = now
        appeal.decision_note = note
        appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        due = _schedule_deletion(account, reason=note, now=now)
        audit(
            actor=moderator,
            action=AuditAction.APPEAL_REJECTED,
            account=account,
            reason=note,
            details={"appeal": appeal.pk},
        )
        audit(
            actor=moderator,
            action=AuditAction.DELETION_SCHEDULED,
            account=account,
            reason=coded("moderation.audit.appeal_rejected"),
            details={"deletion_due_at": due.isoformat()},
        )
        notify(
            account,
            "accounts.notice.appeal_rejected",
            link=_appeal_link(),
            level="error",
            note=note,
            due=_when(due),
        )
    return appeal


def appeal_grant(*, appeal_id: int, moderator: User, note: str) -> Appeal:
    """Grant a pending appeal: the account is unfrozen (see account_unfreeze, which marks the
    appeal granted). Idempotent; InvalidTransition for a rejected appeal."""
    _ensure_moderator(moderator)
    note = _clean_note(note)
    appeal = Appeal.objects.filter(pk=appeal_id).first()
    if appeal is None:
        raise NotFound("No such appeal.")
    if appeal.status == AppealStatus.GRANTED:
        return appeal
    if appeal.status != AppealStatus.PENDING:
        raise InvalidTransition(
            "Only a pending appeal can be granted.", extra={"status": appeal.status}
        )
    account_unfreeze(account_id=appeal.account_id, moderator=moderator, reason=note)
    appeal.refresh_from_db()
    return appeal


def _schedule_deletion(account: Account, *, reason: str, now: datetime) -> datetime:
    due = now + timedelta(days=settings.DELETION_GRACE_DAYS)
    _set_state(account, State.SCHEDULED_FOR_DELETION, reason=reason, now=now)
    account.deletion_due_at = due
    account.save(update_fields=["deletion_due_at"])
    return due


def appeal_windows_expire(*, now: datetime | None = None) -> list[int]:
    """Schedule for deletion every frozen account whose APPEAL_HOURS have passed without an
    appeal of that freeze (the system decides: audit entry without an actor, and the users are
    told). Safe to run twice; each account's row is locked and the conditions read again under
    the lock. Returns the ids scheduled."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.APPEAL_HOURS)
    appealed = Appeal.objects.filter(account=OuterRef("pk"), frozen_at=OuterRef("state_changed_at"))
    candidates = list(
        Account.objects.filter(state=State.FROZEN, state_changed_at__lte=cutoff)
        .exclude(Exists(appealed))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    scheduled = []
    for account_id in candidates:
        with transaction.atomic():
            account = Account.objects.select_for_update().filter(pk=account_id).first()
            if (
                account is None
                or account.state != State.FROZEN
                or account.state_changed_at is None
                or account.state_changed_at > cutoff
                or Appeal.objects.filter(
                    account=account, frozen_at=account.state_changed_at
                ).exists()
            ):
                continue
            why = coded(
                "moderation.audit.no_appeal",
                hours=settings.APPEAL_HOURS,
                reason=account.state_reason,  # the moderator's, as typed
            )
            reason = in_english(why).strip()
            due = _schedule_deletion(account, reason=reason, now=now)
            audit(
                actor=None,
                action=AuditAction.DELETION_SCHEDULED,
                account=account,
                reason=why,
                details={"deletion_due_at": due.isoformat()},
            )
            notify(
                account,
                "accounts.notice.deletion_scheduled",
                link=_appeal_link(),
                level="error",
                hours=settings.APPEAL_HOURS,
                due=_when(due),
            )
            scheduled.append(account_id)
    return scheduled


# --- deletion -------------------------------------------------------------------------------------


def accounts_delete_due(*, now: datetime | None = None) -> list[int]:
    """Delete the data of every account scheduled for deletion whose deletion_due_at has
    passed (beat, hourly). One account failing is logged and does not hold up the others; it
    is tried again on the next run. Returns the ids deleted."""
    now = now or timezone.now()
    due = list(
        Account.objects.filter(
            state=State.SCHEDULED_FOR_DELETION, deletion_due_at__lte=now
        ).values_list("pk", flat=True)
    )
    deleted = []
    for account_id in due:
        try:
            account_data_delete(account_id=account_id)
        except Exception:
            # Not retried here: the next hourly run tries again, and the others go ahead.
            logger.exception("Deleting the data of account %s failed", account_id)
            continue
        deleted.append(account_id)
    return deleted


def _raw_delete(queryset) -> int:
    """One DELETE statement, no cascade collection: the caller removed what refers to these
    rows first (Django's cascade would load every row of a big account into memory)."""
    return queryset._raw_delete(queryset.db)


def account_close(*, account_id: int, owner: User) -> dict[str, int]:
    """The owner closes the account: it is scheduled for deletion at once (no more sending;
    campaigns under way pause), then its data is deleted through `account_data_delete`, the
    same path as after an unappealed freeze. PermissionDenied for anyone but an owner of the
    account. Idempotent: a closed account returns {}. Locks the account row."""
    from accounts.models import AccountEventAction, Role
    from accounts.team import account_event_record

    closed = coded("moderation.audit.closed_by_owner")
    reason = in_english(closed)
    with transaction.atomic():
        account = _locked_account(account_id)
        if account.state == State.DELETED:
            return {}
        if owner.account_id != account.pk or owner.role != Role.OWNER or not owner.is_active:
            raise PermissionDenied(_("Only the account's owner can do this."))
        now = timezone.now()
        if account.state != State.SCHEDULED_FOR_DELETION:
            _set_state(account, State.SCHEDULED_FOR_DELETION, reason=reason, now=now)
        account.deletion_due_at = now
        account.save(update_fields=["deletion_due_at"])
        account_event_record(account=account, actor=owner, action=AccountEventAction.CLOSED)
        audit(
            actor=owner,
            action=AuditAction.DELETION_SCHEDULED,
            account=account,
            reason=closed,
            details={"by": "owner"},
        )
    pause_campaigns(account_id=account_id, reason=coded("campaigns.status.account_closed"))
    return account_data_delete(account_id=account_id, actor=owner, reason=closed)


def account_data_delete(
    *, account_id: int, actor: User | None = None, reason: str | CodedText = ""
) -> dict[str, int]:
    """Delete everything an account scheduled for deletion holds: lists, subscribers, consent
    records and proof files, imports and their files, campaigns with their deliveries, tracking
    events, status history and test sends, sender domains, API tokens, webhooks and their
    deliveries, notifications and its feedback events. Its users are deactivated and
    anonymised (staff users are only detached). Kept: the suppressions, with the address blanked
    (the keyed hash still stops any mailing), platform-wide hard-bounce hashes, the audit log
    (labels intact), appeals, flags and abuse reports; the account row stays, anonymised, with
    state "deleted".

    Set-based DELETEs in one transaction (all or nothing); files are deleted after commit.
    Idempotent: a deleted account returns {}. InvalidTransition for an account not scheduled
    for deletion. Locks the account row. Returns the counts, also written to the audit entry."""
    files: list[tuple[object, str]] = []
    with transaction.atomic():
        account = _locked_account(account_id)
        if account.state == State.DELETED:
            return {}
        if account.state != State.SCHEDULED_FOR_DELETION:
            raise InvalidTransition(
                f"The account is {_state_label(account.state)}: only an account scheduled for "
                "deletion has its data deleted.",
                extra={"state": account.state},
            )
        counts: dict[str, int] = {}
        campaigns = Campaign.objects.filter(account=account)
        campaign_ids = campaigns.values("pk")
        deliveries = Delivery.objects.filter(campaign_id__in=campaign_ids)

        # Feedback first: its rows point at deliveries and campaigns (SET_NULL, which a raw
        # delete would not apply).
        counts["feedback_events"] = _raw_delete(FeedbackEvent.objects.filter(account=account))
        # Welcome messages point at their campaigns and lists: before both.
        counts["welcome_messages"] = _raw_delete(WelcomeMessage.objects.filter(account=account))
        FeedbackEvent.objects.filter(campaign_id__in=campaign_ids).update(campaign=None)
        FeedbackEvent.objects.filter(delivery_id__in=deliveries.values("pk")).update(delivery=None)
        counts["tracking_events"] = _raw_delete(
            TrackingEvent.objects.filter(delivery_id__in=deliveries.values("pk"))
        )
        counts["deliveries"] = _raw_delete(deliveries)
        counts["send_batches"] = _raw_delete(SendBatch.objects.filter(campaign_id__in=campaign_ids))
        counts["status_changes"] = _raw_delete(
            CampaignStatusChange.objects.filter(campaign_id__in=campaign_ids)
        )
        counts["test_sends"] = _raw_delete(CampaignTestSend.objects.filter(account=account))
        _raw_delete(Campaign.lists.through.objects.filter(campaign_id__in=campaign_ids))
        # What is left of a campaign is one row each; Django's collector applies the SET_NULLs
        # of the audit log, flags and abuse reports (their labels keep the name).
        counts["campaigns"] = campaigns.count()
        campaigns.delete()

        subscribers = Subscriber.objects.filter(mailing_list__account=account)
        counts["consent_records"] = ConsentRecord.objects.filter(
            subscriber_id__in=subscribers.values("pk")
        ).count()
        counts["subscribers"] = subscribers_delete(subscribers)
        # The appeals stay (the audit log's); the documents sent with them are the account's data.
        appeal_files = AppealFile.objects.filter(appeal__account=account)
        field = AppealFile._meta.get_field("file")
        files += [(field, name) for name in appeal_files.values_list("file", flat=True)]
        _raw_delete(appeal_files)
        imports = ImportJob.objects.filter(account=account)
        for job_file, proof_file in imports.values_list("file", "proof_file"):
            files += [(ImportJob._meta.get_field("file"), job_file)] if job_file else []
            files += [(ImportJob._meta.get_field("proof_file"), proof_file)] if proof_file else []
        _raw_delete(ImportRowIssue.objects.filter(import_job__account=account))
        # Consent records left pointing at these imports were deleted with their subscribers.
        counts["imports"] = _raw_delete(imports)
        lists = MailingList.objects.filter(account=account)
        _raw_delete(SubscriberCount.objects.filter(mailing_list__account=account))
        counts["lists"] = lists.count()
        lists.delete()

        counts["sender_domains"] = _raw_delete(SenderDomain.objects.filter(account=account))
        counts["api_tokens"] = _raw_delete(ApiToken.objects.filter(account=account))
        counts["webhook_deliveries"] = _raw_delete(
            WebhookDelivery.objects.filter(endpoint__account=account)
        )
        counts["webhook_endpoints"] = _raw_delete(WebhookEndpoint.objects.filter(account=account))
        counts["notifications"] = _raw_delete(Notification.objects.filter(account=account))
        # The team's log and invitations name people (their addresses): gone with the data.
        counts["account_events"] = _raw_delete(AccountEvent.objects.filter(account=account))
        counts["invitations"] = _raw_delete(Invitation.objects.filter(account=account))
        counts["suppressions_kept"] = Suppression.objects.filter(account=account).count()
        Suppression.objects.filter(account=account).exclude(email="").update(email="")
        counts["users_anonymised"] = _users_anonymise(account)

        # Written before the account is anonymised, so that its label keeps the company's name.
        audit(
            actor=actor,
            action=AuditAction.ACCOUNT_DELETED,
            account=account,
            reason=reason
            or coded("moderation.audit.data_deleted", days=settings.DELETION_GRACE_DAYS),
            details=counts,
        )
        account.company_name = f"Deleted account {account.pk}"
        account.contact_name = ""
        account.phone = ""
        account.postal_address = ""
        account.website = ""
        if account.logo:
            files.append((Account._meta.get_field("logo"), account.logo.name))
        account.logo = ""
        account.logo_content_type = ""
        account.brand_color = ""
        account.state = State.DELETED
        account.state_changed_at = timezone.now()
        account.save()

        def delete_files() -> None:
            for field, name in files:
                field.storage.delete(name)

        transaction.on_commit(delete_files)
    return counts


def _users_anonymise(account: Account) -> int:
    """Deactivate the account's users and strip what identifies them (their address becomes
    a placeholder; the audit log keeps its own label). Staff users only leave the account."""
    users = list(User.objects.filter(account=account))
    TermsAcceptance.objects.filter(user__in=[u.pk for u in users if not u.is_staff]).delete()
    anonymised = 0
    for user in users:
        if user.is_staff:
            user.account = None
            user.save(update_fields=["account"])
            continue
        user.email = f"deleted-user-{user.pk}@deleted.invalid"
        user.first_name = ""
        user.last_name = ""
        user.is_active = False
        user.email_verified_at = None
        # A new (unusable) password also ends every open session of the user.
        user.set_unusable_password()
        user.save()
        anonymised += 1
    return anonymised


# --- health ---------------------------------------------------------------------------------------


def account_health_check(*, account_id: int, now: datetime | None = None) -> AccountHealth | None:
    """Judge one account's health (complaints.selectors.account_health). Over the limits, an
    active account is warned (its users told why, audit entry by the system) and flagged for
    moderators; an account already warned is only flagged. One open health flag at most (never
    duplicated); never a freeze, which is a moderator's decision. Accounts that cannot send are
    left alone. Idempotent; locks the account row. None for an unknown account."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        return None
    # The figures are read before the lock: two aggregates over the window, not worth holding
    # the account's row for.
    health = account_health(account=account, now=now)
    if health.status != HealthStatus.OVER_LIMIT:
        return health
    # The flag, the audit entry, the account's state reason and the notice keep the reasons as
    # codes, read in the reader's language; the English copy is for logs and webhooks.
    texts = [reason.text for reason in health.reasons]
    reasons = in_english(texts)
    with transaction.atomic():
        account = Account.objects.select_for_update().filter(pk=account_id).first()
        if account is None or account.state not in ENFORCEABLE:
            return health
        has_flag = AccountFlag.objects.filter(
            account=account, campaign__isnull=True, resolved_at__isnull=True
        ).exists()
        if not has_flag:
            AccountFlag.objects.create(account=account, reason=reasons, reason_code=texts)
        details = {
            "sent": health.sent,
            "hard_bounces": health.hard_bounces,
            "complaints": health.complaints,
            "upheld_abuse_reports": health.upheld_abuse_reports,
            "window_days": health.window_days,
        }
        if account.state == State.ACTIVE:
            _set_state(account, State.WARNED, reason=reasons, reason_code=texts, now=timezone.now())
            audit(
                actor=None,
                action=AuditAction.HEALTH_WARNING,
                account=account,
                reason=texts,
                details=details,
            )
            notify(
                account,
                "accounts.notice.health_warned",
                link=reverse("dashboard"),
                level="warning",
                reasons=texts,
            )
        elif not has_flag:
            audit(
                actor=None,
                action=AuditAction.ACCOUNT_FLAGGED,
                account=account,
                reason=texts,
                details=details,
            )
    return health


def accounts_health_check(*, since: datetime) -> list[int]:
    """Check the health of every account that received a hard bounce or complaint, or had an
    abuse report resolved, since `since` (beat, every few minutes). Returns the ids checked
    that are over the limits."""
    from complaints.selectors import accounts_with_recent_feedback

    over = []
    for account_id in accounts_with_recent_feedback(since=since):
        health = account_health_check(account_id=account_id)
        if health is not None and health.status == HealthStatus.OVER_LIMIT:
            over.append(account_id)
    return over


# --- abuse reports --------------------------------------------------------------------------------

ABUSE_DECISIONS = {
    AbuseStatus.UPHELD: AuditAction.ABUSE_UPHELD,
    AbuseStatus.DISMISSED: AuditAction.ABUSE_DISMISSED,
}


def abuse_report_resolve(
    *, report_id: int, moderator: User, decision: str, note: str
) -> AbuseReport:
    """Uphold or dismiss an open abuse report with a note (the sender sees the status and the
    note, never the reporter). Upheld, its account's health is checked at once (upheld reports
    count towards a warning). Idempotent (the same decision again changes nothing);
    InvalidTransition for a report already resolved the other way. Locks the report row."""
    _ensure_moderator(moderator)
    if decision not in ABUSE_DECISIONS:
        raise ApplicationError("Choose upheld or dismissed.", field="decision")
    note = _clean_note(note)
    with transaction.atomic():
        report = (
            # Only the report's row: its account and campaign are nullable (outer) joins.
            AbuseReport.objects.select_for_update(of=("self",))
            .select_related("account", "campaign")
            .filter(pk=report_id)
            .first()
        )
        if report is None:
            raise NotFound("No such abuse report.")
        if report.status == decision:
            return report
        if report.status != AbuseStatus.OPEN:
            raise InvalidTransition(
                f"The report was already {report.get_status_display().lower()}.",
                extra={"status": report.status},
            )
        report.status = decision
        report.resolved_by = moderator
        report.resolved_at = timezone.now()
        report.resolution_note = note
        report.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])
        audit(
            actor=moderator,
            action=ABUSE_DECISIONS[decision],
            account=report.account,
            campaign=report.campaign,
            reason=note,
            details={"abuse_report": report.pk},
        )
        if decision == AbuseStatus.UPHELD and report.account is not None:
            notify(
                report.account,
                "accounts.notice.abuse_upheld",
                link=reverse("dashboard"),
                level="warning",
                note=note,
            )
    if decision == AbuseStatus.UPHELD and report.account_id is not None:
        account_health_check(account_id=report.account_id)
    return report
