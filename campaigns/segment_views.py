"""Browser pages for segments: the list, a condition builder that works without JavaScript
(rows of condition / attribute / value, "Add a condition" posts the form back with one more
row), and deleting one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.http import SenderRequest
from accounts.views import account_required
from campaigns import segment_selectors, segment_services
from campaigns.models import Segment, SegmentMatch
from config.browser_errors import show_errors
from lists import selectors as list_selectors
from lists.models import ConsentSource

# "field:op" -> what the builder's menu says; the value it wants is in VALUE_HINTS.
KINDS = {
    "tag:has": gettext_lazy("Has the tag"),
    "tag:has_not": gettext_lazy("Does not have the tag"),
    "attribute:equals": gettext_lazy("Attribute equals"),
    "attribute:contains": gettext_lazy("Attribute contains"),
    "attribute:is_set": gettext_lazy("Attribute is set"),
    "consent_source:is": gettext_lazy("Consent source is"),
    "subscribed:before": gettext_lazy("Subscribed before (date)"),
    "subscribed:on_or_after": gettext_lazy("Subscribed on or after (date)"),
    "language:is": gettext_lazy("Language is"),
    "opened:within_days": gettext_lazy("Opened a message in the last … days"),
    "clicked:within_days": gettext_lazy("Clicked a link in the last … days"),
    "opened:never": gettext_lazy("Never opened a message"),
}
MATCH_LABELS = {
    SegmentMatch.ALL: pgettext_lazy("segment match", "All of the conditions"),
    SegmentMatch.ANY: pgettext_lazy("segment match", "Any of the conditions"),
}
MAX_ROWS = 20


def _segment_or_404(request: SenderRequest, segment_id: int) -> Segment:
    segment = segment_selectors.segment_get(account=request.user.account, segment_id=segment_id)
    if segment is None:
        raise Http404("No such segment.")
    return segment


def _rows_of(conditions: list[dict]) -> list[dict]:
    return [
        {
            "kind": f"{c['field']}:{c['op']}",
            "key": c.get("key", ""),
            "value": "" if c.get("value") is None else str(c["value"]),
        }
        for c in conditions
    ]


def _posted_rows(post) -> list[dict]:
    try:
        count = min(int(post.get("rows", "0")), MAX_ROWS)
    except ValueError:
        count = 0
    rows = []
    for index in range(max(count, 0)):
        if post.get(f"c-{index}-remove"):
            continue
        rows.append(
            {
                "kind": post.get(f"c-{index}-kind", ""),
                "key": post.get(f"c-{index}-key", "").strip(),
                "value": post.get(f"c-{index}-value", "").strip(),
            }
        )
    return rows


def _conditions_of(rows: list[dict]) -> list[dict]:
    """The rows a kind was chosen in, as the service takes conditions (it checks them)."""
    out = []
    for row in rows:
        field, _sep, op = row["kind"].partition(":")
        if not field:
            continue
        condition = {"field": field, "op": op, "value": row["value"]}
        if field == "attribute":
            condition["key"] = row["key"]
        out.append(condition)
    return out


def condition_text(condition: dict) -> str:
    """One condition in words, for the list of segments."""
    kind = str(KINDS.get(f"{condition['field']}:{condition['op']}", condition["field"]))
    parts = [kind]
    if condition.get("key"):
        parts.append(f"“{condition['key']}”")
    if condition.get("value") not in (None, ""):
        parts.append(f"“{condition['value']}”")
    return " ".join(parts)


@account_required
def segment_index(request: SenderRequest) -> HttpResponse:
    account = request.user.account
    segments = list(segment_selectors.segments_for(account=account))
    for segment in segments:
        segment.summary = [condition_text(c) for c in segment.conditions]  # type: ignore[attr-defined]  # for the template
    return render(
        request,
        "campaigns/segment_index.html",
        {"segments": segments, "match_labels": MATCH_LABELS},
    )


@account_required
def segment_create(request: SenderRequest) -> HttpResponse:
    return _builder(request, segment=None)


@account_required
def segment_edit(request: SenderRequest, segment_id: int) -> HttpResponse:
    return _builder(request, segment=_segment_or_404(request, segment_id))


def _builder(request: SenderRequest, *, segment: Segment | None) -> HttpResponse:
    account = request.user.account
    errors: dict[str, str] = {}
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        list_ids = request.POST.getlist("lists")
        match = request.POST.get("match", SegmentMatch.ALL)
        rows = _posted_rows(request.POST)
        if request.POST.get("action") == "add":
            rows.append({"kind": "", "key": "", "value": ""})
        else:
            fields: dict[str, Any] = {
                "name": name,
                "lists": list_ids,
                "match": match,
                "conditions": _conditions_of(rows),
            }
            # The editor is not a Django form: it shows each error beside the row it names.
            with show_errors() as shown:
                if segment is None:
                    saved = segment_services.segment_create(account=account, **fields)
                else:
                    saved = segment_services.segment_update(
                        account=account, segment_id=segment.pk, **fields
                    )
                messages.success(request, _("Segment saved."))
                return redirect("segment_edit", segment_id=saved.pk)
            errors[shown.field or "general"] = shown.message
    elif segment is not None:
        name, match = segment.name, segment.match
        list_ids = [str(mailing_list.pk) for mailing_list in segment.lists.all()]
        rows = _rows_of(segment.conditions) + [{"kind": "", "key": "", "value": ""}]
    else:
        name, match, list_ids = "", SegmentMatch.ALL, []
        rows = [{"kind": "", "key": "", "value": ""}]
    count = None
    if segment is not None and request.method == "GET":
        count = segment_selectors.segment_count(segment=segment)
    return render(
        request,
        "campaigns/segment_form.html",
        {
            "segment": segment,
            "name": name,
            "match": match,
            "chosen_lists": {str(pk) for pk in list_ids},
            "lists": list_selectors.lists_for(account=account),
            "rows": rows,
            "kinds": KINDS,
            "match_labels": MATCH_LABELS,
            "errors": errors,
            "count": count,
            "max_rows": MAX_ROWS,
            "value_suggestions": _value_suggestions(account),
        },
    )


def _value_suggestions(account) -> list[tuple[str, str]]:
    """(value, label) offered in the value boxes: the account's tags, the languages and the
    consent sources (any text may still be typed)."""
    tags = [
        (name, _("tag"))
        for name in list_selectors.tags_for(account=account).values_list("name", flat=True)[:200]
    ]
    languages = [(code, str(label)) for code, label in settings.LANGUAGES]
    sources = [(value, str(label)) for value, label in ConsentSource.choices]
    return tags + languages + sources


@account_required
def segment_delete(request: SenderRequest, segment_id: int) -> HttpResponse:
    segment = _segment_or_404(request, segment_id)
    if request.method == "POST":
        segment_services.segment_delete(account=request.user.account, segment_id=segment.pk)
        messages.success(request, _("Segment deleted."))
        return redirect("segments")
    return render(request, "campaigns/segment_delete.html", {"segment": segment})


@account_required
def segment_export(request: SenderRequest, segment_id: int) -> HttpResponse:
    """The segment's subscribers with their consent, as CSV or XLSX (?format=): the list
    export's columns and cells, over the addresses the segment's count counts; the file itself
    when small, else a background export (lists.export_views.export_answer)."""
    from django.urls import reverse

    from lists.export_views import export_answer
    from lists.exports import EXPORT_FORMATS, export_filename

    segment = _segment_or_404(request, segment_id)
    file_format = request.POST.get("format") or request.GET.get("format", "csv")
    if file_format not in EXPORT_FORMATS:
        raise Http404(_("No such export format."))
    return export_answer(
        request,
        source="segment",
        object_id=segment.pk,
        file_format=file_format,
        subscribers=segment_selectors.segment_subscribers(segment=segment),
        filename=export_filename(segment, kind="segment"),
        title=_("Segment “%(name)s” (%(format)s)")
        % {"name": segment.name, "format": file_format.upper()},
        back_url=reverse("segment_edit", args=[segment.pk]),
    )
