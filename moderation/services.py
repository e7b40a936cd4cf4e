"""Moderators' decisions on campaigns and the hold's verdicts, each written to the audit log and
told to the sender (in the UI and by e-mail). The transitions themselves are
campaigns.sending's; this module adds who decided, why, and who must hear of it."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext

from accounts.models import Account, User
from accounts.services import notify
from campaigns import sending
from campaigns.models import Campaign
from campaigns.selectors import holds_due
from campaigns.verdict import Tier, Verdict
from config.coded_text import CodedText, coded, in_english
from config.errors import ApplicationError, NotFound, PermissionDenied
from moderation.models import AccountFlag, AuditAction, AuditEntry

REASON_MAX = 2000


def audit(
    *,
    actor: User | None,
    action: AuditAction,
    campaign: Campaign | None = None,
    account: Account | None = None,
    reason: str | CodedText | list[CodedText] = "",
    details: dict | None = None,
) -> AuditEntry:
    """Write one audit entry (actor None: the system). Labels keep it readable after the
    account or campaign is deleted. A `reason` the system writes is a coded text (or a list of
    them, sentences), kept as codes and in English; a person's is text, kept as typed."""
    reason_code = None if isinstance(reason, str) else reason
    account = account or (campaign.account if campaign else None)
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=actor.email if actor else "",
        action=action,
        account=account,
        account_label=account.company_name if account else "",
        campaign=campaign,
        campaign_label=campaign.name if campaign else "",
        reason=reason if isinstance(reason, str) else in_english(reason),
        reason_code=reason_code,
        details=details or {},
    )


def ensure_moderator(user: User | None) -> None:
    """PermissionDenied unless `user` is staff: every decision of a moderator starts here."""
    if user is None or not user.is_staff:
        raise PermissionDenied(gettext("Only moderators can do this."))


def _ensure_not_own(moderator: User, campaign_account_id: int) -> None:
    """A moderator never decides on their own account's campaigns: pre-moderation means a second
    pair of eyes."""
    if moderator.account_id is not None and moderator.account_id == campaign_account_id:
        raise PermissionDenied(
            gettext("You cannot decide on a campaign of your own account: another moderator must.")
        )


def clean_reason(reason: str, *, required: bool) -> str:
    """A moderator's reason, stripped: a field error on "reason" when it is required and empty,
    or longer than REASON_MAX."""
    reason = (reason or "").strip()
    if required and not reason:
        raise ApplicationError(gettext("Give a reason: the sender sees it."), field="reason")
    if len(reason) > REASON_MAX:
        raise ApplicationError(
            gettext("At most %(max)s characters.") % {"max": REASON_MAX}, field="reason"
        )
    return reason


def clean_note(note: str, *, field: str = "note") -> str:
    """A moderator's note the sender sees: required, at most REASON_MAX characters."""
    note = (note or "").strip()
    if not note:
        raise ApplicationError(gettext("Give a note: the sender sees it."), field=field)
    if len(note) > REASON_MAX:
        raise ApplicationError(
            gettext("At most %(max)s characters.") % {"max": REASON_MAX}, field=field
        )
    return note


def _campaign_link(campaign: Campaign) -> str:
    return reverse("campaign_detail", args=[campaign.pk])


def _decide(
    *,
    campaign_id: int,
    moderator: User,
    transition: Callable[..., Campaign],
    action: AuditAction,
    reason: str,
    reason_required: bool,
    notice: Callable[[Campaign, str], tuple[str, str, dict]],
    extra: dict | None = None,
) -> Campaign:
    """One moderator decision: the transition, and, when it changed anything (decisions are safe
    to repeat), its audit entry and the sender's notification (`notice` gives the notice's
    code, level and parameters: accounts.services.notify). The row lock taken first makes "did
    it change?" exact under concurrent clicks."""
    ensure_moderator(moderator)
    reason = clean_reason(reason, required=reason_required)
    with transaction.atomic():
        row = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id)
            .values_list("status", "account_id")
            .first()
        )
        if row is None:
            raise NotFound(gettext("No such campaign."))
        before, account_id = row
        _ensure_not_own(moderator, account_id)
        campaign = transition(
            campaign_id=campaign_id, actor=moderator, reason=reason, **(extra or {})
        )
        if before != campaign.status:
            audit(
                actor=moderator,
                action=action,
                campaign=campaign,
                reason=reason,
                details=_version_details(campaign),
            )
            code, level, params = notice(campaign, reason)
            notify(campaign.account, code, level=level, link=_campaign_link(campaign), **params)
    return campaign


def _version_details(campaign: Campaign) -> dict:
    version = campaign.approved_version or campaign.submitted_version
    if version is None:
        return {}
    return {"version": version.number, "content_hash": version.content_hash}


def decision_approve(
    *, campaign_id: int, moderator: User, version_id: int | None, note: str = ""
) -> Campaign:
    """Approve the submitted version `version_id` of a campaign (a 409 for any other version):
    its audience is fixed and its probe chosen and sent next."""
    return _decide(
        campaign_id=campaign_id,
        moderator=moderator,
        transition=sending.campaign_approve,
        action=AuditAction.APPROVED,
        reason=note,
        reason_required=False,
        extra={"version_id": version_id},
        notice=lambda campaign, note: (
            "accounts.notice.campaign_approved",
            "info",
            {"name": campaign.name},
        ),
    )


def decision_reject(
    *, campaign_id: int, moderator: User, reason: str, version_id: int | None = None
) -> Campaign:
    """Send a submitted campaign back to its author, with a reason they see (with
    `version_id`, only if that version is the one waiting)."""
    return _decide(
        campaign_id=campaign_id,
        moderator=moderator,
        transition=sending.campaign_reject,
        action=AuditAction.REJECTED,
        reason=reason,
        reason_required=True,
        extra={"version_id": version_id},
        notice=lambda campaign, reason: (
            "accounts.notice.campaign_rejected",
            "warning",
            {"name": campaign.name, "reason": reason},
        ),
    )


def decision_release(*, campaign_id: int, moderator: User, reason: str = "") -> Campaign:
    """Release a campaign in review (its probe went over the thresholds) to the rest."""
    return _decide(
        campaign_id=campaign_id,
        moderator=moderator,
        transition=sending.campaign_release,
        action=AuditAction.RELEASED,
        reason=reason,
        reason_required=False,
        notice=lambda campaign, reason: (
            "accounts.notice.campaign_released_noted"
            if reason
            else "accounts.notice.campaign_released",
            "info",
            {"name": campaign.name, "note": reason} if reason else {"name": campaign.name},
        ),
    )


def decision_decline(*, campaign_id: int, moderator: User, reason: str) -> Campaign:
    """Stop a campaign for good at any point before it is sent, with a reason the sender sees."""
    return _decide(
        campaign_id=campaign_id,
        moderator=moderator,
        transition=sending.campaign_decline,
        action=AuditAction.DECLINED,
        reason=reason,
        reason_required=True,
        notice=lambda campaign, reason: (
            "accounts.notice.campaign_declined",
            "error",
            {"name": campaign.name, "reason": reason},
        ),
    )


def hold_evaluate(*, campaign_id: int) -> Verdict | None:
    """Judge one campaign whose hold has ended (see campaigns.sending.campaign_judge_probe),
    log the verdict and tell whoever must hear of it."""
    with transaction.atomic():
        campaign, verdict = sending.campaign_judge_probe(campaign_id=campaign_id)
        if verdict is None:
            return None
        # The reasons as codes: the notice reads them in each reader's language.
        reasons = verdict.texts
        tier = coded(f"campaigns.verdict.tier.{verdict.tier}")
        audit(
            actor=None,
            action=AuditAction.VERDICT,
            campaign=campaign,
            reason=[coded("moderation.audit.verdict", tier=tier), *verdict.texts],
            details=verdict.as_dict(),
        )
        link = _campaign_link(campaign)
        if verdict.flag_account:
            AccountFlag.objects.create(
                account=campaign.account,
                campaign=campaign,
                reason=in_english(verdict.texts),
                reason_code=verdict.texts,
            )
            audit(
                actor=None,
                action=AuditAction.ACCOUNT_FLAGGED,
                campaign=campaign,
                reason=verdict.texts,
                details={"rule": verdict.rule},
            )
        if verdict.tier == Tier.REVIEW:
            notify(
                campaign.account,
                "accounts.notice.campaign_in_review",
                link=link,
                level="error" if verdict.flag_account else "warning",
                name=campaign.name,
                reasons=reasons,
            )
        elif verdict.tier == Tier.AMBER:
            notify(
                campaign.account,
                "accounts.notice.campaign_amber",
                link=link,
                level="warning",
                name=campaign.name,
                reasons=reasons,
            )
        else:
            notify(
                campaign.account,
                "accounts.notice.campaign_passed",
                link=link,
                name=campaign.name,
                reasons=reasons,
            )
    return verdict


def holds_evaluate() -> dict[int, str]:
    """Judge every campaign whose hold has ended, now (beat runs this every minute; so does
    `manage.py evaluate_holds`). Returns {campaign id: tier}."""
    results: dict[int, str] = {}
    for campaign_id in holds_due():
        verdict = hold_evaluate(campaign_id=campaign_id)
        if verdict is not None:
            results[campaign_id] = str(verdict.tier)
    return results
