"""Project-wide pages: the error pages (the API answers in JSON even when no URL pattern
matched) and the API reference."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found

from config.api_docs import api_reference


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: `{"detail": "Not found."}` under /api/ (an id that is not a number never reaches a
    view, and integrators parse JSON), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 for a request Django itself refuses before any view (a Host header that is empty or
    not allowed, a malformed upload): `{"detail": ...}` under /api/, where integrators parse
    JSON, and the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return django_bad_request(request, exception)


def api_docs(request: HttpRequest) -> HttpResponse:
    """The API reference (config.api_docs), in the reader's language; no script, nothing
    third-party: the site's own policy applies."""
    return render(
        request,
        "api/docs.html",
        {"reference": api_reference(get_language()), "schema_url": reverse("api-schema")},
    )
