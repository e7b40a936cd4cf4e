"""Browser pages for moderators: the queue, a campaign's review page with the decisions, the
audit log, the accounts with their enforcement decisions and the abuse reports. Staff only: to
anyone else these pages do not exist (404). Also the sender's appeal page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formataddr
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.http import AuthenticatedRequest, SenderRequest
from accounts.models import AccountState, User
from accounts.views import account_required
from campaigns import scheduling
from campaigns.models import Campaign, CampaignKind
from campaigns.sending import VersionMismatch
from campaigns.states import CampaignStatus, can_transition
from complaints.blocklists import (
    blocklist_ip_listings,
    blocklist_listings_for_account,
    blocklist_open_domain_listings,
)
from complaints.models import AbuseStatus
from complaints.selectors import HealthStatus, accounts_health
from config.browser_errors import show_errors
from config.downloads import private_file_response
from config.i18n import StrOrPromise
from moderation import selectors, services
from moderation.enforcement import abuse, appeals, decisions, deletion
from moderation.forms import (
    AbuseResolveForm,
    AccountReasonForm,
    AppealDecisionForm,
    AppealForm,
    ApproveForm,
    AuditFilterForm,
    DeclineForm,
    QueueFilterForm,
    RejectForm,
    ReleaseForm,
)
from moderation.models import AuditAction
from moderation.permissions import staff_required

PAGE_SIZE = 50
S = CampaignStatus
# Severity -> (heading, what it means for the moderator).
FINDING_GROUPS = {
    "block": (
        gettext_lazy("Blocking"),
        gettext_lazy(
            "These stop a sender from submitting; a campaign that has them was changed "
            "afterwards or the rules changed since."
        ),
    ),
    "review": (
        gettext_lazy("To review"),
        gettext_lazy("The analyser is not sure: decide whether these are acceptable."),
    ),
    "info": (
        gettext_lazy("For information"),
        gettext_lazy("These do not stop the campaign on their own."),
    ),
}


@dataclass(frozen=True)
class Decision:
    form_class: type[forms.Form]
    # (campaign id, moderator, cleaned data) -> the service's answer.
    call: Callable[[int, User, dict], Campaign]
    # Whether a campaign of this status can take the decision (the page shows only those).
    allowed: Callable[[str], bool]
    # Lazy (translated when shown): "{name}" is the campaign's name.
    done: StrOrPromise
    button: StrOrPromise


DECISIONS: dict[str, Decision] = {
    "approve": Decision(
        form_class=ApproveForm,
        call=lambda campaign_id, moderator, data: services.decision_approve(
            campaign_id=campaign_id,
            moderator=moderator,
            version_id=data["version"],
            note=data["note"],
        ),
        allowed=lambda status: status == S.SUBMITTED,
        done=gettext_lazy("Approved “{name}”: its probe goes out now."),
        button=gettext_lazy("Approve"),
    ),
    "reject": Decision(
        form_class=RejectForm,
        call=lambda campaign_id, moderator, data: services.decision_reject(
            campaign_id=campaign_id,
            moderator=moderator,
            reason=data["reason"],
            version_id=data.get("version"),
        ),
        allowed=lambda status: status == S.SUBMITTED,
        done=gettext_lazy("Rejected “{name}”. The sender was told why and can edit it."),
        button=gettext_lazy("Reject"),
    ),
    "release": Decision(
        form_class=ReleaseForm,
        call=lambda campaign_id, moderator, data: services.decision_release(
            campaign_id=campaign_id, moderator=moderator, reason=data["reason"]
        ),
        allowed=lambda status: status == S.REVIEW,
        done=gettext_lazy("Released “{name}” to the rest of its recipients."),
        button=gettext_lazy("Release"),
    ),
    "decline": Decision(
        form_class=DeclineForm,
        call=lambda campaign_id, moderator, data: services.decision_decline(
            campaign_id=campaign_id, moderator=moderator, reason=data["reason"]
        ),
        allowed=lambda status: can_transition(status, S.DECLINED),
        done=gettext_lazy(
            "Declined “{name}”: nothing more of it is sent. The sender was told why."
        ),
        button=gettext_lazy("Decline"),
    ),
}


def _tab_of(status: str) -> str:
    if status == S.SUBMITTED:
        return "submitted"
    if status == S.REVIEW:
        return "review"
    return "under_way"


# --- the queue ------------------------------------------------------------------------------------


@staff_required
def queue(request: AuthenticatedRequest) -> HttpResponse:
    tab = request.GET.get("tab", "submitted")
    statuses = selectors.queue_tab_statuses(tab)
    if statuses is None:
        tab, statuses = "submitted", selectors.queue_tab_statuses("submitted")
    filters = QueueFilterForm(request.GET)
    wanted = filters.cleaned_data if filters.is_valid() else {}
    campaigns = selectors.campaigns_for_moderation(
        statuses=statuses,
        search=wanted.get("q", ""),
        account_state=wanted.get("account_state", ""),
    )
    chosen_filters = {key: value for key, value in wanted.items() if value}
    page = Paginator(campaigns, PAGE_SIZE).get_page(request.GET.get("page"))
    for campaign in page.object_list:
        severities = Counter(finding.get("severity") for finding in campaign.findings or [])
        # Pages read these figures off the campaign they list.
        campaign.finding_counts = {  # type: ignore[attr-defined]
            name: severities.get(name, 0) for name in FINDING_GROUPS
        }
    counts = selectors.queue_counts()
    tabs = [(key, label, counts[key]) for key, label, _ in selectors.QUEUE_TABS]
    return render(
        request,
        "moderation/queue.html",
        {
            "page": page,
            "page_query": urlencode({"tab": tab, **chosen_filters}),
            "filter_query": urlencode(chosen_filters),
            "tab": tab,
            "tabs": tabs,
            "filters": filters,
            "filtered": bool(chosen_filters),
        },
    )


# --- one campaign ---------------------------------------------------------------------------------


def _preview_data(preview) -> dict | None:
    if preview is None:
        return None
    message, recipient = preview.message, preview.recipient
    return {
        "subject": message.subject,
        "html": message.html,
        "text": message.text,
        "from": message.from_header,
        "to": formataddr((recipient.name, message.to)),
        "is_sample": preview.is_sample,
    }


def _finding_groups(dossier: selectors.Dossier) -> list[dict]:
    groups = []
    for severity, items in dossier.findings_by_severity.items():
        if items:
            title, meaning = FINDING_GROUPS.get(severity, (severity.title(), ""))
            groups.append(
                {"severity": severity, "title": title, "meaning": meaning, "items": items}
            )
    return groups


def _review_page(
    request: HttpRequest,
    campaign_id: int,
    *,
    bound: tuple[str, forms.Form] | None = None,
    status_code: int | None = None,
) -> HttpResponse:
    dossier = selectors.campaign_dossier(campaign_id=campaign_id)
    if dossier is None:
        raise Http404("No such campaign.")
    status = dossier.campaign.status
    decisions = []
    for key, decision in DECISIONS.items():
        if not decision.allowed(status):
            continue
        form = (
            bound[1]
            if bound and bound[0] == key
            else decision.form_class(
                prefix=key, initial={"version": dossier.campaign.submitted_version_id}
            )
        )
        decisions.append(
            {
                "key": key,
                "form": form,
                "button": decision.button,
                "url": reverse(f"moderation_{key}", args=[campaign_id]),
            }
        )
    return render(
        request,
        "moderation/review.html",
        {
            "dossier": dossier,
            "campaign": dossier.campaign,
            "account": dossier.campaign.account,
            "preview": _preview_data(dossier.preview),
            "finding_groups": _finding_groups(dossier),
            "decisions": decisions,
            "changes": dossier.campaign.changes.select_related("actor").order_by("at", "id"),
            "tab": _tab_of(status),
            "probe_waits": not scheduling.schedule_is_due(dossier.campaign),
        },
        status=status_code or (400 if bound else 200),
    )


@staff_required
def review(request: AuthenticatedRequest, campaign_id: int) -> HttpResponse:
    return _review_page(request, campaign_id)


@staff_required
def consent_proof(request: AuthenticatedRequest, record_id: int) -> FileResponse:
    """A consent record's proof file for a moderator, always as a download
    (config.downloads); the record's id comes from the review page's consent section."""
    record = selectors.consent_proof_record(record_id=record_id)
    if record is None:
        raise Http404(_("No such proof file."))
    return private_file_response(record.proof_file)


@staff_required
def appeal_file(request: AuthenticatedRequest, file_id: int) -> FileResponse:
    """A document sent with an appeal, for a moderator, always as a download."""
    document = selectors.appeal_document(file_id=file_id)
    if document is None:
        raise Http404(_("No such file."))
    return private_file_response(document.file)


@staff_required
@require_POST
def decide(request: AuthenticatedRequest, campaign_id: int, decision: str) -> HttpResponse:
    """Approve, reject, release or decline: the reason is checked on the form (the page comes
    back with the error), the rest by the service (an illegal move is a message)."""
    chosen = DECISIONS.get(decision)
    campaign = selectors.campaign_for_moderation(campaign_id=campaign_id)
    if chosen is None or campaign is None:
        raise Http404("No such campaign.")
    tab = _tab_of(campaign.status)
    form = chosen.form_class(request.POST, prefix=decision)
    if not form.is_valid():
        return _review_page(request, campaign_id, bound=(decision, form))
    with show_errors(request, form=form, fields_only=True) as shown:
        try:
            chosen.call(campaign.pk, request.user, form.cleaned_data)
        except Campaign.DoesNotExist as exc:
            raise Http404("No such campaign.") from exc
        except VersionMismatch as exc:
            # The page the moderator decided on showed another version: show the one waiting
            # now, with its own status (409), which no other refusal has.
            messages.error(request, exc.message)
            return _review_page(request, campaign_id, status_code=409)
        messages.success(
            request, _decided_message(chosen, campaign_id=campaign.pk, name=campaign.name)
        )
        return redirect(f"{reverse('moderation_queue')}?tab={tab}")
    if shown.on_form:
        return _review_page(request, campaign_id, bound=(decision, form))
    return redirect("moderation_review", campaign_id=campaign.pk)


def _decided_message(chosen: Decision, *, campaign_id: int, name: str) -> str:
    """What the moderator is told after a decision. An approval sends no probe now for a
    welcome message (it goes to each new subscriber) nor for a campaign whose time is still to
    come (the probe waits for it): saying "its probe goes out now" would be wrong for both."""
    if chosen is DECISIONS["approve"]:
        campaign = selectors.campaign_for_moderation(campaign_id=campaign_id)
        if campaign is not None and campaign.kind == CampaignKind.WELCOME:
            return _(
                "Approved “{name}”: it goes to each new subscriber of its list once their "
                "subscription is confirmed."
            ).format(name=name)
        if campaign is not None and not scheduling.schedule_is_due(campaign):
            start = scheduling.schedule_local(campaign)
            assert start is not None  # not due yet: it has a start
            return _("Approved “{name}”: its probe waits for its start, {start} ({zone}).").format(
                name=name,
                start=start.strftime("%Y-%m-%d %H:%M"),
                zone=campaign.schedule_timezone or scheduling.DEFAULT_TIMEZONE,
            )
    return str(chosen.done).format(name=name)


# --- the audit log --------------------------------------------------------------------------------


@staff_required
def audit(request: AuthenticatedRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters: dict = {}
    if form.is_bound and form.is_valid():
        filters = {
            "account_id": form.cleaned_data["account"],
            "campaign_id": form.cleaned_data["campaign"],
            "action": form.cleaned_data["action"] or "",
        }
    entries = selectors.audit_log(**filters)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "moderation/audit.html",
        {
            "form": form,
            "page": page,
            "page_query": query.urlencode(),
            "filtered": any(value for value in filters.values()),
            "actions": dict(AuditAction.choices),
        },
    )


# --- accounts: enforcement ------------------------------------------------------------------------

A = AccountState
# The accounts list's filters, as (key, label, state or "" for all); "flagged" is special.
ACCOUNT_FILTERS: tuple[tuple[str, StrOrPromise], ...] = (
    ("", gettext_lazy("All")),
    ("flagged", gettext_lazy("Waiting for a moderator")),
    (A.FROZEN, gettext_lazy("Frozen")),
    (A.SCHEDULED_FOR_DELETION, gettext_lazy("Scheduled for deletion")),
    (A.WARNED, gettext_lazy("Warned")),
    (A.ACTIVE, gettext_lazy("Active")),
    (A.DELETED, gettext_lazy("Deleted")),
)
HEALTH_BADGES = {
    HealthStatus.GOOD: ("ok", gettext_lazy("Good")),
    HealthStatus.NOT_ENOUGH_DATA: ("", gettext_lazy("Not enough data")),
    HealthStatus.WARNING: ("warning", gettext_lazy("Warning")),
    HealthStatus.OVER_LIMIT: ("error", gettext_lazy("Over the limits")),
}


@dataclass(frozen=True)
class AccountAction:
    call: Callable[..., object]
    # Whether an account in this state can take the action (the page shows only those).
    allowed: frozenset[str]
    title: StrOrPromise
    explained: StrOrPromise
    button: StrOrPromise
    done: StrOrPromise


ACCOUNT_ACTIONS: dict[str, AccountAction] = {
    "warn": AccountAction(
        call=decisions.account_warn,
        allowed=frozenset({A.ACTIVE}),
        title=gettext_lazy("Warn"),
        explained=gettext_lazy(
            "The account may still send; its users see your reason. Next time, freeze."
        ),
        button=gettext_lazy("Warn the account"),
        done=gettext_lazy("Warned {name}. Its users were told why."),
    ),
    "freeze": AccountAction(
        call=decisions.account_freeze,
        allowed=frozenset({A.ACTIVE, A.WARNED}),
        title=gettext_lazy("Freeze"),
        explained=gettext_lazy(
            "No new campaigns; those under way pause at their next batch. Its users see "
            "your reason and may appeal once within the appeal window; without an appeal the "
            "account is scheduled for deletion."
        ),
        button=gettext_lazy("Freeze the account"),
        done=gettext_lazy(
            "Froze {name}. Its campaigns under way are paused; its users were told why."
        ),
    ),
    "unfreeze": AccountAction(
        call=decisions.account_unfreeze,
        allowed=frozenset({A.FROZEN, A.SCHEDULED_FOR_DELETION}),
        title=gettext_lazy("Unfreeze"),
        explained=gettext_lazy(
            "The account may send again and its paused campaigns carry on; a pending "
            "appeal is granted, a scheduled deletion cancelled."
        ),
        button=gettext_lazy("Unfreeze the account"),
        done=gettext_lazy("Unfroze {name}. Its paused campaigns carry on."),
    ),
}


def _health_badge(health) -> dict:
    css, label = HEALTH_BADGES.get(health.status, ("", health.status))
    return {"css": css, "label": label}


@staff_required
def accounts(request: AuthenticatedRequest) -> HttpResponse:
    chosen = request.GET.get("state", "")
    if chosen not in {key for key, _ in ACCOUNT_FILTERS}:
        chosen = ""
    rows = selectors.accounts_for_moderation(
        state="" if chosen == "flagged" else chosen, flagged=chosen == "flagged"
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    healths = accounts_health(accounts=list(page.object_list))
    for account in page.object_list:
        # The template reads each account's figures off the account it lists.
        health = healths[account.pk]
        account.health = health  # type: ignore[attr-defined]
        account.health_badge = _health_badge(health)  # type: ignore[attr-defined]
        account.appeal_deadline = selectors.appeal_deadline(account)  # type: ignore[attr-defined]
    return render(
        request,
        "moderation/accounts.html",
        {
            "page": page,
            "page_query": f"state={chosen}" if chosen else "",
            "filters": ACCOUNT_FILTERS,
            "chosen": chosen,
        },
    )


def _account_page(
    request: HttpRequest,
    account_id: int,
    *,
    bound: tuple[str, forms.Form] | None = None,
) -> HttpResponse:
    record = selectors.account_enforcement(account_id=account_id)
    if record is None:
        raise Http404("No such account.")
    account = record.account
    actions = []
    for key, action in ACCOUNT_ACTIONS.items():
        if account.state not in action.allowed:
            continue
        form = bound[1] if bound and bound[0] == key else AccountReasonForm(prefix=key)
        actions.append(
            {
                "key": key,
                "action": action,
                "form": form,
                "url": reverse(f"moderation_account_{key}", args=[account.pk]),
            }
        )
    pending = record.pending_appeal
    appeal_forms = {}
    if pending is not None:
        for key in ("grant", "reject"):
            form_key = f"appeal-{key}"
            form = (
                bound[1] if bound and bound[0] == form_key else AppealDecisionForm(prefix=form_key)
            )
            appeal_forms[key] = {
                "form": form,
                "url": reverse(f"moderation_appeal_{key}", args=[pending.pk]),
            }
    return render(
        request,
        "moderation/account.html",
        {
            "record": record,
            "account": account,
            "health": record.health,
            "health_badge": _health_badge(record.health),
            "history": record.history,
            "blocklistings": blocklist_listings_for_account(account=account),
            "actions": actions,
            "pending_appeal": pending,
            "appeal_forms": appeal_forms,
            "limits": {
                "bounce_warn": settings.HARD_BOUNCE_WARN,
                "bounce_limit": settings.HARD_BOUNCE_LIMIT,
                "complaint_warn": settings.COMPLAINT_WARN,
                "complaint_limit": settings.COMPLAINT_LIMIT,
                "abuse_upheld": settings.ABUSE_UPHELD_WARN,
                "min_sent": settings.HEALTH_MIN_SENT,
            },
        },
        status=400 if bound else 200,
    )


@staff_required
def account_detail(request: AuthenticatedRequest, account_id: int) -> HttpResponse:
    return _account_page(request, account_id)


@staff_required
@require_POST
def account_decide(request: AuthenticatedRequest, account_id: int, action: str) -> HttpResponse:
    """Warn, freeze or unfreeze: the reason is checked on the form (the page comes back with
    the error), the rest by the service (an illegal move is a message)."""
    chosen = ACCOUNT_ACTIONS.get(action)
    account = selectors.account_for_moderation(account_id=account_id)
    if chosen is None or account is None:
        raise Http404("No such account.")
    form = AccountReasonForm(request.POST, prefix=action)
    if not form.is_valid():
        return _account_page(request, account_id, bound=(action, form))
    with show_errors(request, form=form, fields_only=True) as shown:
        chosen.call(
            account_id=account.pk, moderator=request.user, reason=form.cleaned_data["reason"]
        )
        messages.success(request, str(chosen.done).format(name=account.company_name))
    if shown.on_form:
        return _account_page(request, account_id, bound=(action, form))
    return redirect("moderation_account", account_id=account.pk)


@staff_required
@require_POST
def appeal_decide(request: AuthenticatedRequest, appeal_id: int, decision: str) -> HttpResponse:
    """Grant (the account is unfrozen) or reject (it is scheduled for deletion) an appeal."""
    appeal = selectors.appeal_for_moderation(appeal_id=appeal_id)
    if appeal is None or decision not in ("grant", "reject"):
        raise Http404("No such appeal.")
    form_key = f"appeal-{decision}"
    form = AppealDecisionForm(request.POST, prefix=form_key)
    if not form.is_valid():
        return _account_page(request, appeal.account_id, bound=(form_key, form))
    call = appeals.appeal_grant if decision == "grant" else appeals.appeal_reject
    with show_errors(request) as shown:
        call(appeal_id=appeal.pk, moderator=request.user, note=form.cleaned_data["note"])
    if shown.error:
        return redirect("moderation_account", account_id=appeal.account_id)
    if decision == "grant":
        messages.success(request, _("Granted the appeal: the account is unfrozen."))
    else:
        days = settings.DELETION_GRACE_DAYS
        messages.success(
            request,
            ngettext(
                "Rejected the appeal: the account is scheduled for deletion in %(days)s day.",
                "Rejected the appeal: the account is scheduled for deletion in %(days)s days.",
                days,
            )
            % {"days": days},
        )
    return redirect("moderation_account", account_id=appeal.account_id)


# --- abuse reports --------------------------------------------------------------------------------

ABUSE_TABS: tuple[tuple[str, StrOrPromise], ...] = (
    (AbuseStatus.OPEN, gettext_lazy("Open")),
    (AbuseStatus.UPHELD, gettext_lazy("Upheld")),
    (AbuseStatus.DISMISSED, gettext_lazy("Dismissed")),
    ("all", gettext_lazy("All")),
)


def _abuse_page(
    request: HttpRequest, *, bound: tuple[int, forms.Form] | None = None
) -> HttpResponse:
    tab = request.GET.get("status", AbuseStatus.OPEN)
    if tab not in {key for key, _ in ABUSE_TABS}:
        tab = AbuseStatus.OPEN
    reports = selectors.abuse_reports_for_moderation(status="" if tab == "all" else tab)
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    for report in page.object_list:
        if report.status == AbuseStatus.OPEN:
            report.form = (  # type: ignore[attr-defined]  # for the template
                bound[1]
                if bound and bound[0] == report.pk
                else AbuseResolveForm(prefix=f"report-{report.pk}")
            )
    counts = selectors.abuse_report_counts()
    counts["all"] = sum(counts.values())
    return render(
        request,
        "moderation/abuse.html",
        {
            "page": page,
            "page_query": f"status={tab}",
            "tab": tab,
            "tabs": [(key, label, counts.get(key, 0)) for key, label in ABUSE_TABS],
        },
        status=400 if bound else 200,
    )


@staff_required
def abuse_queue(request: AuthenticatedRequest) -> HttpResponse:
    return _abuse_page(request)


@staff_required
def blocklists(request: AuthenticatedRequest) -> HttpResponse:
    """The service's sending-IP listings and every sender domain listed now."""
    return render(
        request,
        "moderation/blocklists.html",
        {
            "ip_listings": blocklist_ip_listings(),
            "domain_listings": blocklist_open_domain_listings(),
            "sending_ips": settings.SENDING_IPS,
            "ip_zones": settings.DNSBL_IP_ZONES,
            "domain_zones": settings.DNSBL_DOMAIN_ZONES,
            "check_minutes": round(settings.BLOCKLIST_CHECK_SECONDS / 60),
        },
    )


@staff_required
@require_POST
def abuse_resolve(request: AuthenticatedRequest, report_id: int) -> HttpResponse:
    """Uphold or dismiss an abuse report with a note; back to the open reports."""
    report = selectors.abuse_report_for_moderation(report_id=report_id)
    if report is None:
        raise Http404("No such abuse report.")
    form = AbuseResolveForm(request.POST, prefix=f"report-{report.pk}")
    if not form.is_valid():
        return _abuse_page(request, bound=(report.pk, form))
    with show_errors(request):
        abuse.abuse_report_resolve(
            report_id=report.pk,
            moderator=request.user,
            decision=form.cleaned_data["decision"],
            note=form.cleaned_data["note"],
        )
        if form.cleaned_data["decision"] == AbuseStatus.UPHELD:
            done = _("Abuse report %(id)s upheld.")
        else:
            done = _("Abuse report %(id)s dismissed.")
        messages.success(request, done % {"id": report.pk})
    return redirect("moderation_abuse")


# --- the sender's appeal --------------------------------------------------------------------------


@login_required
def account_appeal(request: AuthenticatedRequest) -> HttpResponse:
    """The sender's side: appeal a freeze once, within the window; then see the appeal's
    status. Filing it is the owner's (accounts.roles)."""
    account = request.user.account
    if account is None:
        raise Http404("No such page.")
    roles.check_page(request)
    form = AppealForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        with show_errors(request, form=form, fields_only=True) as shown:
            appeals.appeal_file(
                account=account,
                user=request.user,
                text=form.cleaned_data["text"],
                files=form.cleaned_data["files"],
            )
            messages.success(request, _("Your appeal was sent. A moderator will answer."))
            return redirect("account_appeal")
        if not shown.on_form:
            return redirect("account_appeal")
    account.refresh_from_db()
    return render(
        request,
        "moderation/appeal.html",
        {
            "account": account,
            "appeal": selectors.appeal_state_for(account=account),
            "form": form,
            "grace_days": settings.DELETION_GRACE_DAYS,
            "appeal_hours": settings.APPEAL_HOURS,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@account_required
def account_close(request: SenderRequest) -> HttpResponse:
    """The owner closes the account (accounts.roles: owner only): first the export of every
    list with its consent records, then a confirmation (the company's name and the owner's
    password), then the data is deleted through the same path as after an unappealed freeze."""
    from accounts.forms import CloseAccountForm

    account = request.user.account
    form = CloseAccountForm(request.POST or None, user=request.user, account=account)
    if request.method == "POST" and form.is_valid():
        user = request.user
        deletion.account_close(account_id=account.pk, owner=user)
        logout(request)
        messages.success(request, _("The account is closed and its data deleted."))
        return redirect("home")
    return render(
        request,
        "moderation/account_close.html",
        {"account": account, "form": form, "lists": account.lists.count()},
    )
