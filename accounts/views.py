"""Browser pages for accounts: sign-up, verification, profile, API tokens, sender domains."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from accounts import dkim, roles, selectors, services, webhooks
from accounts.forms import (
    ApiTokenForm,
    BrandForm,
    DkimSelectorForm,
    EmailAuthenticationForm,
    LanguageForm,
    ProfileForm,
    SenderDomainForm,
    SignUpForm,
)
from accounts.http import AuthenticatedRequest, SenderRequest
from accounts.models import WebhookEvent
from config import coded_text
from config.browser_errors import not_found_page, show_errors
from config.http import client_ip


def account_required(view):
    """Login required, the user must belong to a sender account (not staff-only), and their
    role in it must allow the request (accounts.roles)."""

    @login_required
    def wrapper(request, *args, **kwargs):
        if request.user.account_id is None:
            # A moderator without a sending account (create_account --staff): their work is the
            # moderation queue, where logging in (LOGIN_REDIRECT_URL, the dashboard) takes them.
            if request.user.is_staff:
                return redirect("moderation_queue")
            messages.info(request, _("Staff users have no sender account."))
            return redirect("home")
        # The member's role must allow the request (accounts.roles: one table for every page).
        roles.check_page(request)
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def landing_url_name(user) -> str:
    """Where a logged-in user works: moderators (staff) in the moderation queue, even those
    with a sending account of their own; senders on their dashboard."""
    return "moderation_queue" if user.is_staff else "dashboard"


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and (request.user.account_id or request.user.is_staff):
        return redirect(landing_url_name(request.user))
    return render(request, "home.html")


def _sign_up_errors_all_at_once(form: SignUpForm) -> None:
    """Add to the form's own errors every refusal the sign-up service would make (terms not
    accepted, an address in use, a weak password...), for the fields the form found no fault
    with, so that one attempt shows every error."""
    form.is_valid()
    data = form.cleaned_data
    problems = services.account_sign_up_problems(
        **{name: data.get(name, "") for name in SIGN_UP_TEXT_FIELDS},
        accepted_terms=bool(data.get("accept_terms")),
        accepted_privacy=bool(data.get("accept_privacy")),
    )
    for field, refusals in problems.items():
        if field in form.errors:
            continue
        for message in refusals:
            form.add_error(field, message)


SIGN_UP_TEXT_FIELDS = (
    "company_name",
    "contact_name",
    "email",
    "phone",
    "postal_address",
    "password",
)


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        _sign_up_errors_all_at_once(form)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        with show_errors(form=form):
            user = services.account_sign_up(
                accepted_terms=data.pop("accept_terms"),
                accepted_privacy=data.pop("accept_privacy"),
                **data,
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                language=getattr(request, "LANGUAGE_CODE", ""),
            )
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Welcome! We sent a verification link to %(email)s.") % {"email": user.email},
            )
            return redirect("dashboard")
    return render(request, "accounts/signup.html", {"form": form})


class EmailLoginView(LoginView):
    form_class = EmailAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        # Without a ?next=, each lands where they work (LOGIN_REDIRECT_URL is the sender's).
        return reverse(landing_url_name(self.request.user))


@not_found_page("accounts/verify_failed.html")
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    user = services.user_verify_email(token=token)
    return render(request, "accounts/verify_done.html", {"verified_user": user})


@login_required
@require_POST
def resend_verification(request: AuthenticatedRequest) -> HttpResponse:
    if request.user.is_email_verified:
        messages.info(request, _("Your address is already verified."))
    else:
        services.user_request_email_verification(
            user=request.user, language=getattr(request, "LANGUAGE_CODE", "")
        )
        messages.success(
            request,
            _("We sent a new verification link to %(email)s.") % {"email": request.user.email},
        )
    return redirect("dashboard")


# The dashboard's list growth: the last 30 days per day, or (?growth=90) 90 days per week.
GROWTH_DAYS = (30, 90)


@account_required
def dashboard(request: SenderRequest) -> HttpResponse:
    """The sender's overview: getting started, lists and their growth, campaigns by status, the
    account's health, recent unsubscribes and complaints. The panels of other apps come from
    their template tags (accounts imports none of them); the queries stay a fixed few."""
    account = request.user.account
    domains = list(selectors.sender_domains_for(account=account))
    growth = request.GET.get("growth", "")
    growth_days = int(growth) if growth in {str(days) for days in GROWTH_DAYS} else GROWTH_DAYS[0]
    return render(
        request,
        "accounts/dashboard.html",
        {"account": account, "domains": domains, "growth_days": growth_days},
    )


@account_required
def profile(request: SenderRequest) -> HttpResponse:
    account = request.user.account
    initial = {name: getattr(account, name) for name in ProfileForm.base_fields}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with show_errors(form=form):
            services.account_profile_update(
                account=account, actor=request.user, **form.cleaned_data
            )
            messages.success(request, _("Your company identity is saved."))
            return redirect("profile")
    acceptances = request.user.terms_acceptances.all()[:5]
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "account": account,
            "acceptances": acceptances,
            "brand_form": BrandForm(
                initial={"brand_color": account.brand_color}, has_logo=bool(account.logo)
            ),
            "language_form": LanguageForm(initial={"language": request.user.language}),
        },
    )


@account_required
def api_tokens(request: SenderRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        with show_errors(form=form):
            token, new_key = services.api_token_create(user=request.user, **form.cleaned_data)
            messages.success(
                request,
                _("Token “%(name)s” created. Copy it now: it will not be shown again.")
                % {"name": token.name},
            )
            form = ApiTokenForm()
    tokens = selectors.api_tokens_for(account=request.user.account)
    return render(
        request, "accounts/api_tokens.html", {"form": form, "tokens": tokens, "new_key": new_key}
    )


@account_required
@require_POST
def api_token_revoke(request: SenderRequest, token_id: int) -> HttpResponse:
    token = services.api_token_revoke(
        account=request.user.account, token_id=token_id, actor=request.user
    )
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("api_tokens")


@account_required
def sender_domains(request: SenderRequest) -> HttpResponse:
    form = SenderDomainForm(request.POST or None)
    if dkim.we_sign():
        # We sign with a key of ours: there is no selector to ask for.
        del form.fields["dkim_selector"]
    if request.method == "POST" and form.is_valid():
        with show_errors(form=form):
            domain = services.sender_domain_add(account=request.user.account, **form.cleaned_data)
            messages.success(
                request,
                _("%(domain)s added. Publish the records listed here, then verify.")
                % {"domain": domain.domain},
            )
            return redirect("sender_domain", domain_id=domain.pk)
    domains = selectors.sender_domains_for(account=request.user.account)
    return render(request, "accounts/sender_domains.html", {"form": form, "domains": domains})


@account_required
def sender_domain(request: SenderRequest, domain_id: int) -> HttpResponse:
    domain = selectors.sender_domain_get(account=request.user.account, domain_id=domain_id)
    if domain is None:
        raise Http404("No such sender domain.")
    if dkim.we_sign():
        # A domain added before we signed gets its key on first view.
        domain = services.sender_domain_ensure_key(sender_domain=domain)
    selector_form = DkimSelectorForm(initial={"dkim_selector": domain.dkim_selector})
    return render(
        request,
        "accounts/sender_domain.html",
        {
            "domain": domain,
            "records": selectors.sender_domain_records(sender_domain=domain),
            "we_sign": dkim.we_sign(),
            "esp_name": dkim.esp_name(),
            "selector_form": selector_form,
        },
    )


@account_required
@require_POST
def sender_domain_rotate_key(request: SenderRequest, domain_id: int) -> HttpResponse:
    with show_errors(request):
        services.sender_domain_rotate_key(account=request.user.account, domain_id=domain_id)
        messages.success(
            request,
            _(
                "A new DKIM key is ready: publish its record beside the current one. We keep "
                "signing with the current key until a check sees the new one."
            ),
        )
    return redirect("sender_domain", domain_id=domain_id)


@account_required
@require_POST
def sender_domain_verify(request: SenderRequest, domain_id: int) -> HttpResponse:
    with show_errors(request):
        domain = services.sender_domain_verify(account=request.user.account, domain_id=domain_id)
        if domain.is_verified:
            messages.success(request, _("%(domain)s is verified.") % {"domain": domain.domain})
        else:
            found = [
                coded_text.render(m)
                for m in domain.findings.get("verification", {}).get("messages", [])
            ]
            messages.error(
                request,
                " ".join(found) or _("%(domain)s is not verified yet.") % {"domain": domain.domain},
            )
    return redirect("sender_domain", domain_id=domain_id)


@account_required
@require_POST
def sender_domain_selector(request: SenderRequest, domain_id: int) -> HttpResponse:
    form = DkimSelectorForm(request.POST)
    if form.is_valid():
        with show_errors(request):
            services.sender_domain_update_selector(
                account=request.user.account, domain_id=domain_id, **form.cleaned_data
            )
            messages.success(request, _("DKIM selector saved; verify again to check it."))
    return redirect("sender_domain", domain_id=domain_id)


@account_required
@require_POST
def sender_domain_delete(request: SenderRequest, domain_id: int) -> HttpResponse:
    services.sender_domain_delete(account=request.user.account, domain_id=domain_id)
    messages.success(request, _("Sender domain removed."))
    return redirect("sender_domains")


NOTIFICATIONS_PAGE_SIZE = 30


@account_required
def notifications(request: SenderRequest) -> HttpResponse:
    """The account's notifications, newest first; unread ones stand out."""
    account = request.user.account
    listed = selectors.notifications_for(account=account)
    page = Paginator(listed, NOTIFICATIONS_PAGE_SIZE).get_page(request.GET.get("page"))
    unread = selectors.unread_notification_count(account_id=account.pk)
    return render(request, "accounts/notifications.html", {"page": page, "unread": unread})


@account_required
@require_POST
def notifications_mark_read(request: SenderRequest) -> HttpResponse:
    """Mark one notification (`notification` in the form) or all of them read."""
    notification_id = request.POST.get("notification", "")
    if notification_id:
        if not notification_id.isdigit():
            raise Http404("No such notification.")
        services.notification_mark_read(
            account=request.user.account, notification_id=int(notification_id)
        )
    else:
        marked = services.notification_mark_read(account=request.user.account)
        if marked:
            messages.success(
                request,
                ngettext(
                    "%(count)d notification marked read.",
                    "%(count)d notifications marked read.",
                    marked,
                )
                % {"count": marked},
            )
    return redirect("notifications")


def legal_page(request: HttpRequest, page: str) -> HttpResponse:
    """The terms of service or the privacy policy; the privacy page's table of what we keep,
    why and how long is worked out from the retention settings (accounts.privacy)."""
    from accounts.privacy import data_kept

    versions = {"terms": settings.TERMS_VERSION, "privacy": settings.PRIVACY_VERSION}
    context = {"version": versions[page]}
    if page == "privacy":
        context["data_kept"] = data_kept()
    return render(request, f"legal/{page}.html", context)


@account_required
def terms_accept(request: SenderRequest) -> HttpResponse:
    """What changed in the terms or privacy versions the user has not accepted yet, and a button
    that accepts them (recorded with time, IP and user agent); then back to `next`."""
    from accounts.terms import documents_due

    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("dashboard")
    due = documents_due(user=request.user)
    if request.method == "POST":
        if due:
            services.terms_accept(
                user=request.user,
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
            messages.success(request, _("Thank you: the new versions are accepted."))
        return redirect(next_url)
    return render(request, "legal/accept.html", {"due": due, "next": next_url})


# --- Webhooks ------------------------------------------------------------------------------------


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://crm.example.com/hooks/consentmail"}),
        help_text=gettext_lazy("A public http(s) address. Redirects are not followed."),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(
        label=gettext_lazy("Description (optional)"), max_length=200, required=False
    )


class WebhookEndpointEditForm(WebhookEndpointForm):
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False)


WEBHOOK_DELIVERIES_PAGE_SIZE = 30


def _webhook_or_404(request: SenderRequest, webhook_id: int):
    return webhooks.webhook_endpoint_get(account=request.user.account, endpoint_id=webhook_id)


@account_required
def webhook_list(request: SenderRequest) -> HttpResponse:
    """The account's webhooks and a form to add one; a new one's secret is shown once."""
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with show_errors(form=form):
            endpoint, secret = webhooks.webhook_endpoint_create(
                account=request.user.account, **form.cleaned_data
            )
            messages.success(request, _("Webhook added. Copy its signing secret now."))
            return _webhook_page(request, endpoint, new_secret=secret)
    endpoints = webhooks.webhook_endpoints_for(account=request.user.account)
    return render(
        request,
        "accounts/webhooks.html",
        {"form": form, "endpoints": endpoints, "signature_header": webhooks.SIGNATURE_HEADER},
    )


def _webhook_page(request: SenderRequest, endpoint, *, form=None, new_secret: str | None = None):
    if form is None:
        form = WebhookEndpointEditForm(
            initial={
                "url": endpoint.url,
                "events": endpoint.events,
                "description": endpoint.description,
                "is_active": endpoint.is_active,
            }
        )
    deliveries = webhooks.webhook_deliveries_for(
        account=request.user.account, endpoint_id=endpoint.pk
    )
    page = Paginator(deliveries, WEBHOOK_DELIVERIES_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/webhook.html",
        {
            "endpoint": endpoint,
            "form": form,
            "page": page,
            "new_secret": new_secret,
            "signature_header": webhooks.SIGNATURE_HEADER,
        },
    )


@account_required
def webhook_detail(request: SenderRequest, webhook_id: int) -> HttpResponse:
    """One webhook: edit it, send a test event, rotate its secret, read its delivery log."""
    endpoint = _webhook_or_404(request, webhook_id)
    form = None
    if request.method == "POST":
        form = WebhookEndpointEditForm(request.POST)
        if form.is_valid():
            with show_errors(form=form):
                webhooks.webhook_endpoint_update(
                    account=request.user.account, endpoint_id=endpoint.pk, **form.cleaned_data
                )
                messages.success(request, _("Webhook saved."))
                return redirect("webhook", webhook_id=endpoint.pk)
    return _webhook_page(request, endpoint, form=form)


@account_required
@require_POST
def webhook_test(request: SenderRequest, webhook_id: int) -> HttpResponse:
    """Send a `webhook.test` event; its outcome appears in the delivery log."""
    webhooks.webhook_send_test(account=request.user.account, endpoint_id=webhook_id)
    messages.success(request, _("Test event sent; its result is at the top of the log."))
    return redirect("webhook", webhook_id=webhook_id)


@account_required
@require_POST
def webhook_rotate_secret(request: SenderRequest, webhook_id: int) -> HttpResponse:
    """Replace the signing secret; the new one is shown once, on this answer only."""
    endpoint, secret = webhooks.webhook_endpoint_rotate_secret(
        account=request.user.account, endpoint_id=webhook_id
    )
    messages.success(request, _("New signing secret made. The old one no longer verifies."))
    return _webhook_page(request, endpoint, new_secret=secret)


@account_required
@require_POST
def webhook_delete(request: SenderRequest, webhook_id: int) -> HttpResponse:
    webhooks.webhook_endpoint_delete(account=request.user.account, endpoint_id=webhook_id)
    messages.success(request, _("Webhook deleted."))
    return redirect("webhooks")
