"""Re-acceptance of the terms of service and the privacy policy.

Publishing a new version (settings TERMS_VERSION, PRIVACY_VERSION) makes every sender accept it
before their next action that sends: submitting a campaign, a test send, starting or uploading an
import, in the browser or through the API. `TermsGateMiddleware` refuses those requests while an
acceptance is due: the browser is sent to the page that shows what changed with an accept
button, the API answers 403 naming the versions and the endpoint that accepts them. Everything
else (reading, editing drafts, unsubscribing people, exporting or erasing data) stays open.
Acceptances are `TermsAcceptance` rows: versions, time, client IP and user agent.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions

from accounts.models import TermsAcceptance, User
from config.i18n import StrOrPromise

# Routes (URL names) that send or lead to sending, refused while an acceptance is due. A POST
# only: their GET pages stay readable.
GATED_ROUTES = frozenset(
    {
        "campaign_submit",
        "campaign_test_send",
        "import_upload",
        "import_map",
        "api-campaign-submit",
        "api-campaign-test",
        "api-imports",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# What changed in each published version, shown on the acceptance page (newest first). A version
# with no entry shows only the link to the full text.
CHANGES: dict[tuple[str, str], tuple[StrOrPromise, ...]] = {
    ("privacy", "2026-12-06"): (
        gettext_lazy(
            "The policy now lists each kind of data we keep, why we keep it and for how long."
        ),
        gettext_lazy(
            "We set one cookie only, the session cookie: the protection of forms against "
            "forgery is kept in the session."
        ),
        gettext_lazy(
            "Preferences of accounts nobody has used for %(period)s are deleted (they were "
            "kept for 18 months)."
        ),
    ),
}


@dataclass(frozen=True)
class DueDocument:
    """A document whose current version the user has not accepted yet."""

    key: str  # "terms" or "privacy"
    title: str
    version: str
    accepted_version: str  # "" when the user never accepted any version
    changes: tuple[StrOrPromise, ...]


def current_versions() -> dict[str, str]:
    return {"terms": settings.TERMS_VERSION, "privacy": settings.PRIVACY_VERSION}


def _changes(key: str, version: str) -> tuple[str, ...]:
    from accounts.privacy import days

    period = days(settings.RETENTION_DORMANT_PREFERENCES_DAYS)
    return tuple(str(line) % {"period": period} for line in CHANGES.get((key, version), ()))


def documents_due(*, user: User) -> list[DueDocument]:
    """The documents (terms, privacy) whose current version `user` has not accepted, judged by
    their latest acceptance; empty for a user without a sender account (they never send)."""
    if not user.is_authenticated or not user.account_id:
        return []
    latest = (
        TermsAcceptance.objects.filter(user=user)
        .order_by("-accepted_at", "-pk")
        .values("terms_version", "privacy_version")
        .first()
    ) or {"terms_version": "", "privacy_version": ""}
    titles = {"terms": _("Terms of service"), "privacy": _("Privacy policy")}
    accepted_versions = {"terms": latest["terms_version"], "privacy": latest["privacy_version"]}
    due = []
    for key, version in current_versions().items():
        accepted = accepted_versions[key]
        if accepted != version:
            due.append(DueDocument(key, titles[key], version, accepted, _changes(key, version)))
    return due


def refusal_detail(due: list[DueDocument]) -> str:
    """The API's 403 `detail`: which versions to accept and where."""
    names = ", ".join(
        _("%(document)s version %(version)s") % {"document": d.title, "version": d.version}
        for d in due
    )
    return _(
        "Accept the new %(documents)s before sending: POST /api/v1/account/accept-terms/ "
        "(or open %(page)s in the browser)."
    ) % {"documents": names, "page": settings.SITE_URL.rstrip("/") + reverse("terms_accept")}


def _api_user(request: HttpRequest):
    """The API token's user, authenticated as DRF would; None without a (valid) token."""
    from accounts.authentication import ApiTokenAuthentication

    try:
        # Before DRF wraps the request: the token authentication reads only the Authorization
        # header, which Django's request carries alike.
        found = ApiTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except exceptions.APIException:
        return None  # DRF answers 401 itself
    return found[0] if found else None


def _back_to(request: HttpRequest) -> str:
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return reverse("dashboard")


class TermsGateMiddleware:
    """Refuses a sending action (GATED_ROUTES, unsafe methods) while the user has a terms or
    privacy version to accept. Reads the acceptance only for those requests."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if request.method in SAFE_METHODS or match is None or match.url_name not in GATED_ROUTES:
            return None
        if match.url_name == "import_map" and request.POST.get("action") == "cancel":
            return None  # cancelling an import sends nothing
        is_api = match.url_name.startswith("api-")
        user = _api_user(request) if is_api else None
        if user is None:
            user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        due = documents_due(user=user)
        if not due:
            return None
        if is_api:
            return JsonResponse(
                {
                    "detail": refusal_detail(due),
                    "code": "terms_not_accepted",
                    "versions": {d.key: d.version for d in due},
                    "accept_url": reverse("api-accept-terms"),
                },
                status=403,
            )
        return redirect(f"{reverse('terms_accept')}?{urlencode({'next': _back_to(request)})}")
