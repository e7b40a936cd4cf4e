"""The pages recipients see: the hosted subscription form and the double opt-in confirmation.

They carry the sender's identity only (rule 5): no navigation or contact details of ours.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt

from config.browser_errors import not_found_page, show_errors
from config.http import client_ip
from config.i18n import recipient_language
from lists import selectors
from lists.models import SubscriberStatus
from lists.services import optin
from lists.services.consent import FormNotice, form_notice

HONEYPOT_FIELD = "website"


class SubscribeForm(forms.Form):
    email = forms.CharField(label=gettext_lazy("E-mail address"), max_length=320)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)
    consent = forms.BooleanField(required=False)
    adult = forms.BooleanField(label=gettext_lazy("I confirm I am 18 or older."), required=False)

    def __init__(self, *args, mailing_list, notice: FormNotice, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update(autocomplete="email", inputmode="email")
        if "name" in self.fields:
            self.fields["name"].widget.attrs.update(autocomplete="name")
        if "phone" in self.fields:
            self.fields["phone"].widget.attrs.update(autocomplete="tel", inputmode="tel")
        # The labels are the notice's, so the consent record stores what the boxes said.
        self.fields["consent"].label = notice.agreement
        self.fields["adult"].label = notice.age
        if not mailing_list.form_collect_name:
            del self.fields["name"]
        if not mailing_list.form_collect_phone:
            del self.fields["phone"]
        if not mailing_list.adult_content:
            del self.fields["adult"]


def _rate_limited(request: HttpRequest) -> bool:
    """Count form posts per client address per minute (bots, not people, post faster)."""
    key = f"subscribe-rate:{client_ip(request)}"
    cache.add(key, 0, timeout=60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=60)
        count = 1
    return count > settings.SUBSCRIBE_RATE_PER_MINUTE


def _shown_text(request: HttpRequest, mailing_list, notice: FormNotice) -> str:
    """The notice as the posting form showed it: the embedded snippet carries the language it
    was written in (`lang`), which may differ from the language this request negotiates."""
    shown_in = request.POST.get("lang", "")
    if shown_in not in dict(settings.LANGUAGES) or shown_in == translation.get_language():
        return notice.text()
    with translation.override(shown_in):
        return form_notice(mailing_list).text()


def _list_or_404(request: HttpRequest, public_id: str):
    """The list of the form, its language active for the page (config.i18n)."""
    mailing_list = selectors.list_by_public_id(public_id=public_id)
    if mailing_list is None:
        raise Http404(_("No such subscription form."))
    recipient_language(request, mailing_list.language)
    return mailing_list


# Embedded forms post from the sender's own site, which cannot carry our CSRF token; the form
# changes nothing without a confirmation e-mail on double opt-in lists, and bots meet the
# honeypot and the rate limit. The snippet is a plain form, so the page itself is never framed
# (no clickjacking of the consent box).
@csrf_exempt
def subscribe(request: HttpRequest, public_id: str) -> HttpResponse:
    """The hosted form; its answer to a valid post depends on the list alone, never on whether
    or how the address is known: the address is looked up only later, in a worker
    (optin.subscription_form_accept), and no known subscriber changes before confirming."""
    mailing_list = _list_or_404(request, public_id)
    notice = form_notice(mailing_list)
    form = SubscribeForm(request.POST or None, mailing_list=mailing_list, notice=notice)
    context = {
        "list": mailing_list,
        "account": mailing_list.account,
        "form": form,
        "notice": notice,
    }
    if request.method != "POST":
        return render(request, "lists/public/subscribe.html", context)
    if _rate_limited(request):
        return render(request, "lists/public/slow_down.html", context, status=429)
    step = "confirm" if mailing_list.double_opt_in else "done"
    thanks = reverse("subscribe_thanks", kwargs={"public_id": public_id}) + f"?next={step}"
    if request.POST.get(HONEYPOT_FIELD):
        # Answer a bot as if it had worked, so it learns nothing.
        return redirect(thanks)
    form.is_valid()
    # Every refusal at once: the consent box, the age, the address (one try shows them all).
    problems = optin.subscription_form_problems(
        mailing_list=mailing_list,
        email=form.cleaned_data.get("email", ""),
        consent_given=bool(form.cleaned_data.get("consent")),
        adult_confirmed=bool(form.cleaned_data.get("adult")),
    )
    for field, message in problems.items():
        if field in form.fields and field not in form.errors:
            form.add_error(field, message)
    if form.is_valid():
        data = form.cleaned_data
        with show_errors(form=form):
            optin.subscription_form_accept(
                mailing_list=mailing_list,
                email=data["email"],
                name=data.get("name", ""),
                phone=data.get("phone", ""),
                consent_given=data["consent"],
                adult_confirmed=data.get("adult", False),
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                form_url=request.META.get("HTTP_REFERER", "") or mailing_list.form_url,
                language=translation.get_language() or "",
                # What the form showed, stored in the consent record as it was read.
                consent_text=_shown_text(request, mailing_list, notice),
            )
            return redirect(thanks)
    return render(request, "lists/public/subscribe.html", context, status=400)


def subscribe_thanks(request: HttpRequest, public_id: str) -> HttpResponse:
    mailing_list = _list_or_404(request, public_id)
    context = {
        "list": mailing_list,
        "account": mailing_list.account,
        "confirm": request.GET.get("next") == "confirm",
    }
    return render(request, "lists/public/thanks.html", context)


@not_found_page("lists/public/invalid.html")
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms: mail scanners that open links must not subscribe."""
    known = optin.subscriber_for_confirm_token(token)
    payload_list = known.mailing_list
    recipient_language(request, known.language or payload_list.language)
    context = {"list": payload_list, "account": payload_list.account, "token": token}
    if request.method != "POST":
        if known.status == SubscriberStatus.SUBSCRIBED:
            # A used link says so, rather than asking again (issue 23, item 9).
            context |= {"subscriber": known, "already": True}
            return render(request, "lists/public/confirmed.html", context)
        return render(request, "lists/public/confirm.html", context)
    subscriber = optin.subscription_confirm(
        token=token,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    return render(request, "lists/public/confirmed.html", context | {"subscriber": subscriber})
