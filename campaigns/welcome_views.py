"""The browser page of a list's welcome message (campaigns.welcome): write it, submit it to
moderation, see which approved version new subscribers get and its figures."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.http import SenderRequest
from accounts.views import account_required
from campaigns import welcome
from campaigns.forms import WelcomeForm
from config.browser_errors import show_errors
from lists.models import MailingList


@account_required
def list_welcome(request: SenderRequest, list_id: int) -> HttpResponse:
    """GET: the welcome's page. POST `action=save`: write it; `action=submit`: to moderation."""
    account = request.user.account
    mailing_list = MailingList.objects.filter(account=account, pk=list_id).first()
    if mailing_list is None:
        raise Http404
    found = welcome.welcome_for(account=account, list_id=list_id)
    initial = (
        {name: getattr(found.campaign, name) for name in welcome.WELCOME_FIELDS}
        if found is not None
        else {"from_name": account.company_name}
    )
    form = WelcomeForm(request.POST or None, initial=initial)
    if request.method == "POST":
        action = request.POST.get("action", "save")
        # A submit has no form to show its refusal on: the page says it after a redirect, as it
        # does a missing welcome ("not found" is an answer here, not a missing page).
        on_form = form if action != "submit" and form.is_bound else None
        with show_errors(request, form=on_form, not_found_too=True) as shown:
            if action == "submit":
                welcome.welcome_submit(account=account, list_id=list_id, actor=request.user)
                messages.success(request, _("Submitted: a moderator reviews it before it is sent."))
                return redirect("list_welcome", list_id=list_id)
            if form.is_valid():
                welcome.welcome_save(
                    account=account, list_id=list_id, actor=request.user, **form.cleaned_data
                )
                messages.success(request, _("Saved. Submit it for moderation when it is ready."))
                return redirect("list_welcome", list_id=list_id)
        if shown.error and not shown.on_form:
            return redirect("list_welcome", list_id=list_id)
    context = {
        "list": mailing_list,
        "account": account,
        "welcome": found,
        "summary": welcome.welcome_summary(found) if found is not None else None,
        "campaign": found.campaign if found is not None else None,
        "form": form,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/welcome.html", context, status=status)
