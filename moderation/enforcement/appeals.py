"""The frozen account's one appeal: filed by the sender with its documents, granted (the account
is unfrozen) or rejected (scheduled for deletion) by a moderator; without an appeal in time, the
account is scheduled for deletion by the system."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account, User
from accounts.services import account_state_change, notify
from accounts.states import AccountState, state_label
from config.coded_text import CodedText, coded, in_english
from config.errors import ApplicationError, InvalidTransition, NotFound
from lists.services.consent import PROOF_FILE_TYPES, upload_name
from moderation.enforcement.decisions import account_unfreeze
from moderation.enforcement.shared import appeal_link, locked_account, when_shown
from moderation.models import Appeal, AppealFile, AppealStatus, AuditAction
from moderation.selectors import appeal_deadline
from moderation.services import audit, clean_note, ensure_moderator

State = AccountState
APPEAL_TEXT_MAX = 5000


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
        locked = locked_account(account.pk)
        if locked.state != State.FROZEN or locked.state_changed_at is None:
            raise InvalidTransition(
                _("Only a frozen account can appeal; this one is %(state)s.")
                % {"state": state_label(locked.state)},
                extra={"state": locked.state},
            )
        if Appeal.objects.filter(account=locked, frozen_at=locked.state_changed_at).exists():
            raise InvalidTransition(
                _("This freeze was already appealed: a moderator will answer."),
                extra={"state": locked.state},
            )
        deadline = appeal_deadline(locked)
        assert deadline is not None  # frozen: checked above
        if timezone.now() > deadline:
            raise InvalidTransition(
                _("The time to appeal ended at %(when)s.") % {"when": when_shown(deadline)},
                extra={"state": locked.state},
            )
        appeal = Appeal.objects.create(
            account=locked, frozen_at=locked.state_changed_at, text=text, filed_by=user
        )
        stored = []
        for upload, kind in documents:
            name = upload_name(upload.name, default="document")
            document = AppealFile(appeal=appeal, original_name=name, size=upload.size or 0)
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
            link=appeal_link(),
        )
    return appeal


def _locked_pending_appeal(appeal_id: int) -> tuple[Appeal, Account]:
    account_id = Appeal.objects.filter(pk=appeal_id).values_list("account_id", flat=True).first()
    if account_id is None:
        raise NotFound(_("No such appeal."))
    # Lock order: the account, then the appeal, as every other enforcement decision does.
    account = locked_account(account_id)
    appeal = Appeal.objects.select_for_update().get(pk=appeal_id)
    return appeal, account


def appeal_reject(*, appeal_id: int, moderator: User, note: str) -> Appeal:
    """Reject a pending appeal with a note the sender sees: the account is scheduled for
    deletion DELETION_GRACE_DAYS from now. Idempotent (a rejected appeal changes nothing);
    InvalidTransition for a granted appeal or an account no longer frozen. Locks the account
    row, then the appeal's."""
    ensure_moderator(moderator)
    note = clean_note(note)
    with transaction.atomic():
        appeal, account = _locked_pending_appeal(appeal_id)
        if appeal.status == AppealStatus.REJECTED:
            return appeal
        if appeal.status != AppealStatus.PENDING or account.state != State.FROZEN:
            raise InvalidTransition(
                _("Only a pending appeal of a frozen account can be rejected."),
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
            link=appeal_link(),
            level="error",
            note=note,
            due=when_shown(due),
        )
    return appeal


def appeal_grant(*, appeal_id: int, moderator: User, note: str) -> Appeal:
    """Grant a pending appeal: the account is unfrozen (see account_unfreeze, which marks the
    appeal granted). Idempotent; InvalidTransition for a rejected appeal."""
    ensure_moderator(moderator)
    note = clean_note(note)
    appeal = Appeal.objects.filter(pk=appeal_id).first()
    if appeal is None:
        raise NotFound(_("No such appeal."))
    if appeal.status == AppealStatus.GRANTED:
        return appeal
    if appeal.status != AppealStatus.PENDING:
        raise InvalidTransition(
            _("Only a pending appeal can be granted."), extra={"status": appeal.status}
        )
    account_unfreeze(account_id=appeal.account_id, moderator=moderator, reason=note)
    appeal.refresh_from_db()
    return appeal


def _schedule_deletion(
    account: Account, *, reason: str, now: datetime, reason_code: CodedText | None = None
) -> datetime:
    """`reason` is the English copy (or the moderator's note as typed); `reason_code`, when the
    system wrote it, is what readers see in their language (account_state_change)."""
    due = now + timedelta(days=settings.DELETION_GRACE_DAYS)
    account_state_change(
        account=account,
        state=State.SCHEDULED_FOR_DELETION,
        reason=reason,
        reason_code=reason_code,
        now=now,
        deletion_due_at=due,
    )
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
            due = _schedule_deletion(account, reason=reason, reason_code=why, now=now)
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
                link=appeal_link(),
                level="error",
                hours=settings.APPEAL_HOURS,
                due=when_shown(due),
            )
            scheduled.append(account_id)
    return scheduled
