"""Browser pages for senders: campaigns, the editor and its live preview, tests, submission."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from email.utils import formataddr

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.models import Account
from accounts.views import account_required, form_error
from campaigns import selectors, services, stats
from campaigns.forms import CONTENT_FIELDS, CampaignForm, CancelForm
from campaigns.models import Campaign
from campaigns.providers import PROVIDER_LABELS
from campaigns.states import CampaignStatus, can_transition
from campaigns.verdict import Thresholds
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


# --- the send's figures on the campaign page -----------------------------------------------------

# The figures table's rows: (key in campaigns.stats, label, shown as a share of the sent too).
FIGURE_ROWS = [
    ("recipients", "Recipients", False),
    ("sent", "Sent", False),
    ("delivered", "Delivered", True),
    ("opened", "Opened", True),
    ("clicked", "Clicked", True),
    ("hard_bounced", "Hard bounces", True),
    ("soft_bounced", "Soft bounces", True),
    ("complained", "Spam complaints", True),
    ("unsubscribed", "Unsubscribed", True),
    ("machine_opened", "Opened by machines only", True),
    ("machine_clicked", "Clicked by machines only", True),
    ("pending", "Not sent yet", False),
    ("failed", "Refused by the mail server", False),
]
# Verdict tier -> (label, badge class, what it meant for the campaign).
TIERS = {
    "green": ("Green", "ok", "Within every threshold: the rest was released."),
    "amber": ("Amber", "warning", "Near a threshold: the rest was released with a warning."),
    "review": ("Review", "error", "Over a threshold: a moderator decides whether the rest goes."),
}
RULES = {
    "green": "under the warning thresholds",
    "empty_probe": "nothing was measured",
    "complaints_amber": "complaints at the warning level",
    "complaints_review": "complaints over the review threshold",
    "complaints_limit": "complaints over the policy's limit",
    "bounces_amber": "hard bounces at the warning level",
    "bounces_review": "hard bounces over the review threshold",
    "bounces_limit": "hard bounces over the policy's limit",
}
INTERVAL_LABELS = {"complaint_rate": "Spam complaints", "hard_bounce_rate": "Hard bounces"}
# The chart's series: (key in a timeline bucket, label, colour); "sent" is drawn as bars.
CHART_SERIES = [
    ("sent", "Sent", "#9db4ee"),
    ("opened", "Opened", "#1f7a4a"),
    ("clicked", "Clicked", "#7a3fd6"),
    ("bounced", "Bounced", "#d99a00"),
    ("complained", "Complaints", "#b42318"),
]
# The chart's geometry, in SVG user units (it scales to the page's width).
CHART_WIDTH, CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 1000, 56, 16, 24, 28
CHART_SENT_HEIGHT, CHART_PANEL_GAP, CHART_EVENTS_HEIGHT, CHART_BAR_MAX = 70, 40, 150, 40
CHART_X_LABELS = 6
CHART_DOTS_UP_TO = 60  # buckets; beyond, the lines alone read better


def _percent(fraction: float) -> str:
    """0.0044 -> "0.44%", 0.129 -> "12.9%", 0.05 -> "5%" (as the verdict's reasons write them)."""
    percent = fraction * 100
    if percent == 0:
        return "0%"
    if percent < 0.01:
        return "<0.01%"
    text = f"{percent:.2f}" if percent < 1 else f"{percent:.1f}"
    return f"{text.rstrip('0').rstrip('.')}%"


def _figure_rows(stats: dict) -> list[dict]:
    """The figures table: each figure for the probe and for the whole send, with its share."""

    def cell(figures: dict, key: str, as_share: bool) -> dict:
        value = figures[key]
        sent = figures["sent"]
        return {"value": value, "share": _percent(value / sent) if as_share and sent else ""}

    return [
        {
            "key": key,
            "label": label,
            "probe": cell(stats["probe"], key, as_share),
            "whole": cell(stats, key, as_share),
        }
        for key, label, as_share in FIGURE_ROWS
    ]


def _intervals(rates: dict) -> list[dict]:
    """The rates the verdict judges, with their 95% intervals and the thresholds they meet."""
    limits = Thresholds.from_settings()
    thresholds = {
        "complaint_rate": f"warning from {_percent(limits.complaint_warn)}, review over "
        f"{_percent(limits.complaint_review)}, policy limit {_percent(limits.complaint_limit)}",
        "hard_bounce_rate": f"warning from {_percent(limits.bounce_warn)}, review over "
        f"{_percent(limits.bounce_limit)} (the policy limit)",
    }
    return [
        {
            "key": name,
            "label": label,
            "rate": _percent(rates[name]),
            "interval": f"{_percent(rates['intervals'][name][0])}–"
            f"{_percent(rates['intervals'][name][1])}",
            "thresholds": thresholds[name],
        }
        for name, label in INTERVAL_LABELS.items()
    ]


def _verdict_display(verdict: dict | None) -> dict | None:
    if not verdict:
        return None
    label, badge, meaning = TIERS.get(verdict.get("tier", ""), ("Unknown", "", ""))
    rule = verdict.get("rule", "")
    return {
        "tier": verdict.get("tier", ""),
        "label": label,
        "badge": badge,
        "meaning": meaning,
        "rule": rule,
        "rule_text": RULES.get(rule, rule.replace("_", " ")),
        "reasons": verdict.get("reasons", []),
        "flag_account": verdict.get("flag_account", False),
    }


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def _chart_panel(timeline: list[dict], keys: list[str], *, top: float, height: float) -> dict:
    """One panel's vertical scale: its peak rounded up, its ticks, and a value -> y function."""
    peak = _nice_ceiling(max(bucket[key] for bucket in timeline for key in keys))
    baseline = top + height

    def y_of(value: int) -> float:
        return baseline - height * value / peak

    ticks = [0, peak // 2, peak] if peak % 2 == 0 else [0, peak]
    return {
        "top": top,
        "baseline": baseline,
        "caption_y": top - 8,
        "y_of": y_of,
        "ticks": [{"y": f"{y_of(value):.1f}", "label": f"{value:,}"} for value in ticks],
    }


def _timeline_chart(timeline: list[dict]) -> dict | None:
    """The timeline drawn as SVG shapes, server-side (no script, no third-party library): the
    messages sent as bars in a panel of their own (a send's hundreds would flatten everything
    else), opens, clicks, bounces and complaints as lines in a panel below, one time axis."""
    if not timeline:
        return None
    count = len(timeline)
    starts = [datetime.fromisoformat(bucket["start"]) for bucket in timeline]
    step = datetime.fromisoformat(timeline[0]["end"]) - starts[0]
    if step >= timedelta(days=1):
        unit, label_format = "day", "%b %d"
    else:
        unit, label_format = ("hour" if step >= timedelta(hours=1) else "minute"), "%H:%M"
    slot = (CHART_WIDTH - CHART_LEFT - CHART_RIGHT) / count

    def x_of(index: int) -> float:
        return CHART_LEFT + slot * (index + 0.5)

    sent_key, sent_label, sent_colour = CHART_SERIES[0]
    event_series = CHART_SERIES[1:]
    sent = _chart_panel(timeline, [sent_key], top=CHART_TOP, height=CHART_SENT_HEIGHT)
    events = _chart_panel(
        timeline,
        [key for key, _, _ in event_series],
        top=sent["baseline"] + CHART_PANEL_GAP,
        height=CHART_EVENTS_HEIGHT,
    )
    bar_width = min(slot * 0.7, CHART_BAR_MAX)
    bars = [
        {
            "x": f"{x_of(index) - bar_width / 2:.1f}",
            "y": f"{sent['y_of'](bucket[sent_key]):.1f}",
            "width": f"{max(bar_width, 1):.1f}",
            "height": f"{sent['baseline'] - sent['y_of'](bucket[sent_key]):.1f}",
            "title": f"{starts[index]:%Y-%m-%d %H:%M}: {bucket[sent_key]:,} sent",
        }
        for index, bucket in enumerate(timeline)
        if bucket[sent_key]
    ]
    lines = []
    for key, label, colour in event_series:
        points = [(x_of(i), events["y_of"](bucket[key])) for i, bucket in enumerate(timeline)]
        dots = [
            {
                "x": f"{x:.1f}",
                "y": f"{y:.1f}",
                "title": f"{starts[i]:%Y-%m-%d %H:%M}: {timeline[i][key]:,} {label.lower()}",
            }
            for i, (x, y) in enumerate(points)
            if timeline[i][key]
        ]
        lines.append(
            {
                "key": key,
                "colour": colour,
                "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
                "dots": dots if count <= CHART_DOTS_UP_TO else [],
            }
        )
    every = max(1, math.ceil(count / CHART_X_LABELS))
    height = events["baseline"] + CHART_BOTTOM
    for panel in (sent, events):
        del panel["y_of"]
    return {
        "width": CHART_WIDTH,
        "height": f"{height:.0f}",
        "left": CHART_LEFT,
        "label_x": CHART_LEFT - 8,
        "right": CHART_WIDTH - CHART_RIGHT,
        "unit": unit,
        "sent": sent,
        "events": events,
        "panels": [sent, events],
        "bars": bars,
        "sent_colour": sent_colour,
        "lines": lines,
        "x_label_y": f"{events['baseline'] + 18:.0f}",
        "x_ticks": [
            {"x": f"{x_of(index):.1f}", "label": f"{starts[index]:{label_format}}"}
            for index in range(0, count, every)
        ],
        "legend": [
            {"label": label, "colour": colour, "total": sum(b[key] for b in timeline)}
            for key, label, colour in CHART_SERIES
        ],
        "first": starts[0],
        "last": starts[-1] + step,
        "rows": [
            {"start": starts[index], **{key: bucket[key] for key, _, _ in CHART_SERIES}}
            for index, bucket in enumerate(timeline)
        ],
    }


def _sending_context(campaign: Campaign) -> dict:
    """The send's figures for the campaign page, once its probe has been chosen."""
    if campaign.probe_size is None:
        return {"sending": None}
    figures = stats.campaign_stats(campaign=campaign)
    return {
        "sending": {
            "stats": figures,
            "rows": _figure_rows(figures),
            "verdict": _verdict_display(figures["verdict"]),
            "rates_basis": figures["rates"]["basis"],
            # An amber verdict's warning is its reasons, shown with the verdict already.
            "note": ""
            if campaign.moderation_note == " ".join((figures["verdict"] or {}).get("reasons", []))
            else campaign.moderation_note,
            "intervals": _intervals(figures["rates"]),
            "chart": _timeline_chart(figures["timeline"]),
            "providers": [
                {**share, "label": PROVIDER_LABELS.get(share["provider"], share["provider"])}
                for share in figures["providers"]
            ],
            "is_holding": campaign.status == CampaignStatus.HOLDING
            and campaign.hold_until is not None,
            "hold_ahead": campaign.hold_until is not None and campaign.hold_until > timezone.now(),
        }
    }


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
            **_sending_context(campaign),
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
