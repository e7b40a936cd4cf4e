"""Browser pages for moderators: the queue, a campaign's review page with the decisions, and the
audit log. Staff only: to anyone else these pages do not exist (404)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formataddr

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from campaigns.models import Campaign
from campaigns.states import CampaignStatus, can_transition
from config.errors import ApplicationError
from moderation import selectors, services
from moderation.forms import ApproveForm, AuditFilterForm, DeclineForm, RejectForm, ReleaseForm
from moderation.models import AuditAction
from moderation.permissions import staff_required

PAGE_SIZE = 50
S = CampaignStatus
# Severity -> (heading, what it means for the moderator).
FINDING_GROUPS = {
    "block": (
        "Blocking",
        "These stop a sender from submitting; a campaign that has them was changed afterwards "
        "or the rules changed since.",
    ),
    "review": ("To review", "The analyser is not sure: decide whether these are acceptable."),
    "info": ("For information", "These do not stop the campaign on their own."),
}


@dataclass(frozen=True)
class Decision:
    form_class: type[forms.Form]
    # (campaign id, moderator, cleaned data) -> the service's answer.
    call: Callable[[int, object, dict], Campaign]
    # Whether a campaign of this status can take the decision (the page shows only those).
    allowed: Callable[[str], bool]
    done: str
    button: str


DECISIONS: dict[str, Decision] = {
    "approve": Decision(
        form_class=ApproveForm,
        call=lambda campaign_id, moderator, data: services.campaign_approve(
            campaign_id=campaign_id, moderator=moderator, note=data["note"]
        ),
        allowed=lambda status: status == S.SUBMITTED,
        done="Approved “{name}”: its probe goes out now.",
        button="Approve",
    ),
    "reject": Decision(
        form_class=RejectForm,
        call=lambda campaign_id, moderator, data: services.campaign_reject(
            campaign_id=campaign_id, moderator=moderator, reason=data["reason"]
        ),
        allowed=lambda status: status == S.SUBMITTED,
        done="Rejected “{name}”. The sender was told why and can edit it.",
        button="Reject",
    ),
    "release": Decision(
        form_class=ReleaseForm,
        call=lambda campaign_id, moderator, data: services.campaign_release(
            campaign_id=campaign_id, moderator=moderator, reason=data["reason"]
        ),
        allowed=lambda status: status == S.REVIEW,
        done="Released “{name}” to the rest of its recipients.",
        button="Release",
    ),
    "decline": Decision(
        form_class=DeclineForm,
        call=lambda campaign_id, moderator, data: services.campaign_decline(
            campaign_id=campaign_id, moderator=moderator, reason=data["reason"]
        ),
        allowed=lambda status: can_transition(status, S.DECLINED),
        done="Declined “{name}”: nothing more of it is sent. The sender was told why.",
        button="Decline",
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
def queue(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "submitted")
    statuses = selectors.queue_tab_statuses(tab)
    if statuses is None:
        tab, statuses = "submitted", selectors.queue_tab_statuses("submitted")
    campaigns = selectors.campaigns_for_moderation(statuses=statuses)
    page = Paginator(campaigns, PAGE_SIZE).get_page(request.GET.get("page"))
    for campaign in page.object_list:
        severities = Counter(finding.get("severity") for finding in campaign.findings or [])
        campaign.finding_counts = {name: severities.get(name, 0) for name in FINDING_GROUPS}
    counts = selectors.queue_counts()
    tabs = [(key, label, counts[key]) for key, label, _ in selectors.QUEUE_TABS]
    return render(
        request,
        "moderation/queue.html",
        {"page": page, "page_query": f"tab={tab}", "tab": tab, "tabs": tabs},
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
    request: HttpRequest, campaign_id: int, *, bound: tuple[str, forms.Form] | None = None
) -> HttpResponse:
    dossier = selectors.campaign_dossier(campaign_id=campaign_id)
    if dossier is None:
        raise Http404("No such campaign.")
    status = dossier.campaign.status
    decisions = []
    for key, decision in DECISIONS.items():
        if not decision.allowed(status):
            continue
        form = bound[1] if bound and bound[0] == key else decision.form_class(prefix=key)
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
        },
        status=400 if bound else 200,
    )


@staff_required
def review(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _review_page(request, campaign_id)


@staff_required
@require_POST
def decide(request: HttpRequest, campaign_id: int, decision: str) -> HttpResponse:
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
    try:
        chosen.call(campaign.pk, request.user, form.cleaned_data)
    except Campaign.DoesNotExist as exc:
        raise Http404("No such campaign.") from exc
    except ApplicationError as exc:
        if exc.field and exc.field in form.fields:
            form.add_error(exc.field, exc.message)
            return _review_page(request, campaign_id, bound=(decision, form))
        messages.error(request, exc.message)
        return redirect("moderation_review", campaign_id=campaign.pk)
    messages.success(request, chosen.done.format(name=campaign.name))
    return redirect(f"{reverse('moderation_queue')}?tab={tab}")


# --- the audit log --------------------------------------------------------------------------------


@staff_required
def audit(request: HttpRequest) -> HttpResponse:
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
