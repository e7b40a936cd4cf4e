"""Project-wide pages: the error pages (the API answers in JSON even when no URL pattern
matched) and the API reference."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import get_language
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found
from rest_framework.permissions import AllowAny
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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


class ApiDocsView(APIView):
    """The API reference (config.api_docs), an HTML page in the reader's language under the
    site's own policy: no script, nothing third-party. A DRF view like every route under /api/
    (their CSRF rule), as drf-spectacular's Swagger UI view was."""

    renderer_classes = [TemplateHTMLRenderer]
    permission_classes = [AllowAny]
    template_name = "api/docs.html"
    schema = None  # not an operation of the API it documents

    def get(self, request: Request) -> Response:
        return Response(
            {"reference": api_reference(get_language()), "schema_url": reverse("api-schema")}
        )
