"""Browser pages for senders: campaigns, the editor and its live preview, tests, submission."""

from __future__ import annotations

from email.utils import formataddr

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.models import Account
from accounts.views import account_required, form_error
from campaigns import selectors, services
from campaigns.forms import CONTENT_FIELDS, CampaignForm, CancelForm
from campaigns.models import Campaign
from campaigns.states import CampaignStatus, can_transition
from config.errors import ApplicationError, InvalidTransition, NotFound
from lists import selectors as list_selectors
from lists.models import MailingList

PAGE_SIZE = 50
PREVIEW_CHOICES = 20
RECENT_TEST_SENDS = 5
# Severity -> (heading, what it means for the sender).
FINDING_GROUPS = {
    "block": (
        "Must be fixed before submitting",
        "The campaign cannot be submitted while any of these remain.",
    ),
    "review": (
        "A moderator will look at these",
        "You can submit; a moderator decides whether the campaign may go out.",
    ),
    "info": ("For your information", "These do not stop the campaign."),
}
# Status filters on the campaign list, as (value, label).
STATUS_FILTERS = [
    ("", "All"),
    (CampaignStatus.DRAFT, "Drafts"),
    (CampaignStatus.SUBMITTED, "In moderation"),
    (CampaignStatus.REJECTED, "Rejected"),
    (CampaignStatus.SENT, "Sent"),
]


def _campaign_or_404(request: HttpRequest, campaign_id: int) -> Campaign:
    campaign = selectors.campaign_get(account=request.user.account, campaign_id=campaign_id)
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _verified_domains(account: Account) -> list[str]:
    return [
        domain.domain
        for domain in account_selectors.sender_domains_for(account=account)
        if domain.is_verified
    ]


def _account_context(account: Account) -> dict:
    return {"account": account, "account_frozen": not account.can_send}


def _parse_id(value) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _chosen_lists(account: Account, values) -> list[MailingList]:
    """The account's lists among the posted ids; anything else (another account's list, junk)
    is ignored: the preview only ever reads the account's own subscribers."""
    ids = {number for number in map(_parse_id, values) if number is not None}
    if not ids:
        return []
    return list(list_selectors.lists_for(account=account).filter(pk__in=ids))


def _preview_data(preview: selectors.Preview) -> dict:
    message, recipient = preview.message, preview.recipient
    return {
        "subject": message.subject,
        "html": message.html,
        "text": message.text,
        "from": message.from_header,
        "to": formataddr((recipient.name, message.to)),
        "is_sample": preview.is_sample,
        "recipient": {
            "email": recipient.email,
            "name": recipient.name,
            "subscriber_id": recipient.subscriber_id or None,
        },
    }


def _live_preview(
    account: Account,
    *,
    fields: dict,
    lists: list[MailingList],
    subscriber_id: int | None,
    campaign_id: int = 0,
) -> dict:
    """Unsaved editor content as the chosen subscriber (or the first, or a sample) would get it:
    {subject, html, text, from, to, is_sample, recipient, recipients, errors: {field: [msg]}}.
    Content that does not compile gives empty parts and the errors."""
    errors: dict[str, list[str]] = {}
    result = {"subject": "", "html": "", "text": "", "from": "", "to": "", "is_sample": True}
    result["recipient"] = None
    result["recipients"] = [
        {"id": pk, "label": label}
        for pk, label in selectors.preview_choices(
            account=account, lists=lists, limit=PREVIEW_CHOICES
        )
    ]
    content = selectors.draft_content(account=account, campaign_id=campaign_id, **fields)
    try:
        preview = selectors.content_preview(
            account=account, content=content, lists=lists, subscriber_id=subscriber_id
        )
        if preview is None:
            errors["subscriber_id"] = [
                "That subscriber is not on the chosen lists; showing the first one instead."
            ]
            preview = selectors.content_preview(account=account, content=content, lists=lists)
    except ApplicationError as exc:
        errors.setdefault(exc.field or "__all__", []).append(exc.message)
    else:
        result.update(_preview_data(preview))
    result["errors"] = errors
    return result


def _editor_values(source, *, lists_key: str = "lists") -> tuple[dict, list, str]:
    """(content fields, list ids, subscriber id) from a QueryDict."""
    fields = {name: source.get(name, "") for name in CONTENT_FIELDS}
    return fields, source.getlist(lists_key), source.get("subscriber_id", "")


def _labelled_errors(form: CampaignForm, errors: dict[str, list[str]]) -> list[tuple[str, str]]:
    """The preview's errors as (field label, message), for the page without JavaScript."""
    labels = {name: str(field.label) for name, field in form.fields.items()}
    labels["subscriber_id"] = "Preview as"
    return [
        (labels.get(name, "Content"), message)
        for name, messages_of_field in errors.items()
        for message in messages_of_field
    ]


def _group_findings(findings: list[dict]) -> list[dict]:
    groups = []
    for severity, (title, meaning) in FINDING_GROUPS.items():
        items = [finding for finding in findings if finding.get("severity") == severity]
        if items:
            groups.append(
                {"severity": severity, "title": title, "meaning": meaning, "items": items}
            )
    return groups


# --- the list ------------------------------------------------------------------------------------


@account_required
def campaign_index(request: HttpRequest) -> HttpResponse:
    account = request.user.account
    status = request.GET.get("status", "")
    if status not in CampaignStatus.values:
        status = ""
    campaigns = selectors.campaigns_for(account=account, status=status)
    page = Paginator(campaigns, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    has_any = bool(page.object_list) or selectors.campaigns_for(account=account).exists()
    return render(
        request,
        "campaigns/campaign_index.html",
        {
            **_account_context(account),
            "page": page,
            "page_query": query.urlencode(),
            "status": status,
            "status_filters": STATUS_FILTERS,
            "has_any": has_any,
            "has_verified_domain": bool(_verified_domains(account)),
            "has_lists": list_selectors.lists_for(account=account).exists(),
        },
    )


# --- the editor ----------------------------------------------------------------------------------


@account_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    return _editor(request, campaign=None)


@account_required
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    if not campaign.is_editable:
        messages.info(
            request,
            f"This campaign is {campaign.get_status_display().lower()}: only draft or rejected "
            "campaigns can be edited.",
        )
        return redirect("campaign_detail", campaign_id=campaign.pk)
    return _editor(request, campaign=campaign)


def _initial_of(account: Account, campaign: Campaign | None, request: HttpRequest) -> dict:
    if campaign is not None:
        initial = {name: getattr(campaign, name) for name in CONTENT_FIELDS}
        initial["lists"] = [mailing_list.pk for mailing_list in campaign.lists.all()]
        return initial
    chosen = _parse_id(request.GET.get("list"))
    return {"from_name": account.company_name, "lists": [chosen] if chosen else []}


def _editor(request: HttpRequest, *, campaign: Campaign | None) -> HttpResponse:
    """The editor for a new (`campaign` None) or an editable campaign. "Save draft" saves
    through the services; "Preview" (the page without JavaScript) shows the posted content in
    the preview pane and saves nothing."""
    account = request.user.account
    account_lists = list(list_selectors.lists_for(account=account))
    domains = _verified_domains(account)
    options = {"lists": account_lists, "from_domains": domains}
    previewing = request.method == "POST" and request.POST.get("action") == "preview"

    if request.method == "POST" and not previewing:
        form = CampaignForm(request.POST, **options)
        if form.is_valid():
            saved = _save(request, form, campaign)
            if saved is not None:
                return saved
    elif previewing:
        # Unbound, filled with what was posted: a preview shows no "required" errors.
        fields, list_ids, _ = _editor_values(request.POST)
        form = CampaignForm(initial={**fields, "lists": list_ids}, **options)
    else:
        form = CampaignForm(initial=_initial_of(account, campaign, request), **options)

    if request.method == "POST":
        fields, list_ids, subscriber_value = _editor_values(request.POST)
    else:
        initial = form.initial
        fields = {name: initial.get(name, "") or "" for name in CONTENT_FIELDS}
        list_ids, subscriber_value = initial.get("lists", []), ""
    chosen_lists = _chosen_lists(account, list_ids)
    preview = _live_preview(
        account,
        fields=fields,
        lists=chosen_lists,
        subscriber_id=_parse_id(subscriber_value),
        campaign_id=campaign.pk if campaign else 0,
    )
    preview_url = (
        reverse("campaign_preview", args=[campaign.pk])
        if campaign
        else reverse("campaign_preview_new")
    )
    return render(
        request,
        "campaigns/campaign_form.html",
        {
            **_account_context(account),
            "form": form,
            "campaign": campaign,
            "preview": preview,
            "preview_url": preview_url,
            "preview_errors": _labelled_errors(form, preview["errors"]),
            "preview_subscriber": _parse_id(subscriber_value),
            "has_lists": bool(account_lists),
        },
    )


def _save(request: HttpRequest, form: CampaignForm, campaign: Campaign | None):
    """Create or update through the services: a redirect, or None with the error on the form."""
    account = request.user.account
    try:
        if campaign is None:
            saved = services.campaign_create(
                account=account, created_by=request.user, **form.service_fields()
            )
        else:
            saved = services.campaign_update(
                account=account, campaign_id=campaign.pk, **form.service_fields()
            )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except InvalidTransition as exc:
        messages.error(request, exc.message)
        return redirect("campaign_detail", campaign_id=campaign.pk)
    except ApplicationError as exc:
        form_error(form, exc)
        return None
    messages.success(
        request,
        f"Draft “{saved.name}” saved. Send yourself a test, then submit it for moderation.",
    )
    return redirect("campaign_detail", campaign_id=saved.pk)


@account_required
@require_POST
def campaign_preview_new(request: HttpRequest) -> JsonResponse:
    """The live preview of a new campaign's unsaved content, as JSON."""
    return _preview_json(request, campaign_id=0)


@account_required
@require_POST
def campaign_preview(request: HttpRequest, campaign_id: int) -> JsonResponse:
    """The live preview of an existing campaign's unsaved content, as JSON."""
    campaign = _campaign_or_404(request, campaign_id)
    return _preview_json(request, campaign_id=campaign.pk)


def _preview_json(request: HttpRequest, *, campaign_id: int) -> JsonResponse:
    account = request.user.account
    fields, list_ids, subscriber_value = _editor_values(request.POST)
    preview = _live_preview(
        account,
        fields=fields,
        lists=_chosen_lists(account, list_ids),
        subscriber_id=_parse_id(subscriber_value),
        campaign_id=campaign_id,
    )
    return JsonResponse(preview)


# --- one campaign --------------------------------------------------------------------------------


@account_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    account = request.user.account
    campaign = _campaign_or_404(request, campaign_id)
    lists = list(campaign.lists.all())
    subscriber_id = _parse_id(request.GET.get("subscriber"))
    preview = preview_error = None
    try:
        preview = selectors.campaign_preview(
            account=account, campaign=campaign, subscriber_id=subscriber_id
        )
        if preview is None:
            preview_error = "That subscriber is not on the campaign's lists."
            subscriber_id = None
            preview = selectors.campaign_preview(account=account, campaign=campaign)
    except ApplicationError as exc:
        preview_error = exc.message
    # An editable campaign is analysed as it is now; a submitted one shows what the moderators
    # were given when it was submitted.
    if campaign.is_editable:
        findings = selectors.campaign_findings(campaign)
    else:
        findings = campaign.findings or []
    status = campaign.status
    return render(
        request,
        "campaigns/campaign_detail.html",
        {
            **_account_context(account),
            "campaign": campaign,
            "lists": lists,
            "recipient_count": selectors.recipient_count(campaign=campaign),
            "preview": _preview_data(preview) if preview else None,
            "preview_error": preview_error,
            "preview_subscriber": subscriber_id,
            "preview_choices": selectors.preview_choices(
                account=account, lists=lists, limit=PREVIEW_CHOICES
            ),
            "finding_groups": _group_findings(findings),
            "findings_are_live": campaign.is_editable,
            "has_blocking": bool(selectors.blocking_findings(findings)),
            "history": campaign.changes.select_related("actor").order_by("at", "id"),
            "rejection": _last_rejection(campaign),
            "test_sends": selectors.test_sends_for(account=account, campaign=campaign)[
                :RECENT_TEST_SENDS
            ],
            "can_submit": can_transition(status, CampaignStatus.SUBMITTED),
            "can_withdraw": status == CampaignStatus.SUBMITTED,
            "can_cancel": can_transition(status, CampaignStatus.CANCELLED),
        },
    )


def _last_rejection(campaign: Campaign):
    if campaign.status != CampaignStatus.REJECTED:
        return None
    return (
        campaign.changes.filter(new_status=CampaignStatus.REJECTED).order_by("-at", "-id").first()
    )


def _back_to_detail(campaign_id: int, subscriber_id: int | None = None) -> HttpResponse:
    url = reverse("campaign_detail", args=[campaign_id])
    if subscriber_id:
        url += f"?subscriber={subscriber_id}"
    return redirect(url)


@account_required
@require_POST
def campaign_test_send(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    subscriber_id = _parse_id(request.POST.get("subscriber_id"))
    try:
        sent = services.campaign_send_test(
            account=request.user.account,
            campaign_id=campaign.pk,
            user=request.user,
            subscriber_id=subscriber_id,
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, f"The test was not sent. {exc.message}")
    else:
        messages.success(
            request,
            f"Test sent to {sent.to_email}. Its links are test links: following them changes "
            "nothing.",
        )
    return _back_to_detail(campaign.pk, subscriber_id)


@account_required
@require_POST
def campaign_submit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    try:
        services.campaign_submit(
            account=request.user.account, campaign_id=campaign.pk, actor=request.user
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        # Blocking findings are listed on the detail page, which analyses the draft again.
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Submitted for moderation. A moderator reviews it before anything is sent; "
            "you can withdraw it until then.",
        )
    return _back_to_detail(campaign.pk)


@account_required
@require_POST
def campaign_withdraw(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    try:
        services.campaign_withdraw(
            account=request.user.account, campaign_id=campaign.pk, actor=request.user
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Withdrawn from moderation: the campaign is a draft again.")
    return _back_to_detail(campaign.pk)


@account_required
def campaign_cancel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    if not can_transition(campaign.status, CampaignStatus.CANCELLED):
        if campaign.status != CampaignStatus.CANCELLED:
            messages.error(
                request,
                f"A campaign that is {campaign.get_status_display().lower()} cannot be cancelled.",
            )
        return _back_to_detail(campaign.pk)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_cancel(
                account=request.user.account,
                campaign_id=campaign.pk,
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Campaign “{campaign.name}” cancelled.")
        return _back_to_detail(campaign.pk)
    return render(
        request,
        "campaigns/campaign_cancel.html",
        {**_account_context(request.user.account), "campaign": campaign, "form": form},
    )


@account_required
def campaign_delete(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    if not campaign.is_deletable:
        messages.error(request, "Only draft, rejected or cancelled campaigns can be deleted.")
        return _back_to_detail(campaign.pk)
    if request.method == "POST":
        try:
            services.campaign_delete(account=request.user.account, campaign_id=campaign.pk)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return _back_to_detail(campaign.pk)
        messages.success(request, f"Campaign “{campaign.name}” deleted.")
        return redirect("campaigns")
    return render(
        request,
        "campaigns/campaign_delete.html",
        {**_account_context(request.user.account), "campaign": campaign},
    )
