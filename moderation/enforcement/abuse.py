"""Moderators resolve abuse reports: upheld (it counts towards the account's health, checked at
once) or dismissed, with a note the sender sees."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import notify
from complaints.models import AbuseReport, AbuseStatus
from config.errors import ApplicationError, InvalidTransition, NotFound
from moderation.enforcement.health import account_health_check
from moderation.models import AuditAction
from moderation.services import audit, clean_note, ensure_moderator

ABUSE_DECISIONS: dict[str, AuditAction] = {
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
    ensure_moderator(moderator)
    if decision not in ABUSE_DECISIONS:
        raise ApplicationError(_("Choose upheld or dismissed."), field="decision")
    note = clean_note(note)
    with transaction.atomic():
        report = (
            # Only the report's row: its account and campaign are nullable (outer) joins.
            AbuseReport.objects.select_for_update(of=("self",))
            .select_related("account", "campaign")
            .filter(pk=report_id)
            .first()
        )
        if report is None:
            raise NotFound(_("No such abuse report."))
        if report.status == decision:
            return report
        if report.status != AbuseStatus.OPEN:
            raise InvalidTransition(
                _("The report was already %(status)s.")
                % {"status": report.get_status_display().lower()},
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
