"""Browser pages for senders: lists, subscribers, imports, the form builder, privacy requests."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.addresses import normalise_address
from accounts.http import SenderRequest
from accounts.views import account_required
from config.browser_errors import show_errors
from lists import selectors
from lists.forms import (
    MAPPED_TARGETS,
    ColumnMapForm,
    FormBuilderForm,
    ImportUploadForm,
    ListForm,
    PrivacyRequestForm,
    SubscriberAddForm,
    SubscriberEditForm,
    SubscriberFilterForm,
)
from lists.models import ImportJob, ImportStatus, MailingList, Subscriber, SubscriberStatus
from lists.paging import ListPaginator, SearchPaginator, page_numbers
from lists.services import held_uploads, imports, privacy
from lists.services import lists as list_services
from lists.services import subscribers as subscriber_services
from lists.services.consent import AgeConfirmedBy, form_notice

PAGE_SIZE = 50
ISSUES_SHOWN = 20
RECENT_IMPORTS = 5
CHANGES_SHOWN = 20


def _list_or_404(request: SenderRequest, list_id: int) -> MailingList:
    mailing_list = selectors.list_get(account=request.user.account, list_id=list_id)
    if mailing_list is None:
        raise Http404(_("No such list."))
    return mailing_list


def subscriber_or_404(request: SenderRequest, list_id: int, subscriber_id: int) -> Subscriber:
    """The account's subscriber on the list (the tag views' too), else the 404 page."""
    subscriber = selectors.subscriber_get(
        account=request.user.account, subscriber_id=subscriber_id, list_id=list_id
    )
    if subscriber is None:
        raise Http404(_("No such subscriber."))
    return subscriber


def _import_or_404(request: SenderRequest, import_id: int) -> ImportJob:
    job = selectors.import_get(account=request.user.account, import_id=import_id)
    if job is None:
        raise Http404(_("No such import."))
    return job


def _page_query(request: HttpRequest, **changes) -> str:
    """The current query string without `page` (pagination links add their own)."""
    query = request.GET.copy()
    query.pop("page", None)
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()


# --- lists ---------------------------------------------------------------------------------------


@account_required
def list_index(request: SenderRequest) -> HttpResponse:
    lists = selectors.lists_for(account=request.user.account)
    return render(request, "lists/list_index.html", {"lists": lists})


@account_required
def list_create(request: SenderRequest) -> HttpResponse:
    form = ListForm(
        request.POST or None,
        initial={"language": list_services.default_list_language(request.user.account)},
    )
    if request.method == "POST" and form.is_valid():
        with show_errors(form=form):
            mailing_list = list_services.list_create(
                account=request.user.account, **form.cleaned_data
            )
            messages.success(
                request,
                _("List “%(name)s” created. Add subscribers, import a file, or share its form.")
                % {"name": mailing_list.name},
            )
            return redirect("list_detail", list_id=mailing_list.pk)
    return render(request, "lists/list_form.html", {"form": form, "list": None})


@account_required
def list_edit(request: SenderRequest, list_id: int) -> HttpResponse:
    mailing_list = _list_or_404(request, list_id)
    form, saved = _save_list_settings(request, mailing_list, ListForm)
    if saved:
        messages.success(request, _("List settings saved."))
        return redirect("list_detail", list_id=mailing_list.pk)
    return render(request, "lists/list_form.html", {"form": form, "list": mailing_list})


def _save_list_settings(request: HttpRequest, mailing_list: MailingList, form_class):
    """Show `form_class` filled from the list; on a valid POST save it. Returns (form, saved)."""
    initial = {name: getattr(mailing_list, name) for name in form_class.base_fields}
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with show_errors(form=form):
            list_services.list_update(mailing_list=mailing_list, **form.cleaned_data)
            return form, True
    return form, False


@account_required
def list_detail(request: SenderRequest, list_id: int) -> HttpResponse:
    account = request.user.account
    mailing_list = _list_or_404(request, list_id)
    counts = selectors.status_counts(mailing_list=mailing_list)
    total = sum(counts.values())
    filters = SubscriberFilterForm(request.GET or None)
    search = status = ""
    if filters.is_valid():
        search = filters.cleaned_data["q"].strip()
        status = filters.cleaned_data["status"]
    subscribers = selectors.subscribers_for(
        account=account, mailing_list=mailing_list, status=status, search=search
    )
    # Page numbers without a COUNT(*) of the list, pages read by key (lists.paging).
    paginator: SearchPaginator | ListPaginator
    if search:
        paginator = SearchPaginator(subscribers, PAGE_SIZE)
    else:
        paginator = ListPaginator(subscribers, PAGE_SIZE, count=counts[status] if status else total)
    page = paginator.get_page(request.GET.get("page"))
    recent_imports = (
        selectors.imports_for(account=account)
        .filter(mailing_list=mailing_list)
        .order_by("-created_at")[:RECENT_IMPORTS]
    )
    status_rows = [
        (value, label, counts[value], _page_query(request, status=value))
        for value, label in SubscriberStatus.choices
    ]
    return render(
        request,
        "lists/list_detail.html",
        {
            "list": mailing_list,
            "counts": counts,
            "status_rows": status_rows,
            "total": total,
            "role_dominated": selectors.list_is_role_dominated(mailing_list=mailing_list),
            "filters": filters,
            "filtered": bool(search or status),
            "page": page,
            "page_numbers": page_numbers(page),
            "count_capped": getattr(paginator, "count_capped", False),
            "page_query": _page_query(request),
            "page_hidden": [
                (key, value)
                for key, value in request.GET.items()
                if key != "page" and key in filters.fields
            ],
            "recent_imports": recent_imports,
        },
    )


@account_required
def list_delete(request: SenderRequest, list_id: int) -> HttpResponse:
    mailing_list = _list_or_404(request, list_id)
    total = sum(selectors.status_counts(mailing_list=mailing_list).values())
    if request.method == "POST":
        name = mailing_list.name
        list_services.list_delete(mailing_list=mailing_list)
        messages.success(
            request,
            ngettext(
                "List “%(name)s” deleted, with its %(count)s subscriber and their consent "
                "records. Your suppression list is kept.",
                "List “%(name)s” deleted, with its %(count)s subscribers and their consent "
                "records. Your suppression list is kept.",
                total,
            )
            % {"name": name, "count": total},
        )
        return redirect("lists")
    return render(request, "lists/list_delete.html", {"list": mailing_list, "total": total})


# --- subscribers ---------------------------------------------------------------------------------


@account_required
def subscriber_add(request: SenderRequest, list_id: int) -> HttpResponse:
    mailing_list = _list_or_404(request, list_id)
    form = SubscriberAddForm(request.POST or None, request.FILES or None, mailing_list=mailing_list)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with show_errors(form=form):
            subscriber = subscriber_services.subscriber_add(
                mailing_list=mailing_list,
                email=data["email"],
                name=data["name"],
                phone=data["phone"],
                consent={
                    "source": data["source"],
                    "obtained_at": data["obtained_at"],
                    "proof": data["proof"],
                    "proof_file": data.get("proof_file"),
                    "ip": None,
                },
                recorded_by=request.user,
                age_confirmed=data.get("age_confirmed", False),
                age_confirmed_by=AgeConfirmedBy.BROWSER,
            )
            if subscriber.status == SubscriberStatus.UNCONFIRMED:
                messages.success(
                    request,
                    _(
                        "%(email)s added. We e-mailed them a link to confirm the subscription; "
                        "until they click it they receive nothing else."
                    )
                    % {"email": subscriber.email},
                )
            else:
                messages.success(
                    request, _("%(email)s added and subscribed.") % {"email": subscriber.email}
                )
            return redirect("list_detail", list_id=mailing_list.pk)
    return render(request, "lists/subscriber_add.html", {"form": form, "list": mailing_list})


@account_required
def subscriber_detail(request: SenderRequest, list_id: int, subscriber_id: int) -> HttpResponse:
    subscriber = subscriber_or_404(request, list_id, subscriber_id)
    records = list(
        subscriber.consent_records.select_related("recorded_by").order_by("obtained_at", "id")
    )
    for record in records:
        record.source_label = selectors.consent_source_label(record.source)  # type: ignore[attr-defined]  # for the template
    return render(
        request,
        "lists/subscriber_detail.html",
        {
            "subscriber": subscriber,
            "list": subscriber.mailing_list,
            "records": records,
            "changes": _changes_shown(request, subscriber),
            "is_live": subscriber.status
            in (SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED),
        },
    )


def _changes_shown(request: SenderRequest, subscriber: Subscriber) -> list:
    """The latest changes to the subscriber's details, each with `rows`: ((what, is_attribute),
    old, new) per field, or per attribute that changed."""
    changes = list(
        selectors.subscriber_changes(account=request.user.account, subscriber=subscriber)[
            :CHANGES_SHOWN
        ]
    )
    labels = {"name": _("Name"), "phone": _("Phone")}
    for change in changes:
        rows = []
        for field, (old, new) in change.changes.items():
            if field != "attributes":
                rows.append(((labels.get(field, field), False), old, new))
                continue
            old, new = old or {}, new or {}
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    rows.append(((key, True), old.get(key, ""), new.get(key, "")))
        change.rows = rows  # type: ignore[attr-defined]  # for the template
    return changes


@account_required
def consent_proof(request: SenderRequest, record_id: int) -> FileResponse:
    """The proof file of one of the account's consent records, as a download."""
    record = selectors.consent_record_get(account=request.user.account, record_id=record_id)
    if record is None or not record.proof_file:
        raise Http404(_("No such proof file."))
    name = (record.proof_file.name or "").rsplit("/", 1)[-1]
    return FileResponse(record.proof_file.open("rb"), as_attachment=True, filename=name)


@account_required
@require_POST
def subscriber_unsubscribe(
    request: SenderRequest, list_id: int, subscriber_id: int
) -> HttpResponse:
    subscriber = subscriber_or_404(request, list_id, subscriber_id)
    subscriber_services.subscriber_unsubscribe(
        subscriber=subscriber, channel="sender", recorded_by=request.user
    )
    messages.success(
        request,
        _("%(email)s is unsubscribed and suppressed: none of your lists will mail it again.")
        % {"email": subscriber.email},
    )
    return redirect("subscriber_detail", list_id=list_id, subscriber_id=subscriber_id)


@account_required
def subscriber_edit(request: SenderRequest, list_id: int, subscriber_id: int) -> HttpResponse:
    """Change a subscriber's name, phone and attributes (not the address: consent is tied to
    it); the change is recorded with who made it."""
    subscriber = subscriber_or_404(request, list_id, subscriber_id)
    form = SubscriberEditForm(request.POST or None, subscriber=subscriber)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with show_errors(form=form):
            subscriber_services.subscriber_update(
                subscriber=subscriber,
                name=data["name"],
                phone=data["phone"],
                attributes=data["attributes"],
                changed_by=request.user,
                channel="browser",
            )
            messages.success(
                request, _("Details of %(email)s saved.") % {"email": subscriber.email}
            )
            return redirect("subscriber_detail", list_id=list_id, subscriber_id=subscriber_id)
    return render(
        request,
        "lists/subscriber_edit.html",
        {"form": form, "subscriber": subscriber, "list": subscriber.mailing_list},
    )


@account_required
def subscriber_remove(request: SenderRequest, list_id: int, subscriber_id: int) -> HttpResponse:
    """Take a subscriber off this list only (asks first; the POST removes)."""
    subscriber = subscriber_or_404(request, list_id, subscriber_id)
    is_live = subscriber.status in (SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNCONFIRMED)
    if request.method == "POST":
        if is_live:
            subscriber_services.subscriber_remove_from_list(
                subscriber=subscriber, recorded_by=request.user
            )
            messages.success(
                request,
                _(
                    "%(email)s is removed from “%(list)s”. Your other lists are not changed and "
                    "the address is not suppressed."
                )
                % {"email": subscriber.email, "list": subscriber.mailing_list.name},
            )
        return redirect("subscriber_detail", list_id=list_id, subscriber_id=subscriber_id)
    return render(
        request,
        "lists/subscriber_remove.html",
        {"subscriber": subscriber, "list": subscriber.mailing_list, "is_live": is_live},
    )


@account_required
def list_export(request: SenderRequest, list_id: int) -> HttpResponse:
    """Every subscriber of the list with their consent, as CSV or XLSX (?format=): the file
    itself when small, else a background export (lists.export_views.export_answer)."""
    from django.urls import reverse

    from lists.export_views import export_answer
    from lists.exports import EXPORT_FORMATS, export_filename

    mailing_list = _list_or_404(request, list_id)
    file_format = request.POST.get("format") or request.GET.get("format", "csv")
    if file_format not in EXPORT_FORMATS:
        raise Http404(_("No such export format."))
    return export_answer(
        request,
        source="list",
        object_id=mailing_list.pk,
        file_format=file_format,
        subscribers=selectors.subscribers_for(
            account=request.user.account, mailing_list=mailing_list
        ),
        filename=export_filename(mailing_list),
        title=_("List “%(name)s” (%(format)s)")
        % {"name": mailing_list.name, "format": file_format.upper()},
        back_url=reverse("list_detail", args=[mailing_list.pk]),
    )


# --- imports -------------------------------------------------------------------------------------


# The import form's files kept for the next try when it is refused for something else.
HELD_FIELDS = ("file", "proof_file")


def _held_files(request: SenderRequest) -> tuple[MultiValueDict | None, dict]:
    """The request's files, with each file held from the last try put back where the person
    did not choose a new one (a new choice replaces, and deletes, the held one)."""
    if request.method != "POST":
        return None, {}
    account_id = request.user.account_id
    files, held = request.FILES.copy(), {}
    for field in HELD_FIELDS:
        token = request.POST.get(f"held_{field}", "")
        if field in request.FILES:
            held_uploads.upload_release(token=token, account_id=account_id)
        elif token:
            found = held_uploads.upload_held(token=token, account_id=account_id)
            if found is not None:
                # The held File stands in for an upload: the form reads its name, size, bytes.
                files[field], held[field] = found  # type: ignore[assignment]
    return files, held


@account_required
def import_upload(request: SenderRequest, list_id: int) -> HttpResponse:
    """Step 1 of the import wizard. Every error shows at once (the form's and the consent
    rules'); a file the person chose is kept for the next try when the refusal was about
    something else (lists.services.held_uploads), so it need not be chosen again."""
    mailing_list = _list_or_404(request, list_id)
    account_id = request.user.account_id
    files, held = _held_files(request)
    form = ImportUploadForm(request.POST or None, files)
    if request.method == "POST":
        form.is_valid()
        data = form.cleaned_data
        problems = imports.import_request_problems(
            consent_source=request.POST.get("consent_source", ""),
            proof=data.get("proof", ""),
            consent_obtained_at=form.consent_obtained_datetime(),
            proof_file=data.get("proof_file"),
        )
        for field, message in problems.items():
            if field not in form.errors:
                form.add_error(field, message)
        if not form.errors:
            with show_errors(form=form):
                job = imports.import_create(
                    mailing_list=mailing_list,
                    user=request.user,
                    upload=data["file"],
                    consent_source=data["consent_source"],
                    proof=data["proof"],
                    consent_obtained_at=form.consent_obtained_datetime(),
                    column_map=None,
                    start=False,
                    proof_file=data.get("proof_file"),
                )
                for kept in held.values():
                    held_uploads.upload_release(token=kept.token, account_id=account_id)
                return redirect("import_map", import_id=job.pk)
        for field in HELD_FIELDS:
            if field in form.errors:
                # The file itself was refused: another one is needed.
                if field in held:
                    held_uploads.upload_release(token=held.pop(field).token, account_id=account_id)
            elif field in request.FILES:
                held[field] = held_uploads.upload_hold(
                    account_id=account_id,
                    upload=request.FILES[field],  # type: ignore[arg-type]  # one file, not a list
                )
    max_mb = settings.IMPORT_MAX_BYTES // (1024 * 1024)
    return render(
        request,
        "lists/import_upload.html",
        {"form": form, "list": mailing_list, "max_mb": max_mb, "held": held},
    )


@account_required
def import_map(request: SenderRequest, import_id: int) -> HttpResponse:
    job = _import_or_404(request, import_id)
    if job.status != ImportStatus.PENDING:
        return redirect("import_progress", import_id=job.pk)
    if request.method == "POST" and request.POST.get("action") == "cancel":
        imports.import_cancel_pending(job=job)
        messages.success(
            request,
            _("Import of %(file)s cancelled; the file is gone.") % {"file": job.original_filename},
        )
        return redirect("list_detail", list_id=job.mailing_list_id)
    with show_errors(request) as shown:
        preview = imports.import_header(job=job)
    if shown.error:
        imports.import_cancel_pending(job=job)
        return redirect("import_upload", list_id=job.mailing_list_id)
    # The status and opt-out columns are always read; the form maps the rest.
    guess = {key: value for key, value in job.column_map.items() if key in MAPPED_TARGETS}
    form = ColumnMapForm(request.POST or None, header=preview.header, guess=guess)
    if request.method == "POST" and form.is_valid():
        # The form's fields are the file's columns: the error goes above them.
        with show_errors(form=form):
            imports.import_start(job=job, column_map=form.cleaned_data["column_map"])
            return redirect("import_progress", import_id=job.pk)
    width = len(preview.header)
    rows = [row + [""] * (width - len(row)) for row in preview.rows]
    source_status = preview.source_status
    return render(
        request,
        "lists/import_map.html",
        {
            "job": job,
            "list": job.mailing_list,
            "form": form,
            "rows": rows,
            "header_row": preview.header_row,
            "source_status": None if source_status.is_empty else source_status,
        },
    )


@account_required
def import_progress(request: SenderRequest, import_id: int) -> HttpResponse:
    job = _import_or_404(request, import_id)
    if job.status == ImportStatus.PENDING:
        return redirect("import_map", import_id=job.pk)
    issues = list(job.issues.all()[: ISSUES_SHOWN + 1]) if job.is_finished else []
    return render(
        request,
        "lists/import_progress.html",
        {
            "job": job,
            "list": job.mailing_list,
            "issues": issues[:ISSUES_SHOWN],
            "more_issues": len(issues) > ISSUES_SHOWN,
            "issues_shown": ISSUES_SHOWN,
            "percent": round(job.progress * 100),
        },
    )


# --- the form builder ----------------------------------------------------------------------------


def embed_snippet(mailing_list: MailingList) -> str:
    """The HTML a sender pastes into their own site; it posts to the hosted form's view. In the
    list's language, whatever the sender's: it is the recipients' (it says so in `lang`)."""
    with translation.override(mailing_list.language or settings.LANGUAGE_CODE):
        return _snippet(mailing_list)


def _snippet(mailing_list: MailingList) -> str:
    return render_to_string(
        "lists/form_snippet.html",
        {
            "list": mailing_list,
            "account": mailing_list.account,
            "action": mailing_list.form_url,
            "notice": form_notice(mailing_list),
        },
    ).strip()


@account_required
def list_form_builder(request: SenderRequest, list_id: int) -> HttpResponse:
    mailing_list = _list_or_404(request, list_id)
    form, saved = _save_list_settings(request, mailing_list, FormBuilderForm)
    if saved:
        messages.success(request, _("Form saved. The hosted form and the snippet below match it."))
        return redirect("list_form_builder", list_id=mailing_list.pk)
    return render(
        request,
        "lists/form_builder.html",
        {
            "list": mailing_list,
            "form": form,
            "hosted_url": mailing_list.form_url,
            "snippet": embed_snippet(mailing_list),
        },
    )


# --- privacy and suppression ---------------------------------------------------------------------


def _export_response(email: str, data: dict) -> HttpResponse:
    body = json.dumps(data, indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = "subscriber-data-" + email.replace("@", "-at-").replace('"', "") + ".json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _holds_anything(data: dict) -> bool:
    return bool(data["subscriptions"] or data["suppression"] or data["import_reports"])


def _privacy_action(request: HttpRequest, account, email: str, action: str) -> HttpResponse | None:
    if action == "erase-confirmed":
        count = privacy.subscriber_erase(account=account, email=email)["subscribers_erased"]
        messages.success(
            request,
            ngettext(
                "Erased: %(count)s subscription with its consent history. Only a hashed "
                "suppression remains, so the address is never mailed or imported again.",
                "Erased: %(count)s subscriptions with their consent history. Only a hashed "
                "suppression remains, so the address is never mailed or imported again.",
                count,
            )
            % {"count": count},
        )
        return redirect("privacy_requests")
    if action not in ("export", "erase"):
        return None
    data = selectors.subscriber_export(account=account, email=email)
    if action == "erase":
        return render(
            request,
            "lists/privacy_erase_confirm.html",
            {"email": email, "subscriptions": data["subscriptions"], "data": data},
        )
    if _holds_anything(data):
        return _export_response(email, data)
    messages.info(request, _("You hold no data about %(email)s.") % {"email": email})
    return redirect("privacy_requests")


@account_required
def privacy_requests(request: SenderRequest) -> HttpResponse:
    """Export or erase everything the account holds about one address (rule 9).

    Both actions POST: the address stays out of URLs and server logs.
    """
    account = request.user.account
    form = PrivacyRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with show_errors(form=form):
            email = normalise_address(form.cleaned_data["email"])
            response = _privacy_action(request, account, email, request.POST.get("action", ""))
            if response is not None:
                return response
            form.add_error(None, _("Choose Export or Erase."))
    return render(request, "lists/privacy_requests.html", {"form": form})


@account_required
def suppressions(request: SenderRequest) -> HttpResponse:
    queryset = selectors.suppressions_for(account=request.user.account)
    page: Page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "lists/suppressions.html", {"page": page})


@account_required
def account_export(request: SenderRequest) -> HttpResponse:
    """Every list of the account with its subscribers' consent, as a ZIP of CSV files (the
    owner's, before closing the account: accounts.roles), always written by a worker: POST
    starts it, GET shows the button."""
    from django.urls import reverse

    from lists.export_views import export_answer

    return export_answer(
        request,
        source="account",
        object_id=None,
        file_format="zip",
        # Counted for the page; a ZIP is never answered in the request (export_streams).
        subscribers=Subscriber.objects.filter(mailing_list__account=request.user.account),
        filename="",
        title=_("All lists (ZIP)"),
        back_url=reverse("account_close"),
    )
