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
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.http import SenderRequest
from accounts.models import Account
from accounts.views import account_required
from campaigns import (
    email_templates,
    scheduling,
    segment_selectors,
    selectors,
    sending,
    services,
    stats,
)
from campaigns.findings import Severity
from campaigns.forms import CONTENT_FIELDS, CampaignForm, CancelForm, ScheduleForm
from campaigns.models import Campaign, CampaignScheduleChange, CampaignStatusChange
from campaigns.providers import PROVIDER_LABELS
from campaigns.states import (
    SCHEDULE_CHANGEABLE,
    CampaignStatus,
    can_transition,
    schedule_can_change,
)
from campaigns.verdict import Thresholds
from config import charts, numbers
from config.browser_errors import show_errors
from config.coded_text import in_english
from config.i18n import StrOrPromise
from lists import selectors as list_selectors
from lists.models import MailingList

PAGE_SIZE = 50
PREVIEW_CHOICES = 20
RECENT_TEST_SENDS = 5
# Severity -> (heading, what it means for the sender).
FINDING_GROUPS = {
    Severity.BLOCK: (
        gettext_lazy("Must be fixed before submitting"),
        gettext_lazy("The campaign cannot be submitted while any of these remain."),
    ),
    Severity.REVIEW: (
        gettext_lazy("A moderator will look at these"),
        gettext_lazy("You can submit; a moderator decides whether the campaign may go out."),
    ),
    Severity.INFO: (
        gettext_lazy("For your information"),
        gettext_lazy("These do not stop the campaign."),
    ),
}
# Where in the campaign the content analyser found something (its `where` codes).
FINDING_PLACES = {
    "subject": gettext_lazy("In the subject"),
    "body": gettext_lazy("In the body"),
    "sender": gettext_lazy("In the sender's identity"),
    "links": gettext_lazy("In the links"),
    "lists": gettext_lazy("In the lists"),
}
# Status filters on the campaign list, as (value, label).
STATUS_FILTERS = [
    ("", gettext_lazy("All")),
    (CampaignStatus.DRAFT, gettext_lazy("Drafts")),
    (CampaignStatus.SUBMITTED, gettext_lazy("In moderation")),
    (CampaignStatus.REJECTED, pgettext_lazy("campaign filter", "Rejected")),
    (CampaignStatus.SENT, pgettext_lazy("campaign filter", "Sent")),
]


def _campaign_or_404(request: SenderRequest, campaign_id: int) -> Campaign:
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
    # The live preview answers JSON: its errors go beside the fields they name.
    with show_errors() as shown:
        preview = selectors.content_preview(
            account=account, content=content, lists=lists, subscriber_id=subscriber_id
        )
        if preview is None:
            errors["subscriber_id"] = [
                _("That subscriber is not on the chosen lists; showing the first one instead.")
            ]
            preview = selectors.content_preview(account=account, content=content, lists=lists)
        result.update(_preview_data(preview))
    if shown.error:
        errors.setdefault(shown.field or "__all__", []).append(shown.message)
    result["errors"] = errors
    return result


def _editor_values(source, *, lists_key: str = "lists") -> tuple[dict, list, str]:
    """(content fields, list ids, subscriber id) from a QueryDict."""
    fields = {name: source.get(name, "") for name in CONTENT_FIELDS}
    return fields, source.getlist(lists_key), source.get("subscriber_id", "")


def _labelled_errors(form: CampaignForm, errors: dict[str, list[str]]) -> list[tuple[str, str]]:
    """The preview's errors as (field label, message), for the page without JavaScript."""
    labels = {name: str(field.label) for name, field in form.fields.items()}
    labels["subscriber_id"] = _("Preview as")
    return [
        (labels.get(name, _("Content")), message)
        for name, messages_of_field in errors.items()
        for message in messages_of_field
    ]


def _group_findings(findings: list[dict]) -> list[dict]:
    groups = []
    for severity, (title, meaning) in FINDING_GROUPS.items():
        items = [
            {**finding, "place": _finding_place(finding.get("where", ""))}
            for finding in findings
            if finding.get("severity") == severity
        ]
        if items:
            groups.append(
                {"severity": severity, "title": title, "meaning": meaning, "items": items}
            )
    return groups


def _finding_place(where: str) -> StrOrPromise:
    if not where:
        return ""
    return FINDING_PLACES.get(where) or _("In the %(place)s") % {"place": where}


# --- the list ------------------------------------------------------------------------------------


@account_required
def campaign_index(request: SenderRequest) -> HttpResponse:
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
            # Before the probe, the index says when it starts.
            "schedule_shown_statuses": SCHEDULE_CHANGEABLE,
        },
    )


# --- the editor ----------------------------------------------------------------------------------


@account_required
def campaign_create(request: SenderRequest) -> HttpResponse:
    return _editor(request, campaign=None)


@account_required
def campaign_edit(request: SenderRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    if not campaign.is_editable:
        messages.info(
            request,
            _("This campaign is %(status)s: only draft or rejected campaigns can be edited.")
            % {"status": campaign.get_status_display().lower()},
        )
        return redirect("campaign_detail", campaign_id=campaign.pk)
    return _editor(request, campaign=campaign)


def _initial_of(account: Account, campaign: Campaign | None, request: HttpRequest) -> dict:
    if campaign is not None:
        initial = {name: getattr(campaign, name) for name in CONTENT_FIELDS}
        initial["lists"] = [mailing_list.pk for mailing_list in campaign.lists.all()]
        initial["segments"] = [segment.pk for segment in campaign.segments.all()]
        return initial
    chosen = _parse_id(request.GET.get("list"))
    initial = {"from_name": account.company_name, "lists": [chosen] if chosen else []}
    # "New campaign from template": a starter (`?starter=`) or one of the account's templates.
    return {**initial, **email_templates.template_start(account, request.GET)}


def _editor(request: SenderRequest, *, campaign: Campaign | None) -> HttpResponse:
    """The editor for a new (`campaign` None) or an editable campaign. "Save draft" saves
    through the services; "Preview" (the page without JavaScript) shows the posted content in
    the preview pane and saves nothing."""
    account = request.user.account
    account_lists = list(list_selectors.lists_for(account=account))
    domains = list(account_selectors.sender_domains_for(account=account))
    options = {
        "lists": account_lists,
        "segments": list(segment_selectors.segments_for(account=account)),
        "from_domains": [domain.domain for domain in domains],
        "verified_domains": [domain.domain for domain in domains if domain.is_verified],
    }
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
        form = CampaignForm(
            initial={**fields, "lists": list_ids, "segments": request.POST.getlist("segments")},
            **options,
        )
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


def _save(request: SenderRequest, form: CampaignForm, campaign: Campaign | None):
    """Create or update through the services: a redirect, or None with the error on the form."""
    account = request.user.account
    # A campaign no longer editable (submitted meanwhile) is said on its page, not the form's.
    with show_errors(request, form=form, transitions_to_messages=True) as shown:
        if campaign is None:
            saved = services.campaign_create(
                account=account, created_by=request.user, **form.service_fields()
            )
        else:
            saved = services.campaign_update(
                account=account, campaign_id=campaign.pk, **form.service_fields()
            )
        messages.success(
            request,
            _("Draft “%(name)s” saved. Send yourself a test, then submit it for moderation.")
            % {"name": saved.name},
        )
        return redirect("campaign_detail", campaign_id=saved.pk)
    # Only an update can be refused for the campaign's state: a new one has none yet.
    if shown.on_form or campaign is None:
        return None
    return redirect("campaign_detail", campaign_id=campaign.pk)


@account_required
@require_POST
def campaign_preview_new(request: SenderRequest) -> JsonResponse:
    """The live preview of a new campaign's unsaved content, as JSON."""
    return _preview_json(request, campaign_id=0)


@account_required
@require_POST
def campaign_preview(request: SenderRequest, campaign_id: int) -> JsonResponse:
    """The live preview of an existing campaign's unsaved content, as JSON."""
    campaign = _campaign_or_404(request, campaign_id)
    return _preview_json(request, campaign_id=campaign.pk)


def _preview_json(request: SenderRequest, *, campaign_id: int) -> JsonResponse:
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
    ("recipients", gettext_lazy("Recipients"), False),
    ("sent", pgettext_lazy("figure", "Sent"), False),
    ("delivered", pgettext_lazy("figure", "Delivered"), True),
    ("opened", pgettext_lazy("figure", "Opened"), True),
    ("clicked", pgettext_lazy("figure", "Clicked"), True),
    ("hard_bounced", gettext_lazy("Hard bounces"), True),
    ("soft_bounced", gettext_lazy("Soft bounces"), True),
    ("blocked", gettext_lazy("Blocked by the provider"), True),
    ("complained", gettext_lazy("Spam complaints"), True),
    ("unsubscribed", pgettext_lazy("figure", "Unsubscribed"), True),
    ("machine_opened", gettext_lazy("Opened by machines only"), True),
    ("machine_clicked", gettext_lazy("Clicked by machines only"), True),
    ("pending", gettext_lazy("Not sent yet"), False),
    ("failed", gettext_lazy("Refused by the mail server"), False),
]
# Verdict tier -> (label, badge class, what it meant for the campaign).
TIERS = {
    "green": (
        pgettext_lazy("verdict tier", "Green"),
        "ok",
        gettext_lazy("Within every threshold: the rest was released."),
    ),
    "amber": (
        pgettext_lazy("verdict tier", "Amber"),
        "warning",
        gettext_lazy("Near a threshold: the rest was released with a warning."),
    ),
    "review": (
        pgettext_lazy("verdict tier", "Review"),
        "error",
        gettext_lazy("Over a threshold: a moderator decides whether the rest goes."),
    ),
}
RULES = {
    "green": gettext_lazy("under the warning thresholds"),
    "empty_probe": gettext_lazy("nothing was measured"),
    "complaints_amber": gettext_lazy("complaints at the warning level"),
    "complaints_review": gettext_lazy("complaints over the review threshold"),
    "complaints_limit": gettext_lazy("complaints over the policy's limit"),
    "bounces_amber": gettext_lazy("hard bounces at the warning level"),
    "bounces_review": gettext_lazy("hard bounces over the review threshold"),
    "bounces_limit": gettext_lazy("hard bounces over the policy's limit"),
    "blocks_amber": gettext_lazy("provider blocks at the warning level"),
    "blocks_review": gettext_lazy("provider blocks over the review threshold"),
    "unsubscribes_amber": gettext_lazy("unsubscribes at the warning level"),
    "unsubscribes_review": gettext_lazy("unsubscribes over the review threshold"),
    "none_accepted": gettext_lazy("the mail server accepted no probe message"),
    "domain_blocklisted": gettext_lazy("the From domain is on a blocklist"),
}
INTERVAL_LABELS = {
    "complaint_rate": gettext_lazy("Spam complaints"),
    "hard_bounce_rate": gettext_lazy("Hard bounces"),
    "block_rate": gettext_lazy("Provider blocks"),
    "unsubscribe_rate": pgettext_lazy("figure", "Unsubscribed"),
}
# The chart's series: (key in a timeline bucket, label, colour); "sent" is drawn as bars.
CHART_SERIES = [
    ("sent", pgettext_lazy("figure", "Sent"), "#9db4ee"),
    ("opened", pgettext_lazy("figure", "Opened"), "#1f7a4a"),
    ("clicked", pgettext_lazy("figure", "Clicked"), "#7a3fd6"),
    ("bounced", pgettext_lazy("figure", "Bounced"), "#d99a00"),
    ("complained", gettext_lazy("Complaints"), "#b42318"),
]
# The chart's bucket sizes, as its captions name them.
CHART_UNITS = {
    "minute": gettext_lazy("per minute"),
    "hour": gettext_lazy("per hour"),
    "day": gettext_lazy("per day"),
}
# The chart's geometry, in SVG user units (it scales to the page's width).
CHART_WIDTH, CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 1000, 56, 16, 24, 28
CHART_SENT_HEIGHT, CHART_PANEL_GAP, CHART_EVENTS_HEIGHT, CHART_BAR_MAX = 70, 40, 150, 40
CHART_X_LABELS = 6
CHART_DOTS_UP_TO = 60  # buckets; beyond, the lines alone read better


def _percent(fraction: float) -> str:
    """0.0044 -> "0.44%", 0.129 -> "12.9%", 0.05 -> "5%": the project's one percent format
    (config.numbers), in the page's language."""
    return numbers.percent(fraction)


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


def _figures_sig(stats: dict) -> str:
    """What the figures table shows, as one string: the page swaps the table in (polling it with
    the timeline) only when it changed."""
    return "|".join(f"{stats['probe'][key]},{stats[key]}" for key, _label, _as_share in FIGURE_ROWS)


def _thresholds() -> dict[str, str]:
    """What the verdict compares each judged rate with, in words (from settings)."""
    limits = Thresholds.from_settings()
    return {
        "complaint_rate": _("warning from %(warn)s, review over %(review)s, policy limit %(limit)s")
        % {
            "warn": _percent(limits.complaint_warn),
            "review": _percent(limits.complaint_review),
            "limit": _percent(limits.complaint_limit),
        },
        "hard_bounce_rate": _("warning from %(warn)s, review over %(review)s (the policy limit)")
        % {"warn": _percent(limits.bounce_warn), "review": _percent(limits.bounce_limit)},
        **{
            name: _("warning from %(warn)s, review over %(review)s")
            % {"warn": _percent(levels.warn), "review": _percent(levels.review)}
            for name, levels in (
                ("block_rate", limits.blocks),
                ("unsubscribe_rate", limits.unsubscribes),
            )
        },
    }


def _intervals(rates: dict) -> list[dict]:
    """The rates the verdict judges, with their 95% intervals and the thresholds they meet."""
    thresholds = _thresholds()
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
    label, badge, meaning = TIERS.get(verdict.get("tier", ""), (_("Unknown"), "", ""))
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


def _chart_panel(timeline: list[dict], keys: list[str], *, top: float, height: float) -> dict:
    """One panel's vertical scale: its peak rounded up, its ticks, and a value -> y function."""
    peak = charts.nice_ceiling(max(bucket[key] for bucket in timeline for key in keys))
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
            "title": _("%(time)s: %(count)s sent")
            % {"time": f"{starts[index]:%Y-%m-%d %H:%M}", "count": f"{bucket[sent_key]:,}"},
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
                "title": f"{starts[i]:%Y-%m-%d %H:%M}: {timeline[i][key]:,} {str(label).lower()}",
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
        "per_unit": CHART_UNITS[unit],
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
            "figures_sig": _figures_sig(figures),
            "verdict": _verdict_display(figures["verdict"]),
            "rates_basis": figures["rates"]["basis"],
            # An amber verdict's warning is its reasons, shown with the verdict already.
            "note": ""
            if campaign.moderation_note == in_english((figures["verdict"] or {}).get("reasons", []))
            else campaign.moderation_note,
            "intervals": _intervals(figures["rates"]),
            "chart": _timeline_chart(figures["timeline"]),
            "providers": [
                {**share, "label": PROVIDER_LABELS.get(share["provider"], share["provider"])}
                for share in figures["providers"]
            ],
            "links": _link_rows(campaign, sent=figures["sent"]),
        }
    }


def _link_rows(campaign: Campaign, *, sent: int) -> list[dict]:
    """The clicks table: each link with its people, their clicks, the share of the messages
    sent whose recipient clicked it, and the machines' clicks apart."""
    return [
        {
            "index": link.index,
            "url": link.url,
            "people": link.people,
            "clicks": link.clicks,
            "share": _percent(link.people / sent) if sent else "",
            "machine_clicks": link.machine_clicks,
        }
        for link in selectors.link_clicks(campaign=campaign)
    ]


# --- the send's progress: the timeline the campaign page polls -----------------------------------

# How often the campaign page asks for the timeline again while the send is under way.
PROGRESS_POLL_SECONDS = 5
STEP_NAMES = {
    "submitted": pgettext_lazy("send step", "Submitted"),
    "approved": pgettext_lazy("send step", "Approved"),
    "probe": pgettext_lazy("send step", "Probe sent"),
    "hold": pgettext_lazy("send step", "Hold"),
    "verdict": pgettext_lazy("send step", "Verdict"),
    "release": pgettext_lazy("send step", "Release"),
    "done": pgettext_lazy("send step", "Done"),
}
# A step's state in words, for those who cannot see its marker ("stopped" says the status).
STEP_STATES = {
    "done": pgettext_lazy("send step", "done"),
    "current": pgettext_lazy("send step", "now"),
    "pending": pgettext_lazy("send step", "to come"),
    "paused": pgettext_lazy("send step", "paused"),
    "skipped": pgettext_lazy("send step", "will not happen"),
}
# The states whose words are shown; the others' only to screen readers.
SHOWN_STATES = frozenset({"current", "paused", "stopped"})


def _step_facts(key: str, progress: selectors.SendProgress) -> tuple:
    """What a step shows besides its state and time: when any of it changes, the page swaps
    the step in (and a screen reader hears it)."""
    if key == "probe":
        return (progress.probe_size, progress.probe_sent, progress.probe_handled)
    if key == "hold":
        return (progress.hold_until and progress.hold_until.isoformat(), progress.hold_over)
    if key == "verdict":
        return (progress.verdict.get("tier", ""), progress.status)
    if key == "release":
        return (progress.sent, progress.handled, progress.total)
    return ()


def _verdict_outcome(progress: selectors.SendProgress) -> str:
    tier = progress.verdict.get("tier", "")
    if tier == "review" and progress.status in (CampaignStatus.RELEASING, CampaignStatus.SENT):
        return _("Over a threshold: a moderator reviewed the probe and released the rest.")
    return str(TIERS.get(tier, ("", "", ""))[2])


def _progress_context(campaign: Campaign) -> dict | None:
    """The timeline of the send as the template shows it (None before submission)."""
    progress = selectors.send_progress(campaign=campaign)
    if progress is None:
        return None
    status_label = campaign.get_status_display()
    steps = []
    for step in progress.steps:
        facts = (step.state, step.at and step.at.isoformat(), *_step_facts(step.key, progress))
        if step.state == "stopped":
            facts += (progress.stop_reason,)
        steps.append(
            {
                "key": step.key,
                "name": STEP_NAMES[step.key],
                "state": step.state,
                "state_label": status_label if step.state == "stopped" else STEP_STATES[step.state],
                "state_shown": step.state in SHOWN_STATES,
                "at": step.at,
                "is_current": step.key == progress.current,
                "sig": "|".join(str(fact) for fact in facts),
            }
        )
    verdict = _verdict_display(progress.verdict)
    if verdict:
        rates, thresholds = progress.verdict.get("rates", {}), _thresholds()
        verdict["outcome"] = _verdict_outcome(progress)
        verdict["rates"] = [
            {
                "key": name,
                "label": label,
                "rate": _percent(float(rates.get(name, 0.0))),
                "thresholds": thresholds[name],
            }
            for name, label in INTERVAL_LABELS.items()
        ]
    return {
        "waiting_for_schedule": _waiting_for_schedule(campaign),
        "scheduled_at": campaign.scheduled_at,
        "schedule_timezone": campaign.schedule_timezone,
        "status": progress.status,
        "status_label": status_label,
        "is_final": progress.is_final,
        "steps": steps,
        "recipients": progress.recipients,
        "probe_size": progress.probe_size,
        "probe_sent": progress.probe_sent,
        "probe_handled": progress.probe_handled,
        "total": progress.total,
        "sent": progress.sent,
        "handled": progress.handled,
        "pending": progress.pending,
        "hold_until": progress.hold_until,
        "hold_ahead": progress.hold_until is not None and not progress.hold_over,
        "verdict": verdict,
        "stop_reason": progress.stop_reason,
    }


@never_cache
@account_required
def campaign_progress(request: SenderRequest, campaign_id: int) -> HttpResponse:
    """The campaign page's timeline, and once the probe is chosen its figures table, as an HTML
    fragment, which the page polls while the send is under way. Another account's campaign is
    a 404; a few queries whatever its size."""
    campaign = _campaign_or_404(request, campaign_id)
    progress = _progress_context(campaign)
    context = {"campaign": campaign, "progress": progress}
    if progress and progress["total"]:
        # Whenever the timeline counts the messages (the probe or the rest going out, and the
        # end), the figures table below moves with it: one more grouped query. During the hold
        # and a review neither counts anything.
        figures = stats.campaign_figures(campaign=campaign)
        context["figures"] = {"rows": _figure_rows(figures), "sig": _figures_sig(figures)}
    return render(request, "campaigns/_progress_fragment.html", context)


# --- one campaign --------------------------------------------------------------------------------


def _segments_shown(campaign: Campaign) -> list[dict]:
    """The segments of the audience: the version's copy once submitted (what the moderator
    approves), the live ones while it is a draft."""
    version = campaign.approved_version or (
        campaign.submitted_version if not campaign.is_editable else None
    )
    if version is not None:
        return [{"id": item["id"], "name": item["name"]} for item in version.segments or []]
    return [{"id": segment.pk, "name": segment.name} for segment in campaign.segments.all()]


@account_required
def campaign_detail(request: SenderRequest, campaign_id: int) -> HttpResponse:
    account = request.user.account
    campaign = _campaign_or_404(request, campaign_id)
    lists = list(campaign.lists.all())
    subscriber_id = _parse_id(request.GET.get("subscriber"))
    preview = preview_error = None
    with show_errors() as shown:
        preview = selectors.campaign_preview(
            account=account, campaign=campaign, subscriber_id=subscriber_id
        )
        if preview is None:
            preview_error = _("That subscriber is not on the campaign's lists.")
            subscriber_id = None
            preview = selectors.campaign_preview(account=account, campaign=campaign)
    if shown.error:
        preview_error = shown.message
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
            "segments": _segments_shown(campaign),
            # Once approved, the page shows the audience fixed then, not a count of the lists
            # (a distinct count over several large lists takes most of a second).
            "recipient_count": (
                selectors.recipient_count(campaign=campaign)
                if campaign.recipients_at_approval is None
                else campaign.recipients_at_approval
            ),
            "joined_since_approval": selectors.joined_since_approval(campaign=campaign),
            "preview": _preview_data(preview) if preview else None,
            "preview_error": preview_error,
            "preview_subscriber": subscriber_id,
            "preview_choices": selectors.preview_choices(
                account=account, lists=lists, limit=PREVIEW_CHOICES
            ),
            "finding_groups": _group_findings(findings),
            "findings_are_live": campaign.is_editable,
            "has_blocking": bool(selectors.blocking_findings(findings)),
            "history": _history(campaign),
            "can_schedule": schedule_can_change(campaign.status, campaign.resume_status),
            "waiting_for_schedule": _waiting_for_schedule(campaign),
            "rejection": _last_rejection(campaign),
            "test_sends": selectors.test_sends_for(account=account, campaign=campaign)[
                :RECENT_TEST_SENDS
            ],
            "can_submit": can_transition(status, CampaignStatus.SUBMITTED),
            # Drafts need no verified domain; submitting does, and the page says what is missing.
            "sender_missing": (
                services.sender_domain_missing(account, campaign) if campaign.is_editable else ""
            ),
            "can_withdraw": status == CampaignStatus.SUBMITTED,
            "can_cancel": can_transition(status, CampaignStatus.CANCELLED),
            "progress": _progress_context(campaign),
            "progress_poll_seconds": PROGRESS_POLL_SECONDS,
            **_sending_context(campaign),
        },
    )


def _history(campaign: Campaign) -> list:
    """The status changes and the schedule's changes, in the order they happened."""
    changes: list[CampaignStatusChange | CampaignScheduleChange] = [
        *campaign.changes.select_related("actor"),
        *campaign.schedule_changes.select_related("actor"),
    ]
    return sorted(changes, key=lambda change: change.at)


def _waiting_for_schedule(campaign: Campaign) -> bool:
    """Approved, and its probe waits for the time the sender chose."""
    return campaign.status == CampaignStatus.APPROVED and not scheduling.schedule_is_due(campaign)


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
def campaign_test_send(request: SenderRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    subscriber_id = _parse_id(request.POST.get("subscriber_id"))
    with show_errors(request, message=_("The test was not sent. %(why)s")):
        sent = services.campaign_send_test(
            account=request.user.account,
            campaign_id=campaign.pk,
            user=request.user,
            subscriber_id=subscriber_id,
        )
        messages.success(
            request,
            _("Test sent to %(address)s. Its links are test links: following them changes nothing.")
            % {"address": sent.to_email},
        )
    return _back_to_detail(campaign.pk, subscriber_id)


@account_required
@require_POST
def campaign_submit(request: SenderRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    # Blocking findings are listed on the detail page, which analyses the draft again.
    with show_errors(request):
        sending.campaign_submit(
            account=request.user.account, campaign_id=campaign.pk, actor=request.user
        )
        messages.success(
            request,
            _(
                "Submitted for moderation. A moderator reviews it before anything is sent; "
                "you can withdraw it until then."
            ),
        )
    return _back_to_detail(campaign.pk)


@account_required
@require_POST
def campaign_withdraw(request: SenderRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    with show_errors(request):
        sending.campaign_withdraw(
            account=request.user.account, campaign_id=campaign.pk, actor=request.user
        )
        messages.success(request, _("Withdrawn from moderation: the campaign is a draft again."))
    return _back_to_detail(campaign.pk)


@account_required
def campaign_cancel(request: SenderRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    if not can_transition(campaign.status, CampaignStatus.CANCELLED):
        if campaign.status != CampaignStatus.CANCELLED:
            messages.error(
                request,
                _("A campaign that is %(status)s cannot be cancelled.")
                % {"status": campaign.get_status_display().lower()},
            )
        return _back_to_detail(campaign.pk)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with show_errors(request):
            sending.campaign_cancel(
                account=request.user.account,
                campaign_id=campaign.pk,
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, _("Campaign “%(name)s” cancelled.") % {"name": campaign.name})
        return _back_to_detail(campaign.pk)
    return render(
        request,
        "campaigns/campaign_cancel.html",
        {**_account_context(request.user.account), "campaign": campaign, "form": form},
    )


@account_required
def campaign_schedule(request: SenderRequest, campaign_id: int) -> HttpResponse:
    """Set, move or clear when the probe starts; open until the probe starts (an approved
    campaign included: the time is not content and needs no new moderation)."""
    campaign = _campaign_or_404(request, campaign_id)
    if not schedule_can_change(campaign.status, campaign.resume_status):
        messages.error(
            request,
            _("The probe of this campaign has started: its schedule can no longer change."),
        )
        return _back_to_detail(campaign.pk)
    local = scheduling.schedule_local(campaign)
    initial: dict[str, object] = {
        "schedule_timezone": campaign.schedule_timezone or scheduling.DEFAULT_TIMEZONE
    }
    if local is not None:
        initial["scheduled_at"] = local.replace(tzinfo=None)
    form = ScheduleForm(request.POST or None, initial=initial, guess_zone=local is None)
    if request.method == "POST":
        clearing = "clear" in request.POST
        if clearing or form.is_valid():
            # A campaign whose probe started meanwhile is said on its page, not the form's.
            with show_errors(request, form=form, transitions_to_messages=True) as shown:
                campaign = scheduling.campaign_schedule(
                    account=request.user.account,
                    campaign_id=campaign.pk,
                    actor=request.user,
                    scheduled_at=None if clearing else form.cleaned_data["scheduled_at"],
                    timezone_name=None if clearing else form.cleaned_data["schedule_timezone"],
                )
                if clearing:
                    messages.success(
                        request,
                        _("Schedule cleared: the probe starts as soon as a moderator approves."),
                    )
                else:
                    messages.success(request, _("Schedule saved."))
                return _back_to_detail(campaign.pk)
            if not shown.on_form:
                return _back_to_detail(campaign.pk)
    return render(
        request,
        "campaigns/campaign_schedule.html",
        {**_account_context(request.user.account), "campaign": campaign, "form": form},
    )


@account_required
def campaign_delete(request: SenderRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    if not campaign.is_deletable:
        messages.error(request, _("Only draft, rejected or cancelled campaigns can be deleted."))
        return _back_to_detail(campaign.pk)
    if request.method == "POST":
        with show_errors(request):
            services.campaign_delete(account=request.user.account, campaign_id=campaign.pk)
            messages.success(request, _("Campaign “%(name)s” deleted.") % {"name": campaign.name})
            return redirect("campaigns")
        return _back_to_detail(campaign.pk)
    return render(
        request,
        "campaigns/campaign_delete.html",
        {**_account_context(request.user.account), "campaign": campaign},
    )
