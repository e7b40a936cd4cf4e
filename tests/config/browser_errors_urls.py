"""The project's routes plus views for tests/config/test_browser_errors.py: each raises a domain
error a browser view may raise, so the test sees what the site answers (the middleware and the
project's error handlers, whose pages link to its routes)."""

from django.http import HttpResponse
from django.urls import path

from config.browser_errors import not_found_page
from config.errors import ApplicationError, NotFound, PermissionDenied
from config.urls import handler400, handler404  # noqa: F401
from config.urls import urlpatterns as project_urlpatterns


def raises_not_found(request):
    raise NotFound("No such widget.")


def raises_permission_denied(request):
    raise PermissionDenied("Only the owner can do this.")


def raises_application_error(request):
    raise ApplicationError("Nothing showed this.")


@not_found_page("lists/public/invalid.html")
def invalid_link(request, token):
    if token == "good":
        return HttpResponse("welcome")
    raise NotFound("This link is invalid or has expired.")


urlpatterns = [
    path("test-errors/not-found/", raises_not_found),
    path("test-errors/denied/", raises_permission_denied),
    path("test-errors/refused/", raises_application_error),
    path("test-errors/link/<str:token>/", invalid_link),
    *project_urlpatterns,
]
