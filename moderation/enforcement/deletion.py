"""Deleting an account's data: after an unappealed freeze or a rejected appeal (once the grace
period is over), or at once when its owner closes it. Each app deletes its own data
(config.account_data); this module runs the steps in order, in one transaction, with one
audit entry, and leaves the account row anonymised in state "deleted"."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as accounts_services
from accounts.models import Account, AccountEventAction, Role, User
from accounts.services import account_anonymise, account_state_change
from accounts.states import AccountState, ensure_transition
from accounts.team import account_event_record
from campaigns import services as campaigns_services
from complaints import services as complaints_services
from config.account_data import AccountDataStep, deleted
from config.coded_text import CodedText, coded, in_english
from config.errors import PermissionDenied
from lists.services import deletion as lists_deletion
from moderation.enforcement.decisions import pause_campaigns
from moderation.enforcement.shared import locked_account
from moderation.models import AccountFlag, Appeal, AppealFile, AuditAction, AuditEntry
from moderation.services import audit

logger = logging.getLogger(__name__)

State = AccountState


def moderation_data_delete(*, account: Account) -> dict[str, int]:
    """The moderation app's own step: the documents sent with the account's appeals are its
    data (deleted, with their files after commit); the appeals, flags and audit log stay."""
    documents = AppealFile.objects.filter(appeal__account=account)
    storage = AppealFile._meta.get_field("file").storage
    names = list(documents.values_list("file", flat=True))
    deleted(documents)

    def delete_files() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete_files)
    return {}


MODERATION_DATA = AccountDataStep(
    app="moderation",
    run=moderation_data_delete,
    deletes=(AppealFile,),
    keeps={
        AuditEntry: "the audit log: who decided what, readable by its labels",
        AccountFlag: "the moderators' record of why the account was flagged",
        Appeal: "the moderators' record of the appeal and its answer",
    },
)

# In order: what points at another app's rows goes before those rows (feedback at deliveries,
# campaigns at lists, everything at the users). The accounts' step is last but one; the last
# is account_anonymise, after the audit entry is written with the company's name.
STEPS: tuple[AccountDataStep, ...] = (
    complaints_services.ACCOUNT_DATA,
    MODERATION_DATA,
    campaigns_services.ACCOUNT_DATA,
    lists_deletion.ACCOUNT_DATA,
    accounts_services.ACCOUNT_DATA,
)


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
    done = []
    for account_id in due:
        try:
            account_data_delete(account_id=account_id)
        except Exception:
            # Not retried here: the next hourly run tries again, and the others go ahead.
            logger.exception("Deleting the data of account %s failed", account_id)
            continue
        done.append(account_id)
    return done


def account_close(*, account_id: int, owner: User) -> dict[str, int]:
    """The owner closes the account: it is scheduled for deletion at once (no more sending;
    campaigns under way pause), then its data is deleted through `account_data_delete`, the
    same path as after an unappealed freeze. PermissionDenied for anyone but an owner of the
    account. Idempotent: a closed account returns {}. Locks the account row."""
    closed = coded("moderation.audit.closed_by_owner")
    reason = in_english(closed)
    with transaction.atomic():
        account = locked_account(account_id)
        if account.state == State.DELETED:
            return {}
        if owner.account_id != account.pk or owner.role != Role.OWNER or not owner.is_active:
            raise PermissionDenied(_("Only the account's owner can do this."))
        now = timezone.now()
        if account.state != State.SCHEDULED_FOR_DELETION:
            account_state_change(
                account=account,
                state=State.SCHEDULED_FOR_DELETION,
                reason=reason,
                reason_code=closed,
                now=now,
                deletion_due_at=now,
            )
        else:
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
    """Delete everything an account scheduled for deletion holds, app by app (STEPS): lists,
    subscribers, consent records and proof files, imports and their files, campaigns with their
    deliveries, tracking events, status history and test sends, sender domains, API tokens,
    webhooks and their deliveries, notifications, its feedback events and its appeals'
    documents. Its users are deactivated and anonymised (staff users are only detached). Kept:
    the suppressions, with the address blanked (the keyed hash still stops any mailing),
    platform-wide hard-bounce hashes, the audit log (labels intact), appeals, flags and abuse
    reports; the account row stays, anonymised, with state "deleted".

    Set-based DELETEs in one transaction (all or nothing); files are deleted after commit.
    Idempotent: a deleted account returns {}. InvalidTransition for an account not scheduled
    for deletion. Locks the account row. Returns the counts, also written to the audit entry."""
    with transaction.atomic():
        account = locked_account(account_id)
        if account.state == State.DELETED:
            return {}
        ensure_transition(account.state, State.DELETED)
        counts: dict[str, int] = {}
        for step in STEPS:
            counts.update(step.run(account=account))
        # Written before the account is anonymised, so that its label keeps the company's name.
        audit(
            actor=actor,
            action=AuditAction.ACCOUNT_DELETED,
            account=account,
            reason=reason
            or coded("moderation.audit.data_deleted", days=settings.DELETION_GRACE_DAYS),
            details=counts,
        )
        account_anonymise(account=account)
    return counts
