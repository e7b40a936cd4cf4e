"""The interface language: a signed-in user's saved choice, else a visitor's choice kept in the
session, else the browser's Accept-Language (Django's LocaleMiddleware, which runs first).

The choice is never kept in a cookie of its own: privacy rule 9 allows only the session and CSRF
cookies, so Django's set_language view (which sets django_language) is not used."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.http import require_POST

SESSION_KEY = "language"

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
else:
    # Text or a lazy translation (gettext_lazy), translated when shown. Type checking reads
    # django-stubs' alias; at run time (where the stubs are not installed) any annotation will do.
    StrOrPromise = str


def supported_language(code: str | None) -> str | None:
    """`code` if it is one of settings.LANGUAGES, else None."""
    return code if code in dict(settings.LANGUAGES) else None


def chosen_language(request: HttpRequest) -> str | None:
    """The language the person picked, if any: the user's saved choice, else the session's."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and supported_language(user.language):
        return user.language
    session = getattr(request, "session", None)
    return supported_language(session.get(SESSION_KEY)) if session is not None else None


def browser_language(request: HttpRequest) -> str | None:
    """The first language of the browser's Accept-Language the service has, if any (unlike
    LocaleMiddleware's answer, which falls back to the default and so cannot tell "asked for
    English" from "asked for nothing we have")."""
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return None


def recipient_language(request: HttpRequest, list_language: str | None) -> str:
    """Activate, for the rest of this request, the language of a page a list's recipient reads,
    and return it: the person's own choice (chosen_language), else a language their browser
    asks for that the service has, else the list's, else the default."""
    language = (
        chosen_language(request)
        or browser_language(request)
        or supported_language(list_language)
        or settings.LANGUAGE_CODE
    )
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


class ChosenLanguageMiddleware:
    """Activates the chosen language over the browser's; comes after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = chosen_language(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


@require_POST
def choose_language(request: HttpRequest) -> HttpResponse:
    """POST language=<code>&next=<path>: save the choice (on the user, or in the session for a
    visitor) and go back. An unknown code clears the choice, so the browser's language applies."""
    language = supported_language(request.POST.get("language"))
    if request.user.is_authenticated:
        request.user.language = language or ""
        request.user.save(update_fields=["language"])
    elif language:
        request.session[SESSION_KEY] = language
    else:
        request.session.pop(SESSION_KEY, None)
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    return HttpResponseRedirect(next_url)
