"""Browser pages for the template library: the starters and the account's templates, their
editor and preview, and the campaign page's "Duplicate" and "Save as template"."""

from __future__ import annotations

from email.utils import formataddr

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import SenderRequest
from accounts.views import account_required
from campaigns import email_templates, selectors
from campaigns.models import EmailTemplate
from campaigns.starters import STARTERS, starter_get
from campaigns.template_forms import SaveAsTemplateForm, TemplateForm
from config.browser_errors import show_errors


def _template_or_404(request: SenderRequest, template_id: int) -> EmailTemplate:
    template = email_templates.template_get(account=request.user.account, template_id=template_id)
    if template is None:
        raise Http404("No such template.")
    return template


@account_required
def template_index(request: SenderRequest) -> HttpResponse:
    account = request.user.account
    return render(
        request,
        "campaigns/template_index.html",
        {
            "account": account,
            "starters": STARTERS,
            # the list shows names and dates: a template's bodies can be hundreds of KB each
            "templates": email_templates.templates_for(account=account).defer(
                "html_body", "text_body"
            ),
        },
    )


@account_required
def template_create(request: SenderRequest) -> HttpResponse:
    """A new template, blank or (`?starter=`) from a starter."""
    initial = {}
    starter = starter_get(request.GET.get("starter", ""))
    if starter is not None:
        initial = {
            "name": str(starter.name),
            "subject": str(starter.subject),
            "html_body": starter.html_body,
        }
    return _editor(request, template=None, initial=initial)


@account_required
def template_edit(request: SenderRequest, template_id: int) -> HttpResponse:
    template = _template_or_404(request, template_id)
    initial = {name: getattr(template, name) for name in email_templates.TEMPLATE_FIELDS}
    return _editor(request, template=template, initial=initial)


def _editor(request: SenderRequest, *, template: EmailTemplate | None, initial: dict):
    account = request.user.account
    if request.method == "POST":
        form = TemplateForm(request.POST)
        if form.is_valid():
            with show_errors(form=form):
                if template is None:
                    saved = email_templates.template_create(
                        account=account, created_by=request.user, **form.cleaned_data
                    )
                else:
                    saved = email_templates.template_update(
                        account=account, template_id=template.pk, **form.cleaned_data
                    )
                messages.success(request, _("Template “%(name)s” saved.") % {"name": saved.name})
                return redirect("template_preview", template_id=saved.pk)
    else:
        form = TemplateForm(initial=initial)
    return render(
        request,
        "campaigns/template_form.html",
        {"account": account, "form": form, "template": template},
    )


@account_required
def template_delete(request: SenderRequest, template_id: int) -> HttpResponse:
    template = _template_or_404(request, template_id)
    if request.method == "POST":
        email_templates.template_delete(account=request.user.account, template_id=template.pk)
        messages.success(request, _("Template “%(name)s” deleted.") % {"name": template.name})
        return redirect("templates")
    return render(request, "campaigns/template_delete.html", {"template": template})


def _sample_preview(request: SenderRequest, *, subject: str, html_body: str, text_body: str):
    """The content as a made-up recipient would get it, our footer included, or the error that
    keeps it from compiling."""
    account = request.user.account
    content = selectors.draft_content(
        account=account,
        subject=subject,
        from_name=account.company_name,
        from_email=request.user.email,
        html_body=html_body,
        text_body=text_body,
    )
    with show_errors() as shown:
        preview = selectors.content_preview(account=account, content=content, lists=[])
    if shown.error:
        return None, shown.message
    message = preview.message
    return {
        "subject": message.subject,
        "html": message.html,
        "text": message.text,
        "from": message.from_header,
        "to": formataddr((preview.recipient.name, message.to)),
    }, ""


@account_required
def template_preview(request: SenderRequest, template_id: int) -> HttpResponse:
    template = _template_or_404(request, template_id)
    preview, error = _sample_preview(
        request,
        subject=template.subject,
        html_body=template.html_body,
        text_body=template.text_body,
    )
    return render(
        request,
        "campaigns/template_preview.html",
        {"template": template, "preview": preview, "preview_error": error},
    )


@account_required
def starter_preview(request: SenderRequest, starter_key: str) -> HttpResponse:
    starter = starter_get(starter_key)
    if starter is None:
        raise Http404("No such starter template.")
    preview, error = _sample_preview(
        request, subject=str(starter.subject), html_body=starter.html_body, text_body=""
    )
    return render(
        request,
        "campaigns/template_preview.html",
        {"starter": starter, "preview": preview, "preview_error": error},
    )


@account_required
def campaign_save_as_template(request: SenderRequest, campaign_id: int) -> HttpResponse:
    """ "Save as template" from a campaign's page: a name (the campaign's by default), then the
    new template's preview."""
    campaign = selectors.campaign_get(account=request.user.account, campaign_id=campaign_id)
    if campaign is None:
        raise Http404("No such campaign.")
    if request.method == "POST":
        form = SaveAsTemplateForm(request.POST)
        if form.is_valid():
            with show_errors(form=form):
                template = email_templates.template_from_campaign(
                    account=request.user.account,
                    campaign_id=campaign.pk,
                    created_by=request.user,
                    name=form.cleaned_data["name"],
                )
                messages.success(
                    request,
                    _("Saved as the template “%(name)s”.") % {"name": template.name},
                )
                return redirect("template_preview", template_id=template.pk)
    else:
        form = SaveAsTemplateForm(initial={"name": campaign.name})
    return render(
        request, "campaigns/campaign_save_as_template.html", {"campaign": campaign, "form": form}
    )


@account_required
@require_POST
def campaign_duplicate(request: SenderRequest, campaign_id: int) -> HttpResponse:
    """ "Duplicate" on a campaign's page: a new draft, opened in the editor."""
    with show_errors(request):
        copy = email_templates.campaign_duplicate(
            account=request.user.account, campaign_id=campaign_id, created_by=request.user
        )
        messages.success(
            request,
            _("Draft “%(name)s” made from the campaign: change what you need, then save.")
            % {"name": copy.name},
        )
        return redirect("campaign_edit", campaign_id=copy.pk)
    return redirect("campaign_detail", campaign_id=campaign_id)
